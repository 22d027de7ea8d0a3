"""MessageList: virtual rows, summaries on demand, keys, mouse, live updates, untrusted text."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from textual.binding import Binding

from app.models import Address, Envelope, Flag, MessageSummary
from tests.ui.apps import samples
from tests.ui.apps.screen import screen_text, terminal_bytes
from tests.ui.apps.widgets_demo import ListDemo
from widgets.message_list import MessageList, format_date, message_date

pytestmark = pytest.mark.ui

SAFE_SEQUENCE = re.compile(r"\x1b\[[0-9;]*[mH]")


def _list(app: ListDemo) -> MessageList:
    return app.query_one(MessageList)


# -- pure helpers -------------------------------------------------------------------------------
def test_format_date_today_this_year_and_older() -> None:
    now = datetime(2026, 3, 14, 15, 30, tzinfo=UTC)
    assert format_date(datetime(2026, 3, 14, 8, 5, tzinfo=UTC), now) == "08:05"
    assert format_date(datetime(2026, 11, 29, 8, 5, tzinfo=UTC), now) == "Nov 29"
    assert format_date(datetime(2026, 1, 2, 8, 5, tzinfo=UTC), now) == "Jan  2"
    assert format_date(datetime(2019, 3, 2, 8, 5, tzinfo=UTC), now) == "2019-03-02"
    assert format_date(None, now) == ""


def test_format_date_uses_the_clock_zone() -> None:
    tz = timezone_plus(2)
    now = datetime(2026, 3, 14, 23, 30, tzinfo=tz)
    # 22:10 UTC is 00:10 the next day at +02:00: not today any more.
    assert format_date(datetime(2026, 3, 14, 22, 10, tzinfo=UTC), now) == "Mar 15"


def timezone_plus(hours: int) -> timezone:
    return timezone(timedelta(hours=hours))


@pytest.mark.parametrize(
    "raw",
    ["not a date", "", "Mon, 99 Foo 2026 99:99:99 +9999", "Thu, 1 Jan 1970 00:00:00 -0000", "\x00"],
)
def test_message_date_never_raises(raw: str) -> None:
    summary = MessageSummary(uid=1, envelope=Envelope(date=raw), internaldate=samples.NOW)
    when = message_date(summary)
    assert when is None or when.tzinfo is not None


# -- rendering and requests ---------------------------------------------------------------------
async def test_rows_show_columns_and_placeholders_before_summaries() -> None:
    app = ListDemo(50, answer=False)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "loading…" in text
        wanted = app.of_type(MessageList.SummariesWanted)
        assert wanted, "visible rows without summaries must be asked for"
        asked = [uid for event in wanted for uid in event.uids]
        # Visible rows first, then one screen below; nothing asked twice.
        assert asked[:12] == list(range(1, 13))
        assert len(asked) == len(set(asked)) == 24
        messages = _list(app)
        messages.update_summaries([samples.summary(uid) for uid in asked])
        await pilot.pause()
        text = screen_text(app)
        assert "loading…" not in text
        assert "Alice Example" in text and "Quarterly report Q4 draft" in text
        assert "06:30" in text  # uid 1 is 9 hours before the fixed "now": today
        assert "Mar 13" in text


async def test_scrolling_back_never_asks_again_and_failures_can_be_retried() -> None:
    app = ListDemo(1000, answer=False)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        await pilot.press("pagedown", "pagedown", "pageup", "pageup")
        await pilot.pause()
        asked = [uid for event in app.of_type(MessageList.SummariesWanted) for uid in event.uids]
        assert len(asked) == len(set(asked))
        count = len(app.of_type(MessageList.SummariesWanted))
        messages = _list(app)
        messages.forget_requested(range(1, 13))
        await pilot.pause()
        again = app.of_type(MessageList.SummariesWanted)[count:]
        assert again and set(again[0].uids) == set(range(1, 13))


async def test_stale_answers_for_another_folder_are_dropped() -> None:
    app = ListDemo(30, answer=False)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        old_epoch = app.of_type(MessageList.SummariesWanted)[0].epoch
        messages.set_uids([1, 2, 3], keep_cursor=False)  # another folder
        await pilot.pause()
        assert messages.epoch != old_epoch
        messages.update_summaries(
            [samples.summary(1, subject="from the old folder")], epoch=old_epoch
        )
        assert messages.summary(1) is None
        messages.update_summaries([samples.summary(1)], epoch=messages.epoch)
        assert messages.summary(1) is not None


async def test_100k_uids_render_only_visible_rows() -> None:
    app = ListDemo(100_000)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        messages = _list(app)
        height = messages.scrollable_content_region.height
        started = time.perf_counter()
        messages.set_uids(range(1, 100_001), keep_cursor=True)
        set_time = time.perf_counter() - started
        await pilot.pause()
        base_rendered = messages.render_count
        base_asked = app.summaries_asked
        moves = 0
        started = time.perf_counter()
        for key in ("pagedown", "pagedown", "end", "pageup", "home", "space"):
            await pilot.press(key)
            moves += 1
        await pilot.pause()
        press_time = (time.perf_counter() - started) / moves
        rendered = messages.render_count - base_rendered
        asked = app.summaries_asked - base_asked
        # The widget's own work for one page move: move, then paint every visible line.
        started = time.perf_counter()
        messages.action_page_down()
        strips = [messages.render_line(y) for y in range(height)]
        work = time.perf_counter() - started
        assert len(strips) == height
        print(
            f"100k: set_uids {set_time * 1000:.1f} ms; page move + paint {work * 1000:.1f} ms;"
            f" {press_time * 1000:.1f} ms per key through Pilot"
        )
        print(f"rows rendered for {moves} moves: {rendered}; summaries asked: {asked}")
        # Each position shows one screen; at most three screens are asked for around it.
        assert rendered <= (moves + 2) * height * 2
        assert asked <= (moves + 1) * 3 * height
        assert messages.cursor_row == 2 * height  # home, one page (space), one more page
        assert len(messages._summaries) < 1000


async def test_summary_store_is_bounded() -> None:
    app = ListDemo(5000)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        messages = _list(app)
        app.answer = False
        messages._summary_limit = 100
        asked_before = len(app.of_type(MessageList.SummariesWanted))
        messages.update_summaries(samples.summary(uid) for uid in range(1, 1001))
        assert len(messages._summaries) == 100
        # The rows on screen were evicted (oldest first) and are asked for again.
        assert messages.summary(1) is None
        await pilot.pause()
        again = app.of_type(MessageList.SummariesWanted)[asked_before:]
        assert again and 1 in again[0].uids


# -- keys ---------------------------------------------------------------------------------------
async def test_keys_move_the_cursor_and_post_highlighted() -> None:
    app = ListDemo(100)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        assert messages.cursor_uid == 1
        await pilot.press("j", "j", "down")
        assert messages.cursor_uid == 4
        await pilot.press("k", "up")
        assert messages.cursor_uid == 2
        await pilot.press("G")
        assert messages.cursor_uid == 100
        await pilot.press("g")
        assert messages.cursor_uid == 1
        await pilot.press("end")
        assert messages.cursor_uid == 100
        await pilot.press("home", "pagedown")
        page = messages.scrollable_content_region.height
        assert messages.cursor_uid == 1 + page
        await pilot.press("space")
        assert messages.cursor_uid == 1 + 2 * page
        await pilot.press("pageup")
        assert messages.cursor_uid == 1 + page
        await pilot.press("k")
        await pilot.pause()
        highlighted = [event.uid for event in app.of_type(MessageList.Highlighted)]
        assert highlighted[:6] == [1, 2, 3, 4, 3, 2]  # 1: the first set_uids
        assert highlighted[-1] == page


async def test_enter_opens_and_marks_toggle() -> None:
    app = ListDemo(20)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        await pilot.press("j", "enter")
        await pilot.pause()
        assert [event.uid for event in app.of_type(MessageList.Opened)] == [2]
        await pilot.press("t", "semicolon")
        assert messages.marked == {2, 3}
        assert messages.cursor_uid == 4  # marking moves on, as in mutt
        await pilot.press("k", "t")
        assert messages.marked == {2}
        await pilot.pause()
        assert [event.count for event in app.of_type(MessageList.MarksChanged)] == [1, 2, 1]
        assert "*" in screen_text(app).splitlines()[1]


async def test_bindings_have_ids_for_the_keymap() -> None:
    app = ListDemo(20)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        app.set_keymap({"list.down": "n", "list.mark": "x"})
        messages = _list(app)
        await pilot.press("n", "n")
        assert messages.cursor_uid == 3
        await pilot.press("x")
        assert messages.marked == {3}
        ids = {binding.id for binding in MessageList.BINDINGS if isinstance(binding, Binding)}
        assert {"list.down", "list.up", "list.first", "list.last", "list.open", "list.mark"} <= ids


# -- live updates -------------------------------------------------------------------------------
async def test_new_and_removed_uids_keep_the_cursor_on_its_message() -> None:
    app = ListDemo(100)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        await pilot.press("pagedown", "j")
        uid = messages.cursor_uid
        assert uid is not None
        screen_row = messages.cursor_row - int(messages.scroll_offset.y)
        # New mail at the top, two old messages expunged above the cursor.
        new_order = [1001, 1002, *[u for u in range(1, 101) if u not in (2, 3)]]
        messages.set_uids(new_order, keep_cursor=True)
        await pilot.pause()
        assert messages.cursor_uid == uid
        assert messages.cursor_row - int(messages.scroll_offset.y) == screen_row
        # The message under the cursor goes away: the cursor takes the next one.
        messages.set_uids([u for u in new_order if u != uid], keep_cursor=True)
        assert messages.cursor_uid == uid + 1


async def test_remove_uids_moves_to_the_next_message_and_drops_marks() -> None:
    app = ListDemo(10)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        await pilot.press("j", "j", "t")  # marks 3, cursor on 4
        await pilot.press("k")
        messages.remove_uids([3, 4])
        assert messages.cursor_uid == 5
        assert 3 not in messages.marked
        assert list(messages.uids) == [1, 2, 5, 6, 7, 8, 9, 10]
        messages.remove_uids([5, 6, 7, 8, 9, 10])
        assert messages.cursor_uid == 2
        messages.remove_uids([1, 2])
        assert messages.cursor_uid is None
        await pilot.pause()
        assert "No messages" in screen_text(app)


async def test_flag_changes_repaint_the_row() -> None:
    app = ListDemo(10)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        summary = messages.summary(3)
        assert summary is not None and Flag.SEEN not in summary.flags
        assert "●" in screen_text(app).splitlines()[2]
        summary.flags = summary.flags | {Flag.SEEN}  # changed in place, as the core does
        messages.update_summaries([summary])
        await pilot.pause()
        assert "●" not in screen_text(app).splitlines()[2]


async def test_sent_mode_shows_recipients() -> None:
    app = ListDemo(5, sent_mode=True)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "To: Demo User" in text
        assert "Alice Example" not in text


async def test_thread_depths_indent_subjects() -> None:
    app = ListDemo(4)
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        _list(app).set_uids([1, 2, 3, 4], depths=[0, 1, 2, 0])
        await pilot.pause()
        lines = screen_text(app).splitlines()
        assert "└ Invoice" in lines[1]
        assert "  └ " in lines[2]


# -- mouse --------------------------------------------------------------------------------------
async def test_click_selects_and_double_click_opens() -> None:
    app = ListDemo(20)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        await pilot.click(MessageList, offset=(30, 4))
        assert messages.cursor_uid == 5
        assert not app.of_type(MessageList.Opened)
        await pilot.click(MessageList, offset=(30, 6), times=2)
        await pilot.pause()
        assert messages.cursor_uid == 7
        assert [event.uid for event in app.of_type(MessageList.Opened)] == [7]


# -- untrusted text -----------------------------------------------------------------------------
async def test_markup_in_subjects_is_literal_and_not_clickable() -> None:
    app = ListDemo(10, subjects={2: samples.INJECTION_SUBJECT})
    async with app.run_test(size=(100, 12)) as pilot:
        await pilot.pause()
        line = screen_text(app).splitlines()[1]
        assert samples.INJECTION_SUBJECT in line
        column = line.index("[@click")
        await pilot.click(MessageList, offset=(column + 3, 1))
        await pilot.click(MessageList, offset=(column + 3, 1))
        await pilot.pause()
        assert not app.quit_requested
        assert app.is_running


async def test_escape_sequences_never_reach_the_terminal() -> None:
    hostile_name = Address("Eve \x1b]0;owned\x07\u202e", "eve", "evil.test")
    app = ListDemo(10, subjects={3: samples.ESC_SUBJECT})
    async with app.run_test(size=(120, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        messages.update_summaries(
            [MessageSummary(uid=4, envelope=Envelope(subject="x\x9b2Jy", from_=(hostile_name,)))]
        )
        await pilot.pause()
        stream = terminal_bytes(app)
        assert "\x1b]" not in stream and "\x07" not in stream
        assert "\x9b" not in stream and "\u202e" not in stream and "\u202c" not in stream
        assert "\x1b[2J" not in stream
        leftover = SAFE_SEQUENCE.sub("", stream)
        assert "\x1b" not in leftover
        text = screen_text(app)
        assert "title" in text and "gnp.exe" in text
        assert "Eve" in text


def test_compact_dates_for_narrow_lists() -> None:
    now = datetime(2026, 3, 14, 15, 30, tzinfo=UTC)
    assert format_date(datetime(2019, 3, 2, 8, 5, tzinfo=UTC), now, compact=True) == "2019"
    assert format_date(datetime(2026, 3, 2, 8, 5, tzinfo=UTC), now, compact=True) == "Mar  2"


@pytest.mark.parametrize("width", [24, 40, 52, 69, 70, 120, 250])
async def test_rows_fit_any_width(width: int) -> None:
    app = ListDemo(30, subjects={1: "王小明的报告 " * 20})
    async with app.run_test(size=(width, 10)) as pilot:
        await pilot.pause()
        messages = _list(app)
        for y in range(5):
            strip = messages.render_line(y)
            assert strip.cell_length == messages.size.width
        text = screen_text(app)
        assert "王小明" in text.splitlines()[0] or width < 50


async def test_a_uid_array_is_shown_as_it_is_and_removal_keeps_its_kind() -> None:
    from app.imap.parser import UidArray

    app = ListDemo(10)
    async with app.run_test(size=(80, 12)) as pilot:
        await pilot.pause()
        messages = _list(app)
        order = UidArray(range(10, 0, -1))  # a folder's UID SORT answer
        messages.set_uids(order, keep_cursor=False)
        assert messages.uids is order  # not copied into a list of ints
        await pilot.press("j", "j")  # cursor on 8
        messages.remove_uids([9, 8])
        assert isinstance(messages.uids, UidArray) and messages.uids == [10, 7, 6, 5, 4, 3, 2, 1]
        assert order == list(range(10, 0, -1)) and messages.cursor_uid == 7
        messages.remove_uids([42])  # not listed: nothing changes
        assert messages.uids == [10, 7, 6, 5, 4, 3, 2, 1]


async def test_end_right_after_the_list_is_filled_shows_the_last_row() -> None:
    """Issue 21: End at start-up, in the same tick the (cached) list arrived, before a layout:
    the scroll was clamped to the old, empty length and the cursor sat off screen for good."""
    app = ListDemo(0)
    async with app.run_test(size=(100, 30)) as pilot:
        ml = _list(app)
        await pilot.pause()
        ml.set_uids(range(1, 121), keep_cursor=False)
        ml.action_last()
        await pilot.pause()
        await pilot.pause()
        assert ml.cursor_row == 119
        top = int(ml.scroll_offset.y)
        assert top <= 119 < top + ml.size.height
