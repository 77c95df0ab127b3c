"""`campaign-bot broadcast | broadcasts [cancel ID] | cancel EVENT_ID --date`: 一斉送信 and
中止連絡 from the command line.

The chat's use cases (bot/services/broadcasts.py) run here with no member as the actor: the
audit log and the broadcast say "cli". Nothing waits on a person inside a transaction: the
preview is read in one unit of work, the answer to "send?" is read with none open, and the
broadcast is stored in another (which checks the draft again).

Words come from the catalogue: the chat's own (`broadcast.*`, `call_off.*`, `cli.rsvps.*`) where
they say the same thing, `cli.broadcast.*` and `cli.call_off.*` for what only the command line
says. A broadcast's text, event titles and the organiser's own arguments pass through
`bot.terminal` on their way to the screen: the text was written in some editor and may carry
escape sequences.
"""

from __future__ import annotations

import sys
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TextIO

from bot.app import App
from bot.channels.line.admin import message_quota
from bot.commands import texts_for
from bot.config import Settings
from bot.domain.broadcasts import (
    MAX_BROADCAST_CHARS,
    Broadcast,
    Progress,
    Target,
    TargetError,
    parse_when,
)
from bot.domain.campaign import Campaign
from bot.domain.events import Occurrence
from bot.domain.ports import MessageQuota, NoQuota, UnitOfWork
from bot.services import broadcast_flow, broadcasts
from bot.services.broadcast_flow import QuotaUse
from bot.services.broadcasts import BroadcastError, CallOffError, Draft, Preview
from bot.terminal import field, text
from bot.texts import Texts

LABEL = "cli"
"""Who acted, as the broadcast, the rain call and the audit log record it."""

DEFAULT_LIMIT = 10
READ_AT_MOST = MAX_BROADCAST_CHARS + 1000
"""Characters read from a text file: the longest broadcast and room for blank lines after it;
a longer file is refused without being read whole."""

RULE = "-" * 40
"""Between the messages of a preview, as members get them one after another."""


def say(texts: Texts, key: str, **values: object) -> str:
    """`key` in the organisers' language."""
    return texts(key, **values)


class Refused(Exception):
    """What the organiser must change before anything is done (said in their words)."""


@dataclass(frozen=True)
class Streams:
    """Where a command reads and writes; looked up when it runs, so tests can replace them."""

    stdin: TextIO
    out: TextIO
    err: TextIO

    @classmethod
    def of(
        cls, stdin: TextIO | None = None, out: TextIO | None = None, err: TextIO | None = None
    ) -> Streams:
        return cls(stdin or sys.stdin, out or sys.stdout, err or sys.stderr)

    def refuse(self, message: str) -> bool:
        print(f"campaign-bot: {message}", file=self.err)
        return False


# --- campaign-bot broadcast -------------------------------------------------------------------


def read_message(texts: Texts, path: Path) -> str:
    """The broadcast's text from `path`: UTF-8 (a byte-order mark is dropped), line ends as
    \\n whatever the editor wrote, not empty, not longer than a broadcast may be."""
    try:
        # Text mode: CRLF and CR become LF; read(n) counts characters, so memory is bounded.
        with path.open(encoding="utf-8-sig") as handle:
            raw = handle.read(READ_AT_MOST)
    except UnicodeDecodeError as exc:
        raise Refused(say(texts, "cli.broadcast.not_utf8", path=field(str(path)))) from exc
    except OSError as exc:
        error = exc.strerror or type(exc).__name__
        raise Refused(
            say(texts, "cli.broadcast.unreadable", path=field(str(path)), error=error)
        ) from exc
    message = raw.strip()
    if not message:
        raise Refused(f"{field(str(path))}: {texts('broadcast.error_empty')}")
    if len(raw) >= READ_AT_MOST or len(message) > MAX_BROADCAST_CHARS:
        raise Refused(f"{field(str(path))}: {texts('broadcast.error_too_long')}")
    return message


