"""`campaign-bot broadcast` and `campaign-bot broadcasts [cancel ID]` as an organiser types them,
on both databases, at a fixed moment (the fake clock: 2026-11-30 10:00 in Tokyo).

The campaign: one rally on 2026-12-07 for 板橋区, and six members: in 板橋区 `going` (参加),
`maybe` (未定), `silent`, `stopped` (stopped notices; answered 参加) and `blocked` (blocked the
bot); in 渋谷区 `far`.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from bot import terminal
from bot.app import build
from bot.cli import main
from bot.commands.broadcasts import say
from bot.config import load_settings
from bot.domain.broadcasts import MAX_BROADCAST_CHARS
from bot.domain.events import Rsvp, RsvpStatus
from bot.domain.members import Member
from bot.services import broadcasts
from bot.store.database import Database
from bot.store.tables import AuditRow, BroadcastRow, DeliveryRow
from bot.texts import Catalogues
from tests.conftest import EXAMPLE_CONFIG, ROOT, TOKYO
from tests.fakes.clock import FakeClock

# The example config's default language: the one organisers read on the command line.
JA = Catalogues.load()["ja"]

SCHEDULE = """\
organiser: 板橋社保協
events:
  - id: test-rally
    title: 板橋の集会
    kind: rally
    date: 2026-12-07
    weekday: 月
    start: "13:00"
    end: "15:00"
    venue: 板橋区立グリーンホール
    regions: [itabashi]
"""
RALLY = "12月7日(月) 13:00 板橋の集会"
REGIONS = ", ".join(region.code for region in load_settings(EXAMPLE_CONFIG, env={}).config.regions)

TEXT = "12月7日の集会は予定どおり行います。\n\n雨具をお持ちください。"
# What would act on the organiser's terminal if printed raw: a screen clear, a window title
# (OSC ... BEL) and a bidi override. (A carriage return is read as a line end.)
HOSTILE = "集会は\x1b[2J\x1b]0;pwned\x07中止\u202eです"
ACTIVE = ("\x1b", "\x07", "\u202e")

Run = Callable[..., int]


@pytest.fixture
def config(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "config.yaml").write_text(EXAMPLE_CONFIG.read_text("utf-8"), encoding="utf-8")
    (tmp_path / "schedules").mkdir()
    (tmp_path / "schedules" / "itabashi.yaml").write_text(SCHEDULE, encoding="utf-8")
    (tmp_path / "knowledge").symlink_to(ROOT / "knowledge")
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("CAMPAIGN_BOT_CONFIG", raising=False)
    return tmp_path / "config.yaml"


@pytest.fixture
def people(config: Path, clock: FakeClock) -> dict[str, int]:
    """The members, by name, with their ids; the rally synced and answered."""
    app = build(load_settings(config, env=dict(os.environ)), clock=clock)
    ids: dict[str, int] = {}
    try:
        app.schedules.reload()
        now = clock.now()
        with app.database.unit_of_work() as uow:
            rally = uow.calendar.next_of("test-rally", now)
            assert rally is not None
            for number, (name, region) in enumerate(
                [
                    ("going", "itabashi"),
                    ("maybe", "itabashi"),
                    ("silent", "itabashi"),
                    ("stopped", "itabashi"),
                    ("blocked", "itabashi"),
                    ("far", "shibuya"),
                ]
            ):
                member = Member(
                    "telegram",
                    str(5001 + number),
                    display_name=name,
                    created_at=now,
                    last_seen_at=now,
                )
                member.subscribe(now)
                stored, _ = uow.members.register(member)
                assert stored.id is not None
                stored.regions = {region}
                if name == "stopped":
                    stored.unsubscribe(now)
                if name == "blocked":
                    stored.mark_unreachable(now, "blocked")
                uow.members.save(stored)
                ids[name] = stored.id
            for name, status in (
                ("going", RsvpStatus.GOING),
                ("maybe", RsvpStatus.MAYBE),
                ("stopped", RsvpStatus.GOING),
            ):
                uow.rsvps.save(Rsvp(rally.id, ids[name], status, 0, now, now))
            ids["rally"] = rally.id
            uow.commit()
    finally:
        app.close()
    return ids


@pytest.fixture
def run(config: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> Run:
    """`campaign-bot ARGS --config config.yaml` at the fake clock's time; `stdin` is what the
    organiser types."""

    def campaign_bot(*args: str, stdin: str = "") -> int:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        return main([*args, "--config", str(config)], clock=clock)

    return campaign_bot


@pytest.fixture
def message(tmp_path: Path) -> Callable[[str], Path]:
    """Writes the organiser's text file."""

    def write(text: str) -> Path:
        path = tmp_path / "message.txt"
        path.write_text(text, encoding="utf-8")
        return path

    return write


