"""Typed configuration: one YAML file, validated with unknown keys rejected; secrets from env."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from sqlalchemy.engine import make_url

from bot.domain.broadcasts import BroadcastSettings
from bot.domain.campaign import Allowance, Campaign, Contact, Limits
from bot.domain.members import Region
from bot.domain.reminders import PolicyBook, QuietHours, ReminderKind, ReminderPolicy
from bot.yaml_validation import InvalidDocument, Loc, Problem, YamlDocument, read_yaml, validate
from bot.yaml_values import parse_clock, parse_duration

CONFIG_SEARCH = ("config.yaml", "config.example.yaml")
CONFIG_ENV = "CAMPAIGN_BOT_CONFIG"


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError('unknown time zone; use a name such as "Asia/Tokyo"') from None
    return value


def _as_text(value: object) -> object:
    # Telegram user ids are numbers in YAML; we keep every channel's ids as text.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


LocalTime = Annotated[time, BeforeValidator(parse_clock)]
TimeZoneName = Annotated[str, AfterValidator(_zone)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
EventKindName = Literal["rally", "street", "study", "meeting", "online", "other"]
ExternalId = Annotated[str, BeforeValidator(_as_text), Field(min_length=1, max_length=128)]


DATABASE_EXAMPLES = (
    "sqlite:///data/campaign-bot.sqlite3 or postgresql+psycopg://user@host:5432/campaign"
)
TELEGRAM_TOKEN = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{1,100}$")
BOT_API = "https://api.telegram.org"


def bot_api_url_problem(url: str, ending: str) -> str | None:
    """Why `url` cannot be python-telegram-bot's base URL, to which the token is appended
    (`ending` is "/bot" for the Bot API, "/file/bot" for downloads); None when it can."""
    example = f"such as {BOT_API}{ending}"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:  # a port that is not a number, an unclosed [ of an IPv6 address
        return f"not a web address; write it {example}"
    if parts.scheme not in ("http", "https"):
        return f"write the whole address with http:// or https://, {example}"
    if not parts.hostname:
        return f"no server named after the //; {example}"
    if parts.query or parts.fragment or url != url.strip():
        return f"no spaces, ? or # in it; {example}"
    if not parts.path.endswith(ending):
        return f"must end in {ending} (the bot token is added right after it), {example}"
    return None


def public_url_problem(url: str) -> str | None:
    """Why `url` cannot be the bot's public address (web.public_url); None when it can."""
    example = "such as https://bot.example.org"
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        return f"not a web address; write it {example}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"write the whole address with https://, {example}"
    if parts.query or parts.fragment or url != url.strip():
        return f"no spaces, ? or # in it; {example}"
    return None


def database_url_problem(url: str) -> str | None:
    """Why `url` is not a database the bot can use, in words; None when it is one.

    The URL itself is never repeated: it may hold a password.
    """
    try:
        parsed = make_url(url)
    except Exception:  # ArgumentError, or ValueError for a port that is not a number
        return f"not a database URL; write it like {DATABASE_EXAMPLES}"
    scheme = parsed.drivername
    if scheme in {"sqlite", "sqlite+pysqlite"}:
        return None
    if scheme == "postgresql+psycopg":
        if not parsed.database:
            return (
                "name the database after the last /, as in postgresql+psycopg://user@host/campaign"
            )
        return None
    if parsed.get_backend_name() in {"postgresql", "postgres"}:
        return f'write postgresql+psycopg:// (the psycopg 3 driver), not "{scheme}://"'
    return f'unsupported database "{scheme}"; use {DATABASE_EXAMPLES}'


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionConfig(_Section):
    code: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    name: str = Field(min_length=1, max_length=40)
    name_en: str | None = Field(default=None, max_length=60)
    everyone: bool = False


class DatabaseConfig(_Section):
    url: str = "sqlite:///data/campaign-bot.sqlite3"
    echo: bool = False
    threads: int = Field(default=1, ge=1, le=32)
    statement_timeout: Duration = timedelta(seconds=30)
    idle_in_transaction_timeout: Duration = timedelta(seconds=15)


class ConsoleConfig(_Section):
    member_id: ExternalId = "console-member"
    organiser_id: ExternalId = "console-organiser"


class WebConfig(_Section):
    """The one web server of a bot process: every webhook channel's routes, and /healthz."""

    listen: str = "127.0.0.1"
    port: int = Field(default=8443, ge=0, le=65535)
    public_url: str | None = None
    """The HTTPS address the platforms call (behind the proxy or load balancer), without a
    path: https://bot.example.org. Each channel adds its own path."""


