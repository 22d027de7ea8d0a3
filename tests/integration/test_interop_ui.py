"""The app on Courier and Cyrus as a person sees it: folder names without the server's `INBOX.`
prefix in the tree, the folder picker and the status bar; `A` then `Zeta` makes INBOX.Zeta.
Driven with Textual's pilot (issue 14 item 6)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import OptionList

from app.main import TermailApp
from app.sandbox.kinds import KindUser
from tests.integration.kinds import make_kind_account, over_kinds
from tests.integration.test_interop import make_folder, message, seed, server_folders
from tests.ui.test_app_sandbox import list_filled, message_list, wait_until
from widgets.dialogs import FolderPicker, PromptDialog
from widgets.folder_tree import FolderTree

pytestmark = [pytest.mark.integration, pytest.mark.ui]


@over_kinds(only=["cyrus", "courier"])
async def test_names_shown_without_prefix(kind_user: KindUser, tmp_path_fast: Any) -> None:
    make_folder(kind_user, "Lists/python-dev")
    seed(kind_user, "Lists/python-dev", [message(0, "PEP 8 again")])
    seed(kind_user, "INBOX", [message(1, "hello")])
    app = TermailApp([make_kind_account(kind_user, tmp_path_fast / "h.sqlite3")])
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        tree = app.screen.query_one(FolderTree)
        await wait_until(pilot, lambda: tree.folder("Lists/python-dev") is not None)
        shown = [str(node.label) for node in tree.root.children]
        assert "Lists" in " ".join(shown) and not any("INBOX." in s for s in shown), shown
        message_list(app).focus()
        await pilot.press("c")
        picker: FolderPicker = await wait_until(
            pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
        )
        options = picker.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        assert "Lists/python-dev" in prompts and not any("INBOX." in p for p in prompts), prompts
        for ch in "python":
            await pilot.press(ch)
        await pilot.press("enter")
        status = app.screen.query_one("#status")
        await wait_until(pilot, lambda: getattr(status, "folder", None) == "Lists/python-dev")
        await wait_until(pilot, lambda: message_list(app).row_count == 1)
        await pilot.press("A")
        prompt: PromptDialog = await wait_until(
            pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen
        )
        assert prompt is app.screen
        for ch in "Zeta":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: tree.folder("Zeta") is not None)
    assert kind_user.mailbox("Zeta") == "INBOX.Zeta"
    assert "INBOX.Zeta" in server_folders(kind_user)
