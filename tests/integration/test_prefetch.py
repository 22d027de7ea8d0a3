"""Prefetch of the next message's text while one is read, against the sandbox Dovecot.

What is shown: after `prefetch_message` the header and text part sit in the cache, so the next
open reads nothing from the server (the server is stopped to prove it); a message whose text part
is too big to fetch whole is left alone; and in the app, opening a message prefetches the one
below it in the list.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from app.account import INLINE_PART_BYTES, Account
from app.main import TermailApp
from app.models import Folder, FolderRole, TlsMode
from widgets.message_list import MessageList
from widgets.message_view import MessageView

pytestmark = pytest.mark.integration

INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)


def message(i: int, body: str) -> bytes:
    return (
        f"From: Sender {i} <s{i}@example.org>\r\nTo: u@localhost\r\nSubject: note {i}\r\n"
        f"Date: Sun, 29 Nov 2026 10:{i:02d}:00 +0000\r\nMessage-ID: <pf{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body}\r\n"
    ).encode()


def make_account(user: Any, cache_path: Path | None) -> Account:
    creds = user.credentials()
    return Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        addresses=[user.address],
        cache_path=cache_path,
    )


async def test_prefetched_message_opens_without_the_server(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for i in (1, 2):
        sandbox.deliver(mail_user.name, message(i, f"text of message {i}"))
    big = "x" * (INLINE_PART_BYTES + 10)
    sandbox.deliver(mail_user.name, message(3, big))
    account = make_account(mail_user, tmp_path / "cache.sqlite3")
    await account.connect()
    try:
        await account.open_folder(INBOX)
        assert await account.prefetch_message(2) is True
        assert await account.prefetch_message(3) is False  # too big to fetch whole: not guessed
        cache = account.header_cache
        current = account.current
        assert cache is not None and current is not None
        assert cache.get_body("INBOX", current.uidvalidity, 2, "1") is not None
        assert cache.get_body("INBOX", current.uidvalidity, 3, "1") is None
        sandbox.stop_dovecot()
        try:
            rendered = await asyncio.wait_for(account.load_message(2), 10)
        finally:
            sandbox.start_dovecot()
        assert "text of message 2" in rendered.body
    finally:
        await account.close()


async def test_prefetch_needs_a_cache(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, message(1, "hello"))
    account = make_account(mail_user, None)
    await account.connect()
    try:
        await account.open_folder(INBOX)
        assert account.header_cache is None
        assert await account.prefetch_message(1) is False
    finally:
        await account.close()


@pytest.mark.ui
async def test_opening_a_message_prefetches_the_next_one(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for i in range(1, 6):
        sandbox.deliver(mail_user.name, message(i, f"text of message {i}"))
    account = make_account(mail_user, tmp_path / "cache.sqlite3")
    app = TermailApp([account])
    async with app.run_test(size=(160, 45)) as pilot:
        ml = app.screen.query_one(MessageList)
        for _ in range(200):
            if ml.row_count == 5 and ml.summary(ml.uids[0]) is not None:
                break
            await pilot.pause(0.05)
        ml.focus()
        await pilot.press("g", "enter")
        viewer = app.screen.query_one(MessageView)
        for _ in range(200):
            if viewer.rendered is not None:
                break
            await pilot.pause(0.05)
        assert viewer.rendered is not None
        next_uid = ml.uids[1]
        cache = account.header_cache
        current = account.current
        assert cache is not None and current is not None
        for _ in range(200):
            if cache.get_body("INBOX", current.uidvalidity, next_uid, "1") is not None:
                break
            await pilot.pause(0.05)
        assert cache.get_body("INBOX", current.uidvalidity, next_uid, "1") is not None
        # The one after it was not guessed.
        assert cache.get_body("INBOX", current.uidvalidity, ml.uids[2], "1") is None
