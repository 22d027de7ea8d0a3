"""Address completion (issue 20 item 15): several candidates in a list, chosen with the arrows and
Tab, inserted in the address's own case; the keys work as before when the list is closed."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import Input

from widgets.address_input import AddressInput, address_candidates

KNOWN = [
    "Ana García <Ana.Garcia@Example.org>",
    "Andreas Berg <andreas@example.de>",
    "Zoë Anders <zoe@example.net>",
    "Bob <bob@example.com>",
]


class Fields(App[None]):
    def compose(self) -> ComposeResult:
        yield AddressInput("", known=list(KNOWN), id="to")
        yield Input(id="subject")


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", ",": "comma"}.get(ch, ch))


def test_candidates_match_names_words_and_addresses_in_any_case() -> None:
    assert address_candidates(KNOWN, "an") == KNOWN[:3]  # Ana, Andreas, Zoë *Anders*
    assert address_candidates(KNOWN, "ANA.g") == [KNOWN[0]]
    assert address_candidates(KNOWN, "b") == []  # one character: nothing yet


async def test_several_offered_arrows_choose_tab_inserts_in_its_own_case() -> None:
    app = Fields()
    async with app.run_test(size=(100, 20)) as pilot:
        field = app.query_one("#to", AddressInput)
        field.focus()
        await _type(pilot, "bob@example.com, an")
        await pilot.pause()
        assert field.showing and field.candidates == KNOWN[:3]
        await pilot.press("down")
        await pilot.press("tab")
        await pilot.pause()
        assert field.value == "bob@example.com, Andreas Berg <andreas@example.de>"
        assert field.has_focus and not field.showing
        await pilot.press("tab")  # the list closed: Tab moves on as always
        await pilot.pause()
        assert app.query_one("#subject").has_focus


async def test_typed_case_is_replaced_by_the_known_one_and_escape_closes() -> None:
    app = Fields()
    async with app.run_test(size=(100, 20)) as pilot:
        field = app.query_one("#to", AddressInput)
        field.focus()
        await _type(pilot, "ANA.GAR")
        await pilot.pause()
        assert field.candidates == [KNOWN[0]]
        await pilot.press("enter")
        await pilot.pause()
        assert field.value == KNOWN[0]  # "Ana García <Ana.Garcia@Example.org>", not "ANA.GAR…"
        field.value = ""
        await _type(pilot, "zo")
        await pilot.pause()
        assert field.showing
        await pilot.press("escape")
        await pilot.pause()
        assert not field.showing and field.value == "zo"
