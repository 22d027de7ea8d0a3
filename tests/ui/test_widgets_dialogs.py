"""ConfirmDialog, PromptDialog, FolderPicker and the generated help screen."""

from __future__ import annotations

from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen

from tests.ui.apps.screen import screen_text, terminal_bytes
from widgets.dialogs import ChoiceDialog, ConfirmDialog, FolderPicker, PromptDialog
from widgets.help_screen import HelpScreen, collect_bindings
from widgets.message_list import MessageList

pytestmark = pytest.mark.ui

HOSTILE = "Delete [@click=app.quit]Old[/] \x1b[2J and its 3 message(s)?"


class DialogApp(App[None]):
    BINDINGS = [Binding("ctrl+q", "quit", "Quit", id="app.quit")]

    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []
        self.quit_requested = False

    def compose(self) -> ComposeResult:
        yield MessageList()

    def ask(self, screen: Screen[Any]) -> None:
        self.push_screen(screen, self.results.append)

    async def action_quit(self) -> None:
        self.quit_requested = True


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["y"], True),
        (["n"], False),
        (["escape"], False),
        (["enter"], False),
        (["tab", "enter"], True),
    ],
)
async def test_confirm_dialog_answers(keys: list[str], expected: bool) -> None:
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.ask(ConfirmDialog(HOSTILE))
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        assert app.results == [expected]


CHOICES = [("p", "Postpone"), ("l", "Leave it"), ("d", "Discard")]


@pytest.mark.parametrize(
    ("keys", "expected"),
    [
        (["p"], "p"),
        (["d"], "d"),
        (["escape"], None),
        (["x", "escape"], None),  # a key that is no choice does nothing
        (["enter"], "p"),  # the first choice has the focus
        (["tab", "tab", "enter"], "d"),
    ],
)
async def test_choice_dialog_answers(keys: list[str], expected: str | None) -> None:
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.ask(ChoiceDialog(HOSTILE, CHOICES))
        await pilot.pause()
        await pilot.press(*keys)
        await pilot.pause()
        assert app.results == [expected]
        assert not app.quit_requested


async def test_choice_dialog_shows_untrusted_text_literally() -> None:
    app = DialogApp()
    async with app.run_test(size=(100, 24)) as pilot:
        app.ask(ChoiceDialog(HOSTILE, CHOICES))
        await pilot.pause()
        text = screen_text(app)
        assert "[@click=app.quit]Old[/]" in text and "\x1b[2J" not in terminal_bytes(app)
        assert "p: postpone" in text and "Esc: cancel" in text


async def test_confirm_dialog_shows_server_text_literally() -> None:
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.ask(ConfirmDialog(HOSTILE))
        await pilot.pause()
        text = screen_text(app)
        assert "Delete [@click=app.quit]Old[/]" in text
        assert "\x1b[2J" not in terminal_bytes(app)
        row = next(i for i, line in enumerate(text.splitlines()) if "[@click" in line)
        column = text.splitlines()[row].index("[@click")
        await pilot.click(offset=(column + 2, row))
        await pilot.pause()
        assert not app.quit_requested


async def test_prompt_dialog_returns_text_or_none() -> None:
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.ask(PromptDialog("New folder name [b]x[/b]", "Projects/"))
        await pilot.pause()
        assert "New folder name [b]x[/b]" in screen_text(app)
        await pilot.press(*"2026", "enter")
        await pilot.pause()
        app.ask(PromptDialog("Name", ""))
        await pilot.pause()
        await pilot.press("enter")  # empty: not accepted
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == ["Projects/2026", None]


async def test_folder_picker_filters_and_chooses() -> None:
    names = ["INBOX", "Archive", "Lists/python-dev", "Projects/termail", "[b]evil[/b]"]
    app = DialogApp()
    async with app.run_test(size=(80, 24)) as pilot:
        app.ask(FolderPicker("Move 2 message(s) to", names))
        await pilot.pause()
        text = screen_text(app)
        assert "[b]evil[/b]" in text and "Lists/python-dev" in text
        await pilot.press(*"term", "enter")
        await pilot.pause()
        app.ask(FolderPicker("Open folder", names, current="Archive"))
        await pilot.pause()
        await pilot.press("down", "enter")
        await pilot.pause()
        app.ask(FolderPicker("Open folder", names))
        await pilot.pause()
        await pilot.press(*"zzz", "enter", "escape")
        await pilot.pause()
        assert app.results == ["Projects/termail", "Lists/python-dev", None]


async def test_help_screen_lists_active_bindings_with_the_keymap() -> None:
    app = DialogApp()
    async with app.run_test(size=(100, 40)) as pilot:
        app.query_one(MessageList).focus()
        app.set_keymap({"list.mark": "x"})
        await pilot.pause()
        groups = dict(collect_bindings(app.screen))
        rows = dict(groups["Message list"])
        assert rows.get("x") == "Mark"
        assert any(keys.startswith("j") for keys in rows)
        assert "Everywhere" in groups
        app.push_screen(HelpScreen(app.screen))
        await pilot.pause()
        text = screen_text(app)
        assert "Message list" in text and "Mark" in text and "Open" in text
        await pilot.press("question_mark")
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
