"""The notice updated in place (widgets/notice.py): one box over the panes, its text replaced,
sanitized, hidden after its time or a click, and clicks beside it reach what is under it."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.events import Click
from textual.widgets import Static

from tests.ui.apps.screen import screen_text, terminal_bytes
from widgets.notice import Notice

pytestmark = pytest.mark.ui


class Under(Static):
    clicks = 0

    def on_click(self, event: Click) -> None:
        self.clicks += 1


class NoticeApp(App[None]):
    CSS = "Screen { layers: default notice; } Under { height: 1fr; }"

    def __init__(self, timeout: float = 60.0) -> None:
        super().__init__()
        self.timeout = timeout

    def compose(self) -> ComposeResult:
        yield Under("the panes")
        yield Notice(timeout=self.timeout)


async def test_one_notice_updated_in_place_over_the_panes() -> None:
    app = NoticeApp()
    async with app.run_test(size=(100, 20)) as pilot:
        notice = app.query_one(Notice)
        under = app.query_one(Under)
        assert not notice.shown and "new message" not in screen_text(app)
        notice.show("1 new message in INBOX", title="New mail")
        await pilot.pause()
        notice.show("2 new messages in INBOX", title="New mail")
        await pilot.pause()
        text = screen_text(app)
        assert "2 new messages in INBOX" in text and "1 new message " not in text
        assert text.count("New mail") == 1
        assert under.size.height == 20  # drawn over the panes, not beside them
        await pilot.click(Under, offset=(1, 18))  # the row of the box, left of it
        assert under.clicks == 1 and notice.shown
        await pilot.click("#notice-box")
        await pilot.pause()
        assert not notice.shown and "new messages" not in screen_text(app)


async def test_the_notice_goes_after_its_time_and_comes_back_on_show() -> None:
    app = NoticeApp(timeout=0.2)
    async with app.run_test(size=(100, 20)) as pilot:
        notice = app.query_one(Notice)
        notice.show("3 new messages in INBOX")
        await pilot.pause()
        assert notice.shown
        for _ in range(100):
            await pilot.pause(0.05)
            if not notice.shown:
                break
        assert not notice.shown
        notice.show("1 new message in Lists")
        await pilot.pause()
        assert notice.shown and "1 new message in Lists" in screen_text(app)


async def test_folder_names_in_the_notice_are_sanitized() -> None:
    app = NoticeApp()
    async with app.run_test(size=(100, 20)) as pilot:
        app.query_one(Notice).show(
            "1 new message in [b]Evil[/b]\x1b]0;pwned\x07", title="New\x1b[2J mail"
        )
        await pilot.pause()
        assert "[b]Evil[/b]" in screen_text(app)
        raw = terminal_bytes(app)
        assert "\x1b]0;" not in raw and "\x1b[2J" not in raw