def stored(database: Database) -> tuple[list[BroadcastRow], list[DeliveryRow], list[AuditRow]]:
    """The broadcasts, their deliveries and the audit log, oldest first."""
    with database.session() as session:
        return (
            list(session.scalars(select(BroadcastRow).order_by(BroadcastRow.id))),
            list(
                session.scalars(
                    select(DeliveryRow)
                    .where(DeliveryRow.broadcast_id.is_not(None))
                    .order_by(DeliveryRow.id)
                )
            ),
            list(session.scalars(select(AuditRow).order_by(AuditRow.id))),
        )


def nothing_stored(database: Database) -> bool:
    with database.session() as session:
        return all(
            session.scalar(select(func.count()).select_from(table)) == 0
            for table in (BroadcastRow, DeliveryRow, AuditRow)
        )


def inert(output: str) -> bool:
    return not any(character in output for character in ACTIVE)


# --- campaign-bot broadcast -------------------------------------------------------------------


def test_the_preview_shows_the_message_as_members_get_it_and_sending_needs_a_yes(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT + "\n")

    assert run("broadcast", "--to", "all", "--text-file", str(path), stdin="y\n") == 0

    out = capsys.readouterr().out
    (shown,) = broadcasts.messages(JA, TEXT, urgent=False)
    assert shown.text.startswith("【お知らせ】\n12月7日の集会")
    assert shown.text in out, "exactly as members get it"
    assert "あて先: 全員" in out
    # going, maybe, silent and far; not the one who stopped notices nor the one who blocked.
    assert "届く人: 4人\n（お知らせを止めた人1人、届かない人1人には送りません）" in out
    assert "送り終わるまで: 約1秒" in out
    assert "夜21:00から朝8:00までは、朝になってから送ります。" in out
    assert say(JA, "cli.broadcast.confirm") in out

    (broadcast,), deliveries, (audit,) = stored(database)
    assert say(JA, "cli.broadcast.started", id=broadcast.id, recipients=4) in out
    assert (broadcast.text, broadcast.author_label, broadcast.author_member_id) == (
        TEXT,
        "cli",
        None,
    )
    assert (broadcast.status, broadcast.recipients, broadcast.urgent) == ("sending", 4, False)
    assert broadcast.audience == {"target": "all"}
    assert sorted(row.member_id for row in deliveries) == sorted(
        people[name] for name in ("going", "maybe", "silent", "far")
    )
    assert {(row.purpose, row.state) for row in deliveries} == {("broadcast", "queued")}
    assert (audit.actor_label, audit.actor_member_id, audit.action) == (
        "cli",
        None,
        "broadcast.sent",
    )
    assert audit.detail["audience"] == "all"
    assert audit.detail["text"] == TEXT
    assert audit.detail["recipients"] == 4
    assert audit.detail["broadcast"] == broadcast.id


@pytest.mark.parametrize("answer", ["n\n", "\n", "", "yes please\n"])
def test_anything_but_yes_sends_nothing(
    answer: str,
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT)
    assert run("broadcast", "--to", "region:itabashi", "--text-file", str(path), stdin=answer) == 1
    captured = capsys.readouterr()
    assert "あて先: 板橋区の人" in captured.out
    assert "届く人: 3人" in captured.out
    assert captured.err == f"campaign-bot: {JA('broadcast.quit')}\n"
    assert nothing_stored(database)


def test_yes_sends_at_once_without_asking(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT)
    assert run("broadcast", "--to", "region:itabashi", "--text-file", str(path), "--yes") == 0
    (broadcast,), deliveries, (audit,) = stored(database)
    assert capsys.readouterr().out == (
        say(JA, "cli.broadcast.started", id=broadcast.id, recipients=3) + "\n"
    )
    assert broadcast.audience == {"target": "region:itabashi"}
    assert sorted(row.member_id for row in deliveries) == sorted(
        [people["going"], people["maybe"], people["silent"]]
    )
    assert audit.detail["audience"] == "region:itabashi"
    assert audit.detail["recipients"] == 3


