"""Warm start (issue 21): the cached list is the list the user works on until the server's
list replaces it, and the replacement keeps the user's place.

The server is held back by a gate of our own (a TCP relay that connects nobody until it is
opened), so the cached screen is there for as long as the test needs it; the server itself
is the real sandbox Dovecot."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import ServerSettings, TlsMode
from app.sandbox.relay import Relay
from app.uids import UidArray
from tests.ui.test_app_sandbox import list_filled, message_list, wait_connected, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.ui]

COUNT = 120


def gate(host: str, port: int) -> Relay:
    """A relay to (host, port) whose connections wait until `open()`."""
    return Relay(port, host, gated=True)


def _deliver(sandbox: Any, user: Any, count: int = COUNT) -> None:
    for n in range(count):
        sandbox.deliver(
            user.name,
            f"Subject: warm {n:03d}\r\nFrom: a@b.c\r\nDate: Mon, 1 Jan 2024 "
            f"{n // 60:02d}:{n % 60:02d}:00 +0000\r\n\r\nbody {n}\r\n".encode(),
        )


def _app(user: Any, data: Path, port: int | None = None) -> TermailApp:
    settings: ServerSettings = user.imap_settings(TlsMode.IMPLICIT)
    if port is not None:
        from dataclasses import replace

        settings = replace(settings, port=port)
    return TermailApp([Account(user.name, settings, user.credentials, data_dir=data)])


def _subject(app: TermailApp, row: int) -> str | None:
    ml = message_list(app)
    summary = ml.summary(ml.uids[row])
    return None if summary is None else summary.envelope.subject


def _record_rows(ml: Any) -> list[str]:
    """From now on, the text of every row the list draws (what reaches the terminal)."""
    drawn: list[str] = []
    render = ml._render_row

    def recording(row: int, width: int) -> Any:
        strip = render(row, width)
        drawn.append("".join(seg.text for seg in strip))
        return strip

    ml._render_row = recording
    return drawn


def _drawn_loading(app: TermailApp) -> list[str]:
    """The rows on screen that would be drawn "loading…" now (rendered, not from the cache)."""
    ml = message_list(app)
    ml._cache.clear()
    lines = ["".join(seg.text for seg in ml.render_line(y)) for y in range(ml.size.height)]
    return [line for line in lines if "loading…" in line]


def _folder_lists() -> list[Any]:
    """The UID lists of INBOX alive (a 100,000-message folder's is 400 KB: one, not two)."""
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, UidArray) and len(o) == COUNT]


async def _fill_cache(user: Any, data: Path) -> None:
    """A first run that sees every row (End), so the cache holds every summary."""
    app = _app(user, data)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: list_filled(app) and message_list(app).row_count == COUNT)
        await pilot.press("end")
        await wait_until(pilot, lambda: _subject(app, COUNT - 1) is not None)
        await wait_until(pilot, lambda: app.screen.folder_tree.folder("INBOX"))
        # Cold: the newest rows were shown before the server's order came; that first list
        # is gone (issue 21's RSS), not kept by the list or by the connecting worker.
        lists = _folder_lists()
        assert len(lists) == 1
        assert lists[0] is app.screen.account.current.uids


async def test_end_during_warm_start_reaches_the_oldest_and_stays(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user)
    data = tmp_path / "data"
    await _fill_cache(mail_user, data)
    host = mail_user.imap_settings(TlsMode.IMPLICIT).host
    async with gate(host, sandbox.imaps_port) as held:
        app = _app(mail_user, data, held.port)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            ml = message_list(app)
            assert app.screen.status.connection == "connecting"
            assert ml.row_count == COUNT
            # The folder tree and its counts too, before the server has answered anything.
            tree = app.screen.folder_tree
            assert tree.folder("INBOX") is not None
            assert tree.current_folder == "INBOX"
            drawn = _record_rows(ml)
            await pilot.press("end")
            await pilot.pause()
            assert ml.cursor_row == COUNT - 1
            # The oldest rows come from the cache: drawn filled, never "loading…" first.
            assert drawn, "nothing was drawn after End"
            assert not [line for line in drawn if "loading…" in line]
            assert not _drawn_loading(app)
            assert _subject(app, COUNT - 1) == "warm 000"
            oldest = ml.cursor_uid
            held.open()
            await wait_connected(pilot, app)
            await wait_until(
                pilot, lambda: app.screen.account.current and not app.screen.account.current.cached
            )
            await wait_until(pilot, lambda: app.screen.status.message == "")
            await pilot.pause(0.3)
            # The server's list replaced the cached one: the cursor is where the user put it.
            assert ml.cursor_uid == oldest
            assert ml.cursor_row == COUNT - 1
            assert _subject(app, COUNT - 1) == "warm 000"
            # The same messages: the list took the server's copy; the cache's is not kept.
            assert ml.uids is app.screen.account.current.uids
            assert app.screen._folder_uids is ml.uids


async def _open_in_tree(pilot: Any, app: TermailApp, name: str) -> None:
    """Put the tree's cursor on `name` and press Enter, as a user would."""
    tree = app.screen.folder_tree
    await wait_until(pilot, lambda: tree.node_for(name) is not None)
    tree.focus()
    await pilot.pause()
    tree.move_cursor(tree.node_for(name))
    await pilot.pause()
    assert tree.cursor_node is tree.node_for(name)
    await pilot.press("enter")


async def test_folder_opened_from_the_cached_tree_during_start_up_is_kept(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    _deliver(sandbox, mail_user, 5)
    for n in range(3):
        sandbox.deliver(
            mail_user.name, f"Subject: listed {n}\r\nFrom: l@b.c\r\n\r\nx\r\n".encode(), "Lists"
        )
    data = tmp_path / "data"
    first = _app(mail_user, data)
    async with first.run_test(size=(120, 30)) as pilot:
        await wait_connected(pilot, first)
        await wait_until(pilot, lambda: list_filled(first))
        await _open_in_tree(pilot, first, "Lists")
        await wait_until(pilot, lambda: message_list(first).row_count == 3 and list_filled(first))
    host = mail_user.imap_settings(TlsMode.IMPLICIT).host
    async with gate(host, sandbox.imaps_port) as held:
        app = _app(mail_user, data, held.port)
        async with app.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            assert message_list(app).row_count == 5  # INBOX, from the cache
            await _open_in_tree(pilot, app, "Lists")
            await wait_until(pilot, lambda: message_list(app).row_count == 3 and list_filled(app))
            assert app.screen.status.connection == "connecting"
            assert (_subject(app, 0) or "").startswith("listed")
            held.open()
            await wait_connected(pilot, app)
            await wait_until(
                pilot,
                lambda: (
                    app.screen.account.current
                    and app.screen.account.current.folder.name == "Lists"
                    and not app.screen.account.current.cached
                ),
            )
            await pilot.pause(0.3)
            # Still the folder the user chose, checked with the server; not INBOX again.
            assert app.screen.account.current.folder.name == "Lists"
            assert message_list(app).row_count == 3
            assert app.screen.status.folder == "Lists"