def resolve_target(
    uow: UnitOfWork, campaign: Campaign, texts: Texts, written: str, now: datetime
) -> Target:
    """`all`, `region:CODE` or `event:ID:going[,maybe,no]`, where ID is an occurrence number
    or an event's id from the schedule files (its next occurrence that has not started)."""
    shown = field(written)
    encoded = written.strip()
    kind, _, rest = encoded.partition(":")
    if kind == "event":
        reference, colon, answers = rest.partition(":")
        if reference and not reference.isdigit():
            occurrence = uow.calendar.next_of(reference, now)
            if occurrence is None:
                raise Refused(texts("cli.rsvps.not_found", event=field(reference)))
            encoded = f"event:{occurrence.id}{colon}{answers}"
    try:
        target = Target.parse(encoded)
    except TargetError as exc:
        raise Refused(say(texts, "cli.broadcast.bad_target", target=shown)) from exc
    if target.region is not None and campaign.region(target.region) is None:
        codes = ", ".join(region.code for region in campaign.regions)
        raise Refused(
            say(
                texts,
                "cli.broadcast.unknown_region",
                target=shown,
                region=target.region,
                regions=codes,
            )
        )
    if target.occurrence_id is not None:
        occurrence = uow.calendar.occurrence(target.occurrence_id)
        if occurrence is None or occurrence.removed:
            raise Refused(
                say(
                    texts,
                    "cli.broadcast.no_such_occurrence",
                    target=shown,
                    id=target.occurrence_id,
                )
            )
    return target


def send_time(texts: Texts, written: str, now: datetime, campaign: Campaign) -> datetime:
    """`--at` as organisers type it in the chat (「12/3 9:00」, 2026-12-03 09:00), in the
    campaign's time zone; a time that has passed is refused."""
    moment = parse_when(written, now, campaign.timezone)
    if moment is None:
        raise Refused(f"--at {field(written)}: {texts('broadcast.when_unclear')}")
    if moment <= now:
        raise Refused(f"--at {field(written)}: {texts('broadcast.when_past')}")
    return moment


def clock_time(moment: time) -> str:
    return f"{moment.hour}:{moment.minute:02d}"


def describe_preview(
    texts: Texts, campaign: Campaign, audience: str, seen: Preview, use: QuotaUse | None = None
) -> str:
    """The broadcast exactly as members get it (in the campaign's language), then whom it
    reaches, who is left out, how long it takes, when it goes and what it uses of LINE's
    monthly quota: the chat's preview."""
    draft, reach, settings = seen.draft, seen.reach, campaign.broadcasts
    shown = broadcasts.messages(texts, draft.text, urgent=draft.urgent, card=None)
    lines = [RULE]
    for message in shown:
        lines.extend([text(message.text), RULE])
    lines.extend(
        [
            texts("broadcast.preview_heading"),
            texts("broadcast.preview_audience", audience=audience),
            texts(
                "broadcast.preview_reach",
                recipients=broadcasts.number(reach.recipients),
                stopped=broadcasts.number(reach.stopped),
                unreachable=broadcasts.number(reach.unreachable),
            ),
            texts("broadcast.preview_takes", takes=broadcasts.duration(texts, seen.takes)),
        ]
    )
    if draft.send_at is not None:
        when = texts.format_datetime(draft.send_at, campaign.timezone)
        lines.append(texts("broadcast.preview_at", when=when))
    if draft.urgent:
        lines.append(texts("broadcast.preview_urgent"))
    else:
        lines.append(
            texts(
                "broadcast.preview_quiet",
                start=clock_time(settings.quiet_start),
                end=clock_time(settings.quiet_end),
            )
        )
    if seen.parts > 1:
        lines.append(texts("broadcast.preview_parts", parts=seen.parts))
    lines.extend(broadcast_flow.quota_lines(texts, use))
    if seen.needs_confirmation:
        lines.append(say(texts, "cli.broadcast.large", above=settings.confirm_above))
    return "\n".join(lines)


def _ask(streams: Streams, prompt: str) -> str:
    print(prompt, end="", file=streams.out, flush=True)
    answer = streams.stdin.readline()  # "" at the end of the input: no
    if not streams.stdin.isatty():
        # Typed at a terminal, the answer ended the line; piped, it did not show.
        print(file=streams.out)
    return answer


def confirmed(texts: Texts, seen: Preview, streams: Streams) -> bool:
    """y to send; above `confirm_above` the number of recipients, typed out."""
    if seen.needs_confirmation:
        recipients = seen.reach.recipients
        prompt = texts("broadcast.confirm_large", recipients=broadcasts.number(recipients))
        typing = say(texts, "cli.broadcast.type_count", recipients=recipients)
        typed = _ask(streams, f"{prompt} {typing}")
        # A Japanese keyboard may type full-width digits, and people write 1,234.
        return unicodedata.normalize("NFKC", typed).strip().replace(",", "") == str(recipients)
    key = "cli.broadcast.confirm_scheduled" if seen.draft.send_at else "cli.broadcast.confirm"
    return _ask(streams, say(texts, key)).strip().lower() in ("y", "yes")


