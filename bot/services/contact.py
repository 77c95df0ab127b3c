"""The campaign's contact card (問い合わせ), joining (入会), the signature form (署名用紙), and
「私のID」: what a member is told when the answer is a person, a form or a number."""

from __future__ import annotations

from dataclasses import replace

from bot.domain.campaign import Contact
from bot.domain.messages import Link, Outgoing
from bot.services.turn import Turn
from bot.texts import Texts


def card(texts: Texts, contact: Contact) -> str | None:
    """The card's lines, those that are filled in; None when nothing is."""
    lines = [
        texts(f"contact.{name}", value=value)
        for name, value in (
            ("organisation", contact.organisation),
            ("phone", contact.phone),
            ("hours", contact.hours),
            ("address", contact.address),
        )
        if value
    ]
    return "\n".join([texts("contact.heading"), *lines]) if lines else None


def where_to_ask(texts: Texts, contact: Contact) -> str:
    """One line for the end of a decline: whom to call for anything else."""
    if contact.phone:
        return texts(
            "contact.other_questions_phone",
            organisation=contact.organisation or texts("contact.office"),
            phone=contact.phone,
        )
    return texts("contact.other_questions")


def show(turn: Turn) -> list[Outgoing]:
    """問い合わせ."""
    texts = turn.texts
    found = card(texts, turn.campaign.contact)
    return [turn.screens.with_menu(turn.member, found or texts("contact.none"))]


def join(turn: Turn) -> list[Outgoing]:
    """入会したい: the page for joining, or the office to ask."""
    return _link_or_card(turn, turn.campaign.contact.join_url, "contact.join")


def signature(turn: Turn) -> list[Outgoing]:
    """署名用紙: the page to print it from, or the office to ask."""
    return _link_or_card(turn, turn.campaign.contact.signature_url, "contact.signature")


def _link_or_card(turn: Turn, url: str, key: str) -> list[Outgoing]:
    """The page as a named link when there is one (never a raw address), and the card."""
    texts = turn.texts
    text = texts(f"{key}_link") if url else texts(f"{key}_ask")
    found = card(texts, turn.campaign.contact)
    links = (Link(texts(f"{key}_button"), url),) if url else ()
    reply = turn.screens.with_menu(turn.member, f"{text}\n\n{found}" if found else text)
    return [replace(reply, links=links)]


def whoami(turn: Turn) -> list[Outgoing]:
    """私のID: the id to give the office to become an organiser (config `organisers:`)."""
    member = turn.member
    text = turn.texts("whoami.text", channel=member.channel, id=member.external_id)
    return [turn.screens.with_menu(member, text)]
