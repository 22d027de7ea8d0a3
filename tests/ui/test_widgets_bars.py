"""QueryBar and StatusBar."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.message import Message

from tests.ui.apps.screen import screen_text, terminal_bytes
from widgets.query_bar import QueryBar
from widgets.status_bar import StatusBar

pytestmark = pytest.mark.ui


class BarsApp(App[None]):
    def __init__(self, progress_delay: float = 0.5) -> None:
        super().__init__()
        self.posted: list[Message] = []
        self.progress_delay = progress_delay

    def compose(self) -> ComposeResult:
        yield QueryBar()
        yield StatusBar(progress_delay=self.progress_delay)

    def on_query_bar_submitted(self, event: QueryBar.Submitted) -> None:
        self.posted.append(event)

    def on_query_bar_cleared(self, event: QueryBar.Cleared) -> None:
        self.posted.append(event)


# -- query bar ----------------------------------------------------------------------------------
async def test_query_bar_opens_submits_and_clears() -> None:
    app = BarsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(QueryBar)
        assert not bar.display or not bar.is_open
        bar.open()
        await pilot.pause()
        assert bar.is_open and bar.input.has_focus
        await pilot.press(*"from:alice", "enter")
        await pilot.pause()
        submitted = [m for m in app.posted if isinstance(m, QueryBar.Submitted)]
        assert [m.text for m in submitted] == ["from:alice"]
        assert not bar.is_open  # hidden while the search runs
        bar.open()
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.posted[-1], QueryBar.Cleared)
        assert not bar.is_open and bar.value == ""
        bar.open()
        await pilot.press("enter")  # an empty query clears too
        await pilot.pause()
        assert isinstance(app.posted[-1], QueryBar.Cleared)


async def test_query_bar_error_points_at_the_position() -> None:
    app = BarsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(QueryBar)
        bar.open('subject:"q4 report (since:2026')
        bar.show_error("unclosed quote [@click=app.quit] \x1b[2J", 8)
        await pilot.pause()
        lines = screen_text(app).splitlines()
        query_row = next(
            i for i, line in enumerate(lines) if line.strip().startswith('subject:"q4')
        )
        caret_row = lines[query_row + 1]
        assert caret_row.index("^") == lines[query_row].index('"')
        assert "unclosed quote [@click=app.quit]" in caret_row
        assert "\x1b[2J" not in terminal_bytes(app)
        assert bar.input.cursor_position == 8
        await pilot.press("x")  # editing hides the stale error
        await pilot.pause()
        assert not bar.has_class("-error")


async def test_query_bar_history() -> None:
    app = BarsApp()
    async with app.run_test(size=(80, 24)) as pilot:
        bar = app.query_one(QueryBar)
        for query in ("one", "two"):
            bar.open("")
            await pilot.press(*query, "enter")
        bar.open("")
        await pilot.press("up")
        assert bar.value == "two"
        await pilot.press("up")
        assert bar.value == "one"
        await pilot.press("down", "down")
        assert bar.value == ""
        assert bar.history == ["one", "two"]


# -- status bar ---------------------------------------------------------------------------------
async def test_status_bar_shows_state_and_untrusted_text_literally() -> None:
    app = BarsApp()
    async with app.run_test(size=(120, 10)) as pilot:
        status = app.query_one(StatusBar)
        status.account = "work"
        status.connection = "connected"
        status.folder = "[b]INBOX[/b]"
        status.set_counts(12345, 7)
        status.message = "NO [ALERT] \x1b]0;x\x07 quota"
        await pilot.pause()
        line = next(line for line in screen_text(app).splitlines() if "connected" in line)
        assert "● connected" in line and "work" in line and "[b]INBOX[/b]" in line
        assert "12,345 messages, 7 unread" in line and "NO [ALERT]" in line
        assert "\x1b]0;" not in terminal_bytes(app)
        status.connection = "connecting"
        await pilot.pause()
        assert "◌ connecting" in screen_text(app)


async def test_status_bar_counts_down_to_reconnect() -> None:
    app = BarsApp()
    async with app.run_test(size=(100, 10)) as pilot:
        status = app.query_one(StatusBar)
        status.set_offline(3, "connection reset")
        await pilot.pause()
        assert "○ offline: connection reset, retrying in 3 s" in status.text
        status._retry_at = status._retry_at - 2 if status._retry_at else None  # two seconds pass
        assert "retrying in 1 s" in status.text
        status.connection = "connected"  # the screen reconnected: countdown stops
        assert "retrying" not in status.text


async def test_status_bar_progress_appears_only_for_slow_jobs() -> None:
    app = BarsApp(progress_delay=0.2)
    async with app.run_test(size=(100, 10)) as pilot:
        status = app.query_one(StatusBar)
        status.set_progress(1, 10, "headers")
        assert not status.progress_visible
        status.set_progress(10, 10)
        await pilot.pause(0.3)
        assert not status.progress_visible  # finished before the delay: never shown
        status.set_progress(1, 10, "headers")
        await pilot.pause(0.3)
        assert status.progress_visible
        assert "headers" in screen_text(app)
        status.set_progress(10, 10)
        assert not status.progress_visible
