"""Account-level operations against every server kind (app/sandbox/kinds.py).

Each test runs once per kind (dovecot, minimal, gmail-like, cyrus, courier): the same user
actions must work on each, whatever the server offers. Mail is put in place and looked at with
another client (imaplib), as a second mail program of the user would. Where a test fails today
for a reason another branch is fixing, the kind is marked xfail(strict) with that branch's name,
so the fix shows up as XPASS and the mark is removed.
"""

from __future__ import annotations

import asyncio
import re
import zlib
from collections.abc import Sequence
from typing import Any

import pytest

from app.account import Account
from app.actions import operations as ops
from app.models import Flag, Folder, FolderRole
from app.sandbox.kinds import KindUser
from tests.integration.kinds import over_kinds

pytestmark = pytest.mark.integration

# Reasons, named once: another branch is fixing each.


def message(
    n: int,
    subject: str,
    *,
    day: int = 1,
    sender: str = "Other",
    message_id: str = "",
    in_reply_to: str = "",
    body: str = "",
) -> bytes:
    """A small plain message; `day` of November 2026 sets its Date (not its arrival order)."""
    mid = message_id or f"<m{n}.{zlib.crc32(subject.encode())}@example.org>"
    refs = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"From: {sender} <{sender.lower()}{n}@example.org>\r\nTo: u@localhost\r\n"
        f"Subject: {subject}\r\nDate: Sun, {day:02d} Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: {mid}\r\n{refs}MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"{body or 'body of ' + subject}\r\n"
    ).encode()


def folder_named(account: Account, path: str) -> Folder:
    """The folder the user knows as `path`, whether termail shows it with the server's
    namespace prefix or without (item 6 of issue 14 changes which)."""
    user_names = {path, path.replace("/", "."), "INBOX." + path.replace("/", ".")}
    for folder in account.folders:
        if folder.name in user_names:
            return folder
    names = [f.name for f in account.folders]
    raise AssertionError(f"no folder {path!r} in {names}")


def server_uids(user: KindUser, path: str, criteria: str = "ALL") -> list[int]:
    conn = user.imaplib()
    try:
        typ, data = conn.select(_q(user.mailbox(path)), readonly=True)
        assert typ == "OK", data
        typ, data = conn.uid("SEARCH", criteria)
        assert typ == "OK", data
        return [int(x) for x in (data[0] or b"").split()]
    finally:
        conn.logout()


def server_flags(user: KindUser, path: str, uid: int) -> set[str]:
    conn = user.imaplib()
    try:
        conn.select(_q(user.mailbox(path)), readonly=True)
        typ, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        assert typ == "OK", data
        m = re.search(rb"FLAGS \(([^)]*)\)", data[0] or b"")
        assert m is not None, data
        return set(m.group(1).decode().split())
    finally:
        conn.logout()


def server_folders(user: KindUser) -> list[str]:
    conn = user.imaplib()
    try:
        typ, data = conn.list('""', "*")
        assert typ == "OK", data
        names = []
        for line in data:
            assert isinstance(line, bytes)
            m = re.match(rb'\([^)]*\) (?:"[^"]*"|NIL) (.*)$', line)
            assert m is not None, line
            names.append(m.group(1).decode().strip('"'))
        return names
    finally:
        conn.logout()


def make_folder(user: KindUser, path: str) -> None:
    conn = user.imaplib()
    try:
        typ, data = conn.create(_q(user.mailbox(path)))
        assert typ == "OK", data
        conn.subscribe(_q(user.mailbox(path)))
    finally:
        conn.logout()


