"""First contact: welcome, consent to notifications, regions.

Nobody is stored before they answer the consent question: the welcome says what the bot
keeps, and a person becomes a member row when they press 「はい」 or 「いいえ」 (with
「いいえ」 they use the menu without notices). Until then every message gets the welcome,
and buttons other than the consent question's (and the FAQ's) are refused with it
(`bot.services.buttons`), so a forged button or a stray word stores nothing.
"""

from __future__ import annotations

from bot.domain.members import Subscription
from bot.domain.messages import Action, Button, Outgoing
from bot.services.screens import RegionPickerContext
from bot.services.turn import StaleAction, Turn, choice


def welcome(turn: Turn) -> list[Outgoing]:
    """Say what the bot does and what it stores, then ask for consent."""
    texts = turn.texts
    greeting = "\n\n".join((texts("welcome.greeting"), texts("welcome.privacy")))
    return [Outgoing(greeting), consent_question(turn)]


def consent_question(turn: Turn) -> Outgoing:
    texts = turn.texts
    return Outgoing(
        texts("welcome.consent_question"),
        buttons=(
            (Button(texts("welcome.consent_yes"), Action("consent", ("yes",))),),
            (Button(texts("welcome.consent_no"), Action("consent", ("no",))),),
        ),
    )


def needs_consent(turn: Turn) -> list[Outgoing]:
    """What someone who has not answered the consent question gets for anything else; a
    member who answered an earlier welcome text gets the new one first."""
    member = turn.member
    if member.id is None:
        return welcome(turn)
    if member.consent_outdated:
        texts = turn.texts
        changed = "\n\n".join((texts("welcome.changed"), texts("welcome.privacy")))
        return [Outgoing(changed), consent_question(turn)]
    return [consent_question(turn)]


def start(turn: Turn) -> list[Outgoing]:
    """/start: register, welcome back, or resume notifications for someone who stopped."""
    member = turn.member
    if turn.is_new or member.subscription is Subscription.PENDING:
        return welcome(turn)
    if member.consent_outdated:
        return needs_consent(turn)
    if member.subscription is Subscription.UNSUBSCRIBED:
        member.subscribe(turn.now)
        return [turn.screens.with_menu(member, turn.texts("resume.done"))]
    if not member.regions:
        return [turn.screens.region_picker(member, RegionPickerContext.ONBOARDING)]
    return [turn.screens.menu_prompt(member)]


def consent(turn: Turn, answer: str) -> list[Outgoing]:
    member = turn.member
    texts = turn.texts
    # Either answer records when, and to which welcome text (`PRIVACY_VERSION`).
    renewed = member.consent_outdated
    if answer == "yes":
        member.subscribe(turn.now)
        reply = texts("welcome.consent_thanks")
    elif answer == "no":
        member.decline(turn.now)
        reply = texts("welcome.consent_declined")
    else:
        raise StaleAction(answer)
    if renewed and member.regions:
        # A member asked again after the text changed: back to what they were doing.
        return [turn.screens.with_menu(member, reply)]
    return [
        Outgoing(reply, replace=True),
        turn.screens.region_picker(member, RegionPickerContext.ONBOARDING),
    ]


def toggle_region(turn: Turn, code: str, context: str) -> list[Outgoing]:
    member = turn.member
    picker_context = choice(RegionPickerContext, context)
    if turn.campaign.region(code) is None:
        return [
            Outgoing(turn.texts("regions.unknown")),
            turn.screens.region_picker(member, picker_context),
        ]
    member.toggle_region(code)
    return [turn.screens.region_picker(member, picker_context, replace=True)]


def show_regions(turn: Turn, context: str) -> list[Outgoing]:
    """The region picker as it is now, changing nothing: what its page buttons redraw."""
    picker_context = choice(RegionPickerContext, context)
    return [turn.screens.region_picker(turn.member, picker_context, replace=True)]


def regions_done(turn: Turn, context: str) -> list[Outgoing]:
    member = turn.member
    texts = turn.texts
    picker_context = choice(RegionPickerContext, context)
    if not member.regions:
        return [
            Outgoing(texts("regions.need_one")),
            turn.screens.region_picker(member, picker_context),
        ]
    saved = texts("regions.saved", regions=turn.screens.region_names(member))
    if picker_context is RegionPickerContext.SETTINGS:
        return [turn.screens.settings(member, notice=saved)]
    if member.subscription is Subscription.PENDING:
        return [Outgoing(saved), consent_question(turn)]
    return [turn.screens.with_menu(member, f"{saved}\n{texts('onboarding.finished')}")]