class TelegramWebhookConfig(_Section):
    path: str = Field(default="/telegram", pattern=r"^/[A-Za-z0-9_/\-]*$")
    """Where Telegram posts updates on the web server (web.public_url + path)."""
    # Moved to `web:`, shared by every channel; accepted here only to say so (Config.problems).
    listen: str | None = None
    port: int | None = None
    public_url: str | None = None


class TelegramConfig(_Section):
    enabled: bool = False
    username: str | None = Field(default=None, pattern=r"^@?[A-Za-z][A-Za-z0-9_]{3,31}$")
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    webhook: TelegramWebhookConfig = TelegramWebhookConfig()


class LineConfig(_Section):
    enabled: bool = False
    api_host: str = "https://api.line.me"
    per_second: float = Field(default=1000.0, gt=0, le=20000)
    """Messages a second to LINE members, replies and pushes; a multicast counts each of its
    members (its requests have their own limit, 200 a second)."""


class ChannelsConfig(_Section):
    console: ConsoleConfig = ConsoleConfig()
    telegram: TelegramConfig = TelegramConfig()
    line: LineConfig = LineConfig()


class OrganisersConfig(_Section):
    console: list[ExternalId] = []
    telegram: list[ExternalId] = []
    line: list[ExternalId] = []


class DeliveryConfig(_Section):
    per_second: float = Field(default=25.0, gt=0, le=1000)
    per_chat_per_second: float = Field(default=1.0, gt=0, le=100)
    per_chat_burst: int = Field(default=3, ge=1, le=20)
    reply_burst: int = Field(default=10, ge=1, le=30)
    batch: int = Field(default=15, ge=1, le=1000)
    max_attempts: int = Field(default=8, ge=1, le=100)
    lease: Duration = timedelta(seconds=30)
    lower_lane_share: float = Field(default=0.1, gt=0, le=0.5)
    shared_budget: bool | Literal["auto"] = "auto"
    keep_message_days: int = Field(default=30, ge=1, le=3650)


class RetentionConfig(_Section):
    """How long records about members are kept before the daily purge deletes them."""

    questions_days: int = Field(default=180, ge=1, le=3650)
    deliveries_days: int = Field(default=90, ge=1, le=3650)
    audit_days: int = Field(default=730, ge=1, le=3650)


class LoggingConfig(_Section):
    member_texts: bool = False
    """Whether DEBUG logs (-v) may show what members wrote; never at INFO and above."""


class QuietHoursConfig(_Section):
    start: LocalTime = time(21, 0)
    end: LocalTime = time(8, 0)


class ReminderRulesConfig(_Section):
    """What is sent for one kind of event; every key may be left out (the defaults apply).
    A duration of 0 turns that reminder off."""

    enabled: bool | None = None
    day_before_at: LocalTime | None = None
    same_day_before: Duration | None = None
    invite: bool | None = None
    invite_ahead: Duration | None = None
    nudge_before: Duration | None = None
    digest: bool | None = None

    def overrides(self) -> dict[str, Any]:
        """The keys given, as `ReminderPolicy` fields."""
        return self.model_dump(exclude_none=True)


ReminderKindName = Literal["invitation", "nudge", "day_before", "same_day", "digest"]


class ChannelReminderConfig(_Section):
    kinds: list[ReminderKindName] | None = None
    """The only kinds of reminder members on this channel get; None: every kind."""


class ReminderChannelsConfig(_Section):
    """Per channel, the reminders its members get (LINE's pushes count against a paid
    monthly quota, so a campaign may send its LINE members fewer)."""

    console: ChannelReminderConfig = ChannelReminderConfig()
    telegram: ChannelReminderConfig = ChannelReminderConfig()
    line: ChannelReminderConfig = ChannelReminderConfig()

    def kinds(self) -> dict[str, frozenset[ReminderKind]]:
        """Channel -> the kinds its members get, for the channels that restrict them."""
        return {
            channel: frozenset(ReminderKind(kind) for kind in rules.kinds)
            for channel, rules in (
                ("console", self.console),
                ("telegram", self.telegram),
                ("line", self.line),
            )
            if rules.kinds is not None
        }


class RemindersConfig(_Section):
    enabled: bool = True
    day_before_at: LocalTime = time(10, 0)
    same_day_before: Duration = timedelta(hours=2)
    invite: bool = True
    invite_ahead: Duration = timedelta(days=3)
    nudge_before: Duration = timedelta(days=3)
    digest_at: LocalTime = time(10, 0)
    daily_cap: int = Field(default=3, ge=1, le=50)
    plan_ahead: Duration = timedelta(days=2)
    quiet_hours: QuietHoursConfig = QuietHoursConfig()
    kinds: dict[EventKindName, ReminderRulesConfig] = {
        "street": ReminderRulesConfig(same_day_before=timedelta(hours=1), digest=True)
    }
    channels: ReminderChannelsConfig = ReminderChannelsConfig()


