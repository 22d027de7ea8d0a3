"""`app.actions.operations` against the sandbox Dovecot, without Textual: what delete, undo, expunge and
the folder changes do on the server, and what they ask first.

Two servers: the session's Dovecot (SPECIAL-USE, UIDPLUS, MOVE), and one of this module with
the sandbox's "minimal" profile (`IMAP4rev1 CHILDREN NAMESPACE` after login: no SPECIAL-USE,
UIDPLUS, MOVE, UNSELECT, as Courier or a minimal server) whose special folders are not made
(`special_folders=False`: each test creates what it needs, or finds no Trash).
imaplib plays "another client".
"""

from __future__ import annotations

import imaplib
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.actions import operations as ops
from app.models import Folder, FolderRole, TlsMode

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def plain_sandbox() -> Iterator[Any]:
    """A Dovecot with a minimal capability line and no special folders made."""
    from app.sandbox import Sandbox
    from tests.conftest import _tmp_base

    root = Path(tempfile.mkdtemp(prefix="termail-plain-", dir=_tmp_base()))
    sb = Sandbox(root, profile="minimal", special_folders=False)
    sb.start()
    try:
        yield sb
    finally:
        sb.stop(remove=True)


_count = 0


@pytest.fixture
def plain_user(plain_sandbox: Any) -> Any:
    global _count
    _count += 1
    return plain_sandbox.add_user(f"p{_count}")


def message(i: int, subject: str) -> bytes:
    return (
        f"From: Other <other{i}@example.org>\r\nTo: u@localhost\r\nSubject: {subject}\r\n"
        f"Date: Sun, 29 Nov 2026 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <op{i}@example.org>\r\n"
        f"\r\nbody {i}\r\n"
    ).encode()


def other(user: Any) -> imaplib.IMAP4_SSL:
    sb = user.sandbox
    conn = imaplib.IMAP4_SSL(sb.host, sb.imaps_port, ssl_context=sb.client_ssl_context())
    conn.login(user.name, user.password)
    return conn


def count(user: Any, mailbox: str) -> int:
    conn = other(user)
    typ, data = conn.status(mailbox, "(MESSAGES)")
    conn.logout()
    assert typ == "OK", data
    return int(data[0].split(b"MESSAGES ")[1].rstrip(b")"))


def subjects(user: Any, mailbox: str) -> list[str]:
    conn = other(user)
    conn.select(mailbox, readonly=True)
    typ, data = conn.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    conn.logout()
    out = []
    for item in data:
        if isinstance(item, tuple):
            out.append(item[1].decode().split(":", 1)[1].strip())
    return sorted(out)


def fill(user: Any, mailbox: str, *names: str) -> None:
    for i, name in enumerate(names):
        user.sandbox.deliver(user.name, message(i, name), mailbox)


async def account_for(user: Any, roles: dict[str, str] | None = None) -> Account:
    creds = user.credentials()
    account = Account(
        user.name, user.imap_settings(TlsMode.IMPLICIT), lambda: creds, folder_roles=roles
    )
    await account.connect()
    await account.load_folders()
    return account


async def open_named(account: Account, name: str) -> None:
    folder = account.folder(name)
    assert folder is not None, [f.name for f in account.folders]
    await account.open_folder(folder)


async def answered(op: Any, *answers: bool) -> tuple[list[str], ops.Outcome]:
    """Run `op`, answering its questions in order; the questions asked and the outcome."""
    asked: list[str] = []
    replies = list(answers)

    async def ask(question: ops.Question) -> bool:
        asked.append(question.text)
        return replies.pop(0)

    outcome = await ops.run_asking(op, ask)
    assert not replies, f"questions not asked: {replies}"
    return asked, outcome


