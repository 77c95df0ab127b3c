"""Messages shown in more than one flow: the main menu, the region picker, settings."""

from __future__ import annotations

from dataclasses import fields
from enum import StrEnum

from bot.domain.campaign import Campaign
from bot.domain.members import Member, Subscription
from bot.domain.messages import Action, Button, Outgoing, PagingWords
from bot.texts import Catalogues, Texts


class Intent(StrEnum):
    """Things a member can ask for by command, by plain word or by a main-menu button."""

    START = "start"
    STOP = "stop"
    RESUME = "resume"
    HELP = "help"
    MENU = "menu"
    SETTINGS = "settings"
    EVENTS = "events"
    ASK = "ask"
    STATS = "stats"
    ATTENDANCE = "attendance"
    BROADCAST = "broadcast"
    BROADCASTS = "broadcasts"
    CALL_OFF = "call_off"
    CONTACT = "contact"
    WHOAMI = "whoami"
    MY_DATA = "mydata"
    FORGET = "forget"
    CANCEL = "cancel"


MEMBER_MENU = ((Intent.EVENTS, Intent.ASK), (Intent.SETTINGS, Intent.HELP))
ORGANISER_MENU = (
    (Intent.STATS, Intent.ATTENDANCE),
    (Intent.BROADCAST, Intent.BROADCASTS, Intent.CALL_OFF),
)


class RegionPickerContext(StrEnum):
    """Where the region picker was opened from, so 決定 knows where to go back to."""

    ONBOARDING = "onboarding"
    SETTINGS = "settings"


class Screens:
    def __init__(self, campaign: Campaign, catalogues: Catalogues) -> None:
        self.campaign = campaign
        self.catalogues = catalogues

    def texts_for(self, member: Member) -> Texts:
        return self.catalogues[member.language]

    def paging_words(self, member: Member) -> PagingWords:
        """What a channel with few buttons adds to a message, in the member's language."""
        texts = self.texts_for(member)
        return PagingWords(**{f.name: texts(f"paging.{f.name}") for f in fields(PagingWords)})

    def finish(self, member: Member, reply: Outgoing) -> Outgoing:
        """A reply ready for any channel: choices carry the words for paging them."""
        if not reply.buttons or (reply.paging and reply.paging.words):
            return reply
        return reply.with_paging(words=self.paging_words(member))

    def main_menu(self, member: Member) -> tuple[tuple[Button, ...], ...]:
        texts = self.texts_for(member)
        rows = MEMBER_MENU + (ORGANISER_MENU if member.is_organiser else ())
        return tuple(
            tuple(Button(texts(f"menu.{intent}"), Action("menu", (intent,))) for intent in row)
            for row in rows
        )

    def with_menu(self, member: Member, text: str) -> Outgoing:
        """A reply that ends the exchange and puts the main menu back in reach."""
        return Outgoing(text, menu=self.main_menu(member))

    def menu_prompt(self, member: Member) -> Outgoing:
        return self.with_menu(member, self.texts_for(member)("menu.prompt"))

    def region_names(self, member: Member) -> str:
        texts = self.texts_for(member)
        names = self.campaign.region_names(member.regions, member.language)
        return texts.join(names) if names else texts("regions.none_selected")

    def region_picker(
        self, member: Member, context: RegionPickerContext, *, replace: bool = False
    ) -> Outgoing:
        texts = self.texts_for(member)
        buttons = [
            Button(
                ("✓ " if region.code in member.regions else "")
                + (region.name_en if member.language == "en" else region.name),
                Action("region", (region.code, context)),
            )
            for region in self.campaign.regions
        ]
        rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
        rows.append((Button(texts("regions.done_button"), Action("regions_done", (context,))),))
        text = "\n\n".join(
            (
                texts("regions.question"),
                texts("regions.selected", regions=self.region_names(member)),
            )
        )
        # 16 regions and 決定 are more than LINE shows at once: its pages redraw the picker by
        # `Action("regions")`, with 決定 on every page.
        return Outgoing(text, buttons=tuple(rows), replace=replace).with_paging(
            screen=Action("regions", (context,)), footer=1
        )

    def settings(self, member: Member, *, notice: str | None = None) -> Outgoing:
        texts = self.texts_for(member)
        if member.is_subscribed:
            notifications = texts(f"settings.notifications_{member.scope.value}")
        elif member.subscription is Subscription.UNSUBSCRIBED:
            notifications = texts("settings.notifications_off")
        else:
            notifications = texts("settings.notifications_pending")
        summary = texts(
            "settings.summary",
            regions=self.region_names(member),
            notifications=notifications,
            language=texts("language_name"),
        )
        choices = [
            (choice, Button(texts(f"settings.turn_{choice}"), Action("notify", (choice,))))
            for choice in ("all", "rallies", "off")
        ]
        current = member.scope.value if member.is_subscribed else "off"
        notice_rows = tuple((button,) for choice, button in choices if choice != current)
        other = next(lang for lang in self.catalogues.languages if lang != member.language)
        rows = (
            (Button(texts("settings.change_regions"), Action("settings_regions")),),
            *notice_rows,
            (Button(texts("settings.other_language"), Action("lang", (other,))),),
            (Button(texts("menu.mydata"), Action("menu", (Intent.MY_DATA,))),),
            (Button(texts("settings.back"), Action("menu", (Intent.MENU,))),),
        )
        text = f"{notice}\n\n{summary}" if notice else summary
        return Outgoing(text, buttons=rows)