def reminder_book(reminders: RemindersConfig, zone: ZoneInfo) -> PolicyBook:
    """The reminder policy the planner applies, from the config's `reminders:`."""
    return PolicyBook(
        zone=zone,
        default=ReminderPolicy().merged(
            reminders.model_dump(
                include={
                    "day_before_at",
                    "same_day_before",
                    "invite",
                    "invite_ahead",
                    "nudge_before",
                }
            )
        ),
        by_kind={kind: rules.overrides() for kind, rules in reminders.kinds.items()},
        quiet=QuietHours(reminders.quiet_hours.start, reminders.quiet_hours.end),
        daily_cap=reminders.daily_cap,
        digest_at=reminders.digest_at,
        enabled=reminders.enabled,
        channel_kinds=reminders.channels.kinds(),
    )


class AllowanceConfig(_Section):
    count: int = Field(ge=1, le=10_000)
    per: Duration


class LimitsConfig(_Section):
    relays: AllowanceConfig = AllowanceConfig(count=3, per=timedelta(hours=1))
    questions: AllowanceConfig = AllowanceConfig(count=30, per=timedelta(minutes=10))


class ContactConfig(_Section):
    """The campaign's contact card: what members are told when the bot cannot help."""

    organisation: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=40)
    hours: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=200)
    join_url: str = Field(default="", max_length=300)
    signature_url: str = Field(default="", max_length=300)


class BroadcastsConfig(_Section):
    confirm_above: int = Field(default=500, ge=1, le=10_000_000)


class Config(_Section):
    timezone: TimeZoneName = "Asia/Tokyo"
    default_language: Literal["ja", "en"] = "ja"
    database: DatabaseConfig = DatabaseConfig()
    schedules_dir: str = "schedules"
    knowledge_dir: str = "knowledge"
    regions: list[RegionConfig] = Field(min_length=1)
    organisers: OrganisersConfig = OrganisersConfig()
    channels: ChannelsConfig = ChannelsConfig()
    web: WebConfig = WebConfig()
    reminders: RemindersConfig = RemindersConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    broadcasts: BroadcastsConfig = BroadcastsConfig()
    limits: LimitsConfig = LimitsConfig()
    contact: ContactConfig = ContactConfig()
    retention: RetentionConfig = RetentionConfig()
    logging: LoggingConfig = LoggingConfig()

    def problems(self) -> Iterable[tuple[Loc, str]]:
        codes: dict[str, int] = {}
        names: dict[str, int] = {}
        for index, region in enumerate(self.regions):
            if region.code in codes:
                yield (
                    ("regions", index, "code"),
                    f'duplicate region "{region.code}" (also regions[{codes[region.code]}])',
                )
            codes.setdefault(region.code, index)
            if region.name in names:
                yield (
                    ("regions", index, "name"),
                    f'duplicate region name "{region.name}" (also regions[{names[region.name]}])',
                )
            names.setdefault(region.name, index)
        reminders = self.reminders
        for name in ("same_day_before", "invite_ahead", "nudge_before", "plan_ahead"):
            if getattr(reminders, name) < timedelta(0):
                yield ("reminders", name), "must not be negative"
        if reminders.plan_ahead < timedelta(hours=1):
            yield ("reminders", "plan_ahead"), "must be at least 1h"
        for channel in ("console", "telegram", "line"):
            kinds = getattr(reminders.channels, channel).kinds or []
            for index, kind in enumerate(kinds):
                if kind in kinds[:index]:
                    yield (
                        ("reminders", "channels", channel, "kinds", index),
                        f"{kind} is listed twice; name each kind once",
                    )
        problem = database_url_problem(self.database.url)
        if problem:
            yield ("database", "url"), problem
        webhook = self.channels.telegram.webhook
        for key in ("listen", "port", "public_url"):
            if getattr(webhook, key) is not None:
                yield (
                    ("channels", "telegram", "webhook", key),
                    f"moved to web.{key}, shared by every channel"
                    + (" (the address without the path)" if key == "public_url" else ""),
                )
        if self.web.public_url is not None:
            problem = public_url_problem(self.web.public_url)
            if problem:
                yield ("web", "public_url"), problem
        telegram = self.channels.telegram
        for key, ending in (("base_url", "/bot"), ("base_file_url", "/file/bot")):
            problem = bot_api_url_problem(getattr(telegram, key), ending)
            if problem:
                yield ("channels", "telegram", key), problem