def broadcast(
    app: App,
    *,
    to: str,
    text_file: Path,
    at: str | None,
    urgent: bool,
    yes: bool,
    force: bool = False,
    quota: MessageQuota | None = None,
    stdin: TextIO | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Send (or schedule) the text of `text_file` to `to`; without `yes`, show the preview and
    ask first. Beyond what is left of LINE's monthly quota (`quota`; by default LINE's own
    when the config turns LINE on) it is refused unless `force`, preview or not. True if it
    was stored; nothing is stored otherwise."""
    streams = Streams.of(stdin, out, err)
    texts, campaign = texts_for(app.settings), app.settings.campaign()
    now = app.clock.now()
    audience = ""
    try:
        message = read_message(texts, text_file)
        send_at = send_time(texts, at, now, campaign) if at is not None else None
        with app.database.unit_of_work() as uow:
            target = resolve_target(uow, campaign, texts, to, now)
            draft = Draft(target, message, urgent=urgent, send_at=send_at)
            seen = broadcasts.preview(uow, draft, campaign.broadcasts, now)
            if not yes:
                audience = broadcasts.audience_label(texts, campaign, uow, target)
    except Refused as exc:
        return streams.refuse(str(exc))
    except BroadcastError as exc:
        return streams.refuse(texts(f"broadcast.error_{exc}"))
    # LINE is asked with no transaction open: it is a network call.
    counted = quota if quota is not None else configured_quota(app.settings)
    use = broadcast_flow.quota_use(counted, seen, now, campaign.timezone)
    if not yes:
        print(describe_preview(texts, campaign, audience, seen, use), file=streams.out)
    if use is not None and use.over and not force:
        assert use.remaining is not None
        return streams.refuse(
            say(
                texts,
                "cli.line.over_quota",
                remaining=broadcasts.number(use.remaining),
                messages=broadcasts.number(use.messages),
            )
        )
    if not yes and not confirmed(texts, seen, streams):
        return streams.refuse(texts("broadcast.quit"))
    with app.database.unit_of_work() as uow:
        try:
            # The time is read again: the organiser may have thought it over for a while.
            sent = broadcasts.send(uow, draft, None, LABEL, app.clock.now())
        except BroadcastError as exc:
            return streams.refuse(texts(f"broadcast.error_{exc}"))
        uow.commit()
    print(describe_sent(texts, campaign, sent), file=streams.out)
    return True


def configured_quota(settings: Settings) -> MessageQuota:
    """LINE's monthly quota when the config turns LINE on (and its SDK and token are there);
    no quota otherwise."""
    return message_quota(settings) or NoQuota()


def describe_sent(texts: Texts, campaign: Campaign, sent: Broadcast) -> str:
    recipients = broadcasts.number(sent.recipients)
    if sent.send_at > sent.created_at:
        when = texts.format_datetime(sent.send_at, campaign.timezone)
        return say(texts, "cli.broadcast.scheduled", id=sent.id, when=when, recipients=recipients)
    return say(texts, "cli.broadcast.started", id=sent.id, recipients=recipients)


# --- campaign-bot broadcasts [cancel ID] ------------------------------------------------------


def excerpt(value: str, length: int = 40) -> str:
    """The start of a text on one line, safe for a terminal."""
    return field(broadcasts.excerpt(value, length))


def describe_listed(
    texts: Texts, campaign: Campaign, audience: str, found: Broadcast, progress: Progress
) -> str:
    lines = [
        texts(
            "broadcast.list_line",
            id=found.id,
            status=texts(f"broadcast.status_{found.status}"),
            when=texts.format_datetime(found.send_at, campaign.timezone),
            audience=audience,
            sent=broadcasts.number(progress.sent),
            recipients=broadcasts.number(progress.recipients),
            text=excerpt(found.text),
        )
    ]
    for key, count in (
        ("broadcast.report_stopped", progress.skipped_stopped),
        ("broadcast.report_unreachable", progress.skipped_unreachable),
        ("broadcast.report_cancelled_rows", progress.skipped_cancelled),
        ("broadcast.report_other", progress.skipped_other),
        ("broadcast.report_failed", progress.failed),
    ):
        if count:
            lines.append("  " + texts(key, count=broadcasts.number(count)))
    return "\n".join(lines)


def list_broadcasts(app: App, *, limit: int = DEFAULT_LIMIT, out: TextIO | None = None) -> None:
    """The latest broadcasts, newest first: status, time, audience, how far they got, and why
    some were not sent."""
    out = out or sys.stdout
    texts, campaign = texts_for(app.settings), app.settings.campaign()
    with app.database.unit_of_work() as uow:
        found = broadcasts.listing(uow, limit)
        if not found:
            print(texts("broadcast.list_empty"), file=out)
            return
        blocks = [texts("broadcast.list_heading")]
        for item, progress in found:
            audience = broadcasts.audience_label(texts, campaign, uow, item.target)
            blocks.append(describe_listed(texts, campaign, audience, item, progress))
    print("\n\n".join(blocks), file=out)


def cancel_broadcast(
    app: App, broadcast_id: int, *, out: TextIO | None = None, err: TextIO | None = None
) -> bool:
    """Stop a scheduled or running broadcast: what has not gone yet is skipped."""
    streams = Streams.of(None, out, err)
    texts = texts_for(app.settings)
    with app.database.unit_of_work() as uow:
        done = broadcasts.cancel(uow, broadcast_id, None, app.clock.now())
        if done is None:
            return streams.refuse(texts("broadcast.stop_too_late"))
        uow.commit()
    found, skipped = done
    print(
        texts("broadcast.stopped", id=found.id, skipped=broadcasts.number(skipped)),
        file=streams.out,
    )
    return True


# --- campaign-bot cancel EVENT_ID --date D --reason R [--undo] ----------------------------------


def occurrences_on(uow: UnitOfWork, slug: str, on: date, campaign: Campaign) -> list[Occurrence]:
    """The event's occurrences starting on the local date `on` (events still in the files)."""
    zone = campaign.timezone
    start = datetime.combine(on, time(0), tzinfo=zone)
    end = datetime.combine(on + timedelta(days=1), time(0), tzinfo=zone)
    return uow.calendar.between(slug, start, end)


