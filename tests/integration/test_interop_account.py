"""Account-level tests that ran on the sandbox Dovecot only, now over every server kind.

The header cache against another client's changes (flags, expunges, new mail while termail
was closed and while it is open), undo once the Trash copy is gone, and the search of every
folder: each leans on what the server offers (QRESYNC, CONDSTORE or neither; UIDPLUS or
Message-ID; NAMESPACE prefixes), so each runs on dovecot, minimal, gmail-like, cyrus, courier.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.account import Account
from app.actions import operations as ops
from app.actions.search_all import search_all_folders
from app.imap.search import QueryError
from app.models import Flag, FolderRole
from app.sandbox.kinds import KindUser
from tests.integration.kinds import make_kind_account, over_kinds
from tests.integration.test_interop import (
    _q,
    folder_named,
    make_folder,
    message,
    opened,
    seed,
    server_uids,
)

pytestmark = pytest.mark.integration


def _store(user: KindUser, path: str, uids: list[int], flag: str) -> None:
    conn = user.imaplib()
    try:
        typ, data = conn.select(_q(user.mailbox(path)))
        assert typ == "OK", data
        typ, data = conn.uid("STORE", ",".join(map(str, uids)), "+FLAGS", f"({flag})")
        assert typ == "OK", data
        if flag == "\\Deleted":
            conn.expunge()
    finally:
        conn.logout()


@over_kinds()
async def test_resync_after_another_client_changed_the_folder(
    kind_user: KindUser, tmp_path_fast: Path
) -> None:
    """Closed: another client flags two, expunges two, adds three; opened again, the list,
    flags and cache are the server's. Open: new mail and then a flag change are both seen."""
    path = tmp_path_fast / "cache.sqlite3"
    uids = seed(kind_user, "INBOX", [message(i, f"old {i}", day=i + 1) for i in range(10)])
    account = make_kind_account(kind_user, path)
    await account.connect()
    try:
        first = await opened(account)
        assert len(await account.summaries_for(first.uids)) == 10
        inbox = first.folder
    finally:
        await account.close()

    flagged, expunged = uids[2:4], uids[5:7]
    _store(kind_user, "INBOX", flagged, "\\Flagged")
    _store(kind_user, "INBOX", expunged, "\\Deleted")
    new = seed(kind_user, "INBOX", [message(20 + i, f"new {i}", day=20 + i) for i in range(3)])
    # Newest first by Date: the three new ones (days 22, 21, 20), then the old ones left.
    truth = new[::-1] + [u for u in uids[::-1] if u not in expunged]

    account = make_kind_account(kind_user, path)
    try:
        cached = account.open_folder_cached(inbox)  # offline: no folder list yet
        assert cached is not None and sorted(cached.uids) == uids  # what was seen last
        await account.connect()
        fresh = await opened(account)
        assert not fresh.cached
        order = fresh.uids if fresh.ordered else await account.local_order()
        assert list(order) == truth
        assert {s.uid for s in fresh.updated} == set(flagged)
        assert all(Flag.FLAGGED in s.flags for s in fresh.updated)
        got = {s.uid: s for s in await account.summaries_for(new)}
        assert sorted(got[u].envelope.subject or "" for u in new) == ["new 0", "new 1", "new 2"]
        cache, current = account.header_cache, account.current
        assert cache is not None and current is not None
        stored = cache.get_summaries(current.folder.name, current.uidvalidity, flagged)
        assert len(stored) == 2 and all(Flag.FLAGGED in s.flags for s in stored.values())

        # While open (what IDLE or polling triggers): new mail, then a flag change.
        (late,) = seed(kind_user, "INBOX", [message(30, "late", day=28)])
        reloaded = await account.reload_uids()
        assert late in reloaded and account.current is not None
        _store(kind_user, "INBOX", [uids[0]], "\\Flagged")
        await account.reload_uids()
        stored = cache.get_summaries(current.folder.name, current.uidvalidity, [uids[0]])
        assert Flag.FLAGGED in stored[uids[0]].flags
    finally:
        await account.close()


