"""A day left open (issue 21): offline while the server is down and back at once after, one
new-mail notice updated in place, and the "↑ N new" header of the list."""

from __future__ import annotations

import contextlib
import gc
import smtplib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static
from textual.widgets._toast import Toast, ToastHolder

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from app.screens.main.watch import NEW_MAIL, notify_new_mail
from tests.ui.test_app_sandbox import (
    imap,
    list_filled,
    make_app,
    message_list,
    wait_until,
    wait_watching,
)
from widgets.message_list import Inserted, MessageList, _inserted
from widgets.notice import Notice


def _deliver(sandbox: Any, user: Any, n: int) -> None:
    """Over LMTP, as a server delivers (IDLE hears of it as of real mail)."""
    lmtp = smtplib.LMTP("127.0.0.1", sandbox.lmtp_port, timeout=10)
    try:
        to = f"{user.name}@localhost"
        for k in range(n):
            body = f"From: a@b.c\r\nTo: {to}\r\nSubject: soak {k}\r\n\r\nx\r\n"
            lmtp.sendmail("a@b.c", [to], body.encode())
    finally:
        lmtp.quit()


def _status(app: Any) -> Any:
    return app.screen.query_one("#status")


@pytest.mark.integration
async def test_offline_while_the_server_is_down_and_back_at_once(
    sandbox: Any, mail_user: Any
) -> None:
    _deliver(sandbox, mail_user, 2)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app) and message_list(app).row_count == 2)
        await wait_watching(pilot, app)
        sandbox.stop_dovecot()
        try:
            # Nobody typed anything: the watcher's lost connection alone says so.
            await wait_until(pilot, lambda: _status(app).connection.startswith("offline"), 10)
        finally:
            sandbox.start_dovecot()
        await wait_until(pilot, lambda: _status(app).connection == "connected", 15)
        _deliver(sandbox, mail_user, 1)  # the counts are not frozen: the new mail shows
        await wait_until(pilot, lambda: message_list(app).row_count == 3, 15)


@pytest.mark.integration
async def test_one_new_mail_notice_updated_in_place(sandbox: Any, mail_user: Any) -> None:
    _deliver(sandbox, mail_user, 1)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await wait_watching(pilot, app)
        for rows in (2, 3, 4):  # three refreshes, a notice each before
            _deliver(sandbox, mail_user, 1)
            await wait_until(pilot, lambda rows=rows: message_list(app).row_count == rows, 15)
            await pilot.pause(0.1)
        notices = app.screen.query(Notice)
        assert len(notices) == 1 and notices[0].shown
        assert (notices[0].title, notices[0].text) == (NEW_MAIL, "3 new messages in INBOX")
        assert "3 new messages in INBOX" in str(notices[0].query_one(Static).visual)


class NoticeScreen(Screen[None]):
    """What `notify_new_mail` needs of the main screen: its notice and the counts it says."""

    def __init__(self) -> None:
        super().__init__()
        self._new_mail_counts: dict[str, int] = {}

    def compose(self) -> ComposeResult:
        yield Notice()

    @property
    def new_mail_notice(self) -> Notice:
        return self.query_one(Notice)


class NoticeApp(App[None]):
    def on_mount(self) -> None:
        self.push_screen(NoticeScreen())


async def test_the_notice_updated_in_place_leaves_nothing_behind() -> None:
    """Each update says the new count in the one notice: with Textual's toasts, the rack removed
    the old Toast but kept its ToastHolder mounted, one a refresh for as long as the client ran
    (issue 21's soak: the RSS grew 84 MiB per 1,000 deliveries)."""
    app = NoticeApp()
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NoticeScreen)
        for _ in range(30):
            notify_new_mail(screen, "INBOX", 1)  # type: ignore[arg-type]
            await pilot.pause()
        await pilot.pause(0.2)
        (notice,) = screen.query(Notice)
        assert notice.shown and notice.text == "30 new messages in INBOX"
        assert not list(screen.query(ToastHolder)) and not list(screen.query(Toast))
        assert len(list(notice.query(Static))) == 1
        gc.collect()
        assert not [o for o in gc.get_objects() if isinstance(o, (Toast, ToastHolder))]


