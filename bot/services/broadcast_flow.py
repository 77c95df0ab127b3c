"""The organisers' chat flows: 一斉送信 (compose, target, preview, send or schedule), 送信一覧
(recent broadcasts, cancel one), 中止連絡 (call an occurrence off, or take it back).

Each flow is a dialog (`Turn.dialog`): its buttons carry the dialog's token, so a button of
an earlier dialog, a replayed one or a forged one is refused by `buttons.decode` before any of
this runs, and the organiser role is checked there at every press (and by the use cases in
`bot.services.broadcasts` again, where the change is made).

The steps that preview or send an announcement are methods of `Broadcasting`, which is given
the monthly quota of a channel that counts messages (LINE's): the preview shows what the
announcement uses of it, and 送信 beyond what is left needs 「それでも送る」.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo

from bot.domain.broadcasts import (
    OPEN_STATUSES,
    Target,
    parse_when,
)
from bot.domain.events import Occurrence, RsvpStatus
from bot.domain.messages import Action, Button, Outgoing
from bot.domain.ports import MessageQuota, NoQuota
from bot.services import broadcasts, event_cards
from bot.services.attendance import upcoming
from bot.services.broadcasts import BroadcastError, CallOffError, Draft, Preview
from bot.services.events import number
from bot.services.turn import StaleAction, Turn
from bot.texts import Texts

BROADCAST = "broadcast"
CALL_OFF = "call_off"
EVENTS_SHOWN = 8
LISTED = 8
ANSWER_CHOICES: dict[str, frozenset[RsvpStatus]] = {
    "going": frozenset({RsvpStatus.GOING}),
    "going-maybe": frozenset({RsvpStatus.GOING, RsvpStatus.MAYBE}),
    "maybe": frozenset({RsvpStatus.MAYBE}),
    "no": frozenset({RsvpStatus.NO}),
}
# Reasons offered as buttons (雨天, 荒天, 講師の都合); any other is written.
REASONS = ("rain", "storm", "speaker")


def _button(turn: Turn, key: str, action: str, *args: str, **fields: object) -> Button:
    """A button of the open dialog: it carries the dialog's token first."""
    assert turn.dialog is not None
    return Button(turn.texts(key, **fields), Action(action, (turn.dialog.token, *args)))


def _audience(turn: Turn, target: Target) -> str:
    return broadcasts.audience_label(turn.texts, turn.campaign, turn.uow, target)


def _event(turn: Turn, occurrence: Occurrence) -> str:
    return broadcasts.event_label(turn.texts, occurrence, turn.campaign)


def _quit_row(turn: Turn, name: str) -> tuple[Button, ...]:
    return (_button(turn, "broadcast.quit_button", name),)


# --- the monthly quota -------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUse:
    """What an announcement uses of a channel's monthly quota."""

    messages: int
    """Messages counted: its recipients on the channel, once per part."""
    remaining: int | None
    """What is left this month; None when it is not counted (no limit, not known, or the
    announcement goes in a later month)."""

    @property
    def over(self) -> int:
        """Messages beyond what is left: they would not be delivered."""
        return 0 if self.remaining is None else max(self.messages - self.remaining, 0)


def quota_use(quota: MessageQuota, seen: Preview, now: datetime, zone: tzinfo) -> QuotaUse | None:
    """What the previewed announcement uses of `quota`; None if none of it goes through the
    quota's channel (then the channel is not even asked)."""
    messages = seen.reach.on(quota.channel) * seen.parts if quota.channel else 0
    if not messages:
        return None
    send_at = seen.draft.send_at
    if send_at is not None and _month(send_at, zone) != _month(now, zone):
        return QuotaUse(messages, None)  # next month's allowance is not known yet
    return QuotaUse(messages, quota.remaining())


def _month(moment: datetime, zone: tzinfo) -> tuple[int, int]:
    local = moment.astimezone(zone)
    return local.year, local.month


def quota_lines(texts: Texts, use: QuotaUse | None) -> list[str]:
    """The preview's lines about the quota (none when the announcement uses none of it)."""
    if use is None:
        return []
    messages = broadcasts.number(use.messages)
    if use.remaining is None:
        return [texts("broadcast.preview_line_uncounted", messages=messages)]
    remaining = broadcasts.number(use.remaining)
    lines = [texts("broadcast.preview_line", messages=messages, remaining=remaining)]
    if use.over:
        over = broadcasts.number(use.over)
        lines.append(texts("broadcast.preview_line_over", remaining=remaining, over=over))
    return lines


