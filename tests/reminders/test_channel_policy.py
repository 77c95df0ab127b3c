"""A frugal reminder policy per channel (issue 13): LINE members get only the kinds the config
names under `reminders.channels.line.kinds`; the rest of the policy applies to them as before.
Pure planning, the skip reason, and the config with its errors."""

from __future__ import annotations

import textwrap
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import RemindersConfig, load_settings, reminder_book
from bot.domain.events import RsvpStatus
from bot.domain.reminders import (
    SKIP_CHANNEL,
    SKIP_EVENT_CANCELLED,
    SKIP_REPLANNED,
    SKIP_RSVP_CHANGED,
    SKIP_STOPPED,
    OutboxState,
    PlanMember,
    PlanOccurrence,
    PolicyBook,
    ReminderKind,
    Stored,
    outbox_state,
    plan,
    skip_reason,
)
from bot.yaml_validation import InvalidDocument

TOKYO = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=TOKYO)
FRUGAL = frozenset({ReminderKind.DAY_BEFORE, ReminderKind.DIGEST})
K = ReminderKind


def rally(
    id: int = 1, starts: datetime = datetime(2026, 12, 7, 13, 0, tzinfo=TOKYO)
) -> PlanOccurrence:
    return PlanOccurrence(
        id=id,
        slug=f"rally-{id}",
        kind="rally",
        title="12.7大集会",
        starts_at=starts,
        published_at=NOW,
        regions=frozenset({"tokyo"}),
        everyone=True,
    )


def street() -> PlanOccurrence:
    return PlanOccurrence(
        id=9,
        slug="sugamo-4nohi",
        kind="street",
        title="4の日 巣鴨駅宣伝",
        starts_at=datetime(2026, 12, 4, 12, 0, tzinfo=TOKYO),
        published_at=NOW,
        regions=frozenset({"toshima"}),
        recurring=True,
    )


def book(**changes: object) -> PolicyBook:
    """The shipped policy with LINE members on [day_before, digest], and `changes`."""
    return replace(
        PolicyBook(
            zone=TOKYO,
            by_kind={"street": {"same_day_before": timedelta(hours=1), "digest": True}},
            channel_kinds={"line": FRUGAL},
        ),
        **changes,
    )


def kinds_of(reminders: list, member_id: int) -> set[ReminderKind]:
    return {r.kind for r in reminders if r.member_id == member_id}


def test_line_members_get_only_the_kinds_their_channel_allows() -> None:
    members = [
        PlanMember(1, frozenset({"toshima"}), channel="telegram"),
        PlanMember(2, frozenset({"toshima"}), channel="line"),
        PlanMember(3, frozenset({"toshima"}), channel="telegram"),
        PlanMember(4, frozenset({"toshima"}), channel="line"),
    ]
    answers = {(1, 1): RsvpStatus.GOING, (1, 2): RsvpStatus.MAYBE}
    planned = plan([rally(), street()], members, answers, OutboxState(), book(), NOW)

    assert kinds_of(planned, 1) == {K.DAY_BEFORE, K.SAME_DAY, K.DIGEST}
    assert kinds_of(planned, 2) == {K.DAY_BEFORE, K.DIGEST}, "no same-day reminder on LINE"
    assert kinds_of(planned, 3) == {K.INVITATION, K.NUDGE, K.DIGEST}
    assert kinds_of(planned, 4) == {K.DIGEST}, "no invitation or nudge on LINE"
    day_before = {r.member_id: r.due_at for r in planned if r.kind is K.DAY_BEFORE}
    assert day_before[1] == day_before[2] == datetime(2026, 12, 6, 10, 0, tzinfo=TOKYO)


def test_without_a_restriction_every_channel_gets_every_kind() -> None:
    members = [PlanMember(1, channel="telegram"), PlanMember(2, channel="line")]
    answers = {(1, 1): RsvpStatus.GOING, (1, 2): RsvpStatus.GOING}
    planned = plan([rally()], members, answers, OutboxState(), book(channel_kinds={}), NOW)
    assert kinds_of(planned, 1) == kinds_of(planned, 2) == {K.DAY_BEFORE, K.SAME_DAY}


def test_an_empty_list_sends_a_channel_no_reminders_at_all() -> None:
    members = [PlanMember(1, channel="line"), PlanMember(2, channel="line")]
    answers = {(1, 1): RsvpStatus.GOING}
    empty = book(channel_kinds={"line": frozenset()})
    assert plan([rally(), street()], members, answers, OutboxState(), empty, NOW) == []


def test_a_left_out_kind_takes_no_place_under_the_daily_cap() -> None:
    """Cap 1: the on-the-day reminder of today's event fills a Telegram member's day, so the
    invitation to another event waits for tomorrow; on LINE there is no on-the-day reminder,
    so the invitation goes today."""
    today = rally(1, starts=datetime(2026, 11, 30, 13, 0, tzinfo=TOKYO))
    later = rally(2, starts=datetime(2026, 12, 5, 18, 0, tzinfo=TOKYO))
    members = [PlanMember(1, channel="telegram"), PlanMember(2, channel="line")]
    answers = {(1, 1): RsvpStatus.GOING, (1, 2): RsvpStatus.GOING}
    policy = book(daily_cap=1, channel_kinds={"line": frozenset({K.INVITATION})})
    planned = plan([today, later], members, answers, OutboxState(), policy, NOW)

    invitations = {r.member_id: r.due_at for r in planned if r.kind is K.INVITATION}
    assert invitations[2] == NOW
    assert invitations[1] == datetime(2026, 12, 1, 8, 0, tzinfo=TOKYO)
    assert kinds_of(planned, 1) == {K.SAME_DAY, K.INVITATION, K.NUDGE}
    assert kinds_of(planned, 2) == {K.INVITATION}


