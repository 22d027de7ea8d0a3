"""Counts true without opening folders (issue 14 item 9), on the sandbox Dovecot.

Before: after a move, delete, send or postpone the tree kept the destination's old count until
that folder was opened, and mail delivered to a folder other than the open one was never
noticed. Now our own commands name the folders they changed (`ImapClient.on_changed`), which
`app.actions.counts.FolderCounts` asks STATUS of at once, and the subscribed folders are asked on a
timer (one pipelined round trip); new mail there is reported as such.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.actions.counts import CountsUpdate, FolderCounts
from app.imap.client import ImapClient
from app.main import TermailApp
from app.models import TlsMode
from app.sandbox.kinds import KindUser
from app.screens.main import MainScreen
from tests.faults.servers import KeyProbe, wait_for
from tests.integration.kinds import over_kinds
from widgets.folder_tree import FolderTree
from widgets.message_list import MessageList

pytestmark = pytest.mark.integration


def _msg(i: int) -> bytes:
    return (
        f"From: Ann <ann@example.org>\r\nTo: u@example.org\r\nSubject: counts {i}\r\n"
        f"Date: Mon, 02 Mar 2026 10:{i:02d}:00 +0000\r\nMessage-ID: <counts{i}@example.org>\r\n"
        f"\r\nBody {i}.\r\n"
    ).encode()


async def _prepare(sandbox: Any, user: Any, n: int = 3) -> None:
    client = await ImapClient.connect(user.imap_settings(TlsMode.IMPLICIT), user.credentials())
    try:
        for name in ("Archive", "Lists"):
            await client.create_folder(name)
            await client.subscribe(name)
    finally:
        await client.close()
    for i in range(1, n + 1):
        sandbox.deliver(user.name, _msg(i))


def _account(user: Any, tmp_path: Path) -> Account:
    return Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT, timeout=4.0),
        user.credentials,
        addresses=[user.address],
        data_dir=tmp_path,
    )


async def _run_counts(
    account: Account, interval: float, *, use_notify: bool = False
) -> tuple[FolderCounts, asyncio.Task[None], list[CountsUpdate]]:
    updates: list[CountsUpdate] = []
    counts = FolderCounts(
        account, interval=interval, use_notify=use_notify, notify_interval=interval
    )
    task = asyncio.create_task(counts.run(updates.append))
    return counts, task, updates


async def test_own_move_and_append_update_the_counts_of_folders_not_open(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    await _prepare(sandbox, mail_user)
    account = _account(mail_user, tmp_path)
    await account.connect()
    try:
        await account.load_folders()
        assert account.statuses["Archive"].messages == 0
        inbox = account.folder("INBOX")
        assert inbox is not None
        opened = await account.open_folder(inbox)
        _, task, updates = await _run_counts(account, interval=3600)  # no timer: ours only
        try:
            await account.move([opened.uids[0]], "Archive")
            await wait_for(
                lambda: account.statuses["Archive"].messages == 1, what="Archive counted"
            )
            await account.append("Lists", _msg(9), flags=["\\Seen"])  # a sent copy, a draft
            await wait_for(lambda: account.statuses["Lists"].messages == 1, what="Lists counted")
        finally:
            task.cancel()
        assert account.statuses["INBOX"].messages == 2
        by_folder = {u.folder: u for u in updates}
        assert by_folder["Archive"].status.messages == 1
        assert all(u.new_mail == 0 for u in updates)  # our own doing is not "new mail"
    finally:
        await account.close()


async def test_new_mail_in_another_folder_is_noticed_on_the_timer(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    await _prepare(sandbox, mail_user)
    account = _account(mail_user, tmp_path)
    await account.connect()
    try:
        await account.load_folders()
        inbox = account.folder("INBOX")
        assert inbox is not None
        await account.open_folder(inbox)
        _, task, updates = await _run_counts(account, interval=0.3)
        try:
            sandbox.deliver(mail_user.name, _msg(5), mailbox="Lists")
            sandbox.deliver(mail_user.name, _msg(6), mailbox="Lists")
            await wait_for(
                lambda: any(u.folder == "Lists" and u.new_mail for u in updates),
                what="new mail in Lists noticed",
            )
        finally:
            task.cancel()
        news = [u for u in updates if u.folder == "Lists" and u.new_mail]
        assert news[0].new_mail == 2 and news[0].status.messages == 2
        assert news[0].status.unseen == 2
    finally:
        await account.close()


async def test_new_mail_in_another_folder_is_noticed_through_notify(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Dovecot offers NOTIFY: with no timer at all, a message filed in Lists is reported."""
    await _prepare(sandbox, mail_user)
    account = _account(mail_user, tmp_path)
    await account.connect()
    try:
        await account.load_folders()
        counts, task, updates = await _run_counts(account, interval=3600, use_notify=True)
        try:
            await wait_for(lambda: counts.notify is not None and counts.notify.active)
            # Another client files a message (Dovecot notifies changes made through it; a file
            # dropped into the Maildir behind its back is seen at the next look only).
            other = await ImapClient.connect(
                mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials()
            )
            try:
                await other.append("Lists", _msg(7))
            finally:
                await other.close()
            await wait_for(
                lambda: any(u.folder == "Lists" and u.new_mail for u in updates),
                what="new mail in Lists through NOTIFY",
            )
            assert counts.notify is not None and counts.notify.pushes >= 1
            # Our own move into Archive is pushed too, and is not news.
            inbox = account.folder("INBOX")
            assert inbox is not None
            opened = await account.open_folder(inbox)
            await account.move([opened.uids[0]], "Archive")
            await wait_for(lambda: account.statuses["Archive"].messages == 1, what="Archive")
            await asyncio.sleep(1.0)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert counts.notify is not None and not counts.notify.active  # stopped with the run
        assert [u.new_mail for u in updates if u.folder == "Lists"] == [1]
        assert all(u.new_mail == 0 for u in updates if u.folder != "Lists")
    finally:
        await account.close()


