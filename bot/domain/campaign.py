"""What the core needs to know about the campaign itself, taken from the configuration."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta, tzinfo
from zoneinfo import ZoneInfo

from bot.domain.broadcasts import BroadcastSettings
from bot.domain.members import Region


@dataclass(frozen=True)
class Allowance:
    """At most `count` within `per`, for each member (the window starts at the first use)."""

    count: int
    per: timedelta


@dataclass(frozen=True)
class Limits:
    """What one member may ask for in a while: relays reach every organiser's phone."""

    relays: Allowance = Allowance(3, timedelta(hours=1))
    questions: Allowance = Allowance(30, timedelta(minutes=10))


@dataclass(frozen=True)
class Contact:
    """The campaign's contact card (config `contact:`); empty fields are left out."""

    organisation: str = ""
    phone: str = ""
    hours: str = ""
    address: str = ""
    join_url: str = ""
    signature_url: str = ""


@dataclass(frozen=True)
class Campaign:
    regions: tuple[Region, ...]
    organisers: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default_language: str = "ja"
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("Asia/Tokyo"))
    limits: Limits = Limits()
    broadcasts: BroadcastSettings = field(default_factory=BroadcastSettings)
    contact: Contact = field(default_factory=Contact)

    def region(self, code: str) -> Region | None:
        return next((r for r in self.regions if r.code == code), None)

    def region_names(self, codes: set[str], language: str) -> list[str]:
        """Names in the configured order, so every list of regions reads the same way."""
        return [
            (r.name_en if language == "en" else r.name) for r in self.regions if r.code in codes
        ]

    def regions_shown_to(self, member_regions: set[str]) -> set[str] | None:
        """Whose events a member sees: their regions and the Tokyo-wide ones (None: all)."""
        if not member_regions:
            return None
        return set(member_regions) | {r.code for r in self.regions if r.for_everyone}

    def is_organiser(self, channel: str, external_id: str) -> bool:
        return external_id in self.organisers.get(channel, frozenset())
