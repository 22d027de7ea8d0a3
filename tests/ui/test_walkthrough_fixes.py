"""Bugs found walking `termail demo` as a new user (issue 20), driven with the pilot against
the sandbox: reply keys in an empty folder, and the tree's counts after move, delete, undo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.main import TermailApp
from tests.ui.test_app_sandbox import make_app, message_list, wait_connected, wait_until
from tests.ui.test_delete_undo_ui import message, open_folder, toasts
from widgets.folder_tree import FolderTree

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def has_compose(app: TermailApp) -> bool:
    from app.screens.compose import ComposeScreen

    return any(isinstance(screen, ComposeScreen) for screen in app.screen_stack)


@pytest.mark.parametrize("key", ["r", "R", "f", "ctrl+f"])
async def test_reply_keys_in_an_empty_folder_open_no_blank_message(
    sandbox: Any, mail_user: Any, key: str
) -> None:
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_connected(pilot, app)
        await open_folder(pilot, app, "Trash")
        assert message_list(app).row_count == 0
        await pilot.press(key)
        await wait_until(pilot, lambda: "No message selected" in toasts(app))
        await pilot.pause(0.3)
        assert not has_compose(app)


async def test_move_delete_and_undo_redraw_the_other_folders_counts(
    sandbox: Any, mail_user: Any
) -> None:
    sandbox.deliver(mail_user.name, message(1, "to move"), "INBOX")
    sandbox.deliver(mail_user.name, message(2, "to delete"), "INBOX")
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_connected(pilot, app)
        await open_folder(pilot, app, "INBOX")
        ml = message_list(app)
        await wait_until(pilot, lambda: ml.row_count == 2)
        tree = app.screen.query_one(FolderTree)

        def messages(name: str) -> int | None:
            status = tree._counts.get(name)
            return None if status is None else status.messages

        await wait_until(pilot, lambda: messages("Trash") == 0)
        await pilot.press("d")
        await wait_until(pilot, lambda: any("moved to Trash" in t for t in toasts(app)))
        await wait_until(pilot, lambda: messages("Trash") == 1)
        await pilot.press("u")
        await wait_until(pilot, lambda: any("Undid delete" in t for t in toasts(app)))
        await wait_until(pilot, lambda: messages("Trash") == 0)


async def test_postpone_redraws_the_drafts_count_in_the_tree(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    from tests.ui.test_compose_sandbox import make_app as make_compose_app
    from tests.ui.test_compose_sandbox import open_compose

    app = make_compose_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        tree = main.query_one(FolderTree)
        await wait_until(pilot, lambda: "Drafts" in tree._counts)
        assert tree._counts["Drafts"].messages == 0
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = "friend@localhost"
        screen.query_one("#subject").value = "Later"
        screen.query_one("#body").text = "To be finished.\n"
        await pilot.press("ctrl+d")
        await wait_until(pilot, lambda: app.screen is main)
        await wait_until(pilot, lambda: tree._counts["Drafts"].messages == 1)