def _q(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def seed(user: KindUser, path: str, messages: Sequence[bytes]) -> list[int]:
    """Append `messages` in order; their UIDs, read back (some kinds give no APPENDUID)."""
    before = set(server_uids(user, path))
    for data in messages:
        user.append(path, data)
    return sorted(set(server_uids(user, path)) - before)


async def opened(account: Account, path: str = "INBOX") -> Any:
    await account.load_folders()
    return await account.open_folder(folder_named(account, path))


async def subjects(account: Account, uids: Sequence[int]) -> list[str]:
    found = {s.uid: s for s in await account.summaries_for(list(uids))}
    return [found[u].envelope.subject or "" for u in uids]


# -- the capability line each kind is meant to have ------------------------------------------


@over_kinds()
async def test_kind_offers_what_it_says(server_kind: Any, kind_user: KindUser) -> None:
    """Each kind advertises what its real counterpart does (the tests below rely on it)."""
    from app.imap.client import ImapClient

    client = await ImapClient.connect(kind_user.imap_settings(), kind_user.credentials())
    caps = client.capabilities
    await client.close()
    kind = server_kind.kind
    missing_in_minimal = {"SORT", "UIDPLUS", "IDLE", "MOVE", "CONDSTORE", "SPECIAL-USE"}
    if kind == "minimal":
        assert caps & missing_in_minimal == set(), caps
        assert not any(c.startswith("THREAD=") for c in caps), caps
        assert {"IMAP4REV1", "CHILDREN", "NAMESPACE"} <= caps
    elif kind == "gmail-like":
        assert "SORT" not in caps and not any(c.startswith("THREAD=") for c in caps), caps
        assert {"UTF8=ACCEPT", "SPECIAL-USE", "MOVE", "UIDPLUS", "LITERAL-", "QUOTA"} <= caps
    elif kind == "courier":
        assert "SPECIAL-USE" not in caps and "UTF8=ACCEPT" in caps and "SORT" in caps, caps
    elif kind == "cyrus":
        assert {"SPECIAL-USE", "SORT", "THREAD=REFERENCES", "UIDPLUS"} <= caps, caps
    else:
        assert {"SORT", "THREAD=REFERENCES", "SPECIAL-USE", "QRESYNC"} <= caps, caps


# -- open, list, search, sort, threads -------------------------------------------------------


@over_kinds()
async def test_open_and_list(kind_user: KindUser, kind_account: Account) -> None:
    uids = seed(kind_user, "INBOX", [message(i, f"Hello {i}", day=i + 1) for i in range(3)])
    opened_ = await opened(kind_account)
    assert sorted(opened_.uids) == uids
    assert sorted(await subjects(kind_account, opened_.uids)) == ["Hello 0", "Hello 1", "Hello 2"]
    shown = await kind_account.load_message(uids[1])
    assert "body of Hello 1" in shown.body


@over_kinds()
async def test_special_folders_found(server_kind: Any, kind_account: Account) -> None:
    """Trash, Sent and Drafts are known on every kind: by SPECIAL-USE or by their names."""
    await kind_account.load_folders()
    for role in (FolderRole.TRASH, FolderRole.SENT, FolderRole.DRAFTS):
        assert kind_account.folder_by_role(role) is not None, (role, kind_account.folders)
    if server_kind.kind == "gmail-like":
        assert kind_account.folder_by_role(FolderRole.TRASH).name == "[Gmail]/Trash"  # type: ignore[union-attr]
        assert kind_account.folder_by_role(FolderRole.SENT).name == "[Gmail]/Sent Mail"  # type: ignore[union-attr]


@over_kinds()
async def test_search_ascii(kind_user: KindUser, kind_account: Account) -> None:
    uids = seed(
        kind_user,
        "INBOX",
        [message(0, "quarterly report"), message(1, "lunch"), message(2, "Report draft")],
    )
    await opened(kind_account)
    found = await kind_account.search("report")
    assert sorted(found) == [uids[0], uids[2]]


@over_kinds()
async def test_search_non_ascii(kind_user: KindUser, kind_account: Account) -> None:
    # As mail carries it: an RFC 2047 encoded word (Cyrus turns raw 8-bit header bytes to X).
    encoded = "=?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?="
    uids = seed(kind_user, "INBOX", [message(0, encoded), message(1, "Gruss")])
    await opened(kind_account)
    assert list(await kind_account.search("Köln")) == [uids[0]]


@over_kinds()
async def test_sort_by_date_and_sender(kind_user: KindUser, kind_account: Account) -> None:
    """Newest first is by Date, not by arrival; "from" sorts by the sender. Without SORT the
    folder opens by UID and the order made here follows (`local_order`, as the list does)."""
    uids = seed(
        kind_user,
        "INBOX",
        [
            message(0, "middle", day=10, sender="Carol"),
            message(1, "oldest", day=2, sender="Alice"),
            message(2, "newest", day=20, sender="Bob"),
            message(3, "second", day=15, sender="Dave"),
        ],
    )
    shown = await opened(kind_account)
    order = shown.uids if shown.ordered else await kind_account.local_order()
    assert list(order) == [uids[2], uids[3], uids[0], uids[1]]
    by_from = await kind_account.resort("from", False)
    assert list(by_from) == [uids[1], uids[2], uids[0], uids[3]]


@over_kinds()
async def test_threads(kind_user: KindUser, kind_account: Account) -> None:
    """The server's THREAD where offered, else threads made here: the same rows. By date
    the thread whose first message is newest comes first; by last date, the latest reply."""
    root = "<root@example.org>"
    uids = seed(
        kind_user,
        "INBOX",
        [
            message(0, "plans", message_id=root, day=1),
            message(1, "other", day=2),
            message(2, "Re: plans", in_reply_to=root, day=3),
        ],
    )
    await opened(kind_account)
    kind_account.sort, kind_account.reverse = "thread-last-date", True
    order, depths = await kind_account.thread_view()
    assert list(zip(order, depths, strict=True)) == [(uids[0], 0), (uids[2], 1), (uids[1], 0)]
    kind_account.sort = "date"
    order, depths = await kind_account.thread_view()
    assert list(zip(order, depths, strict=True)) == [(uids[1], 0), (uids[0], 0), (uids[2], 1)]


# -- flags, move, copy, delete and undo, expunge ---------------------------------------------


@over_kinds()
async def test_flags(kind_user: KindUser, kind_account: Account) -> None:
    (uid,) = seed(kind_user, "INBOX", [message(0, "flag me")])
    await opened(kind_account)
    await kind_account.set_flag([uid], Flag.FLAGGED, True)
    await kind_account.set_flag([uid], Flag.SEEN, True)
    assert {"\\Flagged", "\\Seen"} <= server_flags(kind_user, "INBOX", uid)
    await kind_account.set_flag([uid], Flag.FLAGGED, False)
    assert "\\Flagged" not in server_flags(kind_user, "INBOX", uid)


@over_kinds()
async def test_move_and_copy(kind_user: KindUser, kind_account: Account) -> None:
    make_folder(kind_user, "Projects")
    uids = seed(kind_user, "INBOX", [message(i, f"item {i}") for i in range(3)])
    await opened(kind_account)
    dest = folder_named(kind_account, "Projects")
    await kind_account.copy([uids[0]], dest.name)
    await kind_account.move([uids[1]], dest.name)
    assert server_uids(kind_user, "INBOX") == [uids[0], uids[2]]
    assert len(server_uids(kind_user, "Projects")) == 2
    assert sorted(kind_account.current.uids) == [uids[0], uids[2]]  # type: ignore[union-attr]


@over_kinds()
async def test_move_keeps_other_clients_deleted_mail(
    kind_user: KindUser, kind_account: Account
) -> None:
    """Another client marked a message \\Deleted (not expunged): our move must not expunge it."""
    make_folder(kind_user, "Keep")
    uids = seed(kind_user, "INBOX", [message(0, "theirs"), message(1, "mine")])
    conn = kind_user.imaplib()
    conn.select("INBOX")
    conn.uid("STORE", str(uids[0]), "+FLAGS", "(\\Deleted)")
    conn.logout()
    await opened(kind_account)
    asked: list[str] = []

    async def no(question: ops.Question) -> bool:
        asked.append(question.key)
        return False

    await ops.run_asking(
        lambda a: ops.move(kind_account, [uids[1]], folder_named(kind_account, "Keep").name, a), no
    )
    assert uids[0] in server_uids(kind_user, "INBOX")  # theirs: still there
    assert server_uids(kind_user, "INBOX", "UNDELETED") == []  # mine: moved, or marked only
    assert len(server_uids(kind_user, "Keep")) == 1
    # Only a server that can expunge no single message (no MOVE, no UIDPLUS) needs to ask.
    plain = not kind_account.can("MOVE") and not kind_account.can("UIDPLUS")
    assert asked == (["expunge_others"] if plain else [])


@over_kinds()
async def test_delete_and_undo(kind_user: KindUser, kind_account: Account) -> None:
    """d moves to Trash (never expunges for good on a server with a Trash), u takes it back."""
    uids = seed(kind_user, "INBOX", [message(0, "keep"), message(1, "oops")])
    await opened(kind_account)
    said = await ops.delete(kind_account, [uids[1]])
    trash = kind_account.folder_by_role(FolderRole.TRASH)
    assert trash is not None and said.question is None, said
    assert said.message == f"Deleted 1 message (moved to {trash.name})", said
    assert server_uids(kind_user, "INBOX") == [uids[0]]
    assert len(server_uids(kind_user, trash.name.removeprefix("INBOX."))) == 1
    assert said.undoable  # from COPYUID, or without UIDPLUS found by Message-ID
    undone = await ops.undo(kind_account)
    assert undone.message == "Undid delete: 1 message back in INBOX", undone
    back = server_uids(kind_user, "INBOX")
    assert len(back) == 2
    assert server_uids(kind_user, trash.name.removeprefix("INBOX.")) == []


@over_kinds()
async def test_expunge(kind_user: KindUser, kind_account: Account) -> None:
    uids = seed(kind_user, "INBOX", [message(i, f"x{i}") for i in range(3)])
    await opened(kind_account)
    await kind_account.set_flag([uids[0], uids[2]], Flag.DELETED, True)
    await kind_account.expunge()
    assert server_uids(kind_user, "INBOX") == [uids[1]]


# -- folders ---------------------------------------------------------------------------------


@over_kinds()
async def test_create_rename_subscribe_delete(kind_user: KindUser, kind_account: Account) -> None:
    """The user types plain names ("Zeta"); the server's prefix and separator are termail's job."""
    await kind_account.create_folder("Zeta")
    assert kind_user.mailbox("Zeta") in server_folders(kind_user)
    await kind_account.load_folders()
    zeta = folder_named(kind_account, "Zeta")
    assert zeta.subscribed
    await kind_account.subscribe(zeta.name, False)
    await kind_account.load_folders()
    assert not folder_named(kind_account, "Zeta").subscribed
    await kind_account.rename_folder(zeta.name, "Omega")
    names = server_folders(kind_user)
    assert kind_user.mailbox("Omega") in names and kind_user.mailbox("Zeta") not in names
    await kind_account.load_folders()
    await kind_account.delete_folder(folder_named(kind_account, "Omega").name)
    assert kind_user.mailbox("Omega") not in server_folders(kind_user)


@over_kinds()
async def test_rename_and_delete_the_open_folder(
    kind_user: KindUser, kind_account: Account
) -> None:
    make_folder(kind_user, "Open")
    seed(kind_user, "Open", [message(0, "inside")])
    await opened(kind_account, "Open")
    await kind_account.rename_folder(folder_named(kind_account, "Open").name, "Moved")
    names = server_folders(kind_user)
    assert kind_user.mailbox("Moved") in names and kind_user.mailbox("Open") not in names
    await opened(kind_account, "Moved")
    await kind_account.delete_folder(folder_named(kind_account, "Moved").name)
    assert kind_user.mailbox("Moved") not in server_folders(kind_user)
    # The account still works afterwards.
    await opened(kind_account)


# -- new mail: IDLE where offered, else polling ----------------------------------------------


@over_kinds()
async def test_new_mail_seen(kind_user: KindUser, kind_account: Account) -> None:
    from app.imap.idle import IdleWatcher
    from app.imap.mailbox import MailboxEvent

    await opened(kind_account)
    seen: asyncio.Queue[MailboxEvent] = asyncio.Queue()
    creds = kind_user.credentials()
    watcher = IdleWatcher(
        kind_user.imap_settings(), creds, "INBOX", seen.put_nowait, poll_interval=0.2
    )
    watcher.start()
    try:
        await asyncio.wait_for(watcher.connected.wait(), 30)
        (uid,) = await asyncio.to_thread(seed, kind_user, "INBOX", [message(0, "fresh")])
        while True:
            event = await asyncio.wait_for(seen.get(), 30)
            if event.kind == "new":
                break
        assert uid in event.uids or not event.uids
        assert uid in await kind_account.reload_uids()
    finally:
        await watcher.stop()


# -- Sent, Drafts and sending ------------------------------------------------------------------


def _draft(user: KindUser, subject: str) -> Any:
    from app.mime.compose import Draft, Identity

    return Draft(Identity("Tester", user.address), to=[user.address], subject=subject, body="hi\n")


@over_kinds()
async def test_append_to_drafts_and_sent(kind_user: KindUser, kind_account: Account) -> None:
    from app.mime.compose import build_message, message_bytes
    from app.smtp.sending import file_sent_copy, postpone

    await opened(kind_account)
    uid = await postpone(kind_account, _draft(kind_user, "half written"))
    drafts = kind_account.folder_by_role(FolderRole.DRAFTS)
    assert drafts is not None
    stored = server_uids(kind_user, drafts.name.removeprefix("INBOX."))
    assert len(stored) == 1 and (uid is None or stored == [uid])
    sent = kind_account.folder_by_role(FolderRole.SENT)
    assert sent is not None
    data = message_bytes(build_message(_draft(kind_user, "done"), message_id_domain="localhost"))
    await file_sent_copy(kind_account, sent.name, data)
    assert len(server_uids(kind_user, sent.name.removeprefix("INBOX."))) == 1


@over_kinds()
async def test_send_arrives_and_is_kept_in_sent(
    kind_user: KindUser, kind_account: Account, tmp_path_fast: Any
) -> None:
    from app.smtp.outbox import Outbox
    from app.smtp.sending import send_draft

    await opened(kind_account)
    outcome = await send_draft(
        kind_account, _draft(kind_user, "to myself"), outbox=Outbox(tmp_path_fast / "outbox")
    )
    assert outcome.sent, outcome.message
    assert not outcome.warnings, outcome.warnings
    for _ in range(200):  # delivery is asynchronous on some kinds (Postfix queues first)
        if server_uids(kind_user, "INBOX", 'SUBJECT "to myself"'):
            break
        await asyncio.sleep(0.05)
    assert server_uids(kind_user, "INBOX", 'SUBJECT "to myself"')
    sent = kind_account.folder_by_role(FolderRole.SENT)
    assert sent is not None
    assert server_uids(kind_user, sent.name.removeprefix("INBOX."), 'SUBJECT "to myself"')


# -- the ports: STARTTLS and implicit TLS, for IMAP and submission -----------------------------


@over_kinds()
async def test_both_tls_ports_and_wrong_passwords(kind_user: KindUser) -> None:
    """IMAP and submission each on STARTTLS and implicit TLS; a wrong password is an
    authentication error (not a hang, not a crash) on each."""
    from app.imap.client import ImapClient
    from app.imap.errors import ImapAuthError
    from app.models import Credentials, TlsMode
    from app.smtp.submit import SmtpAuthError, send_bytes

    for tls in (TlsMode.STARTTLS, TlsMode.IMPLICIT):
        client = await ImapClient.connect(kind_user.imap_settings(tls), kind_user.credentials())
        await client.close()
        data = message(0, f"over {tls.value}")
        await send_bytes(
            data, kind_user.address, [kind_user.address], kind_user.smtp_settings(tls),
            kind_user.smtp_credentials(),
        )  # fmt: skip
    for _ in range(200):  # Postfix delivers after its queue
        if len(server_uids(kind_user, "INBOX")) == 2:
            break
        await asyncio.sleep(0.05)
    assert len(server_uids(kind_user, "INBOX")) == 2
    # Last: Dovecot slows the logins from an address after a failed one (auth penalty).
    wrong = Credentials(kind_user.name, "not-the-password")
    with pytest.raises(ImapAuthError):
        await ImapClient.connect(kind_user.imap_settings(), wrong, retries=0)
    smtp_wrong = Credentials(kind_user.smtp_credentials().username, "not-the-password")
    with pytest.raises(SmtpAuthError):
        await send_bytes(
            message(1, "never"), kind_user.address, [kind_user.address],
            kind_user.smtp_settings(), smtp_wrong,
        )  # fmt: skip


@over_kinds()
async def test_append_and_read_a_large_message(kind_user: KindUser, kind_account: Account) -> None:
    """A 300 KB APPEND goes out as the server wants its literal (LITERAL+, LITERAL- up to 4 KB
    on gmail-like, synchronising on Courier) and reads back whole."""
    make_folder(kind_user, "Big")
    await kind_account.load_folders()
    line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxy\r\n"
    body = line * (300_000 // len(line))
    uid = await kind_account.append(
        folder_named(kind_account, "Big").name, message(0, "big", body=body)
    )
    (stored,) = server_uids(kind_user, "Big")
    assert uid is None or uid == stored
    await opened(kind_account, "Big")
    shown = await kind_account.load_message(stored)
    assert shown.body.count(line.rstrip()) == body.count("\r\n")  # every line, none cut
