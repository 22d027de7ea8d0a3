"""ImapClient against the sandbox Dovecot: every operation, both TLS modes, the tunnel, IDLE,
and a fault proxy cutting the connection in the middle of a large FETCH."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import app.imap.client as client_module
from app.imap.client import ImapClient
from app.imap.engine import Connection
from app.imap.errors import (
    ImapAuthError,
    ImapCancelled,
    ImapConnectionError,
    ImapNoError,
    ImapTlsError,
    ImapUidValidityChanged,
)
from app.imap.idle import IdleWatcher
from app.imap.mailbox import MailboxEvent
from app.imap.search import SearchCriteria, compile_query, parse_query
from app.models import Flag, FolderRole, TlsMode
from tests.faults.proxy import Fault, FaultProxy

pytestmark = pytest.mark.integration

BASE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def message(
    i: int,
    subject: str | None = None,
    sender: str = "Alice Example <alice@example.org>",
    body: bytes = b"Hello there.\r\n",
    extra: str = "",
) -> bytes:
    date = (BASE + timedelta(hours=i)).strftime("%a, %d %b %Y %H:%M:%S +0000")
    head = (
        f"From: {sender}\r\nTo: Bob <bob@example.org>\r\nSubject: {subject or f'Message {i}'}\r\n"
        f"Date: {date}\r\nMessage-ID: <m{i}@example.org>\r\n{extra}"
    )
    return head.encode() + b"\r\n" + body


MULTIPART = (
    b"From: Carol <carol@example.org>\r\nTo: bob@example.org\r\nSubject: with attachment\r\n"
    b"Date: Mon, 02 Mar 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
    b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n"
    b"--b1\r\nContent-Type: application/octet-stream; name=data.bin\r\n"
    b"Content-Disposition: attachment; filename=data.bin\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + b"QUJD" * 40000
    + b"\r\n--b1--\r\n"
)


async def connect(user: Any, tls: TlsMode = TlsMode.STARTTLS, **overrides: Any) -> ImapClient:
    return await ImapClient.connect(user.imap_settings(tls=tls, **overrides), user.credentials())


def deliver_many(sandbox: Any, user: Any, n: int, mailbox: str = "INBOX") -> None:
    for i in range(1, n + 1):
        sandbox.deliver(
            user.name, message(i), mailbox=mailbox, when=(BASE + timedelta(hours=i)).timestamp()
        )


# -- connecting -----------------------------------------------------------------------------------


@pytest.mark.parametrize("tls", [TlsMode.STARTTLS, TlsMode.IMPLICIT])
async def test_connect_in_both_tls_modes(mail_user: Any, tls: TlsMode) -> None:
    client = await connect(mail_user, tls)
    conn = client.connection
    assert conn is not None and conn.is_tls
    caps = client.capabilities
    assert {"IDLE", "MOVE", "CONDSTORE", "UIDPLUS"} <= caps  # post-login capabilities
    assert "STARTTLS" not in caps and "LOGINDISABLED" not in caps
    assert {"CONDSTORE", "QRESYNC"} <= client.enabled
    assert conn.server_id.get("name") == "Dovecot"
    await client.close()
    assert conn.closed


@pytest.mark.parametrize("tls", [TlsMode.STARTTLS, TlsMode.IMPLICIT])
async def test_certificate_must_verify(mail_user: Any, tls: TlsMode) -> None:
    settings = mail_user.imap_settings(tls=tls, ca_file=None)
    with pytest.raises(ImapTlsError, match="not trusted"):
        await ImapClient.connect(settings, mail_user.credentials())


@pytest.mark.parametrize("auth", ["login", "plain", "auto"])
async def test_auth_mechanisms(mail_user: Any, auth: str) -> None:
    client = await connect(mail_user, auth=auth)
    assert (await client.status("INBOX")).messages == 0
    await client.close()


async def test_wrong_password_is_an_auth_error(mail_user: Any) -> None:
    creds = mail_user.credentials()
    settings = mail_user.imap_settings()
    with pytest.raises(ImapAuthError) as info:
        await ImapClient.connect(settings, type(creds)(creds.username, "wrong"))
    assert info.value.code_name == "AUTHENTICATIONFAILED"


async def test_plaintext_needs_allow_insecure(mail_user: Any) -> None:
    with pytest.raises(ImapTlsError, match="allow_insecure"):
        await connect(mail_user, TlsMode.NONE)
    client = await connect(mail_user, TlsMode.NONE, allow_insecure=True)
    assert client.connection is not None and not client.connection.is_tls
    await client.close()


async def test_tunnel_transport_with_preauth(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, message(1, "through the tunnel"))
    client = await ImapClient.connect(mail_user.tunnel_settings(), None)
    conn = client.connection
    assert conn is not None and conn.preauth and conn.is_tunnel
    names = {f.name for f in await client.list_folders()}
    assert {"INBOX", "Sent", "Trash"} <= names
    await client.select("INBOX")
    uids = await client.uid_list()
    [summary] = await client.fetch_summaries(uids)
    assert summary.envelope.subject == "through the tunnel"
    uid = await client.append("INBOX", message(2, "appended via tunnel"))
    assert uid is not None and uid > uids[-1]
    await client.close()


async def test_broken_tunnel_is_a_connection_error(mail_user: Any) -> None:
    settings = mail_user.tunnel_settings()
    bad = type(settings)(host="", port=0, user="x", tls=TlsMode.NONE, tunnel="exit 3", timeout=5)
    with pytest.raises(ImapConnectionError):
        await ImapClient.connect(bad, None)


# -- folders --------------------------------------------------------------------------------------


async def test_list_folders_roles_and_names(mail_user: Any) -> None:
    client = await connect(mail_user)
    await client.create_folder("Projekte/Entwürfe 2026")
    folders = {f.name: f for f in await client.list_folders()}
    assert folders["INBOX"].role is FolderRole.INBOX
    for name, role in [
        ("Drafts", FolderRole.DRAFTS),
        ("Sent", FolderRole.SENT),
        ("Trash", FolderRole.TRASH),
        ("Junk", FolderRole.JUNK),
        ("Archive", FolderRole.ARCHIVE),
    ]:
        assert folders[name].role is role and folders[name].subscribed
    made = folders["Projekte/Entwürfe 2026"]
    assert made.raw_name == "Projekte/Entw&APw-rfe 2026"
    assert made.parts == ["Projekte", "Entwürfe 2026"] and not made.subscribed
    assert folders["Projekte"].role is FolderRole.NONE
    subscribed = {f.name for f in await client.list_folders(subscribed_only=True)}
    assert "Sent" in subscribed and "Projekte/Entwürfe 2026" not in subscribed
    await client.subscribe("Projekte/Entwürfe 2026")
    subscribed = {f.name for f in await client.list_folders(subscribed_only=True)}
    assert "Projekte/Entwürfe 2026" in subscribed
    await client.unsubscribe(made)
    subscribed = {f.name for f in await client.list_folders(subscribed_only=True)}
    assert "Projekte/Entwürfe 2026" not in subscribed
    await client.close()


async def test_folder_create_rename_delete(mail_user: Any) -> None:
    client = await connect(mail_user)
    await client.create_folder("My Folder")  # aioimaplib alone would create "My"
    names = {f.name for f in await client.list_folders()}
    assert "My Folder" in names and "My" not in names
    await client.rename_folder("My Folder", 'Zoë\'s "quoted" folder')
    names = {f.name for f in await client.list_folders()}
    assert 'Zoë\'s "quoted" folder' in names and "My Folder" not in names
    with pytest.raises(ImapNoError) as info:
        await client.create_folder('Zoë\'s "quoted" folder')
    assert info.value.code_name == "ALREADYEXISTS"
    await client.delete_folder('Zoë\'s "quoted" folder')
    assert 'Zoë\'s "quoted" folder' not in {f.name for f in await client.list_folders()}
    with pytest.raises(ImapNoError):
        await client.delete_folder("never existed")
    await client.close()


@pytest.mark.parametrize("list_status", [True, False])
async def test_list_with_status(sandbox: Any, mail_user: Any, list_status: bool) -> None:
    deliver_many(sandbox, mail_user, 3)
    sandbox.deliver(mail_user.name, message(9), mailbox="Archive", flags="S")
    client = await connect(mail_user)
    conn = client.connection
    assert conn is not None
    if not list_status:
        conn.protocol.capabilities.discard("LIST-STATUS")  # the STATUS-each path
    listing = {f.name: s for f, s in await client.list_with_status()}
    inbox, archive = listing["INBOX"], listing["Archive"]
    assert inbox is not None and archive is not None
    assert (inbox.messages, inbox.unseen) == (3, 3)
    assert (archive.messages, archive.unseen) == (1, 0)
    assert inbox.uidvalidity and inbox.uidnext == 4 and inbox.highestmodseq
    assert (await client.status("Archive")).messages == 1
    await client.close()


# -- select, lists, search ---------------------------------------------------------------------


async def test_select_and_examine(sandbox: Any, mail_user: Any) -> None:
    deliver_many(sandbox, mail_user, 5)
    client = await connect(mail_user)
    info = await client.select("INBOX")
    assert info.exists == 5 and info.uidnext == 6 and info.uidvalidity
    assert info.highestmodseq and not info.readonly
    assert Flag.SEEN in info.permanentflags and Flag.DELETED in info.flags
    ro = await client.select("INBOX", readonly=True)
    assert ro.readonly and ro.uidvalidity == info.uidvalidity
    with pytest.raises(ImapNoError):
        await client.select("Nope")
    await client.close()


async def test_qresync_select_reports_vanished_and_changed(sandbox: Any, mail_user: Any) -> None:
    deliver_many(sandbox, mail_user, 6)
    client = await connect(mail_user)
    info = await client.select("INBOX")
    uids = await client.uid_list()
    assert info.highestmodseq is not None and info.uidvalidity is not None
    await client.store_flags([2], [Flag.FLAGGED])
    await client.store_flags([3, 4], [Flag.DELETED])
    assert await client.expunge([3, 4]) == [3, 4]
    await client.unselect()
    again = await client.select("INBOX", qresync=(info.uidvalidity, info.highestmodseq, uids))
    assert sorted(again.vanished) == [3, 4]
    changed = {d.uid: d.flags for d in again.changed}
    assert changed[2] is not None and Flag.FLAGGED in changed[2]
    await client.close()


async def test_uid_list_sort_and_esearch(sandbox: Any, mail_user: Any) -> None:
    # Dates run backwards against arrival, so DATE order is the reverse of UID order.
    for i in range(1, 8):
        sandbox.deliver(mail_user.name, message(100 - i))
    client = await connect(mail_user)
    await client.select("INBOX")
    assert await client.uid_list() == [1, 2, 3, 4, 5, 6, 7]
    assert await client.uid_list(sort="DATE") == [7, 6, 5, 4, 3, 2, 1]
    assert await client.uid_list(sort="(REVERSE DATE)") == [1, 2, 3, 4, 5, 6, 7]
    conn = client.connection
    assert conn is not None
    for cap in ("ESEARCH", "SORT"):
        conn.protocol.capabilities.discard(cap)
    assert await client.uid_list() == [1, 2, 3, 4, 5, 6, 7]
    assert await client.uid_list(sort="REVERSE DATE") == [7, 6, 5, 4, 3, 2, 1]  # by UID
    await client.close()


async def test_search_sort_thread(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, message(1, "Quarterly report", "Alice <alice@example.org>"))
    sandbox.deliver(mail_user.name, message(2, "Lunch", "Bob <bob@example.org>"))
    sandbox.deliver(
        mail_user.name,
        message(
            3,
            "Re: Quarterly report",
            "Bob <bob@example.org>",
            extra="In-Reply-To: <m1@example.org>\r\nReferences: <m1@example.org>\r\n",
        ),
    )
    sandbox.deliver(
        mail_user.name, message(4, "=?UTF-8?B?Q3LDqG1lIGJyw7tsw6ll?=", "Dave <dave@example.org>")
    )
    client = await connect(mail_user)
    await client.select("INBOX")
    assert await client.search(compile_query(parse_query("from:alice"))) == [1]
    assert await client.search(compile_query(parse_query("subject:report"))) == [1, 3]
    assert await client.search(compile_query(parse_query("crème"))) == [4]
    assert await client.search(
        SearchCriteria(None, ["FROM", "bob", "NOT", "SUBJECT", "lunch"])
    ) == [3]
    assert await client.sort("REVERSE DATE") == [4, 3, 2, 1]
    assert await client.sort(["SUBJECT"], compile_query(parse_query("from:bob"))) == [2, 3]
    threads = await client.thread("REFERENCES")
    shapes = {t.uid: [c.uid for c in t.children] for t in threads}
    assert shapes[1] == [3] and shapes[2] == [] and shapes[4] == []
    await client.close()


# -- fetching ------------------------------------------------------------------------------------


async def test_fetch_summaries_in_windows(sandbox: Any, mail_user: Any, monkeypatch: Any) -> None:
    deliver_many(sandbox, mail_user, 40)
    sandbox.deliver(mail_user.name, MULTIPART, flags="SF")
    monkeypatch.setattr(client_module, "FETCH_WINDOW", 7)  # 6 windows, pipelined
    client = await connect(mail_user)
    await client.select("INBOX")
    uids = await client.uid_list()
    wanted = [41, 3, 999, *range(1, 41)]
    summaries = await client.fetch_summaries(wanted)
    assert [s.uid for s in summaries] == [41, 3, 1, 2, *range(4, 41)]  # asked order, 999 absent
    by_uid = {s.uid: s for s in summaries}
    first = by_uid[1]
    assert first.envelope.subject == "Message 1"
    assert first.envelope.from_[0].email == "alice@example.org"
    assert first.envelope.from_[0].name == "Alice Example"
    assert first.envelope.message_id == "<m1@example.org>"
    assert first.internaldate == BASE + timedelta(hours=1)
    assert first.size == len(message(1)) and first.modseq
    assert not first.seen and first.bodystructure is not None
    att = by_uid[41]
    assert att.seen and att.flagged and att.has_attachment
    assert att.bodystructure is not None and att.bodystructure.is_multipart
    assert [p.part_id for p in att.bodystructure.children] == ["1", "2"]
    assert uids == list(range(1, 42))
    await client.close()


async def test_fetch_flags_and_changedsince(sandbox: Any, mail_user: Any) -> None:
    deliver_many(sandbox, mail_user, 5)
    client = await connect(mail_user)
    info = await client.select("INBOX")
    assert info.highestmodseq is not None
    flags = await client.fetch_flags([1, 2, 3, 4, 5])
    assert set(flags) == {1, 2, 3, 4, 5} and all(Flag.SEEN not in f for f in flags.values())
    await client.store_flags([2, 4], [Flag.SEEN, "$Label1"])
    changed = await client.fetch_flags([1, 2, 3, 4, 5], changedsince=info.highestmodseq)
    assert set(changed) == {2, 4} and "$Label1" in changed[2]
    again = await client.fetch_summaries([1, 2, 3, 4, 5], changedsince=info.highestmodseq)
    assert [s.uid for s in again] == [2, 4]
    await client.store_flags([2], ["$Label1"], "-")
    await client.store_flags([3], [Flag.FLAGGED, Flag.ANSWERED], "=")
    flags = await client.fetch_flags([2, 3])
    assert flags[2] - {Flag.RECENT} == frozenset({Flag.SEEN})
    assert flags[3] - {Flag.RECENT} == frozenset({Flag.FLAGGED, Flag.ANSWERED})
    with pytest.raises(ValueError):
        await client.store_flags([1], ["bad flag)"])
    await client.close()


async def test_fetch_header_part_raw(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, MULTIPART)
    client = await connect(mail_user)
    await client.select("INBOX")
    header = await client.fetch_header(1)
    assert header.startswith(b"From: Carol") and header.endswith(b"\r\n\r\n")
    assert await client.fetch_part(1, "1") == b"See attached."  # CRLF belongs to the boundary
    seen: list[tuple[int, int | None]] = []
    part = await client.fetch_part(
        1, "2", chunk_size=50_000, progress=lambda d, t: seen.append((d, t))
    )
    assert part == b"QUJD" * 40000
    assert seen[-1] == (160_000, 160_000) and len(seen) == 4
    chunks = [c async for c in client.iter_part(1, "2", chunk_size=65536)]
    assert [len(c) for c in chunks] == [65536, 65536, 160_000 - 2 * 65536]
    cancel = asyncio.Event()

    def stop_after_first(done: int, total: int | None) -> None:
        cancel.set()

    with pytest.raises(ImapCancelled):
        await client.fetch_part(1, "2", chunk_size=10_000, progress=stop_after_first, cancel=cancel)
    raw = await client.fetch_raw(1)
    assert raw == MULTIPART
    flags = await client.fetch_flags([1])
    assert Flag.SEEN not in flags[1]  # every fetch was a PEEK
    with pytest.raises(ImapNoError):
        await client.fetch_header(77)
    await client.close()


async def test_fetch_sections_in_one_command(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, MULTIPART)
    client = await connect(mail_user)
    await client.select("INBOX")
    got = await client.fetch_sections(1, ["HEADER", "1", "HEADER"])
    assert set(got) == {"HEADER", "1"}
    assert got["HEADER"] == await client.fetch_header(1)
    assert got["1"] == b"See attached."
    assert await client.fetch_sections(1, []) == {}
    with pytest.raises(ValueError):
        await client.fetch_sections(1, ["1)(BODY[]"])
    with pytest.raises(ImapNoError):
        await client.fetch_sections(77, ["HEADER", "1"])
    assert Flag.SEEN not in (await client.fetch_flags([1]))[1]
    await client.close()


# -- changing ------------------------------------------------------------------------------------


async def test_copy_move_expunge(sandbox: Any, mail_user: Any) -> None:
    deliver_many(sandbox, mail_user, 6)
    client = await connect(mail_user)
    await client.select("INBOX")
    mapping = await client.copy([1, 2], "Archive")
    assert mapping is not None and sorted(mapping) == [1, 2]
    moved = await client.move([3, 4], "Trash")
    assert moved is not None and sorted(moved) == [3, 4]
    assert await client.uid_list() == [1, 2, 5, 6]
    # MOVE missing: COPY + \Deleted + UID EXPUNGE, only those UIDs.
    conn = client.connection
    assert conn is not None
    conn.protocol.capabilities.discard("MOVE")
    await client.store_flags([6], [Flag.DELETED])
    moved = await client.move([5], "Trash")
    assert moved is not None and list(moved) == [5]
    assert await client.uid_list() == [1, 2, 6]  # 6 is \Deleted but was not expunged
    assert await client.expunge() == [6]
    assert (await client.status("Trash")).messages == 3
    assert (await client.status("Archive")).messages == 2
    with pytest.raises(ImapNoError) as info:
        await client.copy([1], "No Such Folder")
    assert info.value.code_name == "TRYCREATE"
    await client.close()


async def test_append_with_flags_and_date(mail_user: Any) -> None:
    client = await connect(mail_user)
    when = datetime(2025, 12, 24, 18, 30, tzinfo=UTC)
    uid = await client.append(
        "Drafts", message(1, "a draft"), flags=[Flag.DRAFT, Flag.SEEN], date=when
    )
    assert uid == 1
    await client.select("Drafts")
    [summary] = await client.fetch_summaries([uid])
    assert summary.flags - {Flag.RECENT} == frozenset({Flag.DRAFT, Flag.SEEN})
    assert summary.internaldate == when
    assert summary.envelope.subject == "a draft"
    await client.close()


async def test_append_to_missing_folder_says_trycreate(mail_user: Any) -> None:
    client = await connect(mail_user)
    with pytest.raises(ImapNoError) as info:
        await client.append("Missing Folder", message(1))
    assert info.value.code_name == "TRYCREATE"
    await client.close()


# -- changes: NOOP, IDLE -------------------------------------------------------------------------


async def test_noop_reports_new_and_expunged(sandbox: Any, mail_user: Any) -> None:
    deliver_many(sandbox, mail_user, 3)
    client = await connect(mail_user)
    other = await connect(mail_user)
    await client.select("INBOX")
    await client.uid_list()
    await other.select("INBOX")
    await other.store_flags([2], [Flag.DELETED])
    await other.expunge([2])
    sandbox.deliver(mail_user.name, message(4))
    await other.noop()  # let Dovecot notice the new file
    events = {e.kind: e for e in await client.noop()}
    assert events["expunged"].uids == (2,)
    assert events["new"].uids == (4,)
    assert client.mailbox is not None and client.mailbox.uids == [1, 3, 4]
    await other.store_flags([1], [Flag.FLAGGED])
    events = {e.kind: e for e in await client.noop()}
    assert Flag.FLAGGED in events["flags"].flags[1]
    await client.close()
    await other.close()


async def _watch(sandbox: Any, mail_user: Any, **kwargs: Any) -> list[MailboxEvent]:
    got: list[MailboxEvent] = []
    arrived = asyncio.Event()

    def on_change(event: MailboxEvent) -> None:
        got.append(event)
        arrived.set()

    deliver_many(sandbox, mail_user, 2)
    watcher = IdleWatcher(
        mail_user.imap_settings(), mail_user.credentials(), "INBOX", on_change, **kwargs
    )
    watcher.start()
    try:
        await asyncio.wait_for(watcher.connected.wait(), 10)
        sandbox.deliver(mail_user.name, message(3, "pushed"))
        await asyncio.wait_for(arrived.wait(), 15)
    finally:
        await watcher.stop()
    assert watcher.error is None
    return got


async def test_idle_watcher_sees_a_delivery(sandbox: Any, mail_user: Any) -> None:
    got = await _watch(sandbox, mail_user)
    assert got[0].kind == "new" and got[0].uids == (3,) and got[0].exists == 3


async def test_noop_polling_where_idle_is_not_used(sandbox: Any, mail_user: Any) -> None:
    got = await _watch(sandbox, mail_user, use_idle=False, poll_interval=0.3)
    assert got[0].kind == "new" and got[0].uids == (3,)


async def test_idle_reissue_keeps_watching(sandbox: Any, mail_user: Any) -> None:
    # IDLE re-issued every 0.4 s (instead of 28 min): a delivery after a few rounds still shows.
    got: list[MailboxEvent] = []
    watcher = IdleWatcher(
        mail_user.imap_settings(), mail_user.credentials(), "INBOX", got.append, reissue=0.4
    )
    watcher.start()
    await asyncio.wait_for(watcher.connected.wait(), 10)
    await asyncio.sleep(1.3)
    sandbox.deliver(mail_user.name, message(1))
    for _ in range(100):
        if got:
            break
        await asyncio.sleep(0.1)
    await watcher.stop()
    assert got and got[0].uids == (1,)


async def test_idle_watcher_stops_on_bad_credentials(mail_user: Any) -> None:
    creds = mail_user.credentials()
    watcher = IdleWatcher(
        mail_user.imap_settings(), type(creds)(creds.username, "nope"), "INBOX", print
    )
    watcher.start()
    for _ in range(100):
        if not watcher.running:
            break
        await asyncio.sleep(0.05)
    assert isinstance(watcher.error, ImapAuthError) and not watcher.running


# -- resilience ----------------------------------------------------------------------------------


async def test_uidvalidity_change_after_reconnect(mail_user: Any) -> None:
    client = await connect(mail_user)
    await client.create_folder("Volatile")
    await client.append("Volatile", message(1))
    await client.select("Volatile")
    await client.uid_list()
    other = await connect(mail_user)
    conn = client.connection
    assert conn is not None and conn.protocol.transport is not None
    conn.protocol.transport.abort()  # the network drops
    await other.delete_folder("Volatile")
    await other.create_folder("Volatile")
    await other.append("Volatile", message(2))
    await asyncio.sleep(1.1)  # UIDVALIDITY is a timestamp in Dovecot
    with pytest.raises(ImapUidValidityChanged):
        await client.uid_list()
    await other.close()
    await client.close()


async def _proxied(sandbox: Any, user: Any, proxy: FaultProxy, **overrides: Any) -> ImapClient:
    # Faults are placed at byte offsets of the uncompressed protocol unless a test says otherwise.
    overrides.setdefault("compress", False)
    settings = user.imap_settings(tls=TlsMode.STARTTLS, port=proxy.port, **overrides)
    return await ImapClient.connect(settings, user.credentials(), backoff=(0.05, 0.1, 0.2))


async def test_cut_in_the_middle_of_a_large_fetch_is_survived(sandbox: Any, mail_user: Any) -> None:
    sandbox.seed_generated(mail_user.name, 3000)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        client = await _proxied(sandbox, mail_user, proxy)
        await client.select("INBOX")
        uids = await client.uid_list()
        first_bytes = proxy.stats[0].down
        proxy.add(Fault("cut", at=first_bytes + 600_000))  # well inside the ~1.5 MB answer
        summaries = await client.fetch_summaries(uids)
        assert [s.uid for s in summaries] == uids and len(uids) == 3000
        assert all(s.envelope.subject for s in summaries)
        assert client.reconnects == 1 and proxy.connections == 2
        assert proxy.stats[0].faults and proxy.stats[0].faults[0].startswith("cut@down")
        await client.close()


async def test_cut_in_a_compressed_fetch_is_survived(sandbox: Any, mail_user: Any) -> None:
    sandbox.seed_generated(mail_user.name, 3000)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        client = await _proxied(sandbox, mail_user, proxy, compress=True)
        assert client.connection is not None and client.connection.is_compressed
        await client.select("INBOX")
        uids = await client.uid_list()
        proxy.add(Fault("cut", at=proxy.stats[0].down + 60_000))  # inside the deflated answer
        summaries = await client.fetch_summaries(uids)
        assert [s.uid for s in summaries] == uids and len(uids) == 3000
        assert client.reconnects == 1 and client.connection.is_compressed  # type: ignore[union-attr]
        await client.close()


async def test_corrupt_compressed_stream_is_a_clean_reconnect(sandbox: Any, mail_user: Any) -> None:
    sandbox.seed_generated(mail_user.name, 500)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        # Plaintext, so that the flipped bytes reach the inflater (under TLS they break the MAC).
        settings = mail_user.imap_settings(
            tls=TlsMode.NONE, port=proxy.port, allow_insecure=True, compress=True
        )
        client = await ImapClient.connect(
            settings, mail_user.credentials(), backoff=(0.05, 0.1, 0.2)
        )
        assert client.connection is not None and client.connection.is_compressed
        await client.select("INBOX")
        uids = await client.uid_list()
        proxy.add(Fault("corrupt", at=proxy.stats[0].down + 2_000, data=b"\xff" * 8))
        summaries = await client.fetch_summaries(uids)
        assert [s.uid for s in summaries] == uids
        assert client.reconnects >= 1
        await client.close()


async def test_a_connection_that_keeps_failing_gives_a_clean_retryable_error(
    sandbox: Any, mail_user: Any
) -> None:
    sandbox.seed_generated(mail_user.name, 2000)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        client = await _proxied(sandbox, mail_user, proxy)
        await client.select("INBOX")
        uids = await client.uid_list()
        proxy.add(Fault("cut", at=proxy.stats[0].down + 100_000))
        proxy.add(Fault("cut", at=150_000, connections=None))  # every reconnect dies too
        client.retries = 2
        with pytest.raises(ImapConnectionError) as info:
            await client.fetch_summaries(uids)
        assert info.value.retryable and "safe to repeat" in str(info.value)
        await client.close()


async def test_stall_times_out_and_reconnects(sandbox: Any, mail_user: Any) -> None:
    sandbox.seed_generated(mail_user.name, 1500)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        client = await _proxied(sandbox, mail_user, proxy, timeout=2.0)
        await client.select("INBOX")
        uids = await client.uid_list()
        proxy.add(Fault("stall", at=proxy.stats[0].down + 200_000, seconds=120))
        summaries = await client.fetch_summaries(uids)
        # Complete although the first connection stalled for longer than the test may run:
        # the 2 s inactivity timeout dropped it and the windows left were fetched anew.
        assert [s.uid for s in summaries] == uids and len(uids) == 1500
        assert client.reconnects >= 1 and proxy.stats[0].faults[0].startswith("stall")
        await client.close()


async def test_cut_after_a_move_was_sent_says_it_may_have_been_applied(
    sandbox: Any, mail_user: Any
) -> None:
    deliver_many(sandbox, mail_user, 3)
    async with FaultProxy(sandbox.host, sandbox.imap_port) as proxy:
        settings = mail_user.imap_settings(
            tls=TlsMode.NONE, allow_insecure=True, port=proxy.port, compress=False
        )  # the fault waits for the command's plaintext bytes
        client = await ImapClient.connect(settings, mail_user.credentials(), backoff=(0.05,))
        await client.select("INBOX")
        proxy.add(Fault("cut", after=b"UID MOVE 2 Trash\r\n", direction="up"))
        with pytest.raises(ImapConnectionError) as info:
            await client.move([2], "Trash")
        assert info.value.applied is None and "may or may not" in str(info.value)
        # The action was not lost or repeated blindly: the caller checks, here it did happen.
        await asyncio.sleep(0.3)
        assert (await client.status("Trash")).messages == 1
        assert await client.uid_list() == [1, 3]
        await client.close()


async def test_engine_connection_reports_dead_state_after_server_stop(mail_user: Any) -> None:
    conn = await Connection.open(mail_user.imap_settings(), mail_user.credentials())
    await conn.select("INBOX")
    assert conn.protocol.transport is not None
    conn.protocol.transport.abort()
    await asyncio.sleep(0.05)
    assert conn.closed
    with pytest.raises(ImapConnectionError) as info:
        await conn.noop()
    assert info.value.applied is False
    await conn.disconnect()


async def test_idle_watcher_holds_no_uid_list_and_tells_what_came_while_away(
    sandbox: Any, mail_user: Any
) -> None:
    deliver_many(sandbox, mail_user, 3)
    # Polling, not IDLE: an IDLE holds the connection's command lock until the server pushes
    # something (Dovecot's "Still here" every 2 minutes), and the test's own commands on the
    # watcher's connection below would wait for it (72-112 s seen). The loop sleeps instead.
    watcher = IdleWatcher(
        mail_user.imap_settings(),
        mail_user.credentials(),
        "INBOX",
        print,
        use_idle=False,
        poll_interval=3600,
    )
    watcher.start()
    try:
        await asyncio.wait_for(watcher.connected.wait(), 10)
        client = watcher._client
        assert client is not None and client.mailbox is not None
        assert not client.mailbox.has_uids  # no whole-folder list on the watcher's side
        # As if the watcher had last seen the folder with two messages (UIDNEXT 3): a
        # reconnect now must report UID 3 as new and no expunge.
        validity = client.mailbox.uidvalidity
        assert validity is not None
        watcher._known = (validity, 3, 2)
        events = await watcher._after_reconnect(client)
        assert [(e.kind, e.uids) for e in events] == [("new", (3,))]
        watcher._known = (validity, 4, 4)  # one message fewer than seen: an expunge
        assert [e.kind for e in await watcher._after_reconnect(client)] == ["expunged"]
        watcher._known = (validity + 1, 4, 3)
        assert [e.kind for e in await watcher._after_reconnect(client)] == ["resync"]
    finally:
        await watcher.stop()
