"""The whole app against the sandbox servers, driven as a person would with Textual's pilot."""

from __future__ import annotations

import asyncio
import hashlib
import imaplib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from app.account import Account
from app.main import TermailApp
from app.models import TlsMode
from app.sandbox.demo import build_messages, load_demo
from widgets.dialogs import ConfirmDialog, FolderPicker, PromptDialog
from widgets.message_list import MessageList
from widgets.message_view import MessageView
from widgets.save_prompt import SavePrompt

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def make_app(user: Any) -> TermailApp:
    creds = user.credentials()
    account = Account(
        user.name,
        user.imap_settings(TlsMode.IMPLICIT),
        lambda: creds,
        smtp=user.smtp_settings(TlsMode.STARTTLS),
        addresses=[user.address],
        display_name="Test User",
    )
    return TermailApp([account])


async def wait_until(pilot: Any, check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = check()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


async def wait_connected(pilot: Any, app: TermailApp) -> None:
    """Until the account's status bar says the IMAP connection is up."""
    await wait_until(
        pilot,
        lambda: (
            app.screen.query("#status")
            and app.screen.query_one("#status").connection == "connected"
        ),
    )


async def wait_watching(pilot: Any, app: TermailApp) -> None:
    """Until the IDLE watcher's own connection is up: new mail delivered now is heard."""
    screen: Any = app.screen
    await wait_until(
        pilot,
        lambda: screen.idle_watcher is not None and screen.idle_watcher.connected.is_set(),
    )


def message_list(app: TermailApp) -> MessageList:
    return app.screen.query_one(MessageList)


def list_filled(app: TermailApp) -> bool:
    ml = message_list(app)
    return bool(ml.row_count) and ml.summary(ml.uids[0]) is not None


def imap(user: Any) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(
        user.sandbox.host, user.sandbox.imaps_port, ssl_context=user.sandbox.client_ssl_context()
    )
    conn.login(user.name, user.password)
    return conn


def folder_names(user: Any) -> set[str]:
    conn = imap(user)
    _, lines = conn.list()
    conn.logout()
    return {
        line.rsplit(b'"/" ', 1)[1].decode().strip('"') for line in lines if isinstance(line, bytes)
    }


async def open_by_subject(pilot: Any, app: TermailApp, words: str) -> int:
    """Search on the server for `words` in the subject and open the first match."""
    from widgets.query_bar import QueryInput

    # Type only once the query input has the focus: a letter typed before would be a key of the
    # list (`s` is move), which under load turned the test into a folder picker.
    await pilot.press("slash")
    await wait_until(pilot, lambda: isinstance(app.focused, QueryInput))
    for ch in f"subject:{words!s}" if " " not in words else f'subject:"{words}"':
        await pilot.press(ch if ch != " " else "space")
    await pilot.press("enter")
    await wait_until(pilot, lambda: "match" in str(app.screen.query_one("#status").message))
    ml = message_list(app)
    await wait_until(pilot, lambda: ml.row_count > 0 and ml.summary(ml.uids[0]) is not None)
    uid = ml.uids[0]
    ml.focus()
    await pilot.press("g", "enter")
    viewer = app.screen.query_one(MessageView)
    await wait_until(pilot, lambda: viewer.rendered is not None)
    return uid


async def test_browse_and_open_the_lecture_messages(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        assert ml.row_count == len(build_messages()["INBOX"])
        await open_by_subject(pilot, app, "title")
        viewer = app.screen.query_one(MessageView)
        assert viewer.rendered is not None and viewer.rendered.subject == "中文 title"
        # Opening marks it \\Seen on the server.
        uid = ml.cursor_uid
        conn = imap(mail_user)
        conn.select("INBOX")
        _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        conn.logout()
        assert b"\\Seen" in data[0]


async def test_save_attachment_is_byte_identical(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await open_by_subject(pilot, app, "Gibson")
        viewer = app.screen.query_one(MessageView)
        attachments = viewer.rendered.attachments
        assert [a.filename for a in attachments] == ["gibson-spec.doc"]
        viewer.attachment_list.focus()
        await pilot.pause(0.1)
        viewer.action_save_attachment()
        dialog = await wait_until(pilot, lambda: isinstance(app.screen, SavePrompt) and app.screen)
        dialog.query_one("Input").value = str(tmp_path)
        await pilot.press("enter")
        saved = tmp_path / "gibson-spec.doc"
        await wait_until(pilot, saved.exists)
        await pilot.pause(0.2)
    import email
    import email.policy

    raw = (
        Path(__file__).parent.parent / "data" / "seed" / "03-multipart-enriched-base64.eml"
    ).read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    expected = next(p for p in msg.walk() if p.get_content_type() == "application/octet-stream")
    data = saved.read_bytes()
    assert len(data) == 2080
    assert (
        hashlib.sha256(data).digest() == hashlib.sha256(expected.get_payload(decode=True)).digest()
    )


async def test_search_shows_matches_and_clears(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        total = message_list(app).row_count
        await pilot.press("slash")
        for ch in "from:chloe@example.fr":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: message_list(app).row_count == 1)
        ml = message_list(app)
        await wait_until(pilot, lambda: ml.summary(ml.uids[0]) is not None)
        assert "Café" in (ml.summary(ml.uids[0]).envelope.subject or "") or ml.summary(
            ml.uids[0]
        ).envelope.subject.startswith("=?")
        ml.focus()
        await pilot.press("escape")
        await wait_until(pilot, lambda: message_list(app).row_count == total)
        # A malformed query is explained, not fatal.
        await pilot.press("slash")
        for ch in "(from:x":
            await pilot.press(ch)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert message_list(app).row_count == total


async def test_move_with_undo(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        before = ml.row_count
        ml.focus()
        await pilot.press("g", "s")
        picker = await wait_until(
            pilot, lambda: isinstance(app.screen, FolderPicker) and app.screen
        )
        for ch in "Receipts":
            await pilot.press(ch)
        await pilot.press("enter")
        await wait_until(pilot, lambda: message_list(app).row_count == before - 1)
        del picker
        conn = imap(mail_user)
        _, data = conn.status("Receipts", "(MESSAGES)")
        assert b"MESSAGES 11" in data[0]
        await pilot.press("u")
        await wait_until(pilot, lambda: message_list(app).row_count == before)
        _, data = conn.status("Receipts", "(MESSAGES)")
        conn.logout()
        assert b"MESSAGES 10" in data[0]


async def test_flag_and_delete_to_trash(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("g")
        uid = ml.cursor_uid
        await pilot.press("F")
        await wait_until(pilot, lambda: ml.summary(uid) is not None and ml.summary(uid).flagged)
        conn = imap(mail_user)
        conn.select("INBOX")
        _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        assert b"\\Flagged" in data[0]
        count = ml.row_count
        await pilot.press("d")
        await wait_until(pilot, lambda: ml.row_count == count - 1)
        _, data = conn.status("Trash", "(MESSAGES)")
        conn.logout()
        assert b"MESSAGES 1" in data[0]


async def _prompt(pilot: Any, app: TermailApp, key: str, value: str) -> None:
    await pilot.press(key)
    dialog = await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen)
    dialog.query_one("Input").value = value
    await pilot.press("enter")


async def test_create_rename_delete_folder(sandbox: Any, mail_user: Any) -> None:
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_connected(pilot, app)
        await pilot.pause(0.3)
        await _prompt(pilot, app, "A", "Käse/Neu")
        await wait_until(pilot, lambda: "Käse/Neu" in folder_names_cached(mail_user))
        # Open it, rename it, delete it, through the same keys a person would use.
        screen: Any = app.screen
        folder = screen.account.folder("Käse/Neu")
        assert folder is not None
        screen.open_folder(folder)
        await wait_until(
            pilot,
            lambda: screen.account.current and screen.account.current.folder.name == "Käse/Neu",
        )
        await _prompt(pilot, app, "E", "Käse/Alt")
        await wait_until(pilot, lambda: "Käse/Alt" in folder_names_cached(mail_user))
        assert "Käse/Neu" not in folder_names_cached(mail_user)
        await wait_until(
            pilot,
            lambda: screen.account.current and screen.account.current.folder.name == "Käse/Alt",
        )
        await pilot.press("X")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert "Käse/Alt" in str(dialog.question) if hasattr(dialog, "question") else True
        await pilot.press("y")
        await wait_until(pilot, lambda: "Käse/Alt" not in folder_names_cached(mail_user))


def folder_names_cached(user: Any) -> set[str]:
    from app.imap.utf7 import decode_mailbox

    return {decode_mailbox(n) for n in folder_names(user)}


async def test_new_mail_arrives_through_idle(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, b"Subject: first\r\nFrom: a@b.c\r\n\r\nx\r\n")
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        assert ml.row_count == 1
        await wait_watching(pilot, app)
        sandbox.deliver(mail_user.name, b"Subject: pushed by IDLE\r\nFrom: a@b.c\r\n\r\ny\r\n")
        await wait_until(pilot, lambda: ml.row_count == 2, timeout=30)


async def test_hostile_subject_is_shown_literally(sandbox: Any, mail_user: Any) -> None:
    subject = "[bold]x[/] [@click=app.quit]click[/] \x1b]0;pwned\x07 \u202eevil"
    sandbox.deliver(
        mail_user.name,
        f"Subject: {subject}\r\nFrom: [red]Mallory[/] <m@evil.example>\r\n\r\nbody\r\n".encode(),
    )
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        await pilot.click(MessageList, offset=(40, 0))
        await pilot.click(MessageList, offset=(40, 0))
        await pilot.pause(0.5)
        assert app.is_running
        screen_text = app.export_screenshot()
        assert "[bold]x[/]" in screen_text.replace("&#91;", "[").replace("&#93;", "]")
        assert "\x1b]0" not in screen_text and "\u202e" not in screen_text
        assert ml.row_count == 1


async def test_thread_view_from_the_server(sandbox: Any, mail_user: Any) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("T")
        await wait_until(pilot, lambda: ml._depths is not None and max(ml._depths) >= 3)
        # The four-message "Release plan" discussion is one chain: depths 0, 1, 2, 3 in a row.
        depths = ml._depths
        assert any(depths[i : i + 4] == [0, 1, 2, 3] for i in range(len(depths) - 3))
        assert sorted(ml.uids) == sorted(app.screen._folder_uids)


async def test_cached_inbox_is_shown_when_the_server_is_down(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for n in range(5):
        sandbox.deliver(mail_user.name, f"Subject: cached {n}\r\nFrom: a@b.c\r\n\r\nx\r\n".encode())

    def app_with_cache() -> TermailApp:
        account = Account(
            mail_user.name,
            mail_user.imap_settings(TlsMode.IMPLICIT),
            mail_user.credentials,
            data_dir=tmp_path / "data",
        )
        return TermailApp([account])

    app = app_with_cache()
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app) and message_list(app).row_count == 5)
    sandbox.stop_dovecot()
    try:
        offline = app_with_cache()
        async with offline.run_test(size=(120, 30)) as pilot:
            await wait_until(pilot, lambda: list_filled(offline))
            ml = message_list(offline)
            assert ml.row_count == 5
            assert (ml.summary(ml.uids[0]).envelope.subject or "").startswith("cached")
    finally:
        sandbox.start_dovecot()