@over_kinds()
async def test_reload_without_changes_skips_the_resync(
    kind_user: KindUser, kind_account: Account
) -> None:
    seed(kind_user, "INBOX", [message(i, f"m {i}", day=i + 1) for i in range(4)])
    folder = await opened(kind_account)
    state = kind_account.client.mailbox  # type: ignore[union-attr]
    assert list(await kind_account.reload_uids()) == list(folder.uids)
    assert kind_account.client.mailbox is state  # type: ignore[union-attr]  # NOOP: no SELECT
    first = sorted(folder.uids)[0]
    _store(kind_user, "INBOX", [first], "\\Flagged")
    assert sorted(await kind_account.reload_uids()) == sorted(folder.uids)
    cache, current = kind_account.header_cache, kind_account.current
    assert cache is not None and current is not None
    stored = cache.get_summaries(current.folder.name, current.uidvalidity, [first])
    assert Flag.FLAGGED in stored[first].flags  # the other client's change reached the cache


@over_kinds()
async def test_undo_after_another_client_expunged_says_it_cannot(
    kind_user: KindUser, kind_account: Account
) -> None:
    uids = seed(kind_user, "INBOX", [message(0, "a"), message(1, "b")])
    await opened(kind_account)
    said = await ops.delete(kind_account, [uids[0]])
    assert said.undoable, said
    trash = kind_account.folder_by_role(FolderRole.TRASH)
    assert trash is not None
    in_trash = trash.name.removeprefix("INBOX.")
    _store(kind_user, in_trash, server_uids(kind_user, in_trash), "\\Deleted")
    outcome = await ops.undo(kind_account)
    assert not outcome.done and outcome.warning
    assert outcome.message == f"Cannot undo the delete: the messages are no longer in {trash.name}"
    assert server_uids(kind_user, "INBOX") == [uids[1]]


@over_kinds()
async def test_all_folder_search_finds_a_message_in_a_nested_folder(
    kind_user: KindUser, kind_account: Account
) -> None:
    """`in:all`: every folder, nested ones under the server's prefix and separator too."""
    make_folder(kind_user, "Projects")
    make_folder(kind_user, "Projects/Q4")
    seed(kind_user, "Projects/Q4", [message(0, "Budget plan for Q4", sender="Olga")])
    seed(kind_user, "INBOX", [message(1, "Budget meeting"), message(2, "Lunch")])
    await opened(kind_account)
    nested = folder_named(kind_account, "Projects/Q4").name
    result = await search_all_folders(kind_account, "subject:budget")
    found = sorted((h.folder, h.summary.envelope.subject) for h in result.hits)
    assert found == sorted([("INBOX", "Budget meeting"), (nested, "Budget plan for Q4")])
    assert result.total == 2 and not result.truncated and not result.failed
    # The open folder is selected again: a search there still answers for INBOX.
    assert len(await kind_account.search("subject:lunch")) == 1
    nothing = await search_all_folders(kind_account, "subject:zzz-nowhere")
    assert nothing.hits == [] and nothing.total == 0
    with pytest.raises(QueryError):
        await search_all_folders(kind_account, "form:olga")


@over_kinds(only=("dovecot", "minimal"))
async def test_the_watcher_tells_of_another_clients_flag_change(
    kind_user: KindUser, kind_account: Account
) -> None:
    """The watcher's own connection holds no UID list: on a server without QRESYNC the
    change comes as `* n FETCH (FLAGS ...)` without a UID, and was dropped (the list showed
    the flag only after a restart). Now it is news; the refresh it triggers learns the flag
    and names the row to repaint."""
    import asyncio

    from app.imap.idle import IdleWatcher
    from app.imap.mailbox import MailboxEvent

    (uid,) = seed(kind_user, "INBOX", [message(0, "watch my flag")])
    await opened(kind_account)
    seen: asyncio.Queue[MailboxEvent] = asyncio.Queue()
    watcher = IdleWatcher(
        kind_user.imap_settings(),
        kind_user.credentials(),
        "INBOX",
        seen.put_nowait,
        poll_interval=0.2,
    )
    watcher.start()
    try:
        await asyncio.wait_for(watcher.connected.wait(), 30)
        await asyncio.to_thread(_store, kind_user, "INBOX", [uid], "\\Flagged")
        event = await asyncio.wait_for(seen.get(), 30)
        assert event.kind == "flags"
        await kind_account.reload_uids()
        assert kind_account.reloaded_flags == [uid]
        held = kind_account.summaries.get("INBOX", kind_account.current.uidvalidity, uid)  # type: ignore[union-attr]
        assert held is not None and Flag.FLAGGED in held.flags
    finally:
        await watcher.stop()
