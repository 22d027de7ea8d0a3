"""New mail in a sorted folder is placed here, not by listing the whole folder (issue 14 item 9).

Before: every resync that found new mail in a sorted folder asked the server for the whole
folder again (`UID SORT`, or `UID SEARCH ALL` where SORT is missing): 100,000 UIDs per new
message. Now the new messages are put in their place from their own RFC 5256 keys (with SORT)
or at the UID end (without: the account orders from its sort keys), and the selected state
learns the UIDs, so a flag change another client makes afterwards is still seen. The server's
own listing is the reference every order is compared with.
"""

from __future__ import annotations

import email.utils
import imaplib
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap.client import ImapClient
from app.sandbox.kinds import KindUser
from app.store.cache import HeaderCache
from app.store.sync import resync
from tests.integration.kinds import over_kinds

pytestmark = pytest.mark.integration


class CountingLists:
    """The client, counting the listings of the whole folder it is asked for."""

    def __init__(self, client: ImapClient) -> None:
        self._client = client
        self.listings = 0

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(self._client.capabilities)

    async def uid_list(self, sort: str | None = None) -> Sequence[int]:
        self.listings += 1
        return await self._client.uid_list(sort=sort)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def _msg(i: int, when: str, sender: str, subject: str, body: int = 1) -> tuple[str, bytes]:
    return when, (
        f"From: {sender} <{sender.lower()}@example.org>\r\nTo: u@example.org\r\n"
        f"Subject: {subject}\r\nDate: {when}\r\nMessage-ID: <place{i}@example.org>\r\n\r\n"
        + "x" * (40 * body)
        + "\r\n"
    ).encode()


def _append(user: KindUser, message: tuple[str, bytes]) -> None:
    """APPEND as another client, its INTERNALDATE its Date (ARRIVAL then orders as DATE)."""
    when, data = message
    conn = user.imaplib()
    try:
        stamp = email.utils.parsedate_to_datetime(when)
        typ, resp = conn.append("INBOX", None, imaplib.Time2Internaldate(stamp), data)
        assert typ == "OK", resp
    finally:
        conn.logout()


OLD = [
    _msg(0, "Mon, 02 Mar 2026 10:00:00 +0000", "Dora", "Re: minutes", 3),
    _msg(1, "Mon, 02 Mar 2026 11:00:00 +0000", "Bob", "agenda", 1),
    _msg(2, "Mon, 02 Mar 2026 12:00:00 +0000", "Fay", "budget", 7),
    _msg(3, "Mon, 02 Mar 2026 13:00:00 +0000", "Carl", "Fwd: travel", 5),
    _msg(4, "Mon, 02 Mar 2026 14:00:00 +0000", "Eve", "zoning", 9),
]
#: Newer than all, in the middle (by every key), and a tie with an old one (date, subject;
#: Dovecot breaks a REVERSE FROM tie differently from one UID SORT to the next).
NEW = [
    _msg(10, "Mon, 02 Mar 2026 18:00:00 +0000", "Ann", "aardvark", 11),
    _msg(11, "Mon, 02 Mar 2026 12:30:00 +0000", "Cleo", "canal", 6),
    _msg(12, "Mon, 02 Mar 2026 11:00:00 +0000", "Bert", "agenda", 1),
]

SORTS = [
    "REVERSE DATE",
    "DATE",
    "REVERSE ARRIVAL",
    "FROM",
    "REVERSE FROM",
    "SUBJECT",
    "REVERSE SIZE",
    "TO",
]


@pytest.fixture
async def imap(kind_user: KindUser) -> AsyncIterator[ImapClient]:
    client = await ImapClient.connect(kind_user.imap_settings(), kind_user.credentials())
    try:
        yield client
    finally:
        await client.close()


