"""`/in:all ...` lists every folder's matches with their folder; Enter opens one in its folder."""

from __future__ import annotations

from typing import Any

import pytest
from rich.text import Text
from textual.widgets import DataTable

from app.screens.main import MainScreen
from app.screens.search_results import SearchResultsScreen
from tests.integration.test_search_all import make_nested
from tests.ui.test_app_sandbox import list_filled, make_app, message_list, wait_until
from widgets.message_view import MessageView
from widgets.query_bar import QueryBar

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def column(table: DataTable[Any], index: int) -> list[str]:
    return [str(table.get_row_at(r)[index]) for r in range(table.row_count)]


async def test_search_all_shows_the_folder_and_enter_opens_the_message(mail_user: Any) -> None:
    nested = make_nested(mail_user)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        message_list(app).focus()
        await pilot.press("slash")
        await pilot.press(*"in:all subject:budget")
        await pilot.press("enter")
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SearchResultsScreen) and app.screen
        )
        table: DataTable[Text] = screen.query_one(DataTable)
        await wait_until(pilot, lambda: screen.result is not None)
        assert sorted(column(table, 0)) == sorted(["INBOX", nested])
        assert all(isinstance(cell, Text) for cell in table.get_row_at(0))
        row = column(table, 0).index(nested)
        assert column(table, 3)[row] == "Budget plan for Q4"
        assert column(table, 2)[row] == "Olga"
        table.move_cursor(row=row)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))
        viewer = app.screen.query_one(MessageView)
        await wait_until(
            pilot,
            lambda: viewer.rendered is not None and viewer.rendered.subject == "Budget plan for Q4",
        )
        current = app.screen.account.current  # type: ignore[attr-defined]
        assert current is not None and current.folder.name == nested


async def test_search_all_bad_query_keeps_the_bar_and_esc_goes_back(mail_user: Any) -> None:
    make_nested(mail_user)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        message_list(app).focus()
        await pilot.press("slash", *"in:all form:olga", "enter")
        bar = app.screen.query_one(QueryBar)
        await wait_until(pilot, lambda: bar.has_class("-error"))
        assert isinstance(app.screen, MainScreen)
        error = str(bar.query_one("#query-error").render())
        assert "in:all form:olga\n" + " " * len("in:all ") + "^ unknown field" in error
        await pilot.press("escape")
        await pilot.press("slash", *"in:all zzznowhere", "enter")
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SearchResultsScreen) and app.screen
        )
        await wait_until(pilot, lambda: screen.result is not None)
        assert screen.query_one(DataTable).row_count == 0
        assert "No message matches" in str(screen.query_one("#results-note").render())
        await pilot.press("escape")
        await wait_until(pilot, lambda: isinstance(app.screen, MainScreen))


async def test_search_all_accounts_names_the_account_and_opens_there(
    sandbox: Any, mail_user: Any
) -> None:
    from app.account import Account
    from app.main import TermailApp
    from app.models import TlsMode

    make_nested(mail_user)
    second = sandbox.add_user(mail_user.name + "b")
    nested = make_nested(second)
    accounts = []
    for user in (mail_user, second):
        creds = user.credentials()
        accounts.append(
            Account(
                user.name,
                user.imap_settings(TlsMode.IMPLICIT),
                lambda c=creds: c,
                addresses=[user.address],
            )
        )
    app = TermailApp(accounts)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        message_list(app).focus()
        await pilot.press("slash", *"in:all-accounts subject:budget", "enter")
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, SearchResultsScreen) and app.screen
        )
        await wait_until(pilot, lambda: screen.result is not None)
        table: DataTable[Text] = screen.query_one(DataTable)
        where = column(table, 0)
        assert sorted(where) == sorted(
            f"{u.name}: {f}" for u in (mail_user, second) for f in ("INBOX", nested)
        )
        note = str(screen.query_one("#results-note").render())
        assert "4 matches in" in note and "of 2 accounts" in note
        assert "Search all accounts" in str(screen.query_one("#results-title").render())
        row = where.index(f"{second.name}: {nested}")
        table.move_cursor(row=row)
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: isinstance(app.screen, MainScreen) and app.screen.account is accounts[1],
        )
        viewer = app.screen.query_one(MessageView)
        await wait_until(
            pilot,
            lambda: viewer.rendered is not None and viewer.rendered.subject == "Budget plan for Q4",
        )
        current = accounts[1].current
        assert current is not None and current.folder.name == nested