# -- delete and undo (Dovecot with SPECIAL-USE) -------------------------------------------------
async def test_delete_moves_to_trash_and_undo_takes_it_back(sandbox: Any, mail_user: Any) -> None:
    fill(mail_user, "INBOX", "one", "two")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        uid = account.current.uids[0]  # type: ignore[union-attr]
        asked, outcome = await answered(lambda a: ops.delete(account, [uid], a))
        assert asked == []  # Trash keeps it: nothing to ask
        assert outcome.undoable and outcome.removed == [uid]
        assert outcome.message == "Deleted 1 message (moved to Trash)"
        assert count(mail_user, "Trash") == 1 and count(mail_user, "INBOX") == 1
        undone = await ops.undo(account)
        assert undone.done and undone.message == "Undid delete: 1 message back in INBOX"
        assert count(mail_user, "Trash") == 0 and count(mail_user, "INBOX") == 2
        assert (await ops.undo(account)).message == "Nothing to undo"
    finally:
        await account.close()


async def test_delete_before_the_folder_list_came_still_goes_to_trash(
    sandbox: Any, mail_user: Any
) -> None:
    """`d` at start-up, before LIST answered: it offered to delete for good ("there is no
    Trash folder"); the folders are listed first and the message goes to Trash."""
    fill(mail_user, "INBOX", "early")
    creds = mail_user.credentials()
    account = Account(mail_user.name, mail_user.imap_settings(TlsMode.IMPLICIT), lambda: creds)
    await account.connect()
    try:
        await account.open_folder(Folder("INBOX", "INBOX", "/"))
        assert account.folders == []
        uid = account.current.uids[0]  # type: ignore[union-attr]
        asked, outcome = await answered(lambda a: ops.delete(account, [uid], a))
        assert asked == []
        assert outcome.message == "Deleted 1 message (moved to Trash)" and outcome.undoable
        assert count(mail_user, "Trash") == 1
    finally:
        await account.close()


async def test_delete_inside_trash_asks_and_no_keeps_the_message(
    sandbox: Any, mail_user: Any
) -> None:
    fill(mail_user, "Trash", "old")
    account = await account_for(mail_user)
    try:
        await open_named(account, "Trash")
        uids = list(account.current.uids)  # type: ignore[union-attr]
        asked, outcome = await answered(lambda a: ops.delete(account, uids, a), False)
        assert asked == ["Delete 1 message permanently? (this is Trash; this cannot be undone)"]
        assert not outcome.done and outcome.removed == []
        assert count(mail_user, "Trash") == 1
        asked, outcome = await answered(lambda a: ops.delete(account, uids, a), True)
        assert outcome.removed == uids and not outcome.undoable
        assert outcome.message == "Deleted 1 message permanently"
        assert count(mail_user, "Trash") == 0
    finally:
        await account.close()


async def test_undo_is_not_offered_once_the_trash_copy_is_gone(
    sandbox: Any, mail_user: Any
) -> None:
    """The bug: `d` in INBOX, then `d` in Trash (expunged), then `u` said "undid delete"."""
    fill(mail_user, "INBOX", "keep", "lose")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        uid = account.current.uids[0]  # type: ignore[union-attr]
        await ops.delete(account, [uid])
        await open_named(account, "Trash")
        trash_uids = list(account.current.uids)  # type: ignore[union-attr]
        await answered(lambda a: ops.delete(account, trash_uids, a), True)
        assert account.undo_stack == []  # the entry went with its messages
        outcome = await ops.undo(account)
        assert not outcome.done and outcome.message == "Nothing to undo"
        assert count(mail_user, "INBOX") == 1
    finally:
        await account.close()


async def test_expunge_asks_and_reports(sandbox: Any, mail_user: Any) -> None:
    fill(mail_user, "INBOX", "x", "y", "z")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        nothing = await ops.expunge(account)
        assert nothing.message == "Nothing to expunge: no message in INBOX is marked deleted"
        conn = other(mail_user)
        conn.select("INBOX")
        conn.store("1:2", "+FLAGS", "\\Deleted")
        conn.logout()
        asked, outcome = await answered(lambda a: ops.expunge(account, a), False)
        assert asked == ["Expunge 2 messages marked deleted in INBOX? This cannot be undone."]
        assert count(mail_user, "INBOX") == 3
        asked, outcome = await answered(lambda a: ops.expunge(account, a), True)
        assert outcome.message == "Expunged 2 messages from INBOX" and len(outcome.removed) == 2
        assert count(mail_user, "INBOX") == 1
    finally:
        await account.close()


