"""Sort and threads on servers without SORT / THREAD (issue 14 item 3, issue 20 item 10).

`minimal` is a second sandbox Dovecot whose CAPABILITY after login is cut to `IMAP4rev1
CHILDREN NAMESPACE` (h8's `Sandbox(profile="minimal")`, the interop suite's `minimal` kind;
these tests need the sandbox's own `deliver`: the `minimal` fixture of tests/conftest.py). Dovecot still *executes* UID SORT and UID THREAD when asked, so the
tests send those by hand on a raw connection as the oracle: the order and the threads termail
computes itself must be the ones a real RFC 5256 server computes for the same mailbox.
The full sandbox Dovecot covers the server-side path (its THREAD tree, ordered by date).
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.imap import parser
from app.imap.client import ImapClient
from app.models import Folder, TlsMode
from app.sandbox import Sandbox
from app.sandbox.demo import build_messages

pytestmark = pytest.mark.integration

INBOX = Folder("INBOX", "INBOX", "/")


_users = 0


@pytest.fixture
def minimal_user(minimal: Sandbox) -> Any:
    global _users
    _users += 1
    return minimal.add_user(f"min{_users}")


def account(user: Any, **kw: Any) -> Account:
    creds = user.credentials()
    return Account(user.name, user.imap_settings(TlsMode.IMPLICIT), lambda: creds, **kw)


def load_inbox(sandbox: Any, user: Any) -> None:
    """The demo INBOX (257 messages), threads, encoded subjects, dates against arrival."""
    for data, flags, ts in build_messages()["INBOX"]:
        sandbox.deliver(user.name, data, "INBOX", flags, when=ts)


def mail(subject: str, sender: str, day: int, mid: str, refs: str = "", size_pad: int = 0) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "me@example.org"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, day, 12, tzinfo=UTC))
    msg["Message-ID"] = mid
    if refs:
        msg["In-Reply-To"] = refs.split()[-1]
        msg["References"] = refs
    msg.set_content("x" * (10 + size_pad))
    return msg.as_bytes()


async def raw_sort(client: ImapClient, keys: str) -> list[int]:
    """What the server's UID SORT answers, asked by hand (the capability is not offered)."""
    conn = client.connection
    assert conn is not None
    resp = (await conn.execute("UID SORT", f"({keys})", "UTF-8", "ALL")).check()
    out: list[int] = []
    for raw in resp.untagged:
        data = parser.parse_untagged(raw)
        if isinstance(data, parser.SortData):
            out.extend(data.numbers)
    return out


async def raw_thread(client: ImapClient) -> list[parser.ThreadNode]:
    conn = client.connection
    assert conn is not None
    resp = (await conn.execute("UID THREAD", "REFERENCES", "UTF-8", "ALL")).check()
    roots: list[parser.ThreadNode] = []
    for raw in resp.untagged:
        data = parser.parse_untagged(raw)
        if isinstance(data, parser.ThreadData):
            roots.extend(data.threads)
    return roots


SORTS = [
    ("date", "DATE"),
    ("arrival", "ARRIVAL"),
    ("from", "FROM"),
    ("to", "TO"),
    ("subject", "SUBJECT"),
    ("size", "SIZE"),
]


@pytest.mark.parametrize(("sort", "imap_key"), SORTS)
async def test_sort_without_sort_is_the_servers_order(
    minimal: Sandbox, minimal_user: Any, sort: str, imap_key: str
) -> None:
    """`o` on a server without SORT orders the list as RFC 5256 does (was: by UID)."""
    load_inbox(minimal, minimal_user)
    acc = account(minimal_user)
    await acc.connect()
    try:
        assert not acc.client.has_capability("SORT")
        for reverse in (False, True):
            uids = list(await acc.open_folder(INBOX) and await acc.resort(sort, reverse))
            truth = await raw_sort(acc.client, ("REVERSE " if reverse else "") + imap_key)
            assert uids == truth, f"{sort} reverse={reverse}"
    finally:
        await acc.close()


async def test_a_folder_opens_by_uid_and_the_order_follows(
    minimal: Sandbox, minimal_user: Any, tmp_path: Path
) -> None:
    """Open draws by UID at once (no sort keys yet), then `local_order` brings the date order
    (newest first), with progress; the next open uses the keys kept (no second fetch)."""
    load_inbox(minimal, minimal_user)
    acc = account(minimal_user, data_dir=tmp_path)
    await acc.connect()
    try:
        opened = await acc.open_folder(INBOX)
        assert not opened.ordered
        assert list(opened.uids) == sorted(opened.uids, reverse=True)  # by UID for now
        seen: list[tuple[int, int]] = []
        ordered = await acc.local_order(lambda done, total: seen.append((done, total)))
        assert ordered is not None
        assert list(ordered) == await raw_sort(acc.client, "REVERSE DATE")
        assert seen and seen[-1] == (len(opened.uids), len(opened.uids))
        again = await acc.open_folder(INBOX)
        assert again.ordered and list(again.uids) == list(ordered)
    finally:
        await acc.close()


