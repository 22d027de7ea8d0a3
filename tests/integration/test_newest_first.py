"""A cold open draws the newest rows before the server's SORT answers (issue 21).

A fresh Dovecot took 7.9 s to SORT a 1,000,000-message INBOX; the UIDs by UID (UID SEARCH
ALL, one range with ESEARCH) need no Date read from any message. Here the sandbox Dovecot's
SORT is held back by a relay (`TurnRelay(hold=b"UID SORT")`) for as long as the test needs:
the newest rows are there meanwhile, and the server's order replaces them once it answers.
The `minimal` profile (no SORT) keeps its own path: the list by UID, ordered here after.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap.client import ImapClient
from app.models import Folder, FolderRole, TlsMode
from app.sandbox import Sandbox
from tests.integration.kinds import make_kind_account, over_kinds
from tests.integration.turns import TurnRelay

pytestmark = pytest.mark.integration

INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)
COUNT = 40


def minute(n: int) -> int:
    """Message n's date (minutes into the day): a permutation, so the date order is not the
    UID order (gcd(7, COUNT) = 1: no two alike)."""
    return (n * 7) % COUNT


def deliver(sandbox: Any, user: Any, count: int = COUNT) -> None:
    for n in range(count):
        m = minute(n)
        sandbox.deliver(
            user.name,
            f"From: a{n}@example.org\r\nTo: u@localhost\r\nSubject: newest {n:03d}\r\n"
            f"Date: Mon, 2 Nov 2026 {m // 60:02d}:{m % 60:02d}:00 +0000\r\n"
            f"Message-ID: <nf{n}@example.org>\r\n\r\nbody of {n}\r\n".encode(),
        )


def by_date_newest_first(count: int = COUNT) -> list[int]:
    """The UIDs (1..count, a fresh user's INBOX) in REVERSE DATE order, from the dates sent."""
    return [n + 1 for n in sorted(range(count), key=minute, reverse=True)]


def plain_account(user: Any, port: int, data: Path) -> Account:
    imap = user.imap_settings(TlsMode.NONE, port=port, allow_insecure=True, compress=False)
    return Account(user.name, imap, user.credentials, data_dir=data)


@contextlib.asynccontextmanager
async def sort_held(
    sandbox: Any, user: Any, data: Path
) -> AsyncIterator[tuple[TurnRelay, Account]]:
    """A relay holding every `UID SORT` until `relay.release()`, and an account through it;
    at the end the SORT is let go (a failing test must not leave it waiting) and the account
    closed."""
    async with TurnRelay(sandbox.imap_port, one_way=0, hold=b"UID SORT") as relay:
        account = plain_account(user, relay.port, data)
        try:
            yield relay, account
        finally:
            relay.release()
            await account.close()


async def test_newest_rows_first_then_the_servers_sort(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    deliver(sandbox, mail_user)
    oracle = await ImapClient.connect(
        mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials()
    )
    try:
        await oracle.select("INBOX")
        sorted_by_server = list(await oracle.sort("REVERSE DATE"))
    finally:
        await oracle.close()
    assert sorted_by_server == by_date_newest_first()
    async with sort_held(sandbox, mail_user, tmp_path / "data") as (relay, account):
        account.first_fetch = 10  # the resync then fetches 10; the preview 10 + the far end
        await account.connect()
        newest = await account.open_folder_newest(INBOX)
        assert newest is not None and newest.provisional
        assert list(newest.uids) == list(range(COUNT, 0, -1))  # by UID, newest first
        assert not relay.holding.is_set()  # drawn with no SORT asked
        rows = account.held_summaries(newest.uids[:10])
        assert [r.envelope.subject for r in rows] == [f"newest {n:03d}" for n in range(39, 29, -1)]
        opening = asyncio.ensure_future(account.open_folder(INBOX))
        await asyncio.wait_for(relay.holding.wait(), 10)
        await asyncio.sleep(0.1)
        assert not opening.done()  # the server's order waits on its SORT
        relay.release()
        opened = await asyncio.wait_for(opening, 10)
        assert list(opened.uids) == sorted_by_server
        assert not opened.provisional and opened.uidvalidity == newest.uidvalidity
        # The preview's rows (both ends) are in the header cache too, for the next start.
        cache = account.header_cache
        assert cache is not None and opened.uidvalidity is not None
        assert set(cache.get_summaries("INBOX", opened.uidvalidity, opened.uids)) == set(
            range(1, COUNT + 1)
        )
        # Cached in the server's order: the next start is warm and needs no preview.
        assert await account.open_folder_newest(INBOX) is None


async def test_without_sort_the_list_by_uid_then_ordered_here(
    minimal: Sandbox, tmp_path: Path
) -> None:
    user = minimal.add_user("newest1")
    deliver(minimal, user)
    account = plain_account(user, minimal.imap_port, tmp_path / "data")
    try:
        await account.connect()
        assert not account.server_has("SORT")
        assert await account.open_folder_newest(INBOX) is None  # by UID is what it lists
        opened = await account.open_folder(INBOX)
        assert list(opened.uids) == list(range(COUNT, 0, -1)) and not opened.ordered
        assert list(await account.local_order() or []) == by_date_newest_first()
        assert account.current is not None and account.current.ordered
    finally:
        await account.close()


async def test_an_empty_inbox_opens_without_a_preview(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    account = plain_account(mail_user, sandbox.imap_port, tmp_path / "data")
    try:
        await account.connect()
        assert await account.open_folder_newest(INBOX) is None
        opened = await account.open_folder(INBOX)
        assert list(opened.uids) == [] and not opened.provisional
    finally:
        await account.close()


async def _held_open(account: Account, relay: TurnRelay) -> tuple[Any, asyncio.Future[Any]]:
    """Connected, the newest rows drawn, `open_folder` started and its SORT held."""
    await account.connect()
    newest = await account.open_folder_newest(INBOX)
    assert newest is not None and newest.provisional
    opening = asyncio.ensure_future(account.open_folder(INBOX))
    await asyncio.wait_for(relay.holding.wait(), 10)
    return newest, opening


async def test_a_big_folders_sort_runs_apart_and_enter_is_answered_meanwhile(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From `SORT_APART_FROM` messages the SORT is asked on a second connection: a message
    opened while a fresh server sorts (28-57 s at 1,000,000) shows at once, not after it."""
    monkeypatch.setattr("app.account.SORT_APART_FROM", 0)
    deliver(sandbox, mail_user)
    async with sort_held(sandbox, mail_user, tmp_path / "data") as (relay, account):
        newest, opening = await _held_open(account, relay)
        shown = await asyncio.wait_for(account.load_message(newest.uids[5]), 10)
        assert f"body of {COUNT - 6}" in str(getattr(shown, "text", shown))
        rows = await asyncio.wait_for(account.summaries_for(list(newest.uids[:30])), 10)
        assert len(rows) == 30
        assert not opening.done()
        relay.release()
        opened = await asyncio.wait_for(opening, 10)
        assert list(opened.uids) == by_date_newest_first()
        assert not opened.provisional
        # The account's own connection never sorted, nor selected the folder again.
        assert relay.first.turn_of(b"UID SORT") is None, relay.first.flights
        assert len([c for t in relay.first.flights for c in t if b"SELECT" in c]) <= 1
        cache = account.header_cache
        assert cache is not None
        state = cache.mailbox_state("INBOX")
        assert state is not None and list(state.uids) == by_date_newest_first()


async def test_mail_arriving_while_sorting_apart_is_in_the_list(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The other connection's order is of its moment: a message delivered after it was asked
    makes it stale, and the folder is listed again on the account's connection."""
    monkeypatch.setattr("app.account.SORT_APART_FROM", 0)
    deliver(sandbox, mail_user)
    async with sort_held(sandbox, mail_user, tmp_path / "data") as (relay, account):
        _newest, opening = await _held_open(account, relay)
        sandbox.deliver(
            mail_user.name,
            b"From: late@example.org\r\nSubject: late\r\n"
            b"Date: Tue, 3 Nov 2026 00:00:00 +0000\r\nMessage-ID: <late@x>\r\n\r\nlate\r\n",
        )
        relay.release()
        opened = await asyncio.wait_for(opening, 10)
        assert list(opened.uids) == [COUNT + 1, *by_date_newest_first()]


async def test_without_a_second_connection_the_sort_is_asked_on_the_first(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("app.account.SORT_APART_FROM", 0)
    deliver(sandbox, mail_user)
    account = plain_account(mail_user, sandbox.imap_port, tmp_path / "data")
    try:
        await account.connect()
        assert await account.open_folder_newest(INBOX) is not None

        async def refused(*_a: Any, **_k: Any) -> ImapClient:
            raise ConnectionRefusedError("too many connections")

        monkeypatch.setattr(ImapClient, "connect", refused)
        opened = await account.open_folder(INBOX)
        assert list(opened.uids) == by_date_newest_first() and not opened.provisional
    finally:
        await account.close()


@over_kinds()
async def test_the_sort_apart_gives_the_servers_order_on_every_kind(
    server_kind: Any, kind_user: Any, tmp_path_fast: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second connection's order (where the kind sorts) is the one its own SORT gives,
    with the kind's namespace (cyrus, courier: INBOX. prefix); a kind without SORT lists by
    UID as before, with no second connection."""
    monkeypatch.setattr("app.account.SORT_APART_FROM", 0)
    client = await ImapClient.connect(kind_user.imap_settings(), kind_user.credentials())
    try:
        for n in range(6):
            m = minute(n)
            await client.append(
                "INBOX",
                f"From: k{n}@example.org\r\nSubject: kind {n}\r\nDate: Mon, 2 Nov 2026 "
                f"{m // 60:02d}:{m % 60:02d}:00 +0000\r\nMessage-ID: <ka{n}@example.org>\r\n\r\n"
                f"k {n}\r\n".encode(),
            )
        await client.select("INBOX")
        sorts = client.has_capability("SORT")
        expected = list(await client.uid_list("REVERSE DATE"))
    finally:
        await client.close()
    adopted: list[bool] = []
    adopt = ImapClient.adopt_order

    def watched(self: ImapClient, *args: Any) -> bool:
        adopted.append(adopt(self, *args))
        return adopted[-1]

    monkeypatch.setattr(ImapClient, "adopt_order", watched)
    account = make_kind_account(kind_user, tmp_path_fast / "cache.sqlite")
    try:
        await account.connect()
        newest = await account.open_folder_newest(INBOX)
        assert (newest is not None) == sorts
        opened = await account.open_folder(INBOX)
        assert adopted == ([True] if sorts else [])  # taken from the second connection
        if sorts:
            assert list(opened.uids) == expected
        else:
            assert sorted(opened.uids) == sorted(expected)
        assert not opened.provisional
    finally:
        await account.close()


async def test_a_sort_longer_than_the_timeout_is_waited_for_not_dropped(
    sandbox: Any, mail_user: Any
) -> None:
    """A server sorting a big folder sends nothing until done (28-57 s at 1,000,000, more under
    load): the usual inactivity timeout dropped the connection mid-SORT, and each retry again
    (seen in tmux at load 13). The SORT waits `SORT_TIMEOUT` instead; the connection stays."""
    deliver(sandbox, mail_user)
    async with TurnRelay(sandbox.imap_port, one_way=0, hold=b"UID SORT") as relay:
        settings = mail_user.imap_settings(
            TlsMode.NONE, port=relay.port, allow_insecure=True, compress=False, timeout=0.3
        )
        client = await ImapClient.connect(settings, mail_user.credentials(), retries=0)
        try:
            await client.select("INBOX")
            sorting = asyncio.ensure_future(client.sort("REVERSE DATE"))
            await asyncio.wait_for(relay.holding.wait(), 10)
            await asyncio.sleep(0.6)  # twice the timeout of silence
            assert not sorting.done()
            relay.release()
            order = await asyncio.wait_for(sorting, 10)
            assert list(order) == by_date_newest_first()
            assert client.reconnects == 0
        finally:
            relay.release()
            await client.close()
