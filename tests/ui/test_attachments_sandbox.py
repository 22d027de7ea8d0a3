"""Attachments against the sandbox, driven as a person would: saved byte-exact for every
transfer encoding, the save prompt (missing folder, Tab, name, save all, last folder),
forward keeping the attachments, forward as message/rfc822, and opening executables."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import quopri
import stat
import time
from pathlib import Path
from typing import Any

import pytest

from app.main import TermailApp
from app.screens.compose import ComposeScreen
from app.state import recall
from tests.ui.test_app_sandbox import make_app, open_by_subject, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox
from widgets.dialogs import ConfirmDialog, PromptDialog
from widgets.message_view import MessageView
from widgets.save_prompt import SavePrompt

pytestmark = [pytest.mark.integration, pytest.mark.ui]

CSV = b"a,b\n1,2\n3,4\n"  # the demo's numbers.csv: 12 bytes, saved as 15 before the fix
UMLAUTS = "Grüße\nzweite Zeile\n".encode()
QP_TEXT = ("x" * 100 + " caf\u00e9\ntrailing space \nend\n").encode()
CRLF_FILE = b"dos line one\r\ndos line two\r\n"
BINARY = bytes(range(256)) * 40 + b"\r\n\r\x00\n"


def _part(headers: str, body: bytes) -> bytes:
    return headers.replace("\n", "\r\n").encode() + b"\r\n" + body


def _crlf(data: bytes) -> bytes:
    """How a 7bit/8bit/QP text body goes on the wire: every line break a CRLF."""
    return data.replace(b"\n", b"\r\n")


def encodings_message() -> tuple[bytes, dict[str, bytes]]:
    """One message with an attachment in each transfer encoding; returns (raw, name -> bytes)."""
    expected = {
        "numbers.csv": CSV,
        "grüße.txt": UMLAUTS,
        "long.txt": QP_TEXT,
        "dos.txt": CRLF_FILE,
        "blob.bin": BINARY,
    }
    qp = quopri.encodestring(QP_TEXT)  # soft breaks "=\n", "=20" for the trailing space
    parts = [
        _part("Content-Type: text/plain; charset=us-ascii\n", b"Five files.\r\n"),
        _part(
            "Content-Type: text/csv\nContent-Transfer-Encoding: 7bit\n"
            'Content-Disposition: attachment; filename="numbers.csv"\n',
            _crlf(CSV),
        ),
        _part(
            "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n"
            "Content-Disposition: attachment; filename*=utf-8''gr%C3%BC%C3%9Fe.txt\n",
            _crlf(UMLAUTS),
        ),
        _part(
            "Content-Type: text/plain; charset=utf-8\n"
            "Content-Transfer-Encoding: quoted-printable\n"
            'Content-Disposition: attachment; filename="long.txt"\n',
            _crlf(qp),
        ),
        _part(
            "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n"
            'Content-Disposition: attachment; filename="dos.txt"\n',
            base64.encodebytes(CRLF_FILE).replace(b"\n", b"\r\n"),
        ),
        _part(
            "Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n"
            'Content-Disposition: attachment; filename="blob.bin"\n',
            base64.encodebytes(BINARY).replace(b"\n", b"\r\n"),
        ),
    ]
    body = b"".join(b"--B\r\n" + part + b"\r\n" for part in parts) + b"--B--\r\n"
    head = (
        b"From: Olga <olga@example.org>\r\nTo: me@example.org\r\nSubject: encodings test\r\n"
        b"Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <enc@example.org>\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
    )
    return head + body, expected


def _idle(app: TermailApp, group: str = "attachment") -> bool:
    """No worker of `group` running: a save is complete (its file closed), not just begun."""
    return not any(w.group == group and not w.is_finished for w in app.workers)


async def _prompt(pilot: Any, app: TermailApp) -> SavePrompt:
    prompt: SavePrompt = await wait_until(
        pilot, lambda: isinstance(app.screen, SavePrompt) and app.screen
    )
    return prompt


async def _set_path(pilot: Any, prompt: SavePrompt, text: str) -> None:
    field = prompt.path_input
    field.value = text
    field.cursor_position = len(text)
    await pilot.pause(0.05)


async def test_saved_attachments_equal_what_was_attached(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Issue 20 item 3: each transfer encoding saved byte-exact; CRLF only where it was sent."""
    raw, expected = encodings_message()
    sandbox.deliver(mail_user.name, raw)
    out = tmp_path / "out"
    out.mkdir()
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "encodings")
        viewer = app.screen.query_one(MessageView)
        infos = viewer.rendered.attachments
        assert [a.filename for a in infos] == list(expected)
        listing = viewer.attachment_list
        for index, info in enumerate(infos):
            listing.focus()
            listing.highlighted = index
            await pilot.pause(0.05)
            await pilot.press("a")
            prompt = await _prompt(pilot, app)
            await _set_path(pilot, prompt, f"{out}/")
            await pilot.press("enter")
            await wait_until(pilot, (out / info.filename).exists)
            await wait_until(pilot, lambda: _idle(app))
    for name, data in expected.items():
        assert (out / name).read_bytes() == data, name
        # 0600: mail is private; the user may chmod what they want to share.
        assert stat.S_IMODE((out / name).stat().st_mode) == 0o600
    # The sizes shown are the saved ones: the 12-byte CSV is listed as 12 B, not 15.
    csv = next(i for i in infos if i.filename == "numbers.csv")
    assert csv.size == len(CSV)


