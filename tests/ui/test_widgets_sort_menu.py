"""The sort menu alone: keys, `r`, Enter and Escape, and its look at 80x24."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from app.store.threads import DEFAULT_REVERSE
from widgets.sort_menu import SortChoice, SortMenu

pytestmark = pytest.mark.ui


class MenuApp(App[None]):
    def __init__(self, current: str = "date", reverse: bool = True) -> None:
        super().__init__()
        self.current, self.reverse = current, reverse
        self.answers: list[SortChoice | None] = []

    def compose(self) -> ComposeResult:
        yield Static("list")

    def on_mount(self) -> None:
        self.push_screen(SortMenu(self.current, self.reverse, DEFAULT_REVERSE), self.answers.append)


@pytest.mark.parametrize(
    ("keys", "answer"),
    [
        (["f"], SortChoice("from", False)),  # names A to Z by default
        (["s"], SortChoice("subject", False)),
        (["z"], SortChoice("size", True)),  # biggest first
        (["enter"], SortChoice("date", True)),  # the order in use, as it is
        (["r", "enter"], SortChoice("date", False)),  # turned round
        (["down", "down", "r", "enter"], SortChoice("from", True)),  # Z to A
        (["l"], SortChoice("thread-last-date", True)),
        (["x", "escape"], None),  # a wrong key does nothing; Esc cancels
    ],
)
async def test_menu_keys(keys: list[str], answer: SortChoice | None) -> None:
    app = MenuApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        assert app.answers == [answer]


async def test_the_current_direction_is_kept_for_the_current_order() -> None:
    app = MenuApp("subject", True)  # subject Z to A now
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("s")
        await pilot.pause()
        assert app.answers == [SortChoice("subject", True)]


def test_sort_menu_80x24(snap_compare: Any) -> None:
    assert snap_compare(MenuApp("from", False), terminal_size=(80, 24))