class ListApp(App[None]):
    def compose(self) -> ComposeResult:
        yield MessageList()


@contextlib.asynccontextmanager
async def message_list_of(newest: int) -> AsyncIterator[tuple[Any, MessageList]]:
    """A MessageList (80x12) given UIDs `newest`..1, newest first: the pilot and the list."""
    app = ListApp()
    async with app.run_test(size=(80, 12)) as pilot:
        ml = app.query_one(MessageList)
        ml.set_uids(list(range(newest, 0, -1)), keep_cursor=False)
        yield pilot, ml


async def new_mail_to(pilot: Any, ml: MessageList, newest: int) -> None:
    """New mail on top, up to UID `newest`, as a refresh gives it to the list; drawn."""
    ml.set_uids(list(range(newest, 0, -1)), keep_cursor=True, reset_summaries=False)
    await pilot.pause()


def _top_line(ml: MessageList) -> str:
    return "".join(segment.text for segment in ml.render_line(0))


async def test_new_mail_above_the_visible_rows_is_marked_and_cleared_at_the_top() -> None:
    async with message_list_of(100) as (pilot, ml):
        await pilot.pause()
        for _ in range(30):
            ml.action_cursor_down()
        await pilot.pause()
        assert ml.scroll_offset.y > 0
        await new_mail_to(pilot, ml, 103)
        assert ml.cursor_uid == 70  # the cursor stays on its message
        assert ml.new_above == 3
        assert "↑ 3 new" in _top_line(ml)
        ml.action_first()
        await pilot.pause()
        assert ml.new_above == 0
        assert "new" not in _top_line(ml)


async def test_the_cursor_on_the_first_row_follows_the_top() -> None:
    async with message_list_of(50) as (pilot, ml):
        await pilot.pause()
        await new_mail_to(pilot, ml, 52)
        assert ml.cursor_uid == 52  # the newest, on the first row
        assert ml.new_above == 0


async def test_more_rows_at_the_same_width_lay_nothing_out() -> None:
    """New mail on top: the list's height grows, the scrollbar's thumb moves, and the screen
    is not laid out (that repainted every widget, a second under delivery: issue 21); End
    still reaches the new last row."""
    async with message_list_of(100) as (pilot, ml):
        await pilot.pause()
        # The first rows made the scrollbar appear (the content one cell narrower): laid out.
        await new_mail_to(pilot, ml, 101)
        layouts = ml._layout_updates
        await new_mail_to(pilot, ml, 103)
        assert ml._layout_updates == layouts
        assert ml.virtual_size.height == 103
        assert ml.vertical_scrollbar.window_virtual_size == 103
        ml.action_last()
        await pilot.pause()
        assert ml.cursor_row == 102 and ml.cursor_uid == 1
        assert ml.scroll_offset.y == ml.max_scroll_y > 0


async def test_new_mail_on_top_redraws_only_what_changed() -> None:
    async with message_list_of(100) as (pilot, ml):
        for _ in range(30):
            ml.action_cursor_down()
        await pilot.pause()
        drawn = ml.render_count
        await new_mail_to(pilot, ml, 101)
        # The same messages on screen, one row lower in the list: only the cursor's row (and
        # the "↑ 1 new" header) drawn again, not the page.
        assert ml.render_count - drawn <= 2
        assert "↑ 1 new" in _top_line(ml)


