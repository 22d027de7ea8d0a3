"""Search across every folder (`in:all ...`) against the sandbox Dovecot: nested folders too."""

from __future__ import annotations

from typing import Any

import pytest

from app.actions.search_all import search_all_folders, split_scope
from tests.integration.test_operations import account_for, other

pytestmark = pytest.mark.integration


def note(subject: str, sender: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: u@localhost\r\nSubject: {subject}\r\n"
        "Date: Mon, 30 Nov 2026 09:00:00 +0000\r\n\r\nbody\r\n"
    ).encode()


def make_nested(user: Any) -> str:
    """Create Projects/2026/Q4 over IMAP (the server's own delimiter) with one message in it."""
    conn = other(user)
    typ, data = conn.list('""', '""')
    assert typ == "OK", data
    delim = data[0].decode().split('"')[1]  # type: ignore[union-attr]
    name = delim.join(["Projects", "2026", "Q4"])
    typ, data = conn.create(name)
    assert typ == "OK", data
    typ, data = conn.append(name, "", None, note("Budget plan for Q4", "Olga <olga@example.org>"))
    assert typ == "OK", data
    typ, data = conn.append("INBOX", "", None, note("Budget meeting", "Ivan <ivan@example.org>"))
    assert typ == "OK", data
    typ, data = conn.append("INBOX", "", None, note("Lunch", "Ivan <ivan@example.org>"))
    assert typ == "OK", data
    conn.logout()
    return name


def test_split_scope_reads_the_prefix_only_at_the_start() -> None:
    assert split_scope("in:all from:olga") == (True, "from:olga")
    assert split_scope("IN:ALL") == (True, "")
    assert split_scope("from:olga in:all") == (False, "from:olga in:all")
    assert split_scope(" budget ") == (False, "budget")


async def test_all_folder_search_is_bounded_and_counts_the_rest(mail_user: Any) -> None:
    make_nested(mail_user)
    account = await account_for(mail_user)
    try:
        result = await search_all_folders(account, "", max_hits=2)
        assert len(result.hits) == 2 and result.total == 3 and result.truncated
    finally:
        await account.close()
