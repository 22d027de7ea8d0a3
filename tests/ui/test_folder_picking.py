"""Folder pickers (c, s, C) list folders in the tree's order and offer the last destination."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import OptionList

from app.models import Folder, FolderRole
from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until
from widgets.dialogs import FolderPicker
from widgets.folder_tree import display_order


def folder(name: str, role: FolderRole = FolderRole.NONE) -> Folder:
    return Folder(name, name, "/", frozenset(), role)


def test_display_order_puts_special_folders_first_then_paths_by_name() -> None:
    folders = [
        folder("projects/b"),
        folder("Trash", FolderRole.TRASH),
        folder("Projects"),
        folder("archive"),
        folder("INBOX"),
        folder("Sent", FolderRole.SENT),
        folder("projects/A"),
    ]
    assert [f.name for f in display_order(folders)] == [
        "INBOX",
        "Sent",
        "Trash",
        "archive",
        "Projects",
        "projects/A",
        "projects/b",
    ]


@pytest.mark.integration
@pytest.mark.ui
async def test_move_picker_offers_the_last_destination_first(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        # The folder list too: a cold INBOX's newest rows are drawn before LIST answers.
        await wait_until(pilot, lambda: list_filled(app) and app.screen.folder_tree.built_count)
        message_list(app).focus()

        async def picker() -> FolderPicker:
            found: FolderPicker = await wait_until(
                pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
            )
            return found

        await pilot.press("c")
        opened = await picker()
        options = opened.query_one(OptionList)
        first = [str(options.get_option_at_index(i).prompt) for i in range(3)]
        assert first[0] == "INBOX"
        assert str(options.get_option_at_index(options.highlighted or 0).prompt) == "INBOX"
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, FolderPicker))
        await pilot.press("C")
        await picker()
        for ch in "Receipts":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, FolderPicker))
        await pilot.press("C")
        again = await picker()
        options = again.query_one(OptionList)
        assert str(options.get_option_at_index(options.highlighted or 0).prompt) == "Receipts"