def test_an_event_is_named_by_its_id_in_the_schedule_file(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT)
    to = "event:test-rally:going,maybe"
    assert run("broadcast", "--to", to, "--text-file", str(path), stdin="y\n") == 0

    out = capsys.readouterr().out
    assert f"あて先: 「{RALLY}」に参加、未定と返事をした人" in out
    assert "届く人: 2人\n（お知らせを止めた人1人、届かない人0人には送りません）" in out
    (broadcast,), deliveries, (audit,) = stored(database)
    rally = people["rally"]
    assert broadcast.audience == {"target": f"event:{rally}:going,maybe"}
    assert sorted(row.member_id for row in deliveries) == sorted([people["going"], people["maybe"]])
    assert audit.detail["audience"] == f"event:{rally}:going,maybe"

    # The occurrence's number, as stored, says the same.
    assert run("broadcast", "--to", f"event:{rally}", "--text-file", str(path), "--yes") == 0
    _, deliveries, _ = stored(database)
    assert [row.member_id for row in deliveries[2:]] == [people["going"]]


def test_at_schedules_it_in_the_campaign_time_zone(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT)
    args = ("broadcast", "--to", "all", "--text-file", str(path), "--at", "2026-12-03 09:00")
    assert run(*args, "--urgent", stdin="y\n") == 0

    out = capsys.readouterr().out
    assert "送る日時: 12月3日(木) 9:00" in out
    assert "緊急: 夜でもすぐに送ります。" in out
    assert "【緊急のお知らせ】\n12月7日の集会" in out
    assert say(JA, "cli.broadcast.confirm_scheduled") in out
    (broadcast,), deliveries, (audit,) = stored(database)
    due = datetime(2026, 12, 3, 9, 0, tzinfo=TOKYO)
    assert (broadcast.status, broadcast.urgent, broadcast.send_at) == ("scheduled", True, due)
    assert {row.due_at for row in deliveries} == {due}
    assert len(deliveries) == 4
    assert audit.action == "broadcast.scheduled"
    assert audit.detail["send_at"] == due.astimezone(UTC).isoformat()
    when = JA.format_datetime(due, TOKYO)
    assert say(JA, "cli.broadcast.scheduled", id=broadcast.id, when=when, recipients=4) in out

    # As in the chat: 「12/4 18:30」 is this year's 4 December.
    assert (
        run("broadcast", "--to", "all", "--text-file", str(path), "--at", "12/4 18:30", "--yes")
        == 0
    )
    (_, later), _, _ = stored(database)
    assert later.send_at == datetime(2026, 12, 4, 18, 30, tzinfo=TOKYO)


