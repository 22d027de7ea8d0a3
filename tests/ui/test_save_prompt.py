"""The attachment save prompt on its own (issue 20 item 14): Tab, a chosen name, a missing
folder asked about before it is made, ctrl+s for all, Esc, hostile names shown inert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from tests.ui.apps.screen import screen_text
from widgets.save_prompt import SavePrompt, SaveTarget, short_path

pytestmark = pytest.mark.ui


class PromptApp(App[None]):
    def __init__(self, prompt: SavePrompt) -> None:
        super().__init__()
        self.prompt = prompt
        self.results: list[Any] = []

    def compose(self) -> ComposeResult:
        yield Static("behind")

    def on_mount(self) -> None:
        self.push_screen(self.prompt, self.results.append)


async def _ready(pilot: Any, app: PromptApp) -> None:
    for _ in range(200):  # until the dialog is drawn (no timing assumed)
        if app.screen is app.prompt and "Esc: cancel" in screen_text(app):
            return
        await pilot.pause(0.02)
    raise AssertionError("the prompt was never drawn")


def note(prompt: SavePrompt) -> str:
    return str(prompt.query_one("#save-note", Static).render())


async def _set(pilot: Any, prompt: SavePrompt, text: str) -> None:
    prompt.path_input.value = text
    prompt.path_input.cursor_position = len(text)
    await pilot.pause()


async def test_enter_saves_under_the_typed_name(tmp_path: Path) -> None:
    prompt = SavePrompt("numbers.csv", tmp_path, size="12B", count=1)
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        assert prompt.path_input.value == f"{short_path(tmp_path)}/numbers.csv"
        await _set(pilot, prompt, f"{tmp_path}/renamed.csv")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [SaveTarget(tmp_path, "renamed.csv", False)]


async def test_a_folder_alone_keeps_the_attachment_name(tmp_path: Path) -> None:
    prompt = SavePrompt("numbers.csv", tmp_path / "x")
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        await _set(pilot, prompt, str(tmp_path))
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [SaveTarget(tmp_path, "numbers.csv", False)]


async def test_missing_folder_needs_a_second_enter_and_nothing_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "Downloads"
    prompt = SavePrompt("a.pdf", missing)
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        assert "does not exist yet" in note(prompt)  # said before anything is typed
        await _set(pilot, prompt, f"{tmp_path}/other/b.pdf")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert app.results == [] and "Enter again creates it" in note(prompt)
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [SaveTarget(tmp_path / "other", "b.pdf", True)]
    assert not (tmp_path / "other").exists()  # the caller creates it, 0700


async def test_tab_completes_and_ctrl_s_saves_all(tmp_path: Path) -> None:
    (tmp_path / "reports-2026").mkdir()
    prompt = SavePrompt("a.pdf", tmp_path, count=3)
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        assert "save all 3" in screen_text(app)
        await _set(pilot, prompt, f"{tmp_path}/rep")
        await pilot.press("tab")
        await pilot.pause()
        assert prompt.path_input.value == f"{tmp_path}/reports-2026/"
        await pilot.press("ctrl+s")
        await pilot.pause()
    assert app.results == [SaveTarget(tmp_path / "reports-2026", None, False)]


async def test_escape_cancels_and_a_file_is_not_a_folder(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    prompt = SavePrompt("a.pdf", tmp_path)
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        await _set(pilot, prompt, f"{tmp_path}/plain/a.pdf")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert "is not a folder" in note(prompt) and app.results == []
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [None]


async def test_hostile_name_is_shown_inert(tmp_path: Path) -> None:
    prompt = SavePrompt("[@click=app.quit]x[/] \x1b]2;pwn\x07.pdf", tmp_path)
    app = PromptApp(prompt)
    async with app.run_test(size=(200, 40)) as pilot:
        await _ready(pilot, app)
        text = screen_text(app)
        assert "[@click=app.quit]" in text and "\x1b" not in text
        assert app.is_running


def test_save_prompt_look_80x24(snap_compare: Any) -> None:
    """The prompt with a missing default folder and several attachments, at 80×24."""
    app = PromptApp(
        SavePrompt("Q4-report.pdf", Path("/nonexistent-termail/Downloads"), size="~586B", count=3)
    )

    async def drawn(pilot: Any) -> None:
        await _ready(pilot, app)

    assert snap_compare(app, terminal_size=(80, 24), run_before=drawn)
