"""Bugs found walking `termail demo` as a mutt user after the features of issues 21–28 landed
(protocol log, links, undo send, folds, limit, search everywhere), driven with the pilot
against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]


@pytest.mark.parametrize(
    ("width", "reading_keys", "modal_key"),
    [
        (160, ["enter", "v"], "P"),  # zoomed viewer, then the protocol log
        (160, ["enter", "v"], "question_mark"),  # zoomed viewer, then help
        (90, ["enter"], "P"),  # a narrow screen reads full width
        (90, ["enter"], "question_mark"),
    ],
)
async def test_full_width_viewer_keeps_the_focus_after_a_dialog(
    sandbox: Any, mail_user: Any, width: int, reading_keys: list[str], modal_key: str
) -> None:
    """The list is hidden while the viewer fills the screen: `j` scrolls the message, and
    after a dialog closes it must not land on the hidden list (where `j` moved a cursor the
    user cannot see and Enter then opened another message)."""
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(width, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        ml = message_list(app)
        for key in reading_keys:
            await pilot.press(key)
        await wait_until(pilot, lambda: main.viewer.rendered is not None)
        await pilot.pause(0.2)
        assert main.viewer.has_focus_within
        await pilot.press(modal_key)
        await wait_until(pilot, lambda: app.screen is not main)
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is main)
        await pilot.pause(0.2)
        assert main.viewer.has_focus_within, main.focused
        await pilot.press("j")
        await pilot.pause(0.2)
        assert ml.cursor_row == 0


async def test_leaving_the_zoomed_viewer_gives_the_list_back_its_focus(
    sandbox: Any, mail_user: Any
) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        ml = message_list(app)
        await pilot.press("enter", "v")
        await pilot.pause(0.2)
        await pilot.press("v")
        await pilot.pause(0.2)
        assert ml.has_focus
        await pilot.press("j")
        await pilot.pause(0.2)
        assert ml.cursor_row == 1
        assert main.has_class("-reading")


async def test_escape_leaves_the_zoomed_viewer(sandbox: Any, mail_user: Any) -> None:
    """enter v esc: the list was still hidden (only `-reading` went), focused unseen, and `j`
    moved a cursor nobody could see."""
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        ml = message_list(app)
        await pilot.press("enter", "v")
        await wait_until(pilot, lambda: main.viewer.rendered is not None)
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not main.has_class("-zoom")
        assert ml.has_focus and ml.display


async def test_opening_a_folder_from_the_zoomed_viewer_shows_its_list(
    sandbox: Any, mail_user: Any
) -> None:
    """enter v, then `c` Junk: the zoomed viewer said "Select a message" over a hidden list."""
    from tests.ui.test_delete_undo_ui import open_folder

    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        await pilot.press("enter", "v")
        await wait_until(pilot, lambda: main.viewer.rendered is not None)
        await open_folder(pilot, app, "Junk")
        await pilot.pause(0.2)
        assert not main.has_class("-zoom")
        assert message_list(app).has_focus


async def test_search_all_says_how_many_folders_hold_the_matches(mail_user: Any) -> None:
    """/in:all budget said "2 matches in N folders", N being every folder searched."""
    from textual.widgets import DataTable

    from app.screens.search_results import SearchResultsScreen
    from tests.integration.test_search_all import make_nested

    make_nested(mail_user)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        message_list(app).focus()
        await pilot.press("slash", *"in:all subject:budget", "enter")
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SearchResultsScreen) and app.screen
        )
        await wait_until(pilot, lambda: screen.result is not None)
        assert screen.query_one(DataTable).row_count == 2
        searched = screen.result.searched
        assert searched > 2
        note = str(screen.query_one("#results-note").render())
        assert f"2 matches in 2 of {searched} folders" in note, note


async def test_q_in_the_protocol_log_closes_it_not_the_app(sandbox: Any, mail_user: Any) -> None:
    """P then q (as in help, the link list, the outbox): termail quit without a word."""
    from widgets.protocol_log import ProtocolLogScreen

    app = make_app(mail_user)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_until(pilot, lambda: message_list(app).row_count >= 0 and app.screen)
        main = app.screen
        await pilot.press("P")
        await wait_until(pilot, lambda: isinstance(app.screen, ProtocolLogScreen))
        await pilot.press("q")
        await wait_until(pilot, lambda: app.screen is main)
        assert app.is_running