async def test_threads_without_thread_are_the_servers_threads(
    minimal: Sandbox, minimal_user: Any
) -> None:
    """`T` on a server without THREAD (was: refused) gives the REFERENCES threads of RFC 5256."""
    from app.store.threads import thread_rows

    load_inbox(minimal, minimal_user)
    acc = account(minimal_user)
    await acc.connect()
    try:
        assert not acc.client.has_capability("THREAD=REFERENCES")
        await acc.open_folder(INBOX)
        for sort in ("date", "thread-last-date", "subject"):
            acc.sort, acc.reverse = sort, sort != "subject"
            uids, depths = await acc.thread_view()
            dates = {u: i for i, u in enumerate(await raw_sort(acc.client, "DATE"))}
            key = "DATE" if sort != "subject" else "SUBJECT"
            by_key = {u: i for i, u in enumerate(await raw_sort(acc.client, key))}
            expect = thread_rows(
                await raw_thread(acc.client),
                dates,
                by_key,
                last=sort == "thread-last-date",
                reverse=acc.reverse,
            )
            assert (uids, depths) == expect, sort
            assert max(depths) >= 1 and sorted(uids) == sorted(acc.current.uids)  # type: ignore[union-attr]
    finally:
        await acc.close()


def missing_parent_messages() -> list[bytes]:
    return [
        mail("Budget", "ann@example.org", 3, "<budget@x>"),
        # replies to a message nobody has (<gone@x>): grouped under a dummy
        mail("Re: Offsite", "bob@example.org", 5, "<r1@x>", "<gone@x>"),
        mail("Re: Offsite", "cat@example.org", 6, "<r2@x>", "<gone@x>"),
        # a reply without any References: joined by its subject
        mail("Re: Budget", "dan@example.org", 8, "<r3@x>"),
        # the newest thread arrives first: arrival order is not date order
        mail("Zebra", "eve@example.org", 20, "<z@x>"),
    ]


@pytest.mark.parametrize("server", ["minimal", "dovecot"])
async def test_threads_by_date_with_missing_parents_grouped(
    request: Any, server: str, tmp_path: Path
) -> None:
    """Threads newest first by date (was: by arrival), replies whose parent is missing and
    replies known only by subject grouped, on both the client's and the server's threads."""
    sandbox = request.getfixturevalue("minimal" if server == "minimal" else "sandbox")
    user = sandbox.add_user(f"thr{server}{id(tmp_path) % 10_000}")
    messages = missing_parent_messages()
    # Arrival: Zebra (newest date) first, then the rest.
    for i, data in enumerate([messages[4], *messages[:4]]):
        sandbox.deliver(user.name, data, "INBOX", when=1_700_000_000 + i * 60)
    acc = account(user)
    await acc.connect()
    try:
        await acc.open_folder(INBOX)
        if server == "dovecot":
            assert acc.client.has_capability("THREAD=REFERENCES")
        acc.sort, acc.reverse = "date", True
        uids, depths = await acc.thread_view()
        # UIDs by arrival: 1 Zebra, 2 Budget, 3 Re: Offsite, 4 Re: Offsite, 5 Re: Budget
        assert uids == [1, 3, 4, 2, 5]
        assert depths == [0, 0, 1, 0, 1]
        acc.reverse = False  # oldest thread first
        uids, _ = await acc.thread_view()
        assert uids == [2, 5, 3, 4, 1]
    finally:
        await acc.close()


async def test_client_sort_keys_agree_with_dovecot_on_every_key(
    sandbox: Any, mail_user: Any
) -> None:
    """The client's RFC 5256 sort (sort_uids over the fetched keys) equals Dovecot's UID SORT
    on the demo INBOX for every key and direction: same base subjects, dates, addresses."""
    from app.store.threads import sort_uids

    load_inbox(sandbox, mail_user)
    acc = account(mail_user)
    await acc.connect()
    try:
        await acc.open_folder(INBOX)
        keys = await acc.sort_keys()
        assert len(keys) == len(acc.current.uids)  # type: ignore[union-attr]
        for sort, imap_key in SORTS:
            for reverse in (False, True):
                spec = ("REVERSE " if reverse else "") + imap_key
                assert sort_uids(keys.values(), sort, reverse) == list(
                    await acc.client.sort(spec)
                ), spec
    finally:
        await acc.close()


async def test_the_list_is_served_while_the_sort_keys_come(
    minimal: Sandbox, minimal_user: Any, monkeypatch: Any
) -> None:
    """The keys come in chunks, each under the lock on its own: a page the user scrolls to
    (summaries_for) is fetched between two chunks, not after the whole folder."""
    import asyncio

    import app.account as account_module

    monkeypatch.setattr(account_module, "SORT_KEY_CHUNK", 40)
    load_inbox(minimal, minimal_user)
    acc = account(minimal_user)
    await acc.connect()
    try:
        opened = await acc.open_folder(INBOX)
        seen: list[tuple[int, int]] = []
        keys = asyncio.ensure_future(acc.sort_keys(lambda d, t: seen.append((d, t))))
        await asyncio.sleep(0)  # the key fetch holds the lock for its first chunk
        page = await acc.summaries_for(list(opened.uids[-30:]))
        assert len(page) == 30
        assert not keys.done()  # the page came between chunks
        store = await keys
        total = len(build_messages()["INBOX"])  # the demo seed, invitation and lists included
        assert len(store) == len(opened.uids) == total
        assert seen[-1] == (total, total) and all(t == total for _, t in seen)
        assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    finally:
        await acc.close()