# --- 一斉送信 ---------------------------------------------------------------------------------


def start(turn: Turn) -> list[Outgoing]:
    """一斉送信: whom to send to."""
    turn.start_dialog(BROADCAST, step="audience")
    return [_audience_question(turn)]


def _audience_question(turn: Turn) -> Outgoing:
    return Outgoing(
        turn.texts("broadcast.audience_question"),
        buttons=(
            (_button(turn, "broadcast.to_all", "bc_to", "all"),),
            (_button(turn, "broadcast.to_region", "bc_to", "region"),),
            (_button(turn, "broadcast.to_event", "bc_to", "event"),),
            _quit_row(turn, "bc_quit"),
        ),
    )


def choose_audience(turn: Turn, choice: str) -> list[Outgoing]:
    texts = turn.texts
    if choice == "all":
        return _ask_text(turn, Target())
    if choice == "region":
        rows = [
            (_button(turn, "broadcast.region_button", "bc_region", r.code, name=name),)
            for r in turn.campaign.regions
            for name in turn.campaign.region_names({r.code}, turn.member.language)
        ]
        return [
            Outgoing(
                texts("broadcast.region_question"),
                buttons=(*rows, _quit_row(turn, "bc_quit")),
            )
        ]
    if choice == "event":
        coming = upcoming(turn.uow, turn.now, limit=EVENTS_SHOWN)
        if not coming:
            return [Outgoing(texts("broadcast.no_events"), buttons=(_quit_row(turn, "bc_quit"),))]
        rows = [
            (
                Button(
                    _event(turn, item.occurrence),
                    Action("bc_event", (_token(turn), str(item.occurrence.id))),
                ),
            )
            for item in coming
        ]
        return [
            Outgoing(texts("broadcast.event_question"), buttons=(*rows, _quit_row(turn, "bc_quit")))
        ]
    raise StaleAction(f"bc_to {choice}")


def choose_region(turn: Turn, code: str) -> list[Outgoing]:
    if turn.campaign.region(code) is None:
        raise StaleAction(f"region {code}")
    return _ask_text(turn, Target(region=code))


