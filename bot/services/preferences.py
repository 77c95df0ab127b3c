"""通知設定: regions, which notices (all, rallies only, none), language; and /stop."""

from __future__ import annotations

from bot.domain.members import Scope, Subscription
from bot.domain.messages import Outgoing
from bot.services.screens import RegionPickerContext
from bot.services.turn import StaleAction, Turn


def show(turn: Turn) -> list[Outgoing]:
    return [turn.screens.settings(turn.member)]


def change_regions(turn: Turn) -> list[Outgoing]:
    return [turn.screens.region_picker(turn.member, RegionPickerContext.SETTINGS)]


def stop(turn: Turn) -> list[Outgoing]:
    """Unsubscribe at once, and say how to come back."""
    member = turn.member
    if member.id is None:  # not stored (never consented): nothing is sent, nothing to store
        return [turn.screens.with_menu(member, turn.texts("stop.done"))]
    if member.subscription is Subscription.UNSUBSCRIBED:
        return [turn.screens.with_menu(member, turn.texts("stop.already"))]
    member.unsubscribe(turn.now)
    return [turn.screens.with_menu(member, turn.texts("stop.done"))]


def resume(turn: Turn) -> list[Outgoing]:
    member = turn.member
    if member.is_subscribed:
        return [turn.screens.with_menu(member, turn.texts("resume.already"))]
    member.subscribe(turn.now)
    return [turn.screens.with_menu(member, turn.texts("resume.done"))]


def set_notifications(turn: Turn, state: str) -> list[Outgoing]:
    """通知設定's choice: all notices, big actions (rallies) only, or none. "on" is what the
    screen's button said before there was a choice: all."""
    member = turn.member
    if state in ("all", "on"):
        member.choose_notices(Scope.ALL, turn.now)
        notice = turn.texts("settings.turned_on")
    elif state == "rallies":
        member.choose_notices(Scope.RALLIES, turn.now)
        notice = turn.texts("settings.turned_rallies")
    elif state == "off":
        if member.subscription is not Subscription.UNSUBSCRIBED:
            member.unsubscribe(turn.now)
        notice = turn.texts("settings.turned_off")
    else:
        raise StaleAction(state)
    return [turn.screens.settings(member, notice=notice)]


def set_language(turn: Turn, language: str) -> list[Outgoing]:
    member = turn.member
    if language not in turn.screens.catalogues.languages:
        raise StaleAction(language)
    member.language = language
    return [turn.screens.settings(member, notice=turn.texts("settings.language_changed"))]
