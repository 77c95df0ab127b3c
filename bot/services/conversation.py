"""The conversation: turns one `Incoming` into the replies to show, in one transaction."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

from bot.domain.campaign import Campaign
from bot.domain.capabilities import PAGE_ACTION
from bot.domain.deliveries import REPLY, message_payload
from bot.domain.dialogs import Dialog
from bot.domain.members import Member, Role, Subscription
from bot.domain.messages import MAX_NAME_CHARS, Action, Incoming, MemberRef, Outgoing, clean_text
from bot.domain.ports import Clock, MessageQuota, UnitOfWork, UnitOfWorkFactory
from bot.faq.matcher import Outcome
from bot.services import (
    broadcast_flow,
    buttons,
    contact,
    events,
    forget,
    my_data,
    onboarding,
    organiser,
    preferences,
    relay,
    rsvp,
    typed,
)
from bot.services.buttons import DialogFlow, Flow, Press
from bot.services.faq import Answers
from bot.services.screens import Intent, Screens
from bot.services.turn import StaleAction, Turn, choice
from bot.texts import Catalogues, normalise_word

log = logging.getLogger(__name__)


COMMANDS: dict[str, Intent] = {
    "start": Intent.START,
    "stop": Intent.STOP,
    "resume": Intent.RESUME,
    "help": Intent.HELP,
    "menu": Intent.MENU,
    "settings": Intent.SETTINGS,
    "events": Intent.EVENTS,
    "ask": Intent.ASK,
    "stats": Intent.STATS,
    "attendance": Intent.ATTENDANCE,
    "broadcast": Intent.BROADCAST,
    "broadcasts": Intent.BROADCASTS,
    "calloff": Intent.CALL_OFF,
    "contact": Intent.CONTACT,
    "whoami": Intent.WHOAMI,
    "mydata": Intent.MY_DATA,
    "forget": Intent.FORGET,
}

ORGANISER_ONLY = frozenset(
    {Intent.STATS, Intent.ATTENDANCE, Intent.BROADCAST, Intent.BROADCASTS, Intent.CALL_OFF}
)
# What someone who has not answered the consent question may ask for; anything else gets the
# welcome (or the consent question) again, and nothing is stored for them.
# (/stop tells them nothing will be sent, which is already so.)
# 登録情報 and 登録削除 too: someone who does not agree to a new welcome text may still see and
# delete what is kept about them.
WITHOUT_CONSENT = frozenset(
    {
        Intent.START,
        Intent.HELP,
        Intent.STOP,
        Intent.CONTACT,
        Intent.WHOAMI,
        Intent.MY_DATA,
        Intent.FORGET,
    }
)
# Screens a 「次へ」/「戻る」 button may redraw (see `Conversation._page`): actions that show
# something and change nothing, so a forged page button can do no more than show it.
REDRAWN_SCREENS = frozenset({"regions"})
# What the member still has to decide during registration; a question does not skip it.
ANSWERED = frozenset({Outcome.ANSWER, Outcome.SUGGEST, Outcome.EVENTS})
QUESTIONS = "questions"
"""A member's allowance of questions to the knowledge base (`Campaign.limits.questions`)."""


