"""Property-based fuzzing through the core: whatever arrives, the turn holds.

Arbitrary text (surrogates, controls and characters that grow under NFKC included),
commands, pictures and button payloads (forged actions with plausible names and random ids,
random bytes) from members who consented and from people who never did, through
`Conversation.handle` on a real database with a calendar that has a deleted event in it.

Each turn must: raise nothing (so the member never gets the apology), answer with valid
messages (text, buttons a channel can carry), store nobody who has not answered the consent
question, and take no answer for an event deleted from the schedule files.

Deterministic: `derandomize=True`, no example database; `max_examples` keeps the suite a few
seconds long.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.calendar.recurrence import expand
from bot.config import Settings
from bot.domain.calendar import Calendar
from bot.domain.capabilities import LINE, TELEGRAM, adapt
from bot.domain.messages import MAX_ACTION_BYTES, Action, Incoming, MemberRef, Outgoing
from bot.faq.matcher import FaqEngine
from bot.services.calendar_sync import CalendarSync
from bot.services.conversation import Conversation
from bot.services.faq import Answers
from bot.store.database import Database
from bot.store.tables import EventRow, MemberRow, OccurrenceRow, RsvpRow
from bot.texts import Catalogues
from tests.dialogs.chat import Chat
from tests.dialogs.test_registration import register
from tests.events.conftest import CALENDAR, RALLY, SUGAMO_4
from tests.fakes.clock import FakeClock

EXAMPLES = 120
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MEMBERS = ("alice", "console-organiser")

ACTIONS = [
    "consent", "region", "regions", "regions_done", "settings_regions", "notify", "lang",
    "menu", "events", "rsvp", "guests", "attendance", "attendees", "faq", "faq_more",
    "ask_human", "relay_reply", "page", "nosuch",
]  # fmt: skip
WORDS = [
    "予定", "ヘルプ", "メニュー", "質問", "通知設定", "配信停止", "配信再開", "やめる",
    "登録状況", "参加状況", "保険証はいつまで使えますか", "次の宣伝はいつ？", "こんにちは",
    "\ufdfa" * 3000, "\u3300" * 2500, "あ" * 5000, "\x00\x1b[31m", "\ud800\udfff",
]  # fmt: skip
COMMANDS = [
    "start", "stop", "resume", "help", "menu", "settings", "events", "ask", "stats",
    "attendance", "frobnicate", "START",
]  # fmt: skip
ARGUMENT_WORDS = [
    "yes", "no", "on", "off", "en", "ja", "fr", "going", "maybe", "no", "waitlist", "itabashi",
    "atlantis", "onboarding", "settings", "regions", "events", "help", "stats", "0", "-1",
    "999999999999", "1e3", "shikaku-kakuninsho",
]  # fmt: skip

arguments = st.one_of(
    st.integers(min_value=0, max_value=40).map(str),
    st.sampled_from(ARGUMENT_WORDS),
    st.from_regex(r"[A-Za-z0-9_\-.]{1,12}", fullmatch=True),
)
forged_actions = st.builds(
    lambda name, args: ":".join(["1", name, *args]),
    st.sampled_from(ACTIONS),
    st.lists(arguments, max_size=4),
)
any_text = st.text(st.characters(exclude_categories=()), max_size=300)
payloads = st.one_of(
    forged_actions,
    any_text,
    st.binary(max_size=80).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)


@st.composite
def incomings(draw: st.DrawFn) -> tuple[str, Incoming]:
    """(who, what): who is a registered member, or "stranger" (never consented)."""
    who = draw(st.sampled_from([*MEMBERS, "stranger"]))
    ref = MemberRef("console", who, display_name=draw(st.none() | any_text))
    kind = draw(st.sampled_from(["text", "word", "command", "media", "button"]))
    if kind == "text":
        return who, Incoming.from_text(ref, draw(any_text))
    if kind == "word":
        return who, Incoming.from_text(ref, draw(st.sampled_from(WORDS)))
    if kind == "command":
        payload = draw(st.sampled_from(["", "ev_rally-1207", "ev_itabashi-study-1210"]) | any_text)
        return who, Incoming.from_text(ref, f"/{draw(st.sampled_from(COMMANDS))} {payload}")
    if kind == "media":
        return who, Incoming.from_media(ref, draw(st.sampled_from(["sticker", "photo", "voice"])))
    return who, Incoming.from_button(ref, draw(payloads))


def check_message(message: Outgoing) -> None:
    assert message.text.strip()
    for button in message.all_buttons():
        encoded = button.action.encode()
        assert len(encoded.encode()) <= MAX_ACTION_BYTES
        assert Action.decode(encoded) == button.action
        assert button.label.strip()
    for capabilities in (TELEGRAM, LINE):
        for part in adapt(message, capabilities):
            assert part.text.strip()
            assert len(part.text) <= capabilities.max_text_chars
            for button in part.all_buttons():
                assert len(button.action.encode().encode()) <= MAX_ACTION_BYTES


@pytest.fixture
def core(
    settings: Settings, database: Database, clock: FakeClock, shipped_engine: FaqEngine
) -> Conversation:
    conversation = Conversation(
        database.unit_of_work,
        settings.campaign(),
        Catalogues.load(),
        clock,
        Answers(lambda: shipped_engine),
    )
    sync = CalendarSync(database.unit_of_work, clock, expand)
    sync.sync(CALENDAR)
    for who in MEMBERS:
        register(Chat(conversation, MemberRef("console", who)), "板橋区")
    sync.sync(Calendar(events=(RALLY, SUGAMO_4)))  # the 学習会 is deleted from the files
    return conversation


def test_whatever_arrives_the_core_answers_and_stores_nothing_wrong(
    core: Conversation, database: Database
) -> None:
    strangers = itertools.count()
    with database.session() as session:
        deleted = session.scalars(
            select(OccurrenceRow.id).join(EventRow).where(EventRow.removed_at.is_not(None))
        ).all()
    assert deleted

    @FUZZ
    @given(incomings())
    def turn(sent: tuple[str, Incoming]) -> None:
        who, incoming = sent
        if who == "stranger":
            ref = MemberRef("console", f"stranger-{next(strangers)}", incoming.member.display_name)
            incoming = Incoming(**{**incoming.__dict__, "member": ref})
        replies = core.handle(
            incoming
        )  # raises if the turn fails: the member would get the apology

        assert replies
        for reply in replies:
            check_message(reply)
        with database.session() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(MemberRow)
                .where(MemberRow.external_id == incoming.member.external_id)
            )
            taken = session.scalar(
                select(func.count()).select_from(RsvpRow).where(RsvpRow.occurrence_id.in_(deleted))
            )
        if who == "stranger":
            consents = incoming.action is not None and incoming.action in (
                Action("consent", ("yes",)),
                Action("consent", ("no",)),
            )
            assert stored == (1 if consents else 0), incoming
        assert taken == 0, incoming

    turn()
