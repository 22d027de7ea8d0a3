"""Resync of the header cache against the sandbox Dovecot, with imaplib as "another client"."""

from __future__ import annotations

import imaplib
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from app.imap.parser import format_sequence_set
from app.models import Flag, TlsMode
from app.store.cache import HeaderCache
from app.store.sync import resync, warm_start

pytestmark = pytest.mark.integration


# -- helpers ---------------------------------------------------------------------------------------


def other_client(sandbox: Any, user: Any) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(
        sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
    )
    conn.login(user.name, user.password)
    return conn


def message(i: int, subject: str | None = None) -> bytes:
    return (
        f"From: Other <other{i}@example.org>\r\nTo: u@localhost\r\n"
        f"Subject: {subject or f'appended {i}'}\r\nDate: Sat, 28 Nov 2026 10:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <app{i}@example.org>\r\n\r\nbody {i}\r\n"
    ).encode()


def append(conn: imaplib.IMAP4_SSL, mailbox: str, data: bytes, flags: str = "") -> int:
    """APPEND and return the new UID (UIDPLUS APPENDUID)."""
    typ, resp = conn.append(mailbox, flags or None, None, data)
    assert typ == "OK", resp
    m = re.search(rb"APPENDUID \d+ (\d+)", resp[0])
    assert m is not None, resp
    return int(m.group(1))


class Masked:
    """The client with some capabilities hidden, to drive the CONDSTORE and plain ways."""

    def __init__(self, client: Any, hide: set[str]) -> None:
        self._client = client
        self._hide = hide

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(c for c in self._client.capabilities if c.upper() not in self._hide)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


async def connect(user: Any) -> Any:
    from app.imap.client import ImapClient

    return await ImapClient.connect(user.imap_settings(tls=TlsMode.IMPLICIT), user.credentials())


@pytest.fixture
async def client(mail_user: Any) -> AsyncIterator[Any]:
    c = await connect(mail_user)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
def cache(tmp_path_fast: Path) -> Any:
    c = HeaderCache.open(tmp_path_fast / "acct.sqlite3")
    yield c
    c.close()


async def server_truth(client: Any, mailbox: str) -> dict[int, frozenset[str]]:
    """UID -> flags as the server has them now (a fresh, independent look)."""
    await client.select(mailbox, readonly=True)
    uids = await client.uid_list()
    return (
        {uid: frozenset(f) for uid, f in (await client.fetch_flags(uids)).items()} if uids else {}
    )


# -- tests ---------------------------------------------------------------------------------------


async def test_first_sync_fills_the_cache(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 60)
    result = await resync(client, cache, "INBOX", new_limit=40)
    assert result.full_reload and result.method == "full"
    assert result.uids == sorted(result.uids) and len(result.uids) == 60
    state = cache.mailbox_state("INBOX")
    assert state is not None
    assert state.uids == result.uids
    assert state.uidvalidity == result.uidvalidity and state.highestmodseq is not None
    # the newest 40 were fetched, the oldest 20 are left for when they are shown
    assert cache.cached_uids("INBOX", state.uidvalidity) == set(result.uids[-40:])
    got = cache.get_summaries("INBOX", state.uidvalidity, result.uids[-40:])
    server = {s.uid: s for s in await client.fetch_summaries(result.uids[-40:])}
    for s in server.values():
        s.flags = s.flags - {Flag.RECENT}  # one session's flag: never cached
    assert got == server