def choose_event(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    turn.advance(event=occurrence.id)
    rows = [
        (_button(turn, f"broadcast.answers_{name}", "bc_answers", name),) for name in ANSWER_CHOICES
    ]
    text = turn.texts(
        "broadcast.answers_question",
        event=_event(turn, occurrence),
    )
    return [Outgoing(text, buttons=(*rows, _quit_row(turn, "bc_quit")))]


def choose_answers(turn: Turn, name: str) -> list[Outgoing]:
    assert turn.dialog is not None
    answers = ANSWER_CHOICES.get(name)
    event = turn.dialog.data.get("event")
    if answers is None or not isinstance(event, int):
        raise StaleAction(f"bc_answers {name}")
    return _ask_text(turn, Target(occurrence_id=event, answers=answers))


def _ask_text(turn: Turn, target: Target) -> list[Outgoing]:
    turn.advance(step="text", target=target.encode())
    return [
        Outgoing(
            turn.texts(
                "broadcast.write_text",
                audience=_audience(turn, target),
            ),
            buttons=(_quit_row(turn, "bc_quit"),),
        )
    ]


def _draft(turn: Turn) -> Draft:
    assert turn.dialog is not None
    data = turn.dialog.data
    if "target" not in data or "text" not in data:
        raise StaleAction("broadcast dialog without a target and a text")
    send_at = data.get("send_at")
    return Draft(
        target=Target.parse(str(data["target"])),
        text=str(data["text"]),
        urgent=bool(data.get("urgent")),
        send_at=datetime.fromisoformat(send_at) if isinstance(send_at, str) else None,
        occurrence_id=data.get("card") if isinstance(data.get("card"), int) else None,
    )


def ask_when(turn: Turn) -> list[Outgoing]:
    _draft(turn)  # only from the preview
    turn.advance(step="when")
    return [Outgoing(turn.texts("broadcast.when_question"), buttons=(_quit_row(turn, "bc_quit"),))]


def rewrite(turn: Turn) -> list[Outgoing]:
    _draft(turn)
    turn.advance(step="text")
    return [Outgoing(turn.texts("broadcast.rewrite_text"), buttons=(_quit_row(turn, "bc_quit"),))]


class Broadcasting:
    """一斉送信's steps that preview and send, with the monthly quota of the channel that
    counts messages (LINE's); `NoQuota` where none does."""

    def __init__(self, quota: MessageQuota | None = None) -> None:
        self.quota: MessageQuota = quota or NoQuota()

    def quota_use(self, turn: Turn, seen: Preview) -> QuotaUse | None:
        return quota_use(self.quota, seen, turn.now, turn.campaign.timezone)

    def on_text(self, turn: Turn, text: str) -> list[Outgoing]:
        """Typed while composing: the announcement itself, or the time to send it."""
        assert turn.dialog is not None
        step = turn.dialog.data.get("step")
        if step == "text":
            turn.advance(text=text, step="preview")
            return self.preview(turn)
        if step == "when":
            zone = turn.campaign.timezone
            moment = parse_when(text, turn.now, zone)
            if moment is None or moment <= turn.now:
                key = "broadcast.when_unclear" if moment is None else "broadcast.when_past"
                return [Outgoing(turn.texts(key), buttons=(_quit_row(turn, "bc_quit"),))]
            turn.advance(send_at=moment.isoformat(), step="preview")
            return self.preview(turn)
        # Buttons were expected: show the step again rather than guess.
        return [Outgoing(turn.texts("broadcast.use_buttons")), *self._again(turn)]

    def _again(self, turn: Turn) -> list[Outgoing]:
        assert turn.dialog is not None
        if turn.dialog.data.get("step") == "preview":
            return self.preview(turn)
        return [_audience_question(turn)]

    def preview(self, turn: Turn) -> list[Outgoing]:
        """The announcement exactly as members will get it, then whom it reaches, how long it
        takes, and 送信 / 予約 / 緊急 / 案内をつける / やめる."""
        texts, draft = turn.texts, _draft(turn)
        try:
            seen = broadcasts.preview(turn.uow, draft, turn.campaign.broadcasts, turn.now)
        except BroadcastError as exc:
            turn.advance(step="text")
            return [
                Outgoing(texts(f"broadcast.error_{exc}"), buttons=(_quit_row(turn, "bc_quit"),))
            ]
        card = _card(turn, draft.occurrence_id)
        shown = broadcasts.messages(texts, draft.text, urgent=draft.urgent, card=card)
        reach, settings = seen.reach, turn.campaign.broadcasts
        lines = [
            texts("broadcast.preview_heading"),
            texts(
                "broadcast.preview_audience",
                audience=_audience(turn, draft.target),
            ),
            texts(
                "broadcast.preview_reach",
                recipients=broadcasts.number(reach.recipients),
                stopped=broadcasts.number(reach.stopped),
                unreachable=broadcasts.number(reach.unreachable),
            ),
            texts("broadcast.preview_takes", takes=broadcasts.duration(texts, seen.takes)),
        ]
        if draft.send_at is not None:
            when = texts.format_datetime(draft.send_at, turn.campaign.timezone)
            lines.append(texts("broadcast.preview_at", when=when))
        if draft.urgent:
            lines.append(texts("broadcast.preview_urgent"))
        else:
            lines.append(
                texts(
                    "broadcast.preview_quiet",
                    start=settings.quiet_start.strftime("%-H:%M"),
                    end=settings.quiet_end.strftime("%-H:%M"),
                )
            )
        if seen.parts > 1:
            lines.append(texts("broadcast.preview_parts", parts=seen.parts))
        lines.extend(quota_lines(texts, self.quota_use(turn, seen)))
        send_key = "broadcast.schedule_button" if draft.send_at else "broadcast.send_button"
        rows = (
            (_button(turn, send_key, "bc_send"),),
            (
                _button(turn, "broadcast.when_button", "bc_when"),
                _button(
                    turn,
                    "broadcast.not_urgent_button" if draft.urgent else "broadcast.urgent_button",
                    "bc_urgent",
                ),
            ),
            (
                _button(
                    turn,
                    "broadcast.no_card_button" if card else "broadcast.card_button",
                    "bc_card",
                ),
                _button(turn, "broadcast.rewrite_button", "bc_rewrite"),
            ),
            _quit_row(turn, "bc_quit"),
        )
        return [*shown, Outgoing("\n".join(lines), buttons=rows)]

    def toggle_urgent(self, turn: Turn) -> list[Outgoing]:
        assert turn.dialog is not None
        turn.advance(urgent=not turn.dialog.data.get("urgent"))
        return self.preview(turn)

    def toggle_card(self, turn: Turn) -> list[Outgoing]:
        """An event card (with its answer buttons) under the text, or none."""
        draft = _draft(turn)
        if draft.occurrence_id is not None:
            turn.advance(card=None)
            return self.preview(turn)
        if draft.target.occurrence_id is not None:
            turn.advance(card=draft.target.occurrence_id)
            return self.preview(turn)
        coming = upcoming(turn.uow, turn.now, limit=EVENTS_SHOWN)
        if not coming:
            return [Outgoing(turn.texts("broadcast.no_events")), *self.preview(turn)]
        rows = [
            (
                Button(
                    _event(turn, item.occurrence),
                    Action("bc_card_pick", (_token(turn), str(item.occurrence.id))),
                ),
            )
            for item in coming
        ]
        return [
            Outgoing(
                turn.texts("broadcast.card_question"), buttons=(*rows, _quit_row(turn, "bc_quit"))
            )
        ]

    def pick_card(self, turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
        _draft(turn)
        turn.advance(card=occurrence.id)
        return self.preview(turn)

    def send(self, turn: Turn) -> list[Outgoing]:
        """送信 (or 予約): beyond the month's quota it needs 「それでも送る」; a large audience is
        asked to confirm once more."""
        draft = _draft(turn)
        seen = broadcasts.preview(turn.uow, draft, turn.campaign.broadcasts, turn.now)
        use = self.quota_use(turn, seen)
        if use is not None and use.over:
            turn.advance(step="quota")
            assert use.remaining is not None
            text = turn.texts(
                "broadcast.quota_refused",
                remaining=broadcasts.number(use.remaining),
                messages=broadcasts.number(use.messages),
            )
            return [
                Outgoing(
                    text,
                    buttons=(
                        (_button(turn, "broadcast.force_button", "bc_force"),),
                        (_button(turn, "broadcast.back_button", "bc_back"),),
                        _quit_row(turn, "bc_quit"),
                    ),
                )
            ]
        return _confirm_or_send(turn, draft, seen)

    def force(self, turn: Turn) -> list[Outgoing]:
        """「それでも送る」: past the quota, on the organiser's word (then as 送信)."""
        assert turn.dialog is not None
        if turn.dialog.data.get("step") != "quota":
            raise StaleAction("bc_force outside the quota warning")
        draft = _draft(turn)
        seen = broadcasts.preview(turn.uow, draft, turn.campaign.broadcasts, turn.now)
        return _confirm_or_send(turn, draft, seen)

    def back(self, turn: Turn) -> list[Outgoing]:
        turn.advance(step="preview")
        return self.preview(turn)


def confirm(turn: Turn) -> list[Outgoing]:
    assert turn.dialog is not None
    if turn.dialog.data.get("step") != "confirm":
        raise StaleAction("bc_confirm outside the confirmation")
    return _send(turn, _draft(turn))


def _confirm_or_send(turn: Turn, draft: Draft, seen: Preview) -> list[Outgoing]:
    """A large audience is asked to confirm once more; any other is sent now."""
    if seen.needs_confirmation:
        turn.advance(step="confirm")
        text = turn.texts(
            "broadcast.confirm_large", recipients=broadcasts.number(seen.reach.recipients)
        )
        return [
            Outgoing(
                text,
                buttons=(
                    (_button(turn, "broadcast.confirm_button", "bc_confirm"),),
                    (_button(turn, "broadcast.back_button", "bc_back"),),
                    _quit_row(turn, "bc_quit"),
                ),
            )
        ]
    return _send(turn, draft)


def _send(turn: Turn, draft: Draft) -> list[Outgoing]:
    texts = turn.texts
    try:
        sent = broadcasts.send(turn.uow, draft, turn.member, _label(turn), turn.now)
    except BroadcastError as exc:
        return [Outgoing(texts(f"broadcast.error_{exc}"), buttons=(_quit_row(turn, "bc_quit"),))]
    turn.end_dialog()
    if draft.send_at is not None:
        when = texts.format_datetime(draft.send_at, turn.campaign.timezone)
        text = texts(
            "broadcast.scheduled",
            id=sent.id,
            when=when,
            recipients=broadcasts.number(sent.recipients),
        )
    else:
        text = texts("broadcast.started", id=sent.id, recipients=broadcasts.number(sent.recipients))
    return [turn.screens.with_menu(turn.member, text)]


def quit_(turn: Turn) -> list[Outgoing]:
    turn.end_dialog()
    return [turn.screens.with_menu(turn.member, turn.texts("broadcast.quit"))]


# --- 送信一覧 ---------------------------------------------------------------------------------


def listing(turn: Turn) -> list[Outgoing]:
    texts = turn.texts
    found = broadcasts.listing(turn.uow, LISTED)
    if not found:
        return [turn.screens.with_menu(turn.member, texts("broadcast.list_empty"))]
    lines = [texts("broadcast.list_heading")]
    rows = []
    for broadcast, progress in found:
        lines.append(
            texts(
                "broadcast.list_line",
                id=broadcast.id,
                status=texts(f"broadcast.status_{broadcast.status}"),
                when=texts.format_datetime(broadcast.send_at, turn.campaign.timezone),
                audience=broadcasts.audience_label(
                    turn.texts, turn.campaign, turn.uow, broadcast.target
                ),
                sent=broadcasts.number(progress.sent),
                recipients=broadcasts.number(progress.recipients),
                text=broadcasts.excerpt(broadcast.text),
            )
        )
        if broadcast.status in OPEN_STATUSES:
            rows.append(
                (
                    Button(
                        texts("broadcast.stop_button", id=broadcast.id),
                        Action("bc_stop", (str(broadcast.id),)),
                    ),
                )
            )
    return [
        Outgoing("\n\n".join(lines), buttons=tuple(rows), menu=turn.screens.main_menu(turn.member))
    ]


def ask_stop(turn: Turn, broadcast_id: int) -> list[Outgoing]:
    found = turn.uow.broadcasts.get(broadcast_id)
    if found is None or found.status not in OPEN_STATUSES:
        return [turn.screens.with_menu(turn.member, turn.texts("broadcast.stop_too_late"))]
    text = turn.texts("broadcast.stop_question", id=found.id, text=broadcasts.excerpt(found.text))
    return [
        Outgoing(
            text,
            buttons=(
                (
                    Button(
                        turn.texts("broadcast.stop_yes", id=found.id),
                        Action("bc_stop_yes", (str(found.id),)),
                    ),
                ),
            ),
        )
    ]


def stop(turn: Turn, broadcast_id: int) -> list[Outgoing]:
    done = broadcasts.cancel(turn.uow, broadcast_id, turn.member, turn.now)
    if done is None:
        return [turn.screens.with_menu(turn.member, turn.texts("broadcast.stop_too_late"))]
    found, skipped = done
    text = turn.texts("broadcast.stopped", id=found.id, skipped=broadcasts.number(skipped))
    return [turn.screens.with_menu(turn.member, text)]


# --- 中止連絡 ---------------------------------------------------------------------------------


def start_call_off(turn: Turn) -> list[Outgoing]:
    """中止連絡: which event, then why; called-off ones can be taken back until they start."""
    texts = turn.texts
    coming = upcoming(turn.uow, turn.now, limit=EVENTS_SHOWN)
    turn.start_dialog(CALL_OFF, step="event")
    rows = []
    for item in coming:
        occurrence = item.occurrence
        label = _event(turn, occurrence)
        if occurrence.called_off is not None:
            rows.append(
                (
                    Button(
                        texts("call_off.undo_button", event=label)[:60],
                        Action("co_undo", (str(occurrence.id),)),
                    ),
                )
            )
        elif not occurrence.cancelled:
            rows.append((Button(label, Action("co_pick", (_token(turn), str(occurrence.id)))),))
    if not rows:
        turn.end_dialog()
        return [turn.screens.with_menu(turn.member, texts("call_off.no_events"))]
    return [Outgoing(texts("call_off.question"), buttons=(*rows, _quit_row(turn, "co_quit")))]


def pick_call_off(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    turn.advance(step="reason", event=occurrence.id)
    rows = [(_button(turn, f"call_off.reason_{r}", "co_reason", r),) for r in REASONS]
    text = turn.texts(
        "call_off.reason_question",
        event=_event(turn, occurrence),
    )
    return [Outgoing(text, buttons=(*rows, _quit_row(turn, "co_quit")))]


def choose_reason(turn: Turn, reason: str) -> list[Outgoing]:
    if reason not in REASONS:
        raise StaleAction(f"co_reason {reason}")
    return _call_off_preview(turn, turn.texts(f"call_off.reason_{reason}"))


def on_call_off_text(turn: Turn, text: str) -> list[Outgoing]:
    """A reason written instead of chosen."""
    assert turn.dialog is not None
    if turn.dialog.data.get("step") not in ("reason", "preview"):
        return [Outgoing(turn.texts("broadcast.use_buttons"))]
    return _call_off_preview(turn, text)


def _call_off_preview(turn: Turn, reason: str) -> list[Outgoing]:
    occurrence = _called_event(turn)
    reason = " ".join(reason.split())[: broadcasts.MAX_REASON_CHARS]
    turn.advance(step="preview", reason=reason)
    told = turn.uow.rsvps.counts(occurrence.id)
    text = turn.texts(
        "call_off.preview",
        event=_event(turn, occurrence),
        reason=reason,
        people=told.going + told.maybe + told.waitlist,
    )
    return [
        Outgoing(
            text,
            buttons=(
                (_button(turn, "call_off.send_button", "co_send"),),
                _quit_row(turn, "co_quit"),
            ),
        )
    ]


def send_call_off(turn: Turn) -> list[Outgoing]:
    assert turn.dialog is not None
    occurrence = _called_event(turn)
    reason = turn.dialog.data.get("reason")
    if turn.dialog.data.get("step") != "preview" or not isinstance(reason, str):
        raise StaleAction("co_send before the preview")
    try:
        told = broadcasts.call_off(
            turn.uow, occurrence, reason, turn.member, _label(turn), turn.now
        )
    except CallOffError as exc:
        turn.end_dialog()
        return [turn.screens.with_menu(turn.member, turn.texts(f"call_off.error_{exc}"))]
    turn.end_dialog()
    text = turn.texts(
        "call_off.done",
        event=_event(turn, occurrence),
        told=told,
    )
    return [turn.screens.with_menu(turn.member, text)]


def ask_undo(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    label = _event(turn, occurrence)
    if occurrence.called_off is None or occurrence.starts_at <= turn.now:
        return [turn.screens.with_menu(turn.member, turn.texts("call_off.error_not_called_off"))]
    return [
        Outgoing(
            turn.texts("call_off.undo_question", event=label),
            buttons=(
                (
                    Button(
                        turn.texts("call_off.undo_yes"),
                        Action("co_undo_yes", (str(occurrence.id),)),
                    ),
                ),
            ),
        )
    ]


def undo(turn: Turn, occurrence: Occurrence) -> list[Outgoing]:
    try:
        told = broadcasts.undo_call_off(turn.uow, occurrence, turn.member, turn.now)
    except CallOffError as exc:
        return [turn.screens.with_menu(turn.member, turn.texts(f"call_off.error_{exc}"))]
    text = turn.texts(
        "call_off.undone",
        event=_event(turn, occurrence),
        told=told,
    )
    return [turn.screens.with_menu(turn.member, text)]


def quit_call_off(turn: Turn) -> list[Outgoing]:
    turn.end_dialog()
    return [turn.screens.with_menu(turn.member, turn.texts("call_off.quit"))]


def _called_event(turn: Turn) -> Occurrence:
    assert turn.dialog is not None
    event = turn.dialog.data.get("event")
    occurrence = turn.uow.calendar.occurrence(event) if isinstance(event, int) else None
    if occurrence is None or occurrence.removed:
        raise StaleAction("call_off dialog without its event")
    return occurrence


# --- shared -----------------------------------------------------------------------------------


def _card(turn: Turn, occurrence_id: int | None) -> Outgoing | None:
    if occurrence_id is None:
        return None
    occurrence = turn.uow.calendar.occurrence(occurrence_id)
    if occurrence is None or occurrence.removed:
        return None
    return event_cards.card(
        turn.texts,
        occurrence,
        turn.campaign.timezone,
        rsvp=None,
        counts=turn.uow.rsvps.counts(occurrence.id),
        now=turn.now,
        organiser=False,
    )


def _label(turn: Turn) -> str:
    """How 送信一覧 and reports name the organiser: their name, else their member number
    (never their channel id)."""
    member = turn.member
    return (member.display_name or f"#{member.id}")[:100]


def _token(turn: Turn) -> str:
    assert turn.dialog is not None
    return turn.dialog.token


def broadcast_id(_turn: Turn, value: str) -> int:
    """A button argument naming a broadcast."""
    return number(value)