async def test_new_mail_after_the_rows_of_the_top_second_redraws_only_what_changed() -> None:
    """New mail dated in the first row's second goes after the rows of that second
    (`app.store.news.on_top`), not on top: the rows drawn are still kept, those below moved,
    with the cursor on the first row (following the top) as in a soak (issue 21: every row
    of the page was drawn again each such refresh)."""
    app = ListApp()
    async with app.run_test(size=(80, 12)) as pilot:
        ml = app.query_one(MessageList)
        ml.set_uids([98, 99, *range(97, 0, -1)], keep_cursor=False)
        await pilot.pause()
        drawn = ml.render_count
        # 102 newer, on top; 100 and 101 of the top's second, after 98 and 99.
        ml.set_uids(
            [102, 98, 99, 100, 101, *range(97, 0, -1)], keep_cursor=True, reset_summaries=False
        )
        await pilot.pause()
        assert ml.cursor_uid == 102 and ml.cursor_row == 0
        # The three new rows and the cursor's old row, not the page (12 rows).
        assert ml.render_count - drawn <= 4

        def page() -> list[str]:
            return ["".join(s.text for s in ml.render_line(y)) for y in range(ml.size.height)]

        kept = page()
        ml._invalidate_all()
        assert kept == page()  # the strips kept are what a full redraw draws


async def test_new_mail_on_top_of_a_long_list_leaves_the_scrollbar_undrawn() -> None:
    """At the top of a long list the thumb is one cell at the top however many rows come:
    it is not drawn again (Textual's `_scroll_update` drew every line of it each new mail,
    issue 21), and what shows is what a full redraw draws; where the thumb does move, it is."""
    app = ListApp()
    async with app.run_test(size=(80, 12)) as pilot:
        ml = app.query_one(MessageList)
        ml.set_uids(list(range(2000, 0, -1)), keep_cursor=False)
        await pilot.pause()
        # The first rows made the scrollbar appear: laid out and drawn.
        ml.set_uids(list(range(2001, 0, -1)), keep_cursor=True, reset_summaries=False)
        await pilot.pause()
        bar = ml.vertical_scrollbar
        drawn: list[int] = []
        render = bar.render
        bar.render = lambda: drawn.append(1) or render()  # type: ignore[method-assign]

        def lines() -> list[str]:
            return [
                "".join(s.text + str(s.style) for s in strip)
                for strip in bar.render_lines(bar.size.region)
            ]

        ml.set_uids(list(range(2003, 0, -1)), keep_cursor=True, reset_summaries=False)
        await pilot.pause()
        assert drawn == [] and bar.window_virtual_size == 2003
        shown = lines()
        bar.refresh()
        await pilot.pause()
        assert drawn and lines() == shown
        drawn.clear()
        for _ in range(500):  # the thumb a third of the way down
            ml.action_cursor_down()
        ml.set_uids(list(range(2900, 0, -1)), keep_cursor=True, reset_summaries=False)
        await pilot.pause()
        assert drawn  # moved: drawn again


async def test_rows_pushed_far_below_the_view_are_not_kept() -> None:
    """Each new mail pushes the drawn rows down; those far below the view went on being kept
    up to the cache's 1,024 strips (issue 21's soak: the RSS grew with them)."""
    app = ListApp()
    async with app.run_test(size=(80, 12)) as pilot:
        ml = app.query_one(MessageList)
        ml.set_uids(list(range(100, 0, -1)), keep_cursor=False)
        await pilot.pause()
        for k in range(1, 41):
            ml.set_uids(list(range(100 + 2 * k, 0, -1)), keep_cursor=True, reset_summaries=False)
            await pilot.pause()
        page = ml.size.height
        assert 0 < len(ml._cache) <= 3 * page
        assert ml.cursor_uid == 180 and ml.cursor_row == 0  # followed the top


def _client_lines(app: Any, after: int, word: str) -> list[str]:
    """Commands of ours sent since line `after` of the protocol log that contain `word`."""
    lines = app.accounts[0].protocol_log.snapshot()
    return [ln.text for ln in lines if ln.seq > after and ln.way == "C" and word in ln.text]


