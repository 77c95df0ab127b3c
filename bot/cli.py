"""`campaign-bot`: run the bot, check files, manage the database."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from bot import __version__
from bot.config import Settings, find_config, load_settings
from bot.yaml_validation import InvalidDocument, Problem

EXIT_OK = 0
EXIT_PROBLEMS = 1
EXIT_USAGE = 2


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
        description="Start the bot. Without a TELEGRAM_BOT_TOKEN it chats in this terminal; "
        "input can also be piped from a file, one message per line.",
    )
    run.add_argument(
        "--channel",
        choices=["auto", "console", "telegram"],
        default="auto",
        help="which channel to serve (auto: Telegram if enabled and a token is set, "
        "otherwise the console)",
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
    return parser


def _print_problems(problems: Sequence[Problem]) -> None:
    for problem in problems:
        print(problem, file=sys.stderr)
    noun = "problem" if len(problems) == 1 else "problems"
    print(f"{len(problems)} {noun} found.", file=sys.stderr)


def _settings(path: Path | None) -> Settings:
    return load_settings(find_config(path))


def cmd_check(args: argparse.Namespace) -> int:
    path = find_config(args.config)
    problems: list[Problem] = []
    try:
        load_settings(path)
    except InvalidDocument as exc:
        problems.extend(exc.problems)
    if problems:
        _print_problems(problems)
        return EXIT_PROBLEMS
    print(f"{path.name}: OK")
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from bot import app as application

    settings = _settings(args.config)
    channel = application.choose_channel(settings, args.channel)
    bot = application.build(settings)
    try:
        if channel == "console":
            application.run_console(bot, as_organiser=args.as_organiser)
        else:
            if not args.verbose:
                # A server's log is its only voice; the console keeps quiet to keep the chat clear.
                logging.getLogger().setLevel(logging.INFO)
            # httpx logs every request URL at INFO, and Telegram's URLs contain the bot token.
            logging.getLogger("httpx").setLevel(logging.WARNING)
            asyncio.run(application.serve(bot))
    finally:
        bot.close()
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    from bot.store.database import Database

    settings = _settings(args.config)
    database = Database(settings.database_url)
    try:
        if args.db_command == "upgrade":
            database.upgrade()
        print(f"schema version: {database.current_revision() or 'none'}")
    finally:
        database.dispose()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    # python-telegram-bot 22 reports durations (RetryAfter) as timedelta only with this set,
    # and warns on every flood-control answer otherwise.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    handlers = {"run": cmd_run, "check": cmd_check, "db": cmd_db}
    try:
        return handlers[args.command](args)
    except InvalidDocument as exc:
        _print_problems(exc.problems)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        return EXIT_OK
    except Exception as exc:
        from bot.app import StartupError

        if isinstance(exc, StartupError):
            print(f"campaign-bot: {exc}", file=sys.stderr)
            return EXIT_USAGE
        raise
