"""The header cache wired into Account (and the main screen), against the sandbox Dovecot.

imaplib plays "another client" changing the mailbox between two sessions of termail; the
server is stopped to show what a cached account can still show offline.
"""

from __future__ import annotations

import asyncio
import imaplib
import re
from pathlib import Path
from typing import Any

import pytest

from app.account import Account, OpenFolder
from app.imap.errors import ImapConnectionError, ImapError
from app.models import Flag, Folder, FolderRole, TlsMode
from app.store.cache import HeaderCache

pytestmark = pytest.mark.integration

INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)


# -- helpers ---------------------------------------------------------------------------------------


def other_client(sandbox: Any, user: Any) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(user.name, user.password)
    return conn


def message(i: int, subject: str, body: str = "") -> bytes:
    return (
        f"From: Other <other{i}@example.org>\r\nTo: u@localhost\r\nSubject: {subject}\r\n"
        f"Date: Sun, 29 Nov 2026 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <acc{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"{body or f'body of {subject}'}\r\n"
    ).encode()


def append(conn: imaplib.IMAP4_SSL, mailbox: str, data: bytes) -> int:
    typ, resp = conn.append(mailbox, None, None, data)
    assert typ == "OK", resp
    m = re.search(rb"APPENDUID \d+ (\d+)", resp[0])
    assert m is not None, resp
    return int(m.group(1))


def server_order(conn: imaplib.IMAP4_SSL, mailbox: str) -> list[int]:
    """The server's REVERSE DATE order, as the account shows the list by default."""
    conn.select(mailbox, readonly=True)
    typ, data = conn.uid("SORT", "(REVERSE DATE)", "UTF-8", "ALL")
    assert typ == "OK", data
    return [int(x) for x in (data[0] or b"").split()]


def make_account(user: Any, cache_path: Path) -> Account:
    creds = user.credentials()
    return Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        addresses=[user.address],
        cache_path=cache_path,
    )


async def opened(user: Any, cache_path: Path, folder: Folder = INBOX) -> tuple[Account, OpenFolder]:
    account = make_account(user, cache_path)
    await account.connect()
    await account.load_folders()
    return account, await account.open_folder(folder)


def text_of(rendered: Any) -> str:
    """The rendered body and subject (a RenderedMessage)."""
    return f"{rendered.subject}\n{rendered.body}"


# -- tests ---------------------------------------------------------------------------------------