async def test_warm_start_reads_headers_and_bodies_without_the_server(
    sandbox: Any, mail_user: Any, tmp_path_fast: Path
) -> None:
    sandbox.seed_generated(mail_user.name, 30)
    path = tmp_path_fast / "warm.sqlite3"
    cache = HeaderCache.open(path)
    client = await connect(mail_user)
    try:
        result = await resync(client, cache, "INBOX")
        first = result.uids[-10:]  # no sort: the newest are the first screen
        bodies = {}
        for uid in first[:3]:
            bodies[uid] = await client.fetch_part(uid, "1")
            cache.put_body("INBOX", result.uidvalidity, uid, "1", bodies[uid])
        expected = cache.get_summaries("INBOX", result.uidvalidity, first)
    finally:
        await client.close()
        cache.close()
    assert all(bodies.values())

    sandbox.stop_dovecot()
    try:
        from app.imap.errors import ImapError

        with pytest.raises((ImapError, OSError)):
            await connect(mail_user)
        cache = HeaderCache.open(path)
        try:
            warm = warm_start(cache, "INBOX", first=10)
            assert warm is not None
            assert warm.state.uids == result.uids
            assert warm.summaries == expected
            assert all(s.envelope.subject for s in warm.summaries.values())
            for uid, data in bodies.items():
                assert cache.get_body("INBOX", warm.state.uidvalidity, uid, "1") == data
        finally:
            cache.close()
    finally:
        sandbox.start_dovecot()


@pytest.mark.parametrize(
    "hide, method",
    [(set(), "qresync"), ({"QRESYNC"}, "condstore"), ({"QRESYNC", "CONDSTORE"}, "plain")],
)
async def test_resync_after_another_client_changed_the_folder(
    sandbox: Any, mail_user: Any, client: Any, cache: Any, hide: set[str], method: str
) -> None:
    sandbox.seed_generated(mail_user.name, 50)
    first = await resync(Masked(client, hide), cache, "INBOX")
    uids = first.uids
    validity = first.uidvalidity

    other = other_client(sandbox, mail_user)
    try:
        other.select("INBOX")
        # the seeded newest 50 are all unseen: mark some flagged, some read
        flagged, read = uids[3:8], uids[10:13]
        other.uid("STORE", format_sequence_set(flagged), "+FLAGS", "(\\Flagged)")
        other.uid("STORE", format_sequence_set(read), "+FLAGS", "(\\Seen)")
        gone = [uids[0], uids[20], uids[21], uids[-1]]
        other.uid("STORE", format_sequence_set(gone), "+FLAGS", "(\\Deleted)")
        other.expunge()
        added = [append(other, "INBOX", message(i), "(\\Seen)" if i % 2 else "") for i in range(5)]
    finally:
        other.logout()

    result = await resync(Masked(client, hide), cache, "INBOX")
    assert result.method == method
    assert not result.full_reload
    assert result.vanished == sorted(gone)
    assert result.new_uids == sorted(added)
    assert set(result.flag_changes) == set(flagged) | set(read)
    assert all(Flag.FLAGGED in result.flag_changes[u] for u in flagged)
    assert all(Flag.SEEN in result.flag_changes[u] for u in read)
    assert not set(result.flag_changes) & set(gone)

    truth = await server_truth(client, "INBOX")
    assert result.uids == sorted(truth)
    state = cache.mailbox_state("INBOX")
    assert state is not None and state.uids == sorted(truth) and state.exists == len(truth)
    cached = cache.get_summaries("INBOX", validity, truth)
    assert set(cached) == set(truth)  # every message has its summary: old ones kept, new fetched
    assert {u: s.flags for u, s in cached.items()} == truth
    assert cache.get_summaries("INBOX", validity, gone) == {}
    assert {s.envelope.subject for u, s in cached.items() if u in added} == {
        f"appended {i}" for i in range(5)
    }

    again = await resync(Masked(client, hide), cache, "INBOX")
    assert (again.new_uids, again.vanished, again.flag_changes) == ([], [], {})
    assert again.uids == result.uids


