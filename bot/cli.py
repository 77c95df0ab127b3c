"""`campaign-bot`: run the bot, check files, manage the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

from bot import __version__
from bot import app as application
from bot.app import App, StartupError, build, load_calendar
from bot.channels.all import REGISTRY
from bot.channels.log_redaction import Redactor, allow_member_texts, install, uninstall
from bot.channels.registry import ChannelRefused
from bot.channels.telegram.channel import TelegramRefused, verify, webhook_secret
from bot.commands import broadcasts as broadcast_commands
from bot.commands import calendar as calendar_commands
from bot.commands import faq as faq_commands
from bot.commands import line as line_commands
from bot.commands import members as member_commands
from bot.commands import organisers as organiser_commands
from bot.commands import outbox as outbox_commands
from bot.commands import reminders as reminder_commands
from bot.commands import texts_for
from bot.config import Secrets, Settings, find_config, load_settings
from bot.domain.ports import Clock
from bot.domain.privacy import Retention
from bot.faq.knowledge import load_knowledge
from bot.services import privacy_retention
from bot.store.database import Database, DatabaseProblem, shown
from bot.yaml_validation import InvalidDocument, Loc, Problem, folder_problems, read_yaml

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2
CHECK_CONNECT_TIMEOUT = 5
"""Seconds `check` waits for the database, and Telegram, to answer."""

log = logging.getLogger(__name__)


def _config_option() -> argparse.ArgumentParser:
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="configuration file (default: $CAMPAIGN_BOT_CONFIG, ./config.yaml, "
        "then ./config.example.yaml)",
    )
    return parent


def build_parser() -> argparse.ArgumentParser:
    config = _config_option()
    parser = argparse.ArgumentParser(
        prog="campaign-bot",
        description="The 社保協 campaign bot: events, reminders, RSVPs and insurance-card answers.",
    )
    parser.add_argument("--version", action="version", version=f"campaign-bot {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more detail")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "run",
        parents=[config],
        help="start the bot",
        description="Start the bot: on every channel the config turns on "
        "(channels.telegram.enabled, with TELEGRAM_BOT_TOKEN set; channels.line.enabled), "
        "all in one process with one web server for their webhooks; otherwise in this "
        "terminal, where input can also be piped from a file, one message per line. If it "
        "cannot start, it says why in one line and exits with 1 (2 when a secret is missing).",
    )
    run.add_argument(
        "--channel",
        choices=["auto", "console", *(kind.name for kind in REGISTRY)],
        default="auto",
        help="which channel to serve (auto: every channel the config enables, otherwise "
        "the console)",
    )
    run.add_argument(
        "--as-organiser",
        action="store_true",
        help="on the console, chat as an organiser (世話人) instead of a member",
    )

    commands.add_parser(
        "check",
        parents=[config],
        help="validate the configuration",
        description="Validate the configuration and report every problem with file and line. "
        "Exits with 1 if anything is wrong.",
    )

    commands.add_parser(
        "reload",
        parents=[config],
        help="read the schedules again and update the calendar now",
        description="Validate every schedule file and sync the calendar into the database "
        "(a running bot also does this by itself when a file changes). Exits with 1 if a "
        "file has mistakes; the stored calendar is then left as it was.",
    )

    events = commands.add_parser(
        "events", parents=[config], help="the calendar", description="The campaign calendar."
    )
    events_commands = events.add_subparsers(dest="events_command", metavar="ACTION", required=True)
    listing = events_commands.add_parser(
        "list",
        parents=[config],
        help="upcoming events with their answers",
        description="Read the schedules, then list the coming events with their answers.",
    )
    listing.add_argument("--days", type=int, default=90, help="how far ahead (default 90)")

    rsvps = commands.add_parser(
        "rsvps",
        parents=[config],
        help="who answered an event",
        description="Counts and names of the answers to an event's next date (or --date), "
        "optionally written as a CSV file that Excel opens (UTF-8 with BOM).",
    )
    rsvps.add_argument("event_id", help="the event's id in the schedule file")
    rsvps.add_argument("--date", type=date.fromisoformat, help="YYYY-MM-DD of the occurrence")
    rsvps.add_argument("--csv", type=Path, metavar="FILE", help="also write the list to FILE")

    faq = commands.add_parser(
        "faq",
        parents=[config],
        help="the insurance-card questions: try, measure, review",
        description="Tools for the knowledge base in knowledge/.",
    )
    faq_commands = faq.add_subparsers(dest="faq_command", metavar="ACTION", required=True)
    ask = faq_commands.add_parser(
        "ask",
        parents=[config],
        help="show what the bot would answer, with its score and the runner-up",
        description="Show the decision for one question: the answer, the confidence and the "
        "runner-up.",
    )
    ask.add_argument("question", help='the question, in quotes: "資格確認書って何？"')
    evaluation = faq_commands.add_parser(
        "eval",
        parents=[config],
        help="measure accuracy, declines and speed on a file of questions",
        description="Run every question of FILE (a YAML list of q, must_contain, out_of_scope) "
        "and print in-scope accuracy, out-of-scope decline rate and p50/p99 latency.",
    )
    evaluation.add_argument("file", type=Path, nargs="+", help="questions or kana-pairs files")
    evaluation.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    calibrate = faq_commands.add_parser(
        "calibrate",
        parents=[config],
        help="choose the answer thresholds by leave-one-out over the knowledge base",
        description="Ask every phrasing of the knowledge base with itself left out, try a "
        "grid of thresholds and print the cheapest; --write saves them to "
        "knowledge/thresholds.yaml, which the bot reads.",
    )
    calibrate.add_argument("--write", action="store_true", help="save the chosen thresholds")
    unanswered = faq_commands.add_parser(
        "unanswered",
        parents=[config],
        help="questions the bot could not answer, grouped, most asked first",
        description="Declined, unsure and もしかして questions of the last days, grouped by "
        "their normalised text (no member is identified).",
    )
    unanswered.add_argument("--days", type=int, default=30, help="how far back (default 30)")

    outbox = commands.add_parser(
        "outbox",
        parents=[config],
        help="what the bot still has to send: counts, failures, retry or drop",
        description="Without an action: queued, sending, failed and skipped deliveries "
        "counted by purpose and state, the reasons grouped, and when the next one is due. "
        "--list lists the rows themselves, newest first.",
    )
    outbox.add_argument("--list", action="store_true", help="list the rows, newest first")
    outbox.add_argument(
        "--state",
        choices=outbox_commands.STATES,
        help="only rows in this state (default: all but sent)",
    )
    outbox.add_argument("--purpose", help="only rows of this purpose (e.g. reminder)")
    outbox.add_argument(
        "--limit", type=_positive, default=outbox_commands.DEFAULT_LIMIT, help="at most (50)"
    )
    outbox_actions = outbox.add_subparsers(dest="outbox_command", metavar="ACTION")
    retry = outbox_actions.add_parser(
        "retry",
        parents=[config],
        help="send failed or skipped rows again, now",
        description="Put failed or skipped rows back in the queue, due now, attempts reset. "
        "They are checked again when sent (event still on, answer unchanged). Exits with 1 "
        "if any id could not be retried.",
    )
    retry.add_argument("ids", type=int, nargs="+", metavar="ID", help="ids from --list")
    drop = outbox_actions.add_parser(
        "drop",
        parents=[config],
        help="never send these queued or failed rows",
        description='Mark queued or failed rows skipped ("dropped by organiser"), recorded '
        "in the audit log. Exits with 1 if any id could not be dropped.",
    )
    drop.add_argument("ids", type=int, nargs="+", metavar="ID", help="ids from --list")

    reminders = commands.add_parser(
        "reminders",
        parents=[config],
        help="the automatic reminders: what goes to whom, and when",
        description="Reminders are planned by the running bot; this shows the plan.",
    )
    reminder_actions = reminders.add_subparsers(
        dest="reminders_command", metavar="ACTION", required=True
    )
    planning = reminder_actions.add_parser(
        "plan",
        parents=[config],
        help="list the reminders of the next days (and put them in the outbox)",
        description="List what would be sent to whom and when in the next --days days, by "
        "the policy in config.yaml (reminders:) and the schedule files. Without --dry-run the "
        "plan is also put in the outbox, as the running bot does every few minutes.",
    )
    planning.add_argument("--days", type=_positive, default=7, help="how far ahead (default 7)")
    planning.add_argument(
        "--dry-run", action="store_true", help="only list; put nothing in the outbox"
    )

    broadcast = commands.add_parser(
        "broadcast",
        parents=[config],
        help="send an announcement (一斉送信) to everyone, a region or an event's answers",
        description="Send the text of a file to members, as 一斉送信 in the chat does: it "
        "shows the message exactly as members get it, how many it reaches (and who is left "
        "out), how long it takes, and asks before sending. Audiences above "
        "broadcasts.confirm_above need the number of recipients typed, or --yes. The running "
        "bot sends it. Exits with 1 if it was refused or not confirmed; nothing is stored then.",
    )
    broadcast.add_argument(
        "--to",
        required=True,
        metavar="AUDIENCE",
        help="all, region:CODE (a code of regions: in the config), or event:EVENT:going "
        "(EVENT: an event id of the schedule files, meaning its next date, or an occurrence "
        "number; answers going, maybe, no, separated by commas)",
    )
    broadcast.add_argument(
        "--text-file", type=Path, required=True, metavar="FILE", help="the message (UTF-8)"
    )
    broadcast.add_argument(
        "--at",
        metavar="WHEN",
        help='send later, in the campaign\'s time zone: "2026-12-03 09:00" or "12/3 9:00"',
    )
    broadcast.add_argument(
        "--urgent", action="store_true", help="緊急: send at once even in the quiet hours"
    )
    broadcast.add_argument(
        "--yes", action="store_true", help="send without showing the preview or asking"
    )
    broadcast.add_argument(
        "--force",
        action="store_true",
        help="send even when it uses more LINE messages than are left this month (those "
        "beyond are not delivered)",
    )

    sent = commands.add_parser(
        "broadcasts",
        parents=[config],
        help="the latest announcements: how far they got; cancel one",
        description="Without an action: the latest broadcasts, newest first, with their "
        "status, time, audience, how many got them, and why some did not.",
    )
    sent.add_argument(
        "--limit",
        type=_positive,
        default=broadcast_commands.DEFAULT_LIMIT,
        help=f"at most ({broadcast_commands.DEFAULT_LIMIT})",
    )
    sent_actions = sent.add_subparsers(dest="broadcasts_command", metavar="ACTION")
    stop = sent_actions.add_parser(
        "cancel",
        parents=[config],
        help="stop a scheduled or running broadcast",
        description="Whoever has not got it yet will not: its queued messages are skipped. "
        "Exits with 1 if there is no such broadcast or it is over.",
    )
    stop.add_argument("broadcast_id", type=int, metavar="ID", help="the number from the list")

    rain = commands.add_parser(
        "cancel",
        parents=[config],
        help="call an event's date off (中止連絡) and tell who answered, or take it back",
        description="Cancel one date of an event whatever its schedule file says (the file is "
        "left as written), tell everyone who answered 参加 or 未定 or is waiting for a seat, "
        "at once and with the reason, and skip its reminders. --undo takes it back until the "
        "start and tells them it is on. Exits with 1 if it cannot be done.",
    )
    rain.add_argument("event_id", help="the event's id in the schedule file")
    rain.add_argument(
        "--date", type=date.fromisoformat, required=True, help="YYYY-MM-DD of the occurrence"
    )
    rain.add_argument("--reason", help='told to members, e.g. "雨天のため"')
    rain.add_argument("--undo", action="store_true", help="take the call-off back")

    organisers = commands.add_parser(
        "organisers",
        parents=[config],
        help="who organises (世話人): list, add, remove",
        description="Organisers are listed in config.yaml (organisers:) and in the database; "
        "these change the database's list, audit-logged, and take effect at once.",
    )
    organiser_actions = organisers.add_subparsers(
        dest="organisers_command", metavar="ACTION", required=True
    )
    organiser_actions.add_parser(
        "list",
        parents=[config],
        help="everyone who organises, and whether config.yaml or the database says so",
    )
    appoint = organiser_actions.add_parser(
        "add",
        parents=[config],
        help="make someone an organiser",
        description="CHANNEL and EXTERNAL_ID as the bot sees the person (on Telegram their "
        "numeric user id).",
    )
    appoint.add_argument("channel", choices=organiser_commands.CHANNELS)
    appoint.add_argument("external_id", help="the person's id on that channel")
    appoint.add_argument("--note", default="", help="who they are, for the list")
    dismiss = organiser_actions.add_parser(
        "remove",
        parents=[config],
        help="take someone off the database's list",
        description="Their role goes at once, and with it any dialog they had open. Someone "
        "also in config.yaml stays an organiser until the file is changed. Exits with 1 if "
        "the database did not list them.",
    )
    dismiss.add_argument("channel", choices=organiser_commands.CHANNELS)
    dismiss.add_argument("external_id", help="the person's id on that channel")

    members = commands.add_parser(
        "members",
        parents=[config],
        help="find a member, or delete a member's registration (登録削除) when they ask",
        description="Members are shown by number (#12) and name, never by channel id.",
    )
    member_actions = members.add_subparsers(dest="members_command", metavar="ACTION", required=True)
    finding = member_actions.add_parser(
        "find", parents=[config], help="members whose name contains TEXT (or #NUMBER)"
    )
    finding.add_argument("text", help="part of the name, #NUMBER, or CHANNEL:ID")
    forgetting = member_actions.add_parser(
        "forget",
        parents=[config],
        help="delete one member's registration, as their own 登録削除 does (audit-logged)",
        description="WHO is #NUMBER (from `members find`), a name that finds one member, or "
        "CHANNEL:ID. Answers to past events stay as anonymous numbers. Asks first unless "
        "--yes is given; exits with 1 if nothing was deleted.",
    )
    forgetting.add_argument("who", help="#NUMBER, a name, or CHANNEL:ID")
    forgetting.add_argument("--yes", action="store_true", help="do not ask; delete")

    qr = commands.add_parser(
        "qr",
        parents=[config],
        help="a QR code of an event's link for paper flyers",
        description="Write a PNG QR code of the t.me link that opens the event in the bot "
        "(needs channels.telegram.username in the config).",
    )
    qr.add_argument("event_id", help="the event's id in the schedule file")
    qr.add_argument("-o", "--output", type=Path, required=True, metavar="FILE", help="PNG file")

    line = commands.add_parser(
        "line",
        parents=[config],
        help="LINE: the month's message quota, the rich menu",
        description="LINE's side of the bot; needs LINE_CHANNEL_ACCESS_TOKEN and talks to "
        "channels.line.api_host. Exits with 1 if LINE refuses, saying what to change.",
    )
    line_actions = line.add_subparsers(dest="line_command", metavar="ACTION", required=True)
    line_actions.add_parser(
        "quota",
        parents=[config],
        help="this month's LINE messages: the limit, how many were used, how many are left",
        description="LINE counts every person a message from the bot reaches (replies are "
        "free) against the plan's monthly limit; over it, nothing more is delivered.",
    )
    menu = line_actions.add_parser(
        "setup-richmenu",
        parents=[config],
        help="put the member menu (予定 / 質問 / 通知設定 / ヘルプ) under every LINE chat",
        description="Create the rich menu with its image, make it every member's default and "
        "delete the one set up before by this command. Run it again after changing the image.",
    )
    menu.add_argument(
        "--image",
        type=Path,
        metavar="FILE",
        help="a PNG of 2500x1686 px under 1 MB with the same four areas (default: the one "
        "that comes with the bot)",
    )

    db = commands.add_parser("db", help="manage the database", description="Database schema.")
    db_commands = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    db_commands.add_parser(
        "upgrade",
        parents=[config],
        help="create or migrate the schema to the newest version",
        description="Apply every pending migration (run does this automatically).",
    )
    db_commands.add_parser(
        "current", parents=[config], help="print the schema version of the database"
    )
    purge = db_commands.add_parser(
        "purge",
        parents=[config],
        help="delete questions, delivery records and audit entries older than retention:",
        description="What the daily job does: deletes what is older than the config's "
        "retention: (questions_days, deliveries_days, audit_days).",
    )
    purge.add_argument("--dry-run", action="store_true", help="only count what would be deleted")
    return parser


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    if len(problems) > 1:
        print(f"{len(problems)} problems found.", file=sys.stderr)


def _settings(path: Path | None) -> Settings:
    return load_settings(find_config(path))


def _database_problem(settings: Settings, exc: DatabaseProblem) -> Problem:
    """A database that cannot be used, named where its URL was written."""
    if settings.secrets.database_url:
        return Problem("DATABASE_URL", None, "", str(exc))
    return Problem(settings.path.name, settings.database_url_line, "database.url", str(exc))


@contextmanager
def _database_named(settings: Settings) -> Iterator[None]:
    """Report a database that cannot be used like any other mistake: one line, no traceback."""
    try:
        yield
    except DatabaseProblem as exc:
        raise InvalidDocument([_database_problem(settings, exc)]) from exc


def _folder_problems(settings: Settings) -> list[Problem]:
    """The schedules and knowledge folders are there and hold files: the bot needs both."""
    return [
        *folder_problems(settings.schedules_dir, "schedules_dir"),
        *folder_problems(settings.knowledge_dir, "knowledge_dir"),
    ]


def cmd_check(args: argparse.Namespace) -> int:
    path = find_config(args.config)
    problems: list[Problem] = []
    try:
        settings = load_settings(path)
    except InvalidDocument as exc:
        _print_problems(exc.problems)
        return EXIT_PROBLEMS
    print(f"{path.name}: OK")
    try:
        database = Database(settings.database_url, connect_timeout=CHECK_CONNECT_TIMEOUT)
        try:
            database.ping()
        finally:
            database.dispose()
    except DatabaseProblem as exc:
        problems.append(_database_problem(settings, exc))
    else:
        print(f"database: OK ({shown(database.url)})")
    problems.extend(_check_telegram(settings))
    try:
        calendar = load_calendar(settings)
    except InvalidDocument as exc:
        problems.extend(exc.problems)
    else:
        print(f"{settings.config.schedules_dir}/: OK ({len(calendar.events)} events)")
    missing = folder_problems(settings.knowledge_dir, "knowledge_dir")
    try:
        if missing:
            raise InvalidDocument(missing)
        knowledge = load_knowledge(settings.knowledge_dir, datetime.now(settings.zone).date())
    except InvalidDocument as exc:
        problems.extend(exc.problems)
    else:
        print(f"{settings.config.knowledge_dir}/: OK ({len(knowledge.entries)} entries)")
        for warning in knowledge.warnings:
            print(f"warning: {warning}")
    if problems:
        _print_problems(problems)
        return EXIT_PROBLEMS
    return EXIT_OK


def _written_line(settings: Settings, loc: Loc) -> int | None:
    """The line of the config file where `loc` is written; None when it is left out (its
    default applies) or the file cannot be read again."""
    try:
        document = read_yaml(settings.path, display_name=settings.path.name)
    except InvalidDocument:
        return None
    data = document.data
    for part in loc:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return document.line_of(loc)


def _refusal_problem(settings: Settings, exc: ChannelRefused) -> Problem:
    """A channel's refusal, named where the setting to change is: the environment's
    variable, or the key in the config file with its line (like the database's URL)."""
    if "." not in exc.setting and exc.setting.isupper():
        return Problem(exc.setting, None, "", exc.message)
    loc = tuple(exc.setting.split("."))
    return Problem(settings.path.name, _written_line(settings, loc), exc.setting, exc.message)


def _check_telegram(settings: Settings) -> list[Problem]:
    """With Telegram on: the Bot API answers at base_url and accepts the token, as `run` will
    need (without a token, only that it answers)."""
    telegram = settings.config.channels.telegram
    if not telegram.enabled:
        return []
    token = settings.secrets.telegram_bot_token
    if token is None:
        print(
            "warning: TELEGRAM_BOT_TOKEN is not set here and channels.telegram.enabled is "
            "true: `campaign-bot run` refuses to start without it"
        )
    try:
        bot = asyncio.run(verify(telegram, token, seconds=CHECK_CONNECT_TIMEOUT))
    except TelegramRefused as exc:
        return [_refusal_problem(settings, exc)]
    print(f"telegram: OK ({bot or 'answers'} at {telegram.base_url})")
    return []


def _one_line(exc: BaseException, redact: Redactor) -> str:
    """`Type: message` on one line, without secrets, for a failure nobody foresaw."""
    lines = [line.strip() for line in redact(str(exc)).splitlines() if line.strip()]
    name = type(exc).__name__
    if not lines:
        return name
    return f"{name}: {lines[0]}{' ...' if len(lines) > 1 else ''}"


def cmd_run(args: argparse.Namespace) -> int:
    """`run`: refusals as one line each (`InvalidDocument`, `StartupError`, `DatabaseProblem`
    are printed by `main`); anything else as its type and message, the traceback with -v."""
    try:
        return _run(args)
    except (InvalidDocument, StartupError, DatabaseProblem):
        raise
    except Exception as exc:
        log.debug("campaign-bot run failed", exc_info=True)
        hint = "" if args.verbose else " (run with -v for details)"
        print(f"campaign-bot: {_one_line(exc, args.redact)}{hint}", file=sys.stderr)
        return EXIT_PROBLEMS


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    allow_member_texts(settings.config.logging.member_texts)
    channels = application.choose_channels(settings, args.channel)
    # A folder that is not there is a mistake in the setup, not an empty calendar: refuse
    # to start rather than hide every event. Mistakes inside files are the running bot's
    # business: it keeps the stored calendar and tells the organisers.
    missing = _folder_problems(settings)
    if missing:
        raise InvalidDocument(missing)
    with _database_named(settings):
        bot = application.build(settings)
    try:
        bot.schedules.reload()
        bot.knowledge.reload()
        if channels == ["console"]:
            bot.start_jobs()
            application.run_console(bot, as_organiser=args.as_organiser)
        else:
            # httpx logs every request URL at INFO; the token in them is redacted, the noise
            # would not be.
            logging.getLogger("httpx").setLevel(logging.WARNING)

            def ready() -> None:
                if not args.verbose:
                    # A server's log is its only voice once it runs; until then the console
                    # stays quiet, so that a refusal is the one line printed.
                    logging.getLogger().setLevel(logging.INFO)

            try:
                asyncio.run(application.serve(bot, ready=ready, channels=channels))
            except ChannelRefused as exc:
                log.debug("%s refused to start", exc.channel, exc_info=True)
                raise InvalidDocument([_refusal_problem(settings, exc)]) from exc
    finally:
        bot.close()
    return EXIT_OK


@contextmanager
def _built(args: argparse.Namespace, *, reload: bool = True) -> Iterator[App]:
    """The bot's services for a one-off command; the calendar read afresh first."""
    settings = _settings(args.config)
    with _database_named(settings):
        bot = build(settings, clock=args.clock)
    try:
        if reload and bot.schedules.reload() is None:
            print(texts_for(bot.settings)("cli.schedules_have_mistakes"))
        yield bot
    finally:
        bot.close()


def cmd_reload(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    calendar = load_calendar(settings)
    with _built(args, reload=False) as bot:
        report = bot.calendar_sync.sync(calendar)
        print(calendar_commands.describe_report(texts_for(settings), report))
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    with _built(args) as bot:
        calendar_commands.list_events(bot, days=args.days)
    return EXIT_OK


def cmd_rsvps(args: argparse.Namespace) -> int:
    with _built(args) as bot:
        texts = texts_for(bot.settings)
        answers = calendar_commands.answers_of(bot, args.event_id, args.date)
        if answers is None:
            message = calendar_commands.not_found(texts, args.event_id, args.date)
            print(f"campaign-bot: {message}", file=sys.stderr)
            return EXIT_PROBLEMS
        zone = bot.settings.zone
        calendar_commands.print_rsvps(texts, zone, answers)
        if args.csv:
            calendar_commands.write_rsvps_csv(args.csv, texts, zone, answers)
            print(texts("cli.rsvps.written", path=args.csv, count=len(answers.attendees)))
    return EXIT_OK


def cmd_outbox(args: argparse.Namespace) -> int:
    with _built(args, reload=False) as bot:
        if args.outbox_command in ("retry", "drop"):
            done = outbox_commands.change(bot, args.outbox_command, args.ids)
            return EXIT_OK if done else EXIT_PROBLEMS
        outbox_commands.show(
            bot, listing=args.list, state=args.state, purpose=args.purpose, limit=args.limit
        )
    return EXIT_OK


def cmd_reminders(args: argparse.Namespace) -> int:
    with _built(args) as bot:
        reminder_commands.plan(bot, days=args.days, dry_run=args.dry_run)
    return EXIT_OK


def cmd_broadcast(args: argparse.Namespace) -> int:
    with _built(args) as bot:
        done = broadcast_commands.broadcast(
            bot,
            to=args.to,
            text_file=args.text_file,
            at=args.at,
            urgent=args.urgent,
            yes=args.yes,
            force=args.force,
        )
    return EXIT_OK if done else EXIT_PROBLEMS


def cmd_broadcasts(args: argparse.Namespace) -> int:
    with _built(args, reload=False) as bot:
        if args.broadcasts_command == "cancel":
            done = broadcast_commands.cancel_broadcast(bot, args.broadcast_id)
            return EXIT_OK if done else EXIT_PROBLEMS
        broadcast_commands.list_broadcasts(bot, limit=args.limit)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    with _built(args) as bot:
        done = broadcast_commands.call_off(
            bot, args.event_id, args.date, args.reason, undo=args.undo
        )
    return EXIT_OK if done else EXIT_PROBLEMS


def cmd_organisers(args: argparse.Namespace) -> int:
    with _built(args, reload=False) as bot:
        if args.organisers_command == "add":
            done = organiser_commands.add(bot, args.channel, args.external_id, args.note)
        elif args.organisers_command == "remove":
            done = organiser_commands.remove(bot, args.channel, args.external_id)
        else:
            organiser_commands.listing(bot)
            done = True
    return EXIT_OK if done else EXIT_PROBLEMS


def cmd_members(args: argparse.Namespace) -> int:
    with _built(args, reload=False) as bot:
        if args.members_command == "forget":
            done = member_commands.forget(bot, args.who, yes=args.yes)
        else:
            done = member_commands.find(bot, args.text)
    return EXIT_OK if done else EXIT_PROBLEMS


def cmd_qr(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    texts = texts_for(settings)
    username = settings.config.channels.telegram.username
    if not username:
        print(f"campaign-bot: {texts('cli.qr.no_username')}", file=sys.stderr)
        return EXIT_PROBLEMS
    if load_calendar(settings).event(args.event_id) is None:
        print(f"campaign-bot: {texts('cli.qr.not_found', event=args.event_id)}", file=sys.stderr)
        return EXIT_PROBLEMS
    link = calendar_commands.deep_link(username, args.event_id)
    calendar_commands.write_qr(link, args.output)
    print(texts("cli.qr.written", path=args.output, link=link))
    return EXIT_OK


def cmd_faq(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.faq_command == "unanswered":
        with _built(args, reload=False) as bot:
            print(faq_commands.unanswered(bot, days=args.days))
        return EXIT_OK
    if args.faq_command == "calibrate":
        print(faq_commands.calibrate(settings, write=args.write))
        return EXIT_OK
    engine, seconds = faq_commands.build_engine(settings)
    if args.faq_command == "ask":
        print(faq_commands.explain(engine, args.question, settings))
        return EXIT_OK
    print(
        f"knowledge base: {len(engine.knowledge.entries)} entries, index built in {seconds:.2f} s"
    )
    print(faq_commands.run_eval(engine, args.file, verbose=args.verbose))
    return EXIT_OK


def cmd_line(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.line_command == "quota":
        now = args.clock.now() if args.clock else datetime.now(settings.zone)
        done = line_commands.quota(settings, now)
    else:
        done = line_commands.setup_richmenu(settings, image=args.image)
    return EXIT_OK if done else EXIT_PROBLEMS


def cmd_db(args: argparse.Namespace) -> int:
    settings = _settings(args.config)
    if args.db_command == "purge":
        with _built(args, reload=False) as bot:
            now = bot.clock.now()
            retention = Retention(**settings.config.retention.model_dump())
            purged = privacy_retention.purge(
                bot.database.unit_of_work, retention, now, dry_run=args.dry_run
            )
        key = "cli.purge.dry_run" if args.dry_run else "cli.purge.done"
        print(texts_for(settings)(key, **vars(purged)))
        return EXIT_OK
    with _database_named(settings):
        database = Database(settings.database_url)
        try:
            if args.db_command == "upgrade":
                database.upgrade()
            print(f"schema version: {database.current_revision() or 'none'}")
        finally:
            database.dispose()
    return EXIT_OK


def main(argv: Sequence[str] | None = None, *, clock: Clock | None = None) -> int:
    """The `campaign-bot` command. `clock` (the system's by default) is what the one-off
    commands take for now: tests pass a fake one, as they do to `build`."""
    # python-telegram-bot 22 reports durations (RetryAfter) as timedelta only with this set,
    # and warns on every flood-control answer otherwise.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    args.clock = clock
    args.redact = _redactor()
    # Before anything logs: python-telegram-bot and httpx log URLs holding the bot token.
    install(args.redact)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return _dispatch(args)
    finally:
        uninstall()


def _redactor() -> Redactor:
    """The secrets of the environment, and the webhook secret derived from the token."""
    secrets = Secrets.from_env()
    token = secrets.telegram_bot_token
    return Redactor(
        [
            token,
            webhook_secret(token) if token else None,
            secrets.line_channel_secret,
            secrets.line_channel_access_token,
        ]
    )


def _dispatch(args: argparse.Namespace) -> int:
    handlers = {
        "run": cmd_run,
        "check": cmd_check,
        "reload": cmd_reload,
        "events": cmd_events,
        "rsvps": cmd_rsvps,
        "outbox": cmd_outbox,
        "reminders": cmd_reminders,
        "broadcast": cmd_broadcast,
        "broadcasts": cmd_broadcasts,
        "cancel": cmd_cancel,
        "organisers": cmd_organisers,
        "members": cmd_members,
        "qr": cmd_qr,
        "faq": cmd_faq,
        "db": cmd_db,
        "line": cmd_line,
    }
    try:
        return handlers[args.command](args)
    except InvalidDocument as exc:
        _print_problems(exc.problems)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_OK
    except StartupError as exc:
        print(f"campaign-bot: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseProblem as exc:  # a database opened outside `_database_named`
        print(f"campaign-bot: {exc}", file=sys.stderr)
        return EXIT_PROBLEMS