def test_the_timer_round_is_bounded() -> None:
    from app.models import Folder

    class Fake:
        folders = [
            Folder(name=f"F{i}", raw_name=f"F{i}", delimiter="/", subscribed=True)
            for i in range(120)
        ]

    counts = FolderCounts(Fake(), batch=50)
    rounds = [[f.name for f in counts._polled()] for _ in range(3)]
    assert [len(r) for r in rounds] == [50, 50, 50]
    assert rounds[1][0] == "F50" and rounds[2][0] == "F100" and rounds[2][-1] == "F29"


@pytest.mark.ui
async def test_the_tree_shows_the_destination_count_after_a_move(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    await _prepare(sandbox, mail_user)
    app = TermailApp([_account(mail_user, tmp_path)])
    async with app.run_test(size=(120, 35)) as pilot:
        probe = KeyProbe(pilot)

        def ready() -> bool:
            screen = app.screen
            return (
                isinstance(screen, MainScreen)
                and screen.query_one(MessageList).row_count == 3
                and screen.query_one(FolderTree).folder("Archive") is not None
            )

        await probe.until(ready, timeout=30, what="INBOX and the tree")
        screen = app.screen
        assert isinstance(screen, MainScreen)
        tree = screen.query_one(FolderTree)
        assert tree._counts["Archive"].messages == 0
        screen.query_one(MessageList).focus()
        await pilot.press("s")
        for ch in "Archive":
            await pilot.press(ch)
        await pilot.press("enter")
        await probe.until(
            lambda: tree._counts["Archive"].messages == 1, timeout=10, what="Archive's new count"
        )
        assert isinstance(app.screen, MainScreen)


class _Plain:
    """The client with CONDSTORE and QRESYNC hidden (a server offering neither, as the
    "minimal" kind), recording how many UIDs each flags fetch asked for."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.flag_fetches: list[int] = []

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(
            c for c in self._client.capabilities if c.upper() not in {"CONDSTORE", "QRESYNC"}
        )

    async def fetch_flags(self, uids: Any, changedsince: Any = None) -> Any:
        self.flag_fetches.append(len(uids))
        return await self._client.fetch_flags(uids, changedsince)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


@pytest.mark.parametrize("also_expunged", [False, True])
async def test_without_condstore_new_mail_checks_only_the_newest_flags(
    sandbox: Any, mail_user: Any, tmp_path: Path, also_expunged: bool
) -> None:
    from app.store.cache import HeaderCache
    from app.store.sync import resync

    sandbox.seed_generated(mail_user.name, 1500)
    cache = HeaderCache.open(tmp_path / "c.sqlite3")
    client = await ImapClient.connect(
        mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials()
    )
    other = await ImapClient.connect(
        mail_user.imap_settings(TlsMode.IMPLICIT), mail_user.credentials()
    )
    try:
        plain = _Plain(client)
        first = await resync(plain, cache, "INBOX", lazy_flags=100)
        assert first.full_reload and len(first.uids) == 1500
        await other.select("INBOX")
        if also_expunged:
            await other.store_flags([first.uids[5]], ["\\Deleted"])
            await other.expunge([first.uids[5]])
        new = await other.append("INBOX", _msg(1))
        plain.flag_fetches.clear()
        result = await resync(plain, cache, "INBOX", lazy_flags=100)
        assert result.new_uids == [new]
        if also_expunged:
            # The count does not add up: every cached flag is checked, and the gone one found.
            assert result.method == "plain" and result.vanished == [first.uids[5]]
            assert sum(plain.flag_fetches) == 1500
        else:
            assert result.method == "plain-lazy" and result.vanished == []
            assert sum(plain.flag_fetches) == 100  # not 1,500
        assert len(result.uids) == 1501 - also_expunged
    finally:
        await other.close()
        await client.close()
        cache.close()


@over_kinds(only=("dovecot", "minimal", "gmail-like"))
async def test_counts_on_each_server_kind(
    server_kind: Any, kind_user: KindUser, kind_account: Account
) -> None:
    """Our own move counts at once; another client's mail in another folder is noticed:
    through NOTIFY on Dovecot, by the timer on the kinds without it (minimal has no IDLE,
    MOVE, CONDSTORE; gmail-like no NOTIFY)."""
    account = kind_account
    client = account.client
    for name in ("Archive2", "Lists2"):
        await client.create_folder(name)
        await client.subscribe(name)
    await account.append("INBOX", _msg(1))
    await account.append("INBOX", _msg(2))
    await account.load_folders()
    inbox = account.folder("INBOX")
    assert inbox is not None
    opened = await account.open_folder(inbox)
    account.take_changed_folders()
    account.counts_changed.clear()
    updates: list[CountsUpdate] = []
    counts = FolderCounts(account, interval=0.5, notify_interval=3600)
    task = asyncio.create_task(counts.run(updates.append))
    try:
        await account.move([opened.uids[0]], "Archive2")
        await wait_for(lambda: account.statuses["Archive2"].messages == 1, what="own move")
        other = await ImapClient.connect(kind_user.imap_settings(), kind_user.credentials())
        try:
            await other.append("Lists2", _msg(3))
        finally:
            await other.close()
        await wait_for(
            lambda: any(u.folder == "Lists2" and u.new_mail == 1 for u in updates),
            what="new mail in Lists2",
        )
        uses_notify = counts.notify is not None and counts.notify.active
        assert uses_notify == ("NOTIFY" in client.capabilities and "IDLE" in client.capabilities)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert all(u.new_mail == 0 for u in updates if u.folder != "Lists2")


@over_kinds(only=("minimal",))
async def test_refresh_without_condstore_checks_newest_flags_only_for_news(
    server_kind: Any, kind_user: KindUser, kind_account: Account, monkeypatch: Any
) -> None:
    """The minimal kind has no CONDSTORE: after new mail only the newest cached flags are
    asked for; after another client's flag change on an old message, all of them (so the
    change is not missed)."""
    import app.account

    monkeypatch.setattr(app.account, "LAZY_FLAGS", 20)
    account = kind_account
    client = account.client
    assert "CONDSTORE" not in client.capabilities
    for i in range(60):
        kind_user.append("INBOX", _msg(i))
    await account.load_folders()
    inbox = account.folder("INBOX")
    assert inbox is not None
    opened = await account.open_folder(inbox)
    assert len(opened.uids) == 60
    asked: list[int] = []
    fetch_flags = client.fetch_flags

    async def counting(uids: Any, changedsince: Any = None) -> Any:
        asked.append(len(uids))
        return await fetch_flags(uids, changedsince)

    monkeypatch.setattr(client, "fetch_flags", counting)
    kind_user.append("INBOX", _msg(61))
    uids = await account.reload_uids()
    assert len(uids) == 61
    assert sum(asked) == 20  # not 60
    asked.clear()
    oldest = min(uids)
    other = kind_user.imaplib()
    try:
        other.select(kind_user.mailbox("INBOX"))
        other.uid("STORE", str(oldest), "+FLAGS", "(\\Flagged)")
    finally:
        other.logout()
    await account.reload_uids()
    assert sum(asked) >= 60  # a flag change: every cached flag checked
    cache = account.header_cache
    current = account.current
    assert cache is not None and current is not None
    cached = cache.get_summaries("INBOX", current.uidvalidity, [oldest])
    assert "\\Flagged" in cached[oldest].flags  # the cache learnt the other client's flag
