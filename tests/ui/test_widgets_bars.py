"""QueryBar and StatusBar."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

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


async def test_status_bar_jobs_overlap_and_show_the_newest_with_a_count() -> None:
    app = BarsApp(progress_delay=0.2)
    async with app.run_test(size=(120, 10)) as pilot:
        status = app.query_one(StatusBar)
        status.start_job("headers", "Fetching headers", total=400)
        status.update_job("headers", 150)
        await pilot.pause(0.3)
        assert status.progress_visible
        assert status.progress_text == "Fetching headers 150/400"
        with status.job("Opening [b]Lists[/b]") as key:  # untrusted folder name
            await pilot.pause()
            assert status.jobs == ["headers", key]
            assert status.progress_text == "Opening [b]Lists[/b] +1"
            assert "Opening [b]Lists[/b] +1" in screen_text(app)
        assert status.progress_text == "Fetching headers 150/400"
        status.end_job("headers")
        assert not status.progress_visible and status.jobs == []


async def test_status_bar_job_ends_when_its_block_fails() -> None:
    app = BarsApp(progress_delay=0.0)
    async with app.run_test(size=(100, 10)) as pilot:
        status = app.query_one(StatusBar)
        with pytest.raises(RuntimeError), status.job("Moving 5,000 message(s)"):
            await pilot.pause()
            assert status.progress_visible and "Moving 5,000" in screen_text(app)
            raise RuntimeError("server said NO")
        assert not status.progress_visible and status.jobs == []
        status.end_job("never-started")  # harmless
        assert status.jobs == []


# -- the main screen's slow operations ---------------------------------------------------------
async def test_main_screen_shows_progress_for_slow_opens_fetches_and_searches(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.main import TermailApp
    from app.models import Folder, MessageSummary
    from tests.ui.test_app_sandbox import wait_until
    from tests.ui.test_app_snapshots import RecordedAccount

    monkeypatch.setenv("TERMAIL_STATE_DIR", str(tmp_path))

    class SlowAccount(RecordedAccount):
        """Each server call waits for the test to let it go."""

        def __init__(self) -> None:
            super().__init__()
            self.gates = {name: asyncio.Event() for name in ("open", "headers", "search")}

        async def open_folder(self, folder: Folder) -> Any:
            await self.gates["open"].wait()
            return await super().open_folder(folder)

        async def summaries_for(self, uids: Sequence[int]) -> list[MessageSummary]:
            await self.gates["headers"].wait()
            return await super().summaries_for(uids)

        async def search(self, query_text: str) -> list[int]:
            await self.gates["search"].wait()
            return [3, 2]

    account = SlowAccount()
    app = TermailApp([account], theme="termail-dark")
    async with app.run_test(size=(120, 30)) as pilot:
        status = await wait_until(pilot, lambda: app.screen.query("#status") and app.screen.status)
        await wait_until(pilot, lambda: status.progress_visible)  # after progress_delay
        assert status.progress_text == "Opening INBOX"
        assert "Opening INBOX" in screen_text(app)
        account.gates["open"].set()
        await wait_until(pilot, lambda: status.progress_text.startswith("Fetching headers"))
        await wait_until(pilot, lambda: status.progress_visible)
        assert "/" in status.progress_text  # "Fetching headers 0/24"
        account.gates["headers"].set()
        await wait_until(pilot, lambda: not status.jobs)
        assert not status.progress_visible

        await pilot.press("slash", "x", "enter")
        await wait_until(pilot, lambda: status.progress_visible)
        assert status.progress_text == "Searching"
        account.gates["search"].set()
        await wait_until(pilot, lambda: "2 matches" in status.message)
        assert not status.progress_visible and not status.jobs


async def test_status_bar_counts_say_one_message_not_one_messages() -> None:
    app = BarsApp()
    async with app.run_test(size=(120, 10)) as pilot:
        status = app.query_one(StatusBar)
        status.connection = "connected"
        status.set_counts(1, 1)
        await pilot.pause()
        line = next(line for line in screen_text(app).splitlines() if "connected" in line)
        assert "1 message, 1 unread" in line
        status.set_counts(0, 0)
        await pilot.pause()
        assert "0 messages" in screen_text(app)