@pytest.mark.integration
async def test_a_burst_of_deliveries_is_one_refresh(sandbox: Any, mail_user: Any) -> None:
    """Eight messages delivered back to back: the open folder asks the server once or twice
    (a NOOP and one FETCH of the new summaries each), not once a message, and the list, the
    status bar, the tree and the one notice all say the eight."""
    _deliver(sandbox, mail_user, 1)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await wait_watching(pilot, app)
        await pilot.pause(1.5)  # the refresh after the watcher's SELECT is over
        log = app.accounts[0].protocol_log.snapshot()
        mark = log[-1].seq if log else 0
        _deliver(sandbox, mail_user, 8)
        await wait_until(pilot, lambda: message_list(app).row_count == 9, 15)
        await pilot.pause(1.5)  # time for any further refresh to happen
        noops = _client_lines(app, mark, "NOOP")
        fetches = _client_lines(app, mark, "ENVELOPE")  # summaries, not the UIDs' FETCH
        assert 1 <= len(noops) <= 2
        assert 1 <= len(fetches) <= 2
        ml = message_list(app)
        assert all(ml.summary(uid) is not None for uid in ml.uids)  # drawn filled
        assert _status(app)._total == 9
        assert app.screen.folder_tree._counts["INBOX"].messages == 9
        notices = app.screen.query(Notice)
        assert len(notices) == 1 and notices[0].shown
        assert (notices[0].title, notices[0].text) == (NEW_MAIL, "8 new messages in INBOX")


def _deliver_dated(sandbox: Any, user: Any, dates: list[str]) -> None:
    lmtp = smtplib.LMTP("127.0.0.1", sandbox.lmtp_port, timeout=10)
    try:
        to = f"{user.name}@localhost"
        for k, date in enumerate(dates):
            body = f"From: a@b.c\r\nTo: {to}\r\nSubject: tie {k}\r\nDate: {date}\r\n\r\nx\r\n"
            lmtp.sendmail("a@b.c", [to], body.encode())
    finally:
        lmtp.quit()


@pytest.mark.integration
async def test_new_mail_dated_as_the_top_row_is_placed_without_a_resync(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    """Mail dated in the same second as the first row (every other refresh under delivery at
    2/s): placed after the rows of that second, as the server's SORT orders ties (by UID),
    without a SELECT and the resync behind it (issue 21: ~40% of the soak's refreshes)."""
    second = "Mon, 01 Jan 2024 10:00:05 +0000"
    _deliver_dated(sandbox, mail_user, ["Mon, 01 Jan 2024 09:00:00 +0000", second, second])
    settings = mail_user.imap_settings(TlsMode.IMPLICIT)
    account = Account(mail_user.name, settings, mail_user.credentials, data_dir=tmp_path_fast)
    app = TermailApp([account])  # with a header cache, as a user's
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app) and message_list(app).row_count == 3)
        await wait_watching(pilot, app)
        await pilot.pause(1.5)  # the refresh after the watcher's SELECT is over
        log = app.accounts[0].protocol_log.snapshot()
        mark = log[-1].seq if log else 0
        _deliver_dated(sandbox, mail_user, [second, second])
        await wait_until(pilot, lambda: message_list(app).row_count == 5, 15)
        await pilot.pause(1.2)
        _deliver_dated(sandbox, mail_user, ["Mon, 01 Jan 2024 10:00:06 +0000", second])
        await wait_until(pilot, lambda: message_list(app).row_count == 7, 15)
        await pilot.pause(1.2)
        assert _client_lines(app, mark, "SELECT") == []
        assert _client_lines(app, mark, "SORT") == []
        conn = imap(mail_user)
        try:
            conn.select("INBOX")
            typ, data = conn.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
        finally:
            conn.logout()
        assert typ == "OK"
        assert list(message_list(app).uids) == [int(u) for u in data[0].split()]


def test_insertions_near_the_top_are_told_and_nothing_else() -> None:
    assert _inserted([3, 2, 1], [5, 3, 4, 2, 1]) == Inserted({0: 1}, 1, 2)
    assert _inserted([3, 2, 1], [5, 4, 3, 1]) is None  # 2 went: not only insertions
    assert _inserted([3, 2, 1], [3, 2, 1]) is None
    deep = list(range(200, 0, -1))
    assert _inserted(deep, [*deep[:100], 500, *deep[100:]]) is None  # past INSERT_NEAR_TOP