async def test_cold_open_fills_the_cache_and_offline_reading_works(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    sandbox.seed_generated(mail_user.name, 30)
    conn = other_client(sandbox, mail_user)
    read_uid = append(conn, "INBOX", message(1, "read before going offline", "offline words"))
    conn.logout()
    path = tmp_path_fast / "cache.sqlite3"

    account, folder = await opened(mail_user, path)
    try:
        assert not folder.cached and len(folder.uids) == 31
        first = folder.uids[:20]
        online = {s.uid: s for s in await account.summaries_for(first)}
        assert set(online) == set(first)
        shown = await account.load_message(read_uid)
        assert "offline words" in text_of(shown)
    finally:
        await account.close()

    sandbox.stop_dovecot()
    try:
        offline = make_account(mail_user, path)
        with pytest.raises((ImapError, OSError)):
            await offline.connect()
        cached = offline.open_folder_cached(INBOX)
        assert cached is not None and cached.cached
        assert cached.uids == folder.uids
        got = {s.uid: s for s in await offline.summaries_for(first)}
        assert set(got) == set(first)
        for uid, summary in got.items():
            assert summary.envelope == online[uid].envelope
            assert summary.flags == online[uid].flags - {Flag.RECENT}
        again = await offline.load_message(read_uid)
        assert text_of(again) == text_of(shown)
        # what was never read is not there: a typed error, not a crash
        never_read = next(u for u in first if u != read_uid)
        with pytest.raises(ImapConnectionError):
            await offline.load_message(never_read)
        with pytest.raises(ImapConnectionError):
            await offline.open_folder(INBOX)
        offline.close_cache()
    finally:
        sandbox.start_dovecot()


async def test_flags_moves_and_deletes_reach_the_cache(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    sandbox.seed_generated(mail_user.name, 12)
    conn = other_client(sandbox, mail_user)
    conn.create("Archive")
    conn.logout()
    path = tmp_path_fast / "cache.sqlite3"
    account, folder = await opened(mail_user, path)
    try:
        await account.summaries_for(folder.uids)
        validity = folder.uidvalidity
        flag_uid, move_uid = folder.uids[0], folder.uids[1]
        unheld = folder.uids[-1]
        account.summaries = type(account.summaries)()  # flags of a summary only in the cache
        await account.set_flag([flag_uid, unheld], Flag.FLAGGED, True)
        await account.move([move_uid], "Archive")
        cache = account.header_cache
        assert cache is not None and validity is not None
        stored = cache.get_summaries("INBOX", validity, [flag_uid, unheld, move_uid])
        assert Flag.FLAGGED in stored[flag_uid].flags and Flag.FLAGGED in stored[unheld].flags
        assert move_uid not in stored
        state = cache.mailbox_state("INBOX")
        assert state is not None and move_uid not in state.uids and state.exists == 11
    finally:
        await account.close()

    later = make_account(mail_user, path)
    cached = later.open_folder_cached(INBOX)
    assert cached is not None and move_uid not in cached.uids
    got = {s.uid: s for s in await later.summaries_for([flag_uid])}
    assert Flag.FLAGGED in got[flag_uid].flags
    later.close_cache()


async def test_uidvalidity_change_replaces_the_cached_list(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    conn = other_client(sandbox, mail_user)
    conn.create("Box")
    for i in range(3):
        append(conn, "Box", message(i, f"old {i}"))
    conn.logout()
    box = Folder("Box", "Box", "/")
    path = tmp_path_fast / "cache.sqlite3"
    account, first = await opened(mail_user, path, box)
    try:
        await account.summaries_for(first.uids)
    finally:
        await account.close()

    conn = other_client(sandbox, mail_user)
    conn.delete("Box")
    conn.create("Box")
    for i in range(2):
        append(conn, "Box", message(i + 10, f"new {i}"))
    conn.logout()

    account = make_account(mail_user, path)
    try:
        stale = account.open_folder_cached(box)
        assert stale is not None and stale.uidvalidity == first.uidvalidity
        await account.connect()
        fresh = await account.open_folder(box)
        if fresh.uidvalidity == first.uidvalidity:
            pytest.skip("Dovecot gave the new folder the same UIDVALIDITY")
        assert len(fresh.uids) == 2
        subjects = {s.envelope.subject for s in await account.summaries_for(fresh.uids)}
        assert subjects == {"new 0", "new 1"}  # nothing of the old folder's summaries
        cache = account.header_cache
        assert cache is not None
        state = cache.mailbox_state("Box")
        assert state is not None and state.uidvalidity == fresh.uidvalidity
    finally:
        await account.close()


async def test_a_damaged_cache_file_is_rebuilt_not_fatal(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    sandbox.seed_generated(mail_user.name, 5)
    path = tmp_path_fast / "cache.sqlite3"
    path.write_bytes(b"this is not an SQLite file\x00" * 300)
    account, folder = await opened(mail_user, path)
    try:
        assert len(folder.uids) == 5
        assert len(await account.summaries_for(folder.uids)) == 5
        cache = account.header_cache
        assert cache is not None and cache.rebuilds == 1
        state = cache.mailbox_state("INBOX")
        assert state is not None and state.uids == folder.uids
    finally:
        await account.close()


async def test_a_given_cache_object_is_used_and_left_open(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    sandbox.seed_generated(mail_user.name, 4)
    cache = HeaderCache.open(tmp_path_fast / "given.sqlite3")
    creds = mail_user.credentials()
    account = Account(
        mail_user.name, mail_user.imap_settings(TlsMode.IMPLICIT), lambda: creds, cache=cache
    )
    try:
        await account.connect()
        folder = await account.open_folder(INBOX)
        assert account.header_cache is cache
        state = cache.mailbox_state("INBOX")
        assert state is not None and state.uids == folder.uids
    finally:
        await account.close()
    assert not cache.closed  # the caller owns it
    cache.close()


async def test_the_screen_shows_cached_rows_before_the_server_answers(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    from app.main import TermailApp
    from widgets.message_list import MessageList

    sandbox.seed_generated(mail_user.name, 40)
    path = tmp_path_fast / "cache.sqlite3"
    account, folder = await opened(mail_user, path)
    try:
        await account.summaries_for(folder.uids[:30])
    finally:
        await account.close()

    class Gated(Account):
        """Holds the server's answer back until the test has looked at the cached list."""

        gate: asyncio.Event

        async def open_folder(self, folder: Folder) -> OpenFolder:
            await self.gate.wait()
            return await super().open_folder(folder)

    creds = mail_user.credentials()
    gated = Gated(mail_user.name, mail_user.imap_settings(TlsMode.IMPLICIT), lambda: creds)
    gated.cache_path = path
    gated.gate = asyncio.Event()
    app = TermailApp([gated])
    async with app.run_test(size=(120, 30)) as pilot:
        ml = app.screen.query_one(MessageList)

        def filled() -> bool:
            if not ml.row_count:
                return False
            top = int(ml.scroll_offset.y)
            rows = ml.uids[top : top + ml.scrollable_content_region.height]
            return bool(rows) and all(ml.summary(u) is not None for u in rows)

        for _ in range(400):
            if filled():
                break
            await pilot.pause(0.05)
        assert filled(), "the cached rows never showed"
        assert list(ml.uids) == folder.uids and not gated.gate.is_set()
        gated.gate.set()
        for _ in range(400):
            if gated.current is not None and not gated.current.cached:
                break
            await pilot.pause(0.05)
        assert gated.current is not None and not gated.current.cached
        await pilot.pause(0.2)
        assert list(ml.uids) == folder.uids and filled()


# -- connecting early (app start) ----------------------------------------------------------------


async def test_connect_soon_is_the_attempt_connected_waits_for(
    mail_user: Any, tmp_path_fast: Path
) -> None:
    creds = mail_user.credentials()
    account = Account(
        mail_user.name,
        mail_user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        cache_path=tmp_path_fast / "c.sqlite3",
    )
    calls = 0
    connect = account.connect

    async def counted() -> None:
        nonlocal calls
        calls += 1
        await connect()

    account.connect = counted  # type: ignore[method-assign]
    assert not account.has_cache_file()
    try:
        account.connect_soon()
        account.connect_soon()  # one attempt in flight, not two
        await account.connected()
        assert calls == 1 and account.client is not None
        opened = await account.open_folder(INBOX)
        assert opened.folder.name == "INBOX" and not opened.cached
        assert account.has_cache_file()
    finally:
        await account.close()


async def test_a_failed_early_connect_is_raised_once_then_retried(
    mail_user: Any, tmp_path_fast: Path
) -> None:
    settings = mail_user.imap_settings(TlsMode.IMPLICIT)
    creds = mail_user.credentials()
    account = Account(mail_user.name, settings, lambda: creds)
    attempts = 0
    connect = account.connect

    async def flaky() -> None:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ImapConnectionError("refused", applied=False)
        await connect()

    account.connect = flaky  # type: ignore[method-assign]
    try:
        account.connect_soon()
        with pytest.raises(ImapConnectionError):
            await account.connected()
        await account.connected()  # a new attempt, as the screen's retry loop makes
        assert attempts == 2 and account.client is not None
    finally:
        await account.close()


async def test_close_cancels_an_early_connect(mail_user: Any) -> None:
    creds = mail_user.credentials()
    account = Account(mail_user.name, mail_user.imap_settings(TlsMode.IMPLICIT), lambda: creds)
    started = asyncio.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(60)

    account.connect = slow  # type: ignore[method-assign]
    account.connect_soon()
    await started.wait()
    await asyncio.wait_for(account.close(), 5)
    assert account.client is None