async def test_uidvalidity_change_drops_the_cached_folder(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    other = other_client(sandbox, mail_user)
    try:
        assert other.create("Work")[0] == "OK"
        for i in range(6):
            append(other, "Work", message(i, f"old {i}"))
        first = await resync(client, cache, "Work")
        assert len(first.uids) == 6
        await client.select("INBOX")  # leave Work so it can be deleted
        assert other.delete("Work")[0] == "OK"
        assert other.create("Work")[0] == "OK"
        for i in range(3):
            append(other, "Work", message(i, f"new {i}"))
    finally:
        other.logout()

    result = await resync(client, cache, "Work")
    assert result.full_reload
    assert result.uidvalidity != first.uidvalidity
    assert len(result.uids) == 3
    assert cache.get_summaries("Work", first.uidvalidity, first.uids) == {}
    subjects = {
        s.envelope.subject
        for s in cache.get_summaries("Work", result.uidvalidity, result.uids).values()
    }
    assert subjects == {"new 0", "new 1", "new 2"}
    assert cache._conn.execute("SELECT count(*) FROM summaries").fetchone()[0] == 3


async def test_rename_then_recreate_is_a_new_folder(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    other = other_client(sandbox, mail_user)
    try:
        other.create("Projects")
        append(other, "Projects", message(1, "before"))
        first = await resync(client, cache, "Projects")
        await client.select("INBOX")
        assert other.rename("Projects", "Archive2")[0] == "OK"
        other.create("Projects")
        append(other, "Projects", message(2, "after"))
    finally:
        other.logout()
    result = await resync(client, cache, "Projects")
    assert result.full_reload and result.uidvalidity != first.uidvalidity
    got = cache.get_summaries("Projects", result.uidvalidity, result.uids)
    assert [s.envelope.subject for s in got.values()] == ["after"]


async def test_sorted_display_order_follows_the_server(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 25)
    first = await resync(client, cache, "INBOX", sort="REVERSE DATE")
    assert first.uids == await client.uid_list(sort="REVERSE DATE")
    other = other_client(sandbox, mail_user)
    try:
        uid = append(other, "INBOX", message(7, "late arrival"))
    finally:
        other.logout()
    result = await resync(client, cache, "INBOX", sort="REVERSE DATE")
    assert result.new_uids == [uid]
    assert result.uids == await client.uid_list(sort="REVERSE DATE")
    state = cache.mailbox_state("INBOX")
    assert state is not None and state.sort == "REVERSE DATE" and state.uids == result.uids


async def test_much_new_mail_fetches_only_the_newest_summaries(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 10)
    first = await resync(client, cache, "INBOX")
    other = other_client(sandbox, mail_user)
    try:
        added = [append(other, "INBOX", message(i)) for i in range(30)]
    finally:
        other.logout()
    result = await resync(client, cache, "INBOX", new_limit=8)
    assert result.new_uids == sorted(added)
    assert [s.uid for s in result.fetched] == sorted(added)[-8:]
    cached = cache.cached_uids("INBOX", result.uidvalidity)
    assert cached == set(first.uids) | set(sorted(added)[-8:])
    assert result.uids == first.uids + sorted(added)


async def test_a_folder_emptied_elsewhere(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 12)
    first = await resync(client, cache, "INBOX")
    other = other_client(sandbox, mail_user)
    try:
        other.select("INBOX")
        other.uid("STORE", "1:*", "+FLAGS", "(\\Deleted)")
        other.expunge()
    finally:
        other.logout()
    result = await resync(client, cache, "INBOX")
    assert (result.uids, result.new_uids) == ([], [])
    assert result.vanished == first.uids
    state = cache.mailbox_state("INBOX")
    assert state is not None and (state.uids, state.exists) == ([], 0)
    assert cache.cached_uids("INBOX", first.uidvalidity) == set()


async def test_first_sorted_sync_fetches_the_first_rows_in_display_order(
    sandbox: Any, mail_user: Any, client: Any, cache: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 30)
    result = await resync(client, cache, "INBOX", sort="REVERSE DATE", new_limit=10)
    assert result.full_reload and len(result.uids) == 30
    assert result.uids == await client.uid_list(sort="REVERSE DATE")
    assert [s.uid for s in result.fetched] == result.uids[:10]
    assert cache.cached_uids("INBOX", result.uidvalidity) == set(result.uids[:10])
    again = await resync(client, cache, "INBOX", sort="REVERSE DATE", new_limit=10)
    assert again.method != "full" and again.uids == result.uids and not again.fetched