# -- folders ----------------------------------------------------------------------------------
async def test_delete_the_open_folder_leaves_it_first(sandbox: Any, mail_user: Any) -> None:
    """Dovecot drops the connection when the selected folder is deleted; the reconnect then
    failed with "SELECT: Mailbox doesn't exist" (the X bug)."""
    fill(mail_user, "Box", "in box")
    account = await account_for(mail_user)
    try:
        await open_named(account, "Box")
        asked, outcome = await answered(lambda a: ops.delete_folder(account, "Box", a), True)
        assert asked == ["Delete the folder Box and its 1 message? This cannot be undone."]
        assert outcome.closed and outcome.message == "Deleted the folder Box"
        assert account.folder("Box") is None and account.current is None
        assert account.client.reconnects == 0
    finally:
        await account.close()


async def test_subscribe_toggles_on_the_server(sandbox: Any, mail_user: Any) -> None:
    fill(mail_user, "Lists", "list mail")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        assert account.folder("Lists").subscribed  # type: ignore[union-attr]
        first = await ops.set_subscribed(account, "Lists")
        assert first.message == "Unsubscribed from Lists"
        conn = other(mail_user)
        _, lsub = conn.lsub()
        assert not any(b"Lists" in line for line in lsub if line)
        second = await ops.set_subscribed(account, "Lists")
        assert second.message == "Subscribed to Lists"
        _, lsub = conn.lsub()
        conn.logout()
        assert any(b"Lists" in line for line in lsub if line)
    finally:
        await account.close()


async def test_rename_updates_undo_entries(sandbox: Any, mail_user: Any) -> None:
    fill(mail_user, "INBOX", "m")
    fill(mail_user, "Work", "w")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        uid = account.current.uids[0]  # type: ignore[union-attr]
        await ops.move(account, [uid], "Work")
        renamed = await ops.rename_folder(account, "Work", "Job")
        assert renamed.message == "Renamed Work to Job"
        assert account.folder("Job").subscribed  # type: ignore[union-attr]
        outcome = await ops.undo(account)
        assert outcome.message == "Undid move: 1 message back in INBOX"
        assert count(mail_user, "INBOX") == 1 and count(mail_user, "Job") == 1
    finally:
        await account.close()


# -- a server without SPECIAL-USE, UIDPLUS, MOVE, UNSELECT ---------------------------------------
async def test_roles_guessed_from_names_without_special_use(plain_user: Any) -> None:
    for name in ("Deleted Items", "Sent Items", "Drafts", "Spam"):
        plain_user.sandbox.ensure_maildir(plain_user.name, name)
    account = await account_for(plain_user)
    try:
        assert "SPECIAL-USE" not in account.client.capabilities
        roles = {f.role: f.name for f in account.folders}
        assert roles[FolderRole.TRASH] == "Deleted Items"
        assert roles[FolderRole.SENT] == "Sent Items"
        assert roles[FolderRole.DRAFTS] == "Drafts"
        assert roles[FolderRole.JUNK] == "Spam"
    finally:
        await account.close()


async def test_config_role_matches_without_the_inbox_prefix(plain_user: Any) -> None:
    """Courier keeps folders under `INBOX.`: `[folders] trash = "Trash"` means INBOX.Trash."""
    plain_user.sandbox.ensure_maildir(plain_user.name, "INBOX/Trash")
    plain_user.sandbox.ensure_maildir(plain_user.name, "Bin")
    account = await account_for(plain_user, {"trash": "Trash"})
    try:
        trash = account.folder_by_role(FolderRole.TRASH)
        assert trash is not None and trash.name == "INBOX/Trash"
        assert account.folder("Bin").role is FolderRole.NONE  # type: ignore[union-attr]
    finally:
        await account.close()
    # A config name that is not there: said by config check, and a Trash is still found by
    # its name (INBOX/Trash before Bin: the usual names in their order, prefix or not).
    account = await account_for(plain_user, {"trash": "Papierkorb"})
    try:
        trash = account.folder_by_role(FolderRole.TRASH)
        assert trash is not None and trash.name == "INBOX/Trash"
        (choice,) = [c for c in account.role_report if c.role is FolderRole.TRASH]
        assert choice.problem == "the config names 'Papierkorb', which is not on the server"
    finally:
        await account.close()