def call_off(
    app: App,
    slug: str,
    on: date,
    reason: str | None,
    *,
    undo: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> bool:
    """Call the event's occurrence on `on` off (whatever its schedule file says) and tell those
    who said 参加, 未定 or are waiting; with `undo`, take that back and tell them it is on."""
    streams = Streams.of(None, out, err)
    texts, campaign = texts_for(app.settings), app.settings.campaign()
    now = app.clock.now()
    with app.database.unit_of_work() as uow:
        found = occurrences_on(uow, slug, on, campaign)
        if not found:
            return streams.refuse(
                texts("cli.rsvps.not_found_on", event=field(slug), date=on.isoformat())
            )
        if len(found) > 1:
            return streams.refuse(
                say(
                    texts,
                    "cli.call_off.several",
                    count=len(found),
                    event=field(slug),
                    date=on.isoformat(),
                    button=texts("menu.call_off"),
                )
            )
        # Read again under the occurrence's lock: a rain call from the chat at the same
        # moment is then seen, and refused as already cancelled.
        occurrence = uow.calendar.occurrence(found[0].id, lock=True)
        assert occurrence is not None
        try:
            if undo:
                told = broadcasts.undo_call_off(uow, occurrence, None, now)
            else:
                told = broadcasts.call_off(uow, occurrence, reason or "", None, LABEL, now)
        except CallOffError as exc:
            message = texts(f"call_off.error_{exc}")
            return streams.refuse(f"--reason: {message}" if str(exc) == "no_reason" else message)
        after = uow.calendar.occurrence(occurrence.id)
        uow.commit()
    event = broadcasts.event_label(texts, occurrence, campaign)
    if undo:
        print(texts("call_off.undone", event=event, told=told), file=streams.out)
    else:
        # Read back as stored: the reason on one line and bounded, as members get it.
        assert after is not None
        assert after.called_off is not None
        print(
            say(
                texts,
                "cli.call_off.done",
                event=event,
                reason=field(after.called_off.reason),
                told=told,
                slug=field(slug),
                date=on.isoformat(),
            ),
            file=streams.out,
        )
    return True