async def test_save_prompt_missing_folder_tab_name_all_and_last_folder(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Issue 20 item 14: a missing folder is created on a second Enter, Tab completes, the name
    can be chosen, ctrl+s saves all, and the folder is remembered for the next save."""
    raw, expected = encodings_message()
    sandbox.deliver(mail_user.name, raw)
    (tmp_path / "exists-already").mkdir()
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "encodings")
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.focus()
        viewer.attachment_list.highlighted = 0
        await pilot.press("a")
        prompt = await _prompt(pilot, app)
        assert prompt.path_input.value.endswith("/numbers.csv")
        # Tab completion inside the prompt.
        await _set_path(pilot, prompt, f"{tmp_path}/exists-al")
        await pilot.press("tab")
        assert prompt.path_input.value == f"{tmp_path}/exists-already/"
        # A new folder and a chosen name: the first Enter says it does not exist.
        target = tmp_path / "new" / "deeper"
        await _set_path(pilot, prompt, f"{target}/my numbers.csv")
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert isinstance(app.screen, SavePrompt) and not target.exists()
        note = str(prompt.query_one("#save-note").render())
        assert "does not exist" in note
        await pilot.press("enter")
        await wait_until(pilot, (target / "my numbers.csv").exists)
        await wait_until(pilot, lambda: _idle(app))
        assert (target / "my numbers.csv").read_bytes() == CSV
        assert stat.S_IMODE(target.stat().st_mode) == 0o700
        assert recall("attachments.folder") == str(target)
        # The next save starts in that folder; ctrl+s saves every attachment there.
        await pilot.press("a")
        prompt = await _prompt(pilot, app)
        assert prompt.path_input.value == f"{target}/numbers.csv"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: (target / "blob.bin").exists())
        await wait_until(pilot, lambda: _idle(app))
    names = sorted(p.name for p in target.iterdir())
    assert names == sorted([*expected, "my numbers.csv"])
    for name, data in expected.items():
        assert (target / name).read_bytes() == data


def _find(user: Any, word: str) -> bytes:
    for _ in range(100):
        arrived = fetch_inbox(user, word)
        if arrived:
            return arrived[0]
        time.sleep(0.1)
    raise AssertionError(f"no message with {word!r} arrived")


async def _send_forward(pilot: Any, app: TermailApp, key: str, to: str, word: str) -> ComposeScreen:
    await pilot.press(key)
    screen: ComposeScreen = await wait_until(
        pilot,
        lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        timeout=30,
    )
    screen.query_one("#to").value = to
    screen.query_one("#subject").value = f"{word} {screen.query_one('#subject').value}"
    await pilot.pause(0.1)
    return screen


async def test_forward_keeps_attachments_and_forward_attached_is_exact(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Issue 20 item 4: `f` keeps every attachment (removable with ctrl+r); ctrl+f attaches the
    original as message/rfc822, its bytes equal to the message on the server."""
    raw, expected = encodings_message()
    sandbox.deliver(mail_user.name, raw)
    friend = sandbox.add_user(mail_user.name + "f")
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "encodings")
        app.screen.query_one("MessageList").focus()
        screen = await _send_forward(pilot, app, "f", friend.address, "inline")
        listed = [a.filename for a in screen.draft.attachments]  # type: ignore[union-attr]
        assert listed == list(expected)
        view = screen.query_one("#attachments")
        assert view.display
        # Remove one with the existing key, then send.
        view.focus()
        view.index = len(listed) - 1
        await pilot.press("ctrl+r")
        assert len(screen.draft.attachments) == len(expected) - 1
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
        await pilot.pause(0.2)
        await open_by_subject(pilot, app, "encodings")
        app.screen.query_one("MessageList").focus()
        screen = await _send_forward(pilot, app, "ctrl+f", friend.address, "attached")
        [whole] = screen.draft.attachments
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
        await pilot.pause(0.2)
    inline = email.message_from_bytes(_find(friend, "inline"), policy=email.policy.default)
    got = {p.get_filename(): p.get_payload(decode=True) for p in inline.iter_attachments()}
    wanted = {name: data for name, data in expected.items() if name != "blob.bin"}
    assert got == wanted
    attached = _find(friend, "attached")
    msg = email.message_from_bytes(attached, policy=email.policy.compat32)
    [rfc822] = [p for p in msg.get_payload() if p.get_content_type() == "message/rfc822"]
    # The enclosed bytes, as they arrived, equal the original message on the server.
    body = attached.split(b"Content-Type: message/rfc822", 1)[1].split(b"\r\n\r\n", 1)[1]
    original = fetch_inbox(mail_user, "encodings")[0]
    assert body.startswith(original)
    assert rfc822.get_payload()[0]["Subject"] == "encodings test"