@dataclass(frozen=True)
class Secrets:
    """Everything secret, read only from the environment."""

    telegram_bot_token: str | None = None
    line_channel_secret: str | None = None
    line_channel_access_token: str | None = None
    database_url: str | None = None

    def problems(self) -> list[Problem]:
        """Environment values that cannot work, one line each, never echoing the secret."""
        found = []
        if self.database_url is not None:
            problem = database_url_problem(self.database_url)
            if problem:
                found.append(Problem("DATABASE_URL", None, "", problem))
        token = self.telegram_bot_token
        if token is not None and not TELEGRAM_TOKEN.fullmatch(token):
            found.append(
                Problem(
                    "TELEGRAM_BOT_TOKEN",
                    None,
                    "",
                    "not a bot token; @BotFather gives one like 123456789:AAE... "
                    "(digits, a colon, then letters, digits, _ and -, no spaces or quotes)",
                )
            )
        return found

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Secrets:
        return cls(
            telegram_bot_token=env.get("TELEGRAM_BOT_TOKEN") or None,
            line_channel_secret=env.get("LINE_CHANNEL_SECRET") or None,
            line_channel_access_token=env.get("LINE_CHANNEL_ACCESS_TOKEN") or None,
            database_url=env.get("DATABASE_URL") or None,
        )


@dataclass(frozen=True)
class Settings:
    """The validated configuration, where it came from, and the secrets."""

    config: Config
    path: Path
    secrets: Secrets
    database_url_line: int | None = None
    """Where `database.url` is written in the config file, to name it in messages."""

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def database_url(self) -> str:
        """DATABASE_URL wins; a relative SQLite path is relative to the config file."""
        url = make_url(self.secrets.database_url or self.config.database.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            database = Path(url.database)
            if not database.is_absolute():
                url = url.set(database=str(self.base_dir / database))
        return url.render_as_string(hide_password=False)

    @property
    def schedules_dir(self) -> Path:
        return self.base_dir / self.config.schedules_dir

    @property
    def knowledge_dir(self) -> Path:
        return self.base_dir / self.config.knowledge_dir

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.config.timezone)

    def campaign(self) -> Campaign:
        organisers = self.config.organisers
        console = self.config.channels.console
        limits = self.config.limits
        return Campaign(
            regions=tuple(
                Region(r.code, r.name, r.name_en or r.name, r.everyone) for r in self.config.regions
            ),
            organisers={
                # The person at the terminal who asked for --as-organiser is trusted locally.
                "console": frozenset([*organisers.console, console.organiser_id]),
                "telegram": frozenset(organisers.telegram),
                "line": frozenset(organisers.line),
            },
            default_language=self.config.default_language,
            timezone=self.zone,
            limits=Limits(
                relays=Allowance(limits.relays.count, limits.relays.per),
                questions=Allowance(limits.questions.count, limits.questions.per),
            ),
            contact=Contact(**self.config.contact.model_dump()),
            broadcasts=BroadcastSettings(
                per_second=self.config.delivery.per_second,
                confirm_above=self.config.broadcasts.confirm_above,
                quiet_start=self.config.reminders.quiet_hours.start,
                quiet_end=self.config.reminders.quiet_hours.end,
            ),
        )


def find_config(explicit: Path | None, cwd: Path | None = None) -> Path:
    """--config, then $CAMPAIGN_BOT_CONFIG, then config.yaml, then config.example.yaml."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    base = cwd or Path.cwd()
    for name in CONFIG_SEARCH:
        if (base / name).is_file():
            return base / name
    return base / CONFIG_SEARCH[0]


def parse_config(document: YamlDocument) -> Config:
    return validate(document, Config)


def load_settings(path: Path, env: Mapping[str, str] = os.environ) -> Settings:
    """Read and validate the config file; raises `InvalidDocument` listing every problem."""
    secrets = Secrets.from_env(env)
    document = read_yaml(path, display_name=path.name)
    try:
        config = parse_config(document)
    except InvalidDocument as exc:
        raise InvalidDocument([*exc.problems, *secrets.problems()]) from exc
    if secrets.problems():
        raise InvalidDocument(secrets.problems())
    written = isinstance(document.data, dict) and "url" in (document.data.get("database") or {})
    return Settings(
        config=config,
        path=path.resolve(),
        secrets=secrets,
        database_url_line=document.line_of(("database", "url")) if written else None,
    )
