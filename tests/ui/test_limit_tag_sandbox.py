"""Limit and mark by pattern (issue 15): `l`, ctrl+t, ctrl+u against the sandbox servers."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import imap, list_filled, make_app, message_list, wait_until
from widgets.dialogs import FolderPicker
from widgets.help_screen import collect_bindings
from widgets.query_bar import QueryBar, QueryInput

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def server_search(user: Any, folder: str, *criteria: str) -> set[int]:
    conn = imap(user)
    conn.select(folder, readonly=True)
    _, data = conn.uid("SEARCH", *criteria)
    conn.logout()
    return {int(u) for u in data[0].split()}


async def type_query(pilot: Any, app: Any, key: str, text: str) -> None:
    await pilot.press(key)
    await wait_until(pilot, lambda: isinstance(app.focused, QueryInput))
    for ch in text:
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")


def status_text(app: Any) -> str:
    return str(app.screen.query_one("#status").message)


async def test_limit_shows_only_matches_and_empty_limit_shows_all(
    sandbox: Any, mail_user: Any
) -> None:
    load_demo(sandbox, mail_user.name)
    expected = server_search(mail_user, "INBOX", "FROM", "chloe")
    assert expected  # the demo has mail from chloe@example.fr
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        total = ml.row_count
        assert total > len(expected)
        ml.focus()
        await pilot.pause()
        keys = {d for _, rows in collect_bindings(app.screen) for _, d in rows}
        assert {"Limit", "Mark matching", "Unmark matching"} <= keys  # the `?` help lists them
        await type_query(pilot, app, "l", "from:chloe")
        await wait_until(pilot, lambda: "Limited to" in status_text(app))
        assert set(ml.uids) == expected
        assert f"Limited to: from:chloe ({len(expected)} of {total})" in status_text(app)
        # `l` offers the limit in force again; a bad query is explained, the limit is kept.
        await pilot.press("l")
        field = await wait_until(pilot, lambda: isinstance(app.focused, QueryInput) and app.focused)
        assert field.value == "from:chloe"
        bar = app.screen.query_one(QueryBar)
        await pilot.press("ctrl+u")  # the input's own key: delete to the start
        for ch in "(from:x":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: bar.has_class("-error"))
        assert set(ml.uids) == expected
        # Emptied and Enter: the whole folder again.
        await pilot.press("ctrl+u", "enter")
        await wait_until(pilot, lambda: ml.row_count == total)
        assert "Limited" not in status_text(app)


async def test_mark_by_pattern_then_move_all_marked(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    matching = server_search(mail_user, "INBOX", "SUBJECT", "Re")
    before_receipts = len(server_search(mail_user, "Receipts", "ALL"))
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        total = ml.row_count
        assert 1 < len(matching) < total
        ml.focus()
        await type_query(pilot, app, "ctrl+t", "subject:Re")
        await wait_until(pilot, lambda: len(ml.marked) == len(matching))
        assert ml.marked == matching
        assert ml.row_count == total  # marking does not limit the list
        # Unmark by a narrower pattern, then mark again: ctrl+u takes back what ctrl+t did.
        await type_query(pilot, app, "ctrl+u", "subject:Re")
        await wait_until(pilot, lambda: not ml.marked)
        await type_query(pilot, app, "ctrl+t", "subject:Re")
        await wait_until(pilot, lambda: ml.marked == matching)
        await pilot.press("s")
        await wait_until(pilot, lambda: isinstance(app.screen, FolderPicker))
        for ch in "Receipts":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: ml.row_count == total - len(matching), timeout=40)
    assert not server_search(mail_user, "INBOX", "SUBJECT", "Re")
    assert len(server_search(mail_user, "Receipts", "ALL")) == before_receipts + len(matching)
    assert len(server_search(mail_user, "INBOX", "ALL")) == total - len(matching)


async def test_mark_within_a_limit_then_delete_all_marked(sandbox: Any, mail_user: Any) -> None:
    """As mutt: marking by pattern under a limit marks only what the limit shows; Esc on the
    mark prompt keeps the limit; `d` then deletes every marked message (to Trash)."""
    load_demo(sandbox, mail_user.name)
    limited = server_search(mail_user, "INBOX", "SUBJECT", "Re")
    both = server_search(mail_user, "INBOX", "SUBJECT", "Re", "FROM", "olivia")
    olivia = server_search(mail_user, "INBOX", "FROM", "olivia")
    assert both and olivia - both  # some of olivia's mail is outside the limit
    before_trash = len(server_search(mail_user, "Trash", "ALL"))
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await type_query(pilot, app, "l", "subject:Re")
        await wait_until(pilot, lambda: set(ml.uids) == limited)
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: isinstance(app.focused, QueryInput))
        await pilot.press("escape")  # a mark prompt given up: the limit stays
        await pilot.pause(0.2)
        assert set(ml.uids) == limited and "Limited to" in status_text(app)
        ml.focus()
        await type_query(pilot, app, "ctrl+t", "from:olivia")
        await wait_until(pilot, lambda: ml.marked == both)
        ml.focus()
        await pilot.press("d")
        await wait_until(pilot, lambda: set(ml.uids) == limited - both, timeout=40)
    assert not server_search(mail_user, "INBOX", "SUBJECT", "Re", "FROM", "olivia")
    assert server_search(mail_user, "INBOX", "FROM", "olivia") == olivia - both
    assert len(server_search(mail_user, "Trash", "ALL")) == before_trash + len(both)