async def test_open_executable_asks_first(
    sandbox: Any, mail_user: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    """Issue 13 item 8: a .desktop attachment is not handed to xdg-open without a question;
    the temporary copy is private and removed at exit."""
    opener = tmp_path / "xdg-open"
    log = tmp_path / "launched"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    desktop = b"[Desktop Entry]\nType=Application\nExec=sh -c 'touch /tmp/pwned'\n"
    raw = (
        b"From: x@example.org\r\nSubject: launcher inside\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="invoice.desktop"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(desktop).replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )
    sandbox.deliver(mail_user.name, raw)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "launcher")
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.focus()
        await pilot.press("o")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert "invoice.desktop" in dialog.question and ".desktop" in dialog.question
        await pilot.press("n")
        await pilot.pause(0.5)
        assert not log.exists()
        await pilot.press("o")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        # The fake opener creates the file, then writes the line: wait for the whole line.
        await wait_until(pilot, lambda: log.exists() and log.read_text().endswith("\n"))
        launched = log.read_text().split()
    [path] = [Path(p) for p in launched]
    assert path.name == "invoice.desktop" and path.parent.name.startswith(
        f"termail-open-{os.getpid()}-"
    )
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    from app.actions.opened import remove_open_folders

    remove_open_folders()  # what atexit does when termail ends
    assert not path.parent.exists()


async def test_saved_source_is_private(sandbox: Any, mail_user: Any, tmp_path: Path) -> None:
    """Issue 13 item 8: `w` wrote the message source 0644; it is mail, so 0600."""
    raw, _ = encodings_message()
    sandbox.deliver(mail_user.name, raw)
    old = os.umask(0o022)
    app = make_app(mail_user)
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await wait_until(pilot, lambda: app.screen.query(MessageView))
            await open_by_subject(pilot, app, "encodings")
            await pilot.press("w")
            dialog = await wait_until(
                pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen
            )
            dialog.query_one("Input").value = str(tmp_path / "source.eml")
            await pilot.press("enter")
            await wait_until(pilot, (tmp_path / "source.eml").exists)
            await wait_until(pilot, lambda: _idle(app, "message"))
    finally:
        os.umask(old)
    assert (tmp_path / "source.eml").read_bytes().startswith(b"From: Olga")
    assert stat.S_IMODE((tmp_path / "source.eml").stat().st_mode) == 0o600


async def test_forward_keeps_an_attached_message(sandbox: Any, mail_user: Any) -> None:
    """A message/rfc822 attachment is fetched as the enclosed message and forwarded as one."""
    inner = (
        b"From: a@example.org\r\nTo: b@example.org\r\nSubject: the inner one\r\n"
        b"Message-ID: <inner@example.org>\r\n\r\ninner body line\r\n"
    )
    raw = (
        b"From: x@example.org\r\nTo: me@example.org\r\nSubject: outer with message\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee the attached message\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n"
        + inner
        + b"\r\n--B--\r\n"
    )
    sandbox.deliver(mail_user.name, raw)
    friend = sandbox.add_user(mail_user.name + "g")
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "outer")
        app.screen.query_one("MessageList").focus()
        screen = await _send_forward(pilot, app, "f", friend.address, "nested")
        [only] = screen.draft.attachments
        assert only.mime_type == "message/rfc822"  # type: ignore[union-attr]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
        await pilot.pause(0.2)
    arrived = _find(friend, "nested")
    body = arrived.split(b"Content-Type: message/rfc822", 1)[1].split(b"\r\n\r\n", 1)[1]
    assert body.startswith(inner)


async def test_open_asks_when_the_content_is_a_program(
    sandbox: Any, mail_user: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    """A harmless name over a script (shebang) is caught after the download; "no" keeps
    no copy behind."""
    opener = tmp_path / "xdg-open"
    log = tmp_path / "launched"
    opener.write_text(f'#!/bin/sh\necho "$1" >> {log}\n')
    opener.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ['PATH']}")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR read again
    raw = (
        b"From: x@example.org\r\nSubject: harmless readme\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
        b"Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
        # octet-stream: a text/plain one is shown in the viewer now (o runs no program for it).
        b"Content-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="readme.txt"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(b"#!/bin/sh\necho hi\n").replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )
    sandbox.deliver(mail_user.name, raw)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "harmless")
        app.screen.query_one(MessageView).attachment_list.focus()
        await pilot.press("o")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert "a script" in dialog.question
        await pilot.press("n")
        await wait_until(pilot, lambda: _idle(app))
    assert not log.exists()
    assert not list(tmp_path.glob("termail-open-*"))