def test_a_long_text_goes_in_parts_and_the_preview_says_so(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    paragraph = "保険証を残してください。" * 200  # 2,400 characters
    text = f"{paragraph}\n\n{paragraph}"
    assert run("broadcast", "--to", "all", "--text-file", str(message(text)), stdin="y\n") == 0
    out = capsys.readouterr().out
    first, second = broadcasts.messages(JA, text, urgent=False)
    assert first.text in out
    assert second.text in out
    assert "長いので2回に分けて送ります。" in out
    (broadcast,), deliveries, _ = stored(database)
    assert broadcast.parts == 2
    assert len(deliveries) == 2 * 4


def test_an_audience_above_confirm_above_needs_its_number_typed_or_yes(
    run: Run,
    config: Path,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    example = config.read_text("utf-8")
    assert "  confirm_above: 500\n" in example
    config.write_text(example.replace("  confirm_above: 500\n", "  confirm_above: 3\n"), "utf-8")
    path = message(TEXT)

    assert run("broadcast", "--to", "all", "--text-file", str(path), stdin="y\n") == 1
    out = capsys.readouterr().out
    assert say(JA, "cli.broadcast.large", above=3) in out
    assert JA("broadcast.confirm_large", recipients="4") in out
    assert say(JA, "cli.broadcast.type_count", recipients=4) in out
    assert nothing_stored(database), "y is not enough for 4 people"

    # Typed on a Japanese keyboard: full-width digits.
    assert run("broadcast", "--to", "all", "--text-file", str(path), stdin="４\n") == 0
    assert run("broadcast", "--to", "all", "--text-file", str(path), "--yes") == 0
    # Three people are not above three: y is enough.
    assert (
        run(
            "broadcast",
            "--to",
            "event:test-rally:going,maybe",
            "--text-file",
            str(path),
            stdin="y\n",
        )
        == 0
    )
    found, deliveries, _ = stored(database)
    assert [b.recipients for b in found] == [4, 4, 2]
    assert len(deliveries) == 10


@pytest.mark.parametrize(
    ("to", "when", "expected"),
    [
        ("everyone", None, say(JA, "cli.broadcast.bad_target", target="everyone")),
        ("region:", None, say(JA, "cli.broadcast.bad_target", target="region:")),
        (
            "event:test-rally:perhaps",
            None,
            say(JA, "cli.broadcast.bad_target", target="event:test-rally:perhaps"),
        ),
        (
            "region:atlantis",
            None,
            say(
                JA,
                "cli.broadcast.unknown_region",
                target="region:atlantis",
                region="atlantis",
                regions=REGIONS,
            ),
        ),
        ("event:no-such-event:going", None, JA("cli.rsvps.not_found", event="no-such-event")),
        (
            "event:999999:going",
            None,
            say(JA, "cli.broadcast.no_such_occurrence", target="event:999999:going", id=999999),
        ),
        ("all", "tomorrow at nine", "--at tomorrow at nine: " + JA("broadcast.when_unclear")),
        ("all", "2026-13-01 09:00", "--at 2026-13-01 09:00: " + JA("broadcast.when_unclear")),
        ("all", "2026-11-30 09:59", "--at 2026-11-30 09:59: " + JA("broadcast.when_past")),
        ("all", "11/30 10:00", "--at 11/30 10:00: " + JA("broadcast.when_past")),
    ],
)
@pytest.mark.parametrize("yes", [False, True])
def test_a_wrong_audience_or_time_is_refused_and_nothing_is_stored(
    to: str,
    when: str | None,
    expected: str,
    yes: bool,
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["broadcast", "--to", to, "--text-file", str(message(TEXT))]
    if when is not None:
        args += ["--at", when]
    if yes:
        args.append("--yes")
    assert run(*args, stdin="y\n") == 1
    captured = capsys.readouterr()
    assert captured.err.startswith("campaign-bot: ")
    assert expected in captured.err
    assert captured.out == "", "no preview of what cannot be sent"
    assert nothing_stored(database)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            None,
            lambda path: say(
                JA, "cli.broadcast.unreadable", path=path, error="No such file or directory"
            ),
        ),
        (b"", lambda path: f"{path}: {JA('broadcast.error_empty')}"),
        (b" \n\n\t\n", lambda path: f"{path}: {JA('broadcast.error_empty')}"),
        (
            "保険証を残せ".encode("shift_jis"),
            lambda path: say(JA, "cli.broadcast.not_utf8", path=path),
        ),
        (
            ("あ" * (MAX_BROADCAST_CHARS + 1)).encode(),
            lambda path: f"{path}: {JA('broadcast.error_too_long')}",
        ),
    ],
    ids=["missing", "empty", "blank", "shift_jis", "too_long"],
)
def test_a_text_file_that_cannot_be_sent_is_named_and_nothing_is_stored(
    content: bytes | None,
    expected: Callable[[Path], str],
    run: Run,
    people: dict[str, int],
    tmp_path: Path,
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / "お知らせ.txt"
    if content is not None:
        path.write_bytes(content)
    assert run("broadcast", "--to", "all", "--text-file", str(path), "--yes") == 1
    assert capsys.readouterr().err == f"campaign-bot: {expected(path)}\n"
    assert nothing_stored(database)


def test_a_folder_is_not_a_text_file(
    run: Run, people: dict[str, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("broadcast", "--to", "all", "--text-file", str(tmp_path), "--yes") == 1
    assert str(tmp_path) in capsys.readouterr().err


def test_a_text_file_from_windows_is_read_as_written(
    run: Run,
    people: dict[str, int],
    tmp_path: Path,
    database: Database,
) -> None:
    """Notepad's UTF-8 with a byte-order mark and CRLF line ends: members get plain lines."""
    path = tmp_path / "message.txt"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT.replace("\n", "\r\n").encode("utf-8") + b"\r\n")
    assert run("broadcast", "--to", "all", "--text-file", str(path), "--yes") == 0
    (broadcast,), _, _ = stored(database)
    assert broadcast.text == TEXT


def test_a_hostile_text_cannot_act_on_the_terminal(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("broadcast", "--to", "all", "--text-file", str(message(HOSTILE)), stdin="y\n") == 0
    out = capsys.readouterr().out
    assert inert(out)
    assert terminal.text(HOSTILE) in out, "shown in full, as visible escapes"

    assert run("broadcasts") == 0
    listed = capsys.readouterr().out
    assert inert(listed)
    assert f"「{terminal.field(HOSTILE)}」" in listed

    (broadcast,), _, (audit,) = stored(database)
    assert broadcast.text == HOSTILE, "members get what was written"
    assert audit.detail["text"] == HOSTILE


# --- campaign-bot broadcasts [cancel ID] ------------------------------------------------------


def test_broadcasts_lists_the_latest_with_their_progress(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("broadcasts") == 0
    assert capsys.readouterr().out == JA("broadcast.list_empty") + "\n"

    path = message(TEXT)
    assert run("broadcast", "--to", "all", "--text-file", str(path), "--yes") == 0
    at = "2026-12-03 09:00"
    assert (
        run("broadcast", "--to", "region:itabashi", "--text-file", str(path), "--at", at, "--yes")
        == 0
    )
    (first, second), deliveries, _ = stored(database)
    # The dispatcher's outcomes for the first one: sent, failed, blocked since.
    outcomes = [
        {"state": "sent"},
        {"state": "failed", "last_error": "Bad Request"},
        {"state": "skipped", "skip_reason": "unreachable"},
    ]
    with database.session() as session:
        for row, values in zip(
            [row for row in deliveries if row.broadcast_id == first.id], outcomes, strict=False
        ):
            session.execute(update(DeliveryRow).where(DeliveryRow.id == row.id).values(values))
        session.commit()
    capsys.readouterr()

    assert run("broadcasts") == 0
    out = capsys.readouterr().out
    excerpt = "「12月7日の集会は予定どおり行います。 雨具をお持ちください。」"
    assert out.startswith(JA("broadcast.list_heading") + "\n\n")
    newest, oldest = out.rstrip("\n").split("\n\n")[1:]
    assert newest == "\n".join(
        [f"番号{second.id}【予約中】12月3日(木) 9:00", "板橋区の人: 0 / 3人", excerpt]
    )
    assert oldest == "\n".join(
        [
            f"番号{first.id}【送信中】11月30日(月) 10:00",
            "全員: 1 / 4人",
            excerpt,
            "  届かなかった人（ブロックなど）: 1人",
            "  送れなかった人（エラー）: 1人",
        ]
    )

    assert run("broadcasts", "--limit", "1") == 0
    assert f"番号{first.id}" not in capsys.readouterr().out


def test_cancel_skips_what_has_not_gone_and_says_how_many(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = message(TEXT)
    at = "2026-12-03 09:00"
    assert run("broadcast", "--to", "all", "--text-file", str(path), "--at", at, "--yes") == 0
    (broadcast,), _, _ = stored(database)
    capsys.readouterr()

    assert run("broadcasts", "cancel", str(broadcast.id)) == 0
    assert capsys.readouterr().out == JA("broadcast.stopped", id=broadcast.id, skipped="4") + "\n"
    (broadcast,), deliveries, audits = stored(database)
    assert broadcast.status == "cancelled"
    assert {(row.state, row.skip_reason) for row in deliveries} == {
        ("skipped", "broadcast cancelled")
    }
    assert (audits[-1].action, audits[-1].actor_label) == ("broadcast.cancelled", "cli")
    assert audits[-1].detail == {"broadcast": broadcast.id, "skipped": 4}

    assert run("broadcasts") == 0
    out = capsys.readouterr().out
    assert f"番号{broadcast.id}【取り消し】" in out
    assert "  取り消しで送らなかった人: 4人" in out

    for missing in (str(broadcast.id), "999999"):
        assert run("broadcasts", "cancel", missing) == 1
        assert capsys.readouterr().err == f"campaign-bot: {JA('broadcast.stop_too_late')}\n"
    assert len(stored(database)[2]) == 2, "nothing more recorded"


def test_cancelling_a_running_broadcast_leaves_what_was_sent(
    run: Run,
    people: dict[str, int],
    message: Callable[[str], Path],
    database: Database,
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert run("broadcast", "--to", "all", "--text-file", str(message(TEXT)), "--yes") == 0
    (broadcast,), deliveries, _ = stored(database)
    with database.session() as session:
        session.execute(
            update(DeliveryRow).where(DeliveryRow.id == deliveries[0].id).values(state="sent")
        )
        session.commit()
    capsys.readouterr()
    assert run("broadcasts", "cancel", str(broadcast.id)) == 0
    assert "3人には送りません" in capsys.readouterr().out
    _, deliveries, _ = stored(database)
    assert [row.state for row in deliveries] == ["sent", "skipped", "skipped", "skipped"]