class Conversation:
    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        campaign: Campaign,
        catalogues: Catalogues,
        clock: Clock,
        answers: Answers | None = None,
        quota: MessageQuota | None = None,
    ) -> None:
        """`quota`: the monthly quota of a channel that counts messages (LINE's), which
        一斉送信's preview shows and guards; none by default."""
        self._units_of_work = units_of_work
        self.answers = answers or Answers(lambda: None)
        self.broadcasting = broadcast_flow.Broadcasting(quota)
        self._campaign = campaign
        self._clock = clock
        self.screens = Screens(campaign, catalogues)
        self._intents: dict[Intent, Flow] = {
            Intent.START: onboarding.start,
            Intent.STOP: preferences.stop,
            Intent.RESUME: preferences.resume,
            Intent.HELP: self._help,
            Intent.MENU: lambda turn: [self.screens.menu_prompt(turn.member)],
            Intent.SETTINGS: preferences.show,
            Intent.EVENTS: events.upcoming,
            Intent.ASK: self.answers.prompt,
            Intent.STATS: organiser.stats,
            Intent.ATTENDANCE: organiser.attendance_list,
            Intent.BROADCAST: broadcast_flow.start,
            Intent.BROADCASTS: broadcast_flow.listing,
            Intent.CALL_OFF: broadcast_flow.start_call_off,
            Intent.CONTACT: contact.show,
            Intent.WHOAMI: contact.whoami,
            Intent.MY_DATA: my_data.show,
            Intent.FORGET: forget.ask,
            Intent.CANCEL: lambda turn: [self.screens.menu_prompt(turn.member)],
        }
        # Open dialogs: what a typed message is for while one is open, and what ends it.
        self._dialogs: dict[str, DialogFlow] = {
            relay.DIALOG: DialogFlow(relay.write_reply, relay.cancel),
            broadcast_flow.BROADCAST: DialogFlow(self.broadcasting.on_text, broadcast_flow.quit_),
            broadcast_flow.CALL_OFF: DialogFlow(
                broadcast_flow.on_call_off_text, broadcast_flow.quit_call_off
            ),
            forget.DIALOG: DialogFlow(forget.on_text, forget.cancel, organiser=False),
        }
        # Buttons: what each action runs, how its arguments are read, who may press it;
        # `buttons.decode` is the one place a pressed button is read (see its docstring).
        self._presses: dict[str, Press] = {
            "consent": Press(onboarding.consent, (buttons.text,), consent=False),
            "region": Press(onboarding.toggle_region, (buttons.text, buttons.text)),
            "regions": Press(onboarding.show_regions, (buttons.text,)),
            "regions_done": Press(onboarding.regions_done, (buttons.text,)),
            "settings_regions": Press(preferences.change_regions),
            "notify": Press(preferences.set_notifications, (buttons.text,)),
            "lang": Press(preferences.set_language, (buttons.text,)),
            "menu": Press(self._menu_button, (buttons.text,)),
            "events": Press(events.upcoming, (buttons.text,), optional=1),
            "rsvp": Press(rsvp.answer, (buttons.occurrence_to_answer, buttons.text)),
            "guests": Press(rsvp.guests, (buttons.occurrence_to_answer, buttons.count)),
            "attendance": Press(organiser.attendance, (buttons.occurrence,), organiser=True),
            "attendees": Press(organiser.attendees, (buttons.occurrence,), organiser=True),
            # An entry, and the language it was asked in ("en") when not the member's own.
            "faq": Press(
                self.answers.show, (buttons.text, buttons.text), optional=1, consent=False
            ),
            "faq_more": Press(
                self.answers.more, (buttons.text, buttons.text), optional=1, consent=False
            ),
            "ask_human": Press(relay.ask_human),
            # 登録情報 and 登録削除: open to members asked to agree to a new welcome text.
            "mydata_file": Press(my_data.send_file, consent=False),
            "forget_yes": Press(forget.confirm, consent=False, dialog=forget.DIALOG),
            "forget_no": Press(forget.cancel, consent=False, dialog=forget.DIALOG),
            "relay_reply": Press(relay.start_reply, (buttons.text,), organiser=True),
            # 一斉送信: every step is a button of the open dialog, for organisers only.
            **{
                name: Press(flow, arguments, organiser=True, dialog=broadcast_flow.BROADCAST)
                for name, flow, arguments in (
                    ("bc_to", broadcast_flow.choose_audience, (buttons.text,)),
                    ("bc_region", broadcast_flow.choose_region, (buttons.text,)),
                    ("bc_event", broadcast_flow.choose_event, (buttons.occurrence,)),
                    ("bc_answers", broadcast_flow.choose_answers, (buttons.text,)),
                    ("bc_urgent", self.broadcasting.toggle_urgent, ()),
                    ("bc_when", broadcast_flow.ask_when, ()),
                    ("bc_rewrite", broadcast_flow.rewrite, ()),
                    ("bc_card", self.broadcasting.toggle_card, ()),
                    ("bc_card_pick", self.broadcasting.pick_card, (buttons.occurrence,)),
                    ("bc_send", self.broadcasting.send, ()),
                    ("bc_force", self.broadcasting.force, ()),
                    ("bc_confirm", broadcast_flow.confirm, ()),
                    ("bc_back", self.broadcasting.back, ()),
                    ("bc_quit", broadcast_flow.quit_, ()),
                )
            },
            "bc_stop": Press(broadcast_flow.ask_stop, (buttons.count,), organiser=True),
            "bc_stop_yes": Press(broadcast_flow.stop, (buttons.count,), organiser=True),
            # 中止連絡
            **{
                name: Press(flow, arguments, organiser=True, dialog=broadcast_flow.CALL_OFF)
                for name, flow, arguments in (
                    ("co_pick", broadcast_flow.pick_call_off, (buttons.occurrence,)),
                    ("co_reason", broadcast_flow.choose_reason, (buttons.text,)),
                    ("co_send", broadcast_flow.send_call_off, ()),
                    ("co_quit", broadcast_flow.quit_call_off, ()),
                )
            },
            "co_undo": Press(broadcast_flow.ask_undo, (buttons.occurrence,), organiser=True),
            "co_undo_yes": Press(broadcast_flow.undo, (buttons.occurrence,), organiser=True),
            PAGE_ACTION: Press(self._page, (buttons.text, buttons.text), rest=buttons.text),
        }

    def handle(self, incoming: Incoming) -> list[Outgoing]:
        """Everything one message changes is committed together with the decision to reply."""
        now = incoming.received_at or self._clock.now()
        ref = incoming.member
        with self._units_of_work() as uow:
            # First the member's lock, so two processes given events of one member handle
            # them one after the other, then the event's record, so one delivered again
            # (to this process or another) is recognised: both in this turn's transaction.
            uow.turns.lock_member(ref.channel, ref.external_id)
            if incoming.event_id is not None and not uow.turns.first_delivery(
                ref.channel, incoming.event_id, self._clock.now()
            ):
                log.info("event %s of %s was handled before", incoming.event_id, ref.channel)
                return []
            member = self._member(uow, ref, now)
            dialog = self._open_dialog(uow, member, now)
            turn = Turn(member, member.id is None, uow, now, self._campaign, self.screens, dialog)
            replies = [self.screens.finish(member, r) for r in self._route(turn, incoming)]
            typed.remember(member, replies)
            if member.id is not None:
                uow.members.save(member)
                if turn.dialog != dialog:
                    uow.dialogs.save(member.id, turn.dialog)
            elif member.subscription is not Subscription.PENDING:
                self._store_new_member(uow, member)
            uow.commit()
        return replies

    def _open_dialog(self, uow: UnitOfWork, member: Member, now: datetime) -> Dialog | None:
        """The member's open dialog, unless it expired or its flow needs a role they no
        longer have (an organiser removed since: their dialogs are closed, not resumed)."""
        if member.id is None:
            return None
        dialog = uow.dialogs.get(member.id)
        if dialog is None:
            return None
        flow = self._dialogs.get(dialog.name)
        if dialog.expired(now) or flow is None or (flow.organiser and not member.is_organiser):
            uow.dialogs.save(member.id, None)
            return None
        return dialog

    def reply_to(self, incoming: Incoming) -> list[Outgoing]:
        """`handle`, but a failure becomes a polite apology instead of an exception."""
        try:
            return self.handle(incoming)
        except Exception:
            log.exception("could not handle %s", incoming)
            return [self.error_reply(incoming.member)]

    def error_reply(self, ref: MemberRef) -> Outgoing:
        """What to say when handling failed; never a traceback."""
        language = self._campaign.default_language
        try:
            with self._units_of_work() as uow:
                member = uow.members.get(ref.channel, ref.external_id)
                if member is not None:
                    language = member.language
        except Exception:  # the database may be what failed
            log.warning("could not look up the language of %s", ref, exc_info=True)
        return Outgoing(self.screens.catalogues[language]("error.generic"))

    def defer(self, ref: MemberRef, replies: list[Outgoing]) -> int:
        """Replies the channel could not send now (rate limited, network down) go through the
        outbox's interactive lane, ahead of everything else; returns how many were queued."""
        now = self._clock.now()
        batch, queued = uuid.uuid4().hex, 0
        with self._units_of_work() as uow:
            member = uow.members.get(ref.channel, ref.external_id)
            if member is None:
                return 0
            for index, reply in enumerate(replies):
                queued += uow.outbox.enqueue(
                    REPLY,
                    f"reply:{batch}:{index}",
                    member,
                    message_payload(reply),
                    now,
                )
            uow.commit()
        return queued

    def _member(self, uow: UnitOfWork, ref: MemberRef, now: datetime) -> Member:
        """The stored member, or someone not stored yet (no id) until they answer consent."""
        member = uow.members.get(ref.channel, ref.external_id) or Member(
            channel=ref.channel,
            external_id=ref.external_id,
            language=self._campaign.default_language,
            created_at=now,
            last_seen_at=now,
        )
        member.seen(now)
        name = clean_text(ref.display_name or "")[:MAX_NAME_CHARS]
        if name:
            member.display_name = name
        # The configuration and the database's list decide who organises, at every message:
        # a role removed there is gone here at once.
        organises = self._campaign.is_organiser(
            ref.channel, ref.external_id
        ) or uow.organisers.contains(ref.channel, ref.external_id)
        member.role = Role.ORGANISER if organises else Role.MEMBER
        return member

    @staticmethod
    def _store_new_member(uow: UnitOfWork, member: Member) -> None:
        """Someone just answered the consent question: from now on they are a member."""
        stored, inserted = uow.members.register(member)
        if inserted and member.regions:
            stored.regions = set(member.regions)
            uow.members.save(stored)

    def _route(self, turn: Turn, incoming: Incoming) -> list[Outgoing]:
        if incoming.command is not None:
            intent = COMMANDS.get(incoming.command)
            if intent is None:
                return self._unknown_command(turn, incoming.command)
            replies = self._run_intent(turn, intent)
            if intent is Intent.START and incoming.payload.startswith("ev_"):
                # A flyer's QR code: after the welcome, the event it was printed for.
                replies += events.open_link(turn, incoming.payload)
            return replies
        if incoming.action is not None:
            return self._press(turn, incoming.action)
        if incoming.raw_action is not None:
            log.info("stale or forged button %r from %s", incoming.raw_action, incoming.member)
            if not buttons.consented(turn):
                return onboarding.needs_consent(turn)
            return [self.screens.with_menu(turn.member, turn.texts("fallback.stale_button"))]
        if incoming.media is not None:
            if turn.is_new:
                return onboarding.welcome(turn)
            return [self.screens.with_menu(turn.member, turn.texts("fallback.media"))]
        return self._text(turn, incoming.text or "")

    def _text(self, turn: Turn, text: str) -> list[Outgoing]:
        if turn.is_new:
            # Someone not stored yet: menu words are understood (and refused if they need
            # consent); anything else, a question included, gets the welcome first.
            word = self.screens.catalogues.intent_of(text) if text else None
            return self._run_intent(turn, Intent(word)) if word else onboarding.welcome(turn)
        if not text:
            return [self.screens.with_menu(turn.member, turn.texts("fallback.empty"))]
        catalogues = self.screens.catalogues
        name = catalogues.intent_of(text)
        choice = typed.typed_choice(catalogues, turn.member, text, numbers=turn.dialog is None)
        if turn.dialog is not None:
            flow = self._dialogs[turn.dialog.name]
            if choice is not None and choice.action is not None:
                return self._press(turn, choice.action)  # a button of the dialog, typed
            if name is None:
                return flow.on_text(turn, text)
            if name == Intent.CANCEL:
                return flow.on_cancel(turn)
            turn.end_dialog()  # a menu word ends the dialog
        if name is not None:
            return self._run_intent(turn, Intent(name))
        if choice is not None:
            return self._typed(turn, choice)
        for kind, flow_of in (
            ("help", self._help),
            ("join", contact.join),
            ("signature", contact.signature),
        ):
            if catalogues.says(kind, text):
                return flow_of(turn)
        if catalogues.label_for(normalise_word(text)) == "faq.human_button":
            return relay.ask_human(turn)  # 「世話人」 typed after an answer, its button gone
        limited = self._question_limit(turn)
        if limited is not None:
            return [limited]
        outcome, replies = self.answers.ask(turn, text)
        if turn.member.subscription is Subscription.PENDING and outcome not in ANSWERED:
            return [onboarding.consent_question(turn)]
        return replies

    def _typed(self, turn: Turn, choice: typed.Typed) -> list[Outgoing]:
        """A button's words typed instead of pressed."""
        if choice.action is not None:
            return self._press(turn, choice.action)
        key = "fallback.press_which" if choice.ambiguous else "menu.prompt"
        return [self.screens.with_menu(turn.member, turn.texts(key))]

    def _question_limit(self, turn: Turn) -> Outgoing | None:
        """The reply for a member who asked too many questions in a row, else None."""
        member, allowance = turn.member, self._campaign.limits.questions
        if member.id is None:
            return None
        until = turn.uow.limits.take(member.id, QUESTIONS, turn.now, allowance.count, allowance.per)
        if until is None:
            return None
        when = turn.texts.format_datetime(until, self._campaign.timezone)
        return self.screens.with_menu(member, turn.texts("limits.questions", when=when))

    def _run_intent(self, turn: Turn, intent: Intent) -> list[Outgoing]:
        if intent not in WITHOUT_CONSENT and not buttons.consented(turn):
            return onboarding.needs_consent(turn)
        if intent in ORGANISER_ONLY and not turn.member.is_organiser:
            return self._refuse(turn, intent)
        return self._intents[intent](turn)

    def _refuse(self, turn: Turn, what: str) -> list[Outgoing]:
        """An organiser's action asked for by someone who is not one (now): on record, and
        the ordinary menu."""
        turn.uow.audit.record(turn.member, "refused", {"action": what[:64]}, turn.now)
        log.info("refused %s to %s", what[:64], turn.member)  # a pseudonym in the log
        return [self.screens.with_menu(turn.member, turn.texts("fallback.not_allowed"))]

    def _press(self, turn: Turn, action: Action) -> list[Outgoing]:
        """Run a button's flow; a screen it redraws stays on the page of the button pressed."""
        replies = self._run_action(turn, action)
        if action.name == PAGE_ACTION:
            return replies
        return [
            reply.with_paging(focus=action) if reply.paging and reply.paging.screen else reply
            for reply in replies
        ]

    def _run_action(self, turn: Turn, action: Action) -> list[Outgoing]:
        try:
            return buttons.decode(turn, action, self._presses)()
        except buttons.NeedsConsent:
            return onboarding.needs_consent(turn)
        except buttons.NotAllowed:
            return self._refuse(turn, action.name)
        except StaleAction:
            log.info("refused button %s from %s", action.encode(), turn.member)
            if not buttons.consented(turn):
                return onboarding.needs_consent(turn)
            return [self.screens.with_menu(turn.member, turn.texts("fallback.stale_button"))]

    def _page(self, turn: Turn, page: str, screen: str, *args: str) -> list[Outgoing]:
        """「次へ」/「戻る」: redraw `screen` and ask the channel for page `page` of its choices.

        Only the channel knows how many pages there are; a number past the end (a button from
        an older, longer screen, or a forged one) gets the first page with a note there.
        """
        if screen not in REDRAWN_SCREENS:
            raise StaleAction(f"page of {screen}")
        number = events.number(page)
        target = Action(screen, args)
        return [
            reply.with_paging(page=number, focus=None)
            if reply.paging and reply.paging.screen == target
            else reply
            for reply in self._run_action(turn, target)
        ]

    def _menu_button(self, turn: Turn, name: str) -> list[Outgoing]:
        return self._run_intent(turn, choice(Intent, name))

    def _help(self, turn: Turn) -> list[Outgoing]:
        text = turn.texts("help.member")
        if turn.member.is_organiser:
            text = f"{text}\n\n{turn.texts('help.organiser')}"
        return [self.screens.with_menu(turn.member, text)]

    def _unknown_command(self, turn: Turn, command: str) -> list[Outgoing]:
        if turn.is_new:
            return onboarding.welcome(turn)
        text = turn.texts("fallback.unknown_command", command=command[:32])
        return [self.screens.with_menu(turn.member, text)]