async def test_no_trash_asks_before_deleting_for_good(plain_user: Any) -> None:
    fill(plain_user, "INBOX", "only")
    account = await account_for(plain_user)
    try:
        assert account.folder_by_role(FolderRole.TRASH) is None
        await open_named(account, "INBOX")
        uids = list(account.current.uids)  # type: ignore[union-attr]
        asked, outcome = await answered(lambda a: ops.delete(account, uids, a), False)
        assert asked == [
            "Delete 1 message permanently? (there is no Trash folder; this cannot be undone)"
        ]
        assert count(plain_user, "INBOX") == 1
        asked, outcome = await answered(lambda a: ops.delete(account, uids, a), True)
        assert outcome.message == "Deleted 1 message permanently"
        assert count(plain_user, "INBOX") == 0
    finally:
        await account.close()


async def test_no_uidplus_move_keeps_other_clients_deleted_messages(plain_user: Any) -> None:
    """Without UIDPLUS a move's EXPUNGE removes every \\Deleted message: it asks first, and
    "no" copies and marks only."""
    plain_user.sandbox.ensure_maildir(plain_user.name, "Trash")
    fill(plain_user, "INBOX", "mine", "theirs")
    conn = other(plain_user)
    conn.select("INBOX")
    typ, data = conn.uid("SEARCH", "SUBJECT", "theirs")
    theirs = data[0].decode()
    conn.uid("STORE", theirs, "+FLAGS", "(\\Deleted)")
    typ, data = conn.uid("SEARCH", "SUBJECT", "mine")
    mine = int(data[0])
    conn.logout()
    account = await account_for(plain_user)
    try:
        assert not account.can("UIDPLUS") and not account.can("MOVE")
        await open_named(account, "INBOX")
        asked, outcome = await answered(lambda a: ops.delete(account, [mine], a), False)
        assert asked == [
            "1 other message in INBOX is marked deleted, and this server can only expunge "
            "them together with these. Expunge them too? (No: copy to Trash and mark "
            "deleted here; $ expunges later)"
        ]
        assert subjects(plain_user, "INBOX") == ["mine", "theirs"]  # nothing expunged
        assert subjects(plain_user, "Trash") == ["mine"]
        assert outcome.changed == [mine] and not outcome.removed and not outcome.undoable
    finally:
        await account.close()


async def test_rename_of_the_open_folder_without_unselect_expunges_nothing(
    plain_user: Any,
) -> None:
    """No UNSELECT: the folder is left by EXAMINE INBOX + CLOSE, which never expunges."""
    fill(plain_user, "Box", "flagged deleted", "plain")
    conn = other(plain_user)
    conn.select("Box")
    conn.store("1", "+FLAGS", "\\Deleted")
    conn.logout()
    account = await account_for(plain_user)
    try:
        assert not account.can("UNSELECT")
        await open_named(account, "Box")
        outcome = await ops.rename_folder(account, "Box", "Crate")
        assert outcome.reopen == "Crate" and outcome.message == "Renamed Box to Crate"
        assert count(plain_user, "Crate") == 2
    finally:
        await account.close()


# -- termail config check names the folder of each role -----------------------------------------
def test_config_check_names_the_folder_of_each_role(plain_user: Any, tmp_path: Path) -> None:
    import io
    import json

    from app.config.commands import config_check

    sb = plain_user.sandbox
    for name in ("Deleted Items", "INBOX/Sent"):
        sb.ensure_maildir(plain_user.name, name)
    q = json.dumps
    path = tmp_path / "config.toml"
    path.write_text(
        f"""[accounts.plain]
address = "{plain_user.name}@localhost"

[accounts.plain.imap]
host = "127.0.0.1"
port = {sb.imaps_port}
tls = "implicit"
user = {q(plain_user.name)}
ca_file = {q(str(sb.ca_file))}
password_command = {q("printf '%s' " + plain_user.password)}
keyring = false

[accounts.plain.smtp]
host = "127.0.0.1"
port = {sb.smtp_port}
tls = "starttls"
ca_file = {q(str(sb.ca_file))}

[accounts.plain.folders]
sent = "Sent"
junk = "Spam"
"""
    )
    path.chmod(0o600)
    out = io.StringIO()
    config_check(["--config", str(path)], out=out)
    text = out.getvalue()
    assert "    trash: Deleted Items (guessed from its name)" in text, text
    assert "    sent: INBOX/Sent (from the config)" in text
    assert '    warning: drafts: no folder found; set [folders] drafts = "..."' in text
    assert "    warning: junk: the config names 'Spam', which is not on the server" in text
    assert "    sent:" not in text.replace("    sent: INBOX/Sent", "")


