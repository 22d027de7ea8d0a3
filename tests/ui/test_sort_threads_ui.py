"""The sort menu, threads and search failures, driven with the pilot against the sandbox.

Issue 20 item 10: with threads on, `o` kept threads off-screen (a flat list, then `T` needed two
presses); a folder change turned threads off. Issue 14 item 3: on a server without SORT, `o`
said "Sorted by from" and nothing changed; without THREAD, `T` refused. Issue 14 item 2: a
failed search left "Searching…" in the status bar for good.
"""

from __future__ import annotations

from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from app.sandbox.demo import load_demo
from tests.faults.servers import Outage
from tests.integration.test_sort_threads import raw_sort
from tests.ui.test_app_sandbox import list_filled, message_list, wait_until
from widgets.dialogs import FolderPicker
from widgets.sort_menu import SortMenu

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def make_app(user: Any) -> TermailApp:
    creds = user.credentials()
    account = Account(
        user.name, user.imap_settings(TlsMode.IMPLICIT), lambda: creds, addresses=[user.address]
    )
    return TermailApp([account])


def notices(app: TermailApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def open_menu(pilot: Any, app: TermailApp) -> SortMenu:
    await pilot.press("o")
    menu: SortMenu = await wait_until(
        pilot, lambda: isinstance(app.screen, SortMenu) and app.screen
    )
    return menu


async def test_sort_menu_keeps_threads_and_t_toggles_once(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("T")
        await wait_until(pilot, lambda: ml._depths is not None and max(ml._depths) >= 1)
        menu = await open_menu(pilot, app)
        assert menu.threaded
        await pilot.press("s")  # subject, A to Z
        await wait_until(pilot, lambda: any("Sorted by subject, A to Z" in n for n in notices(app)))
        assert ml._depths is not None and max(ml._depths) >= 1  # still threads
        # threads ordered by their first message's subject, A to Z
        screen: Any = app.screen
        assert screen.threaded and screen.account.sort == "subject"
        assert not screen.account.reverse
        roots = [u for u, d in zip(ml.uids, ml._depths, strict=True) if d == 0]
        place = {u: i for i, u in enumerate(await screen.account.client.sort("SUBJECT"))}
        assert len(roots) > 10 and [place[u] for u in roots] == sorted(place[u] for u in roots)
        await pilot.press("T")  # one press: threads off
        await wait_until(pilot, lambda: ml._depths is None)
        assert not screen.threaded
        # the flat list is the subject order of the server
        assert list(ml.uids) == list(await screen.account.client.sort("SUBJECT"))


async def test_threads_stay_on_when_the_folder_changes(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("T")
        await wait_until(pilot, lambda: ml._depths is not None)
        await pilot.press("c")
        picker = await wait_until(
            pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
        )
        await pilot.press(*"textual")
        await pilot.press("enter")
        assert picker is not app.screen
        screen: Any = app.screen
        await wait_until(
            pilot,
            lambda: (
                screen.account.current is not None
                and screen.account.current.folder.name == "Lists/textual"
                and ml._depths is not None
                and len(ml.uids) == 31
            ),
        )
        assert screen.threaded


async def test_sort_and_threads_on_a_server_without_sort_or_thread(
    minimal: Any,
) -> None:
    user = minimal.add_user("uimin")
    load_demo(minimal, user.name)
    app = make_app(user)
    async with app.run_test(size=(160, 45)) as pilot:
        screen: Any = app.screen
        await wait_until(pilot, lambda: list_filled(app))
        client = screen.account.client
        assert not client.has_capability("SORT") and not client.has_capability("THREAD=REFERENCES")
        ml = message_list(app)
        # drawn by UID first, then the date order made here (newest first)
        truth = await raw_sort(client, "REVERSE DATE")
        await wait_until(pilot, lambda: list(ml.uids) == truth)
        ml.focus()
        await open_menu(pilot, app)
        await pilot.press("f")  # from, A to Z
        from_order = await raw_sort(client, "FROM")
        await wait_until(pilot, lambda: list(ml.uids) == from_order)
        assert any("Sorted by from, A to Z" in n for n in notices(app))
        await pilot.press("T")
        await wait_until(pilot, lambda: ml._depths is not None and max(ml._depths) >= 3)
        assert sorted(ml.uids) == sorted(truth)


async def test_a_failed_search_says_so_and_clears_searching(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, b"Subject: one\r\nFrom: a@b.c\r\n\r\nx\r\n")
    app = make_app(mail_user)
    outage = Outage(sandbox, "dovecot")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            screen: Any = app.screen
            screen.account.client.retries = 0  # fail at once instead of after the backoff
            await outage.stop()
            screen.message_list.focus()
            await pilot.press("slash", *"one", "enter")
            status = screen.status
            await wait_until(pilot, lambda: "Search failed" in status.message, timeout=30)
            assert "Searching" not in status.message
            assert app.is_running
    finally:
        outage.restore()
