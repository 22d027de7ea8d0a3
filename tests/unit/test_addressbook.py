"""The address book behind To/Cc completion, and the suggester that offers from it."""

from __future__ import annotations

from app.models import Address, Envelope
from app.screens.compose import AddressSuggester
from app.store.addressbook import rank_addresses


def env(frm: list[Address] = (), to: list[Address] = (), cc: list[Address] = ()) -> Envelope:  # type: ignore[assignment]
    return Envelope(from_=tuple(frm), to=tuple(to), cc=tuple(cc))


ANA = Address("Ana García", "ana", "example.org")
BOB = Address(None, "bob", "example.com")
ZOE = Address("=?utf-8?q?Zo=C3=AB?=", "zoe", "example.net")
ME = Address("Me", "me", "localhost")


def test_people_written_to_come_first_and_own_addresses_never() -> None:
    received = [env([ANA], [ME]), env([ANA], [ME, BOB]), env([BOB], [ME])]
    sent = [env([ME], [ZOE])]
    book = rank_addresses(received, sent, own=["ME@localhost"])
    assert book[0] == "Zoë <zoe@example.net>"  # decoded name, sent counts thrice
    assert book[1:] == ["Ana García <ana@example.org>", "bob@example.com"]


def test_hostile_names_and_addresses_are_cleaned_or_dropped() -> None:
    evil = Address("Evil\x1b[2J\r\nBcc: x@y", "evil", "example.org")
    broken = Address("Broken", "a b", "example.org")
    group = Address(None, "undisclosed-recipients", None)
    book = rank_addresses([env([evil, broken, group])], [])
    assert len(book) == 2  # the group marker has no address: not offered
    assert all("\x1b" not in entry and "\n" not in entry and "\r" not in entry for entry in book)
    assert book[0].endswith("<evil@example.org>") and book[0].startswith('"Evil')
    assert book[1] == "Broken <ab@example.org>"  # blanks in an address are dropped


async def test_suggester_completes_names_and_addresses_as_typed() -> None:
    suggester = AddressSuggester(["Zoë <zoe@example.net>", "Ana García <ana@example.org>"])
    assert await suggester.get_suggestion("an") == "ana García <ana@example.org>"
    assert await suggester.get_suggestion("zoe@") == "zoe@example.net"
    assert await suggester.get_suggestion("bob@x.org, Zo") == "bob@x.org, Zoë <zoe@example.net>"
    assert await suggester.get_suggestion("z") is None  # one letter is too little
    assert await suggester.get_suggestion("nobody") is None
