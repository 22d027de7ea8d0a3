"""Folder pickers (c, s, C) list folders in the tree's order and offer the last destination."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import OptionList

from app.account import Account
from app.main import TermailApp
from app.models import Folder, FolderRole, TlsMode
from app.sandbox.demo import load_demo
from tests.integration.turns import TurnRelay
from tests.ui.apps.screen import screen_text
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


def _relayed_app(user: Any, port: int, data: Path) -> TermailApp:
    settings = replace(
        user.imap_settings(TlsMode.NONE), port=port, allow_insecure=True, compress=False
    )
    return TermailApp([Account(user.name, settings, user.credentials, data_dir=data)])


def _offered(picker: FolderPicker) -> list[str]:
    options = picker.query_one(OptionList)
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


@pytest.mark.integration
@pytest.mark.ui
async def test_a_picker_opened_before_list_answers_fills_in_when_it_does(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """A cold start draws INBOX's newest rows before the server's LIST answers: `s` then opened
    an empty picker that stayed empty. Now it says "loading folders…", Enter chooses nothing,
    and the list fills in when LIST answers; a warm start offers the cached list at once."""
    load_demo(sandbox, mail_user.name)
    data = tmp_path / "data"
    async with TurnRelay(sandbox.imap_port, hold=b"LIST") as relay:
        app = _relayed_app(mail_user, relay.port, data)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: list_filled(app) and relay.holding.is_set())
            main = app.screen
            message_list(app).focus()
            await pilot.press("s")
            picker = await wait_until(
                pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
            )
            assert picker.waiting and _offered(picker) == []
            assert picker.query_one("#picker-loading").display
            assert "loading folders…" in screen_text(app)  # what the user sees, not a spinner
            await pilot.press("enter")  # nothing to choose: the picker stays
            await pilot.pause(0.2)
            assert app.screen is picker
            await pilot.press("R", "e")  # a filter typed while waiting
            relay.release()
            await wait_until(pilot, lambda: not picker.waiting)
            assert not picker.query_one("#picker-loading").display
            assert "Receipts" in _offered(picker) and "INBOX" not in _offered(picker)
            assert "Receipts" in screen_text(app)
            await pilot.press("escape")
            await wait_until(pilot, lambda: app.screen is main)
    async with TurnRelay(sandbox.imap_port, hold=b"LIST") as relay:
        app = _relayed_app(mail_user, relay.port, data)
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: list_filled(app) and app.screen.folder_tree.built_count)
            message_list(app).focus()
            await pilot.press("C")
            picker = await wait_until(
                pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
            )
            assert not app.screen_stack[-2].account.folders  # LIST has not answered
            assert not picker.waiting and "Receipts" in _offered(picker)  # the cached list
            relay.release()
            await pilot.press("escape")
