"""The conversation: turns one `Incoming` into the replies to show, in one transaction."""

from __future__ import annotations

import inspect
import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from bot.domain.campaign import Campaign
from bot.domain.capabilities import PAGE_ACTION
from bot.domain.deliveries import REPLY, message_payload
from bot.domain.members import Member, Role, Subscription
from bot.domain.messages import Action, Incoming, MemberRef, Outgoing
from bot.domain.ports import Clock, UnitOfWork, UnitOfWorkFactory
from bot.faq.matcher import Outcome
from bot.services import events, onboarding, organiser, preferences, relay, rsvp
from bot.services.faq import Answers
from bot.services.screens import Intent, Screens
from bot.services.turn import StaleAction, Turn, choice
from bot.texts import Catalogues

log = logging.getLogger(__name__)

Flow = Callable[..., list[Outgoing]]

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
}

ORGANISER_ONLY = frozenset({Intent.STATS, Intent.ATTENDANCE})
ORGANISER_ACTIONS = frozenset({"attendance", "attendees", "relay_reply"})
# Screens a 「次へ」/「戻る」 button may redraw (see `Conversation._page`): actions that show
# something and change nothing, so a forged page button can do no more than show it.
REDRAWN_SCREENS = frozenset({"regions"})
# What the member still has to decide during registration; a question does not skip it.
ANSWERED = frozenset({Outcome.ANSWER, Outcome.SUGGEST, Outcome.EVENTS})


class Conversation:
    def __init__(
        self,
        units_of_work: UnitOfWorkFactory,
        campaign: Campaign,
        catalogues: Catalogues,
        clock: Clock,
        answers: Answers | None = None,
    ) -> None:
        self._units_of_work = units_of_work
        self.answers = answers or Answers(lambda: None)
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
            Intent.CANCEL: lambda turn: [self.screens.menu_prompt(turn.member)],
        }
        # Button actions: name -> flow taking the action's arguments.
        self._actions: dict[str, Flow] = {
            "consent": onboarding.consent,
            "region": onboarding.toggle_region,
            "regions": onboarding.show_regions,
            "regions_done": onboarding.regions_done,
            "settings_regions": preferences.change_regions,
            "notify": preferences.set_notifications,
            "lang": preferences.set_language,
            "menu": self._menu_button,
            "events": events.upcoming,
            "rsvp": rsvp.answer,
            "guests": rsvp.guests,
            "attendance": organiser.attendance,
            "attendees": organiser.attendees,
            "faq": self.answers.show,
            "faq_more": self.answers.more,
            "ask_human": relay.ask_human,
            "relay_reply": relay.start_reply,
            PAGE_ACTION: self._page,
        }

    def handle(self, incoming: Incoming) -> list[Outgoing]:
        """Everything one message changes is committed together with the decision to reply."""
        now = incoming.received_at or self._clock.now()
        with self._units_of_work() as uow:
            member, is_new = self._member(uow, incoming.member, now)
            turn = Turn(member, is_new, uow, now, self._campaign, self.screens)
            replies = [self.screens.finish(member, r) for r in self._route(turn, incoming)]
            uow.members.save(member)
            uow.commit()
        return replies

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

    def _member(self, uow: UnitOfWork, ref: MemberRef, now: datetime) -> tuple[Member, bool]:
        member, is_new = uow.members.register(
            Member(
                channel=ref.channel,
                external_id=ref.external_id,
                display_name=ref.display_name,
                language=self._campaign.default_language,
                created_at=now,
                last_seen_at=now,
            )
        )
        member.seen(now)
        if ref.display_name:
            member.display_name = ref.display_name
        # The configuration decides who organises; a role removed there is removed here.
        organises = self._campaign.is_organiser(ref.channel, ref.external_id)
        member.role = Role.ORGANISER if organises else Role.MEMBER
        return member, is_new

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
            return [self.screens.with_menu(turn.member, turn.texts("fallback.stale_button"))]
        if turn.is_new:
            return onboarding.welcome(turn)
        if incoming.media is not None:
            return [self.screens.with_menu(turn.member, turn.texts("fallback.media"))]
        return self._text(turn, incoming.text or "")

    def _text(self, turn: Turn, text: str) -> list[Outgoing]:
        if not text:
            return [self.screens.with_menu(turn.member, turn.texts("fallback.empty"))]
        name = self.screens.catalogues.intent_of(text)
        if relay.in_reply(turn.member):
            if name is None:
                return relay.write_reply(turn, text)
            turn.member.dialog = None  # a menu word ends the answer being written
            if name == Intent.CANCEL:
                return relay.cancel(turn)
        if name is not None:
            return self._run_intent(turn, Intent(name))
        outcome, replies = self.answers.ask(turn, text)
        if turn.member.subscription is Subscription.PENDING and outcome not in ANSWERED:
            return [onboarding.consent_question(turn)]
        return replies

    def _run_intent(self, turn: Turn, intent: Intent) -> list[Outgoing]:
        if intent in ORGANISER_ONLY and not turn.member.is_organiser:
            return [self.screens.with_menu(turn.member, turn.texts("fallback.not_allowed"))]
        return self._intents[intent](turn)

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
        flow = self._actions.get(action.name)
        if action.name in ORGANISER_ACTIONS and not turn.member.is_organiser:
            return [self.screens.with_menu(turn.member, turn.texts("fallback.not_allowed"))]
        try:
            if flow is None:
                raise StaleAction(action.name)
            try:
                inspect.signature(flow).bind(turn, *action.args)
            except TypeError:
                raise StaleAction(f"{action.name} with {len(action.args)} arguments") from None
            return flow(turn, *action.args)
        except StaleAction:
            log.info("refused button %s from %s", action.encode(), turn.member.external_id)
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