def test_a_member_without_a_known_channel_is_not_restricted() -> None:
    policy = book()
    assert policy.left_out(None) == frozenset()
    assert policy.left_out("telegram") == frozenset()
    assert policy.left_out("line") == {K.INVITATION, K.NUDGE, K.SAME_DAY}


def queued(kind: ReminderKind, occurrence_id: int | None = 1) -> Stored:
    return Stored(
        reference=f"{kind.value}:{occurrence_id}",
        state="queued",
        skip_reason=None,
        due_at=NOW,
        occurrence_id=occurrence_id,
        ids=[10],
        member_ids=[2],
    )


def test_a_queued_reminder_of_a_kind_taken_off_is_skipped_with_its_reason() -> None:
    going = {(1, 2): RsvpStatus.GOING}
    left_out = book().left_out("line")
    row = queued(K.SAME_DAY)
    key = (2, row.reference)
    assert skip_reason(key, row, rally(), going, {2}, left_out) == SKIP_CHANNEL
    assert skip_reason(key, row, rally(), going, {2}) == SKIP_REPLANNED
    # A reason that holds whatever the config says comes first.
    assert skip_reason(key, row, rally(), going, set(), left_out) == SKIP_STOPPED
    cancelled = replace(rally(), cancelled=True)
    assert skip_reason(key, row, cancelled, going, {2}, left_out) == SKIP_EVENT_CANCELLED
    allowed = queued(K.DAY_BEFORE)
    assert (
        skip_reason((2, allowed.reference), allowed, rally(), {}, {2}, left_out)
        == SKIP_RSVP_CHANGED
    )


def test_a_reminder_skipped_for_its_channel_may_be_planned_again() -> None:
    """Should the config allow the kind again, the same row is wanted again (never sent)."""
    skipped = Stored("same_day:1", "skipped", SKIP_CHANNEL, NOW, 1, [10], [2])
    state = outbox_state([skipped], {})
    assert not state.kept
    planned = plan(
        [rally()],
        [PlanMember(2, channel="line")],
        {(1, 2): RsvpStatus.GOING},
        state,
        book(channel_kinds={}),
        NOW,
    )
    assert K.SAME_DAY in kinds_of(planned, 2)


# --- the config ---------------------------------------------------------------------------

MINIMAL = """\
regions:
  - {code: tokyo, name: 都全体}
"""


def load(tmp_path: Path, text: str) -> RemindersConfig:
    path = tmp_path / "config.yaml"
    path.write_text(MINIMAL + textwrap.dedent(text), encoding="utf-8")
    return load_settings(path, env={}).config.reminders


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(InvalidDocument) as caught:
        load(tmp_path, text)
    return [str(p) for p in caught.value.problems]


def test_the_config_names_the_kinds_line_members_get(tmp_path: Path) -> None:
    reminders = load(
        tmp_path,
        """\
        reminders:
          channels:
            line:
              kinds: [day_before, digest]
        """,
    )
    policy = reminder_book(reminders, TOKYO)
    assert policy.channel_kinds == {"line": FRUGAL}
    assert policy.left_out("telegram") == frozenset()
    assert policy.left_out("line") == {K.INVITATION, K.NUDGE, K.SAME_DAY}
    # The rest of the policy is untouched.
    assert policy.daily_cap == 3
    assert policy.policy("street").digest


def test_by_default_no_channel_is_restricted(tmp_path: Path) -> None:
    assert reminder_book(load(tmp_path, ""), TOKYO).channel_kinds == {}
    nulled = load(tmp_path, "reminders:\n  channels:\n    line:\n      kinds: null\n")
    assert reminder_book(nulled, TOKYO).channel_kinds == {}


def test_the_shipped_example_restricts_nothing_but_says_how() -> None:
    from tests.conftest import EXAMPLE_CONFIG

    settings = load_settings(EXAMPLE_CONFIG, env={})
    assert reminder_book(settings.config.reminders, TOKYO).channel_kinds == {}
    text = EXAMPLE_CONFIG.read_text("utf-8")
    assert "[day_before, digest]" in text
    for quota in ("free plan 200", "Light\n  # 5,000", "Standard 30,000"):
        assert quota in text, quota


def test_an_unknown_kind_is_named_with_its_key_and_the_kinds_allowed(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """\
        reminders:
          channels:
            line:
              kinds: [day_before, day-before]
        """,
    )
    assert found == [
        "config.yaml:6: reminders.channels.line.kinds[1]: expected one of 'invitation', "
        "'nudge', 'day_before', 'same_day' or 'digest', got \"day-before\""
    ]


def test_a_single_kind_must_still_be_a_list(tmp_path: Path) -> None:
    found = problems(tmp_path, "reminders:\n  channels:\n    line:\n      kinds: digest\n")
    assert found == ['config.yaml:6: reminders.channels.line.kinds: expected a list, got "digest"']


def test_an_unknown_channel_is_named(tmp_path: Path) -> None:
    found = problems(tmp_path, "reminders:\n  channels:\n    lin:\n      kinds: [digest]\n")
    assert found == [
        "config.yaml:5: reminders.channels.lin: unknown key (misspelt?); "
        "allowed keys: console, telegram, line"
    ]


def test_a_kind_listed_twice_is_named(tmp_path: Path) -> None:
    found = problems(
        tmp_path, "reminders:\n  channels:\n    line:\n      kinds: [digest, day_before, digest]\n"
    )
    assert found == [
        "config.yaml:6: reminders.channels.line.kinds[2]: digest is listed twice; "
        "name each kind once"
    ]