@over_kinds()
@pytest.mark.parametrize("sort", SORTS)
async def test_new_mail_is_placed_without_listing_the_whole_folder(
    server_kind: Any, kind_user: KindUser, imap: ImapClient, tmp_path_fast: Path, sort: str
) -> None:
    cache = HeaderCache.open(tmp_path_fast / "h.sqlite3")
    for data in OLD:
        _append(kind_user, data)
    counting = CountingLists(imap)
    box = kind_user.mailbox("INBOX")
    first = await resync(counting, cache, box, sort=sort)
    assert len(first.uids) == len(OLD)
    for i, data in enumerate(NEW):
        before = counting.listings
        _append(kind_user, data)
        result = await resync(counting, cache, box, sort=sort)
        assert len(result.new_uids) == 1
        # A tie (the third: its Date and Subject are an old one's; To: every message) is the
        # server's to break: servers differ there (Courier puts a new DATE tie first).
        tie = (i == 2 or sort == "TO") and "SORT" in imap.capabilities
        if not tie:
            assert counting.listings == before, f"the whole folder listed for one message ({sort})"
        # What the server answers (UID SORT, or its UID order without SORT) is the same order.
        assert list(result.uids) == list(await imap.uid_list(sort=sort)), sort
    cache.close()


@over_kinds(only=("dovecot", "minimal"))
async def test_a_place_the_cache_cannot_tell_is_the_servers(
    server_kind: Any, kind_user: KindUser, imap: ImapClient, tmp_path_fast: Path
) -> None:
    """Only the first two summaries cached (the first screen): a message at the top is
    placed from them; one landing in the middle cannot be, so the server lists it."""
    cache = HeaderCache.open(tmp_path_fast / "h.sqlite3")
    for data in OLD:
        _append(kind_user, data)
    counting = CountingLists(imap)
    box = kind_user.mailbox("INBOX")
    await resync(counting, cache, box, sort="FROM", new_limit=2)
    before = counting.listings
    _append(kind_user, NEW[0])  # Ann: before Bob, at the top
    top = await resync(counting, cache, box, sort="FROM", new_limit=2)
    assert counting.listings == before  # the far end is not cached: not needed either
    assert list(top.uids) == list(await imap.uid_list(sort="FROM"))
    before = counting.listings
    _append(kind_user, NEW[1])  # Cleo: between Carl and Dora
    result = await resync(counting, cache, box, sort="FROM")
    assert list(result.uids) == list(await imap.uid_list(sort="FROM"))
    sorts = "SORT" in imap.capabilities
    assert counting.listings == before + (1 if sorts else 0)  # without SORT: the UID end
    cache.close()


@over_kinds(only=("minimal", "courier"))
async def test_flag_changes_after_placed_mail_are_seen(
    server_kind: Any, kind_user: KindUser, kind_account: Account
) -> None:
    """Without CONDSTORE a flag change comes as `* n FETCH (FLAGS ...)` without its UID: the
    state of the resync's SELECT must map n, also when the folder was counted, not listed
    (before: the second change below, after a resync that listed nothing, was missed)."""
    account = kind_account
    for data in OLD:
        _append(kind_user, data)
    await account.load_folders()
    inbox = account.folder("INBOX")
    assert inbox is not None
    opened = await account.open_folder(inbox)
    uids = sorted(opened.uids)

    def flag(uid: int) -> None:
        other = kind_user.imaplib()
        try:
            other.select(kind_user.mailbox("INBOX"))
            other.uid("STORE", str(uid), "+FLAGS", "(\\Flagged)")
        finally:
            other.logout()

    flag(uids[0])
    await account.reload_uids()  # a resync: flags changed, nothing new
    flag(uids[1])
    await account.reload_uids()
    _append(kind_user, NEW[0])
    await account.reload_uids()  # new mail placed, not listed
    flag(uids[2])
    after = await account.reload_uids()
    assert len(after) == len(OLD) + 1
    cache, current = account.header_cache, account.current
    assert cache is not None and current is not None
    got = cache.get_summaries(current.folder.name, current.uidvalidity, uids[:3])
    assert all("\\Flagged" in got[u].flags for u in uids[:3]), {u: got[u].flags for u in got}