async def test_a_folder_opened_read_only_refuses_delete_move_and_expunge(
    sandbox: Any, mail_user: Any
) -> None:
    """The server opened it read-only (EXAMINE here; ACLs or a shared folder elsewhere):
    nothing can be removed, so nothing is tried and nothing is promised."""
    fill(mail_user, "INBOX", "stays")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        uids = list(account.current.uids)  # type: ignore[union-attr]
        await account.client.select("INBOX", readonly=True)
        assert account.readonly
        for outcome in (
            await ops.delete(account, uids),
            await ops.move(account, uids, "Trash"),
            await ops.expunge(account),
        ):
            assert not outcome.done and outcome.warning and outcome.question is None
            assert outcome.message.startswith("INBOX is read-only on the server: nothing ")
        assert count(mail_user, "INBOX") == 1 and count(mail_user, "Trash") == 0
    finally:
        await account.close()


async def test_delete_a_folder_with_subfolders_says_they_stay(sandbox: Any, mail_user: Any) -> None:
    fill(mail_user, "Parent", "p")
    fill(mail_user, "Parent/Child", "c")
    account = await account_for(mail_user)
    try:
        asked, outcome = await answered(lambda a: ops.delete_folder(account, "Parent", a), True)
        assert asked == [
            "Delete the folder Parent and its 1 message? This cannot be undone. "
            "Its 1 subfolder stays."
        ]
        assert outcome.message in (
            "Deleted the folder Parent",
            "Deleted the folder Parent; the server keeps its name for its subfolders",
        ), outcome
        assert count(mail_user, "Parent/Child") == 1
    finally:
        await account.close()


async def test_undo_while_offline_keeps_the_entry_for_later(sandbox: Any, mail_user: Any) -> None:
    from app.imap.errors import ImapConnectionError

    fill(mail_user, "INBOX", "back later")
    account = await account_for(mail_user)
    try:
        await open_named(account, "INBOX")
        await ops.delete(account, [account.current.uids[0]])  # type: ignore[union-attr]
        client, account.client = account.client, None  # the connection is gone
        with pytest.raises(ImapConnectionError):
            await ops.undo(account)
        assert len(account.undo_stack) == 1
        account.client = client  # back online
        outcome = await ops.undo(account)
        assert outcome.message == "Undid delete: 1 message back in INBOX"
        assert count(mail_user, "INBOX") == 1
    finally:
        await account.close()


async def test_no_trash_no_uidplus_delete_for_good_keeps_other_deleted_mail(
    plain_user: Any,
) -> None:
    fill(plain_user, "INBOX", "mine", "theirs")
    conn = other(plain_user)
    conn.select("INBOX")
    _, data = conn.uid("SEARCH", "SUBJECT", "theirs")
    conn.uid("STORE", data[0].decode(), "+FLAGS", "(\\Deleted)")
    _, data = conn.uid("SEARCH", "SUBJECT", "mine")
    mine = int(data[0])
    conn.logout()
    account = await account_for(plain_user)
    try:
        await open_named(account, "INBOX")
        asked, outcome = await answered(lambda a: ops.delete(account, [mine], a), True, False)
        assert asked[0].startswith("Delete 1 message permanently?")
        assert asked[1].endswith("(No: mark deleted only; $ expunges later)")
        assert outcome.message == "Marked 1 message deleted in INBOX (not expunged: $ expunges)"
        assert subjects(plain_user, "INBOX") == ["mine", "theirs"]
        asked, outcome = await answered(lambda a: ops.expunge(account, a), True)
        assert asked == ["Expunge 2 messages marked deleted in INBOX? This cannot be undone."]
        assert subjects(plain_user, "INBOX") == []
    finally:
        await account.close()
