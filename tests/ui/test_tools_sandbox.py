"""Issue 15's tools against the sandbox, driven by keys: pipe (|), mailcap (o), bounce (B),
edit as new (e)."""

from __future__ import annotations

import base64
import email
import email.policy
import os
import time
from pathlib import Path
from typing import Any

import pytest
from textual.keys import _character_to_key

from app.main import TermailApp
from app.screens.compose import ComposeScreen
from tests.ui.test_app_sandbox import message_list, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox, imap, make_app
from widgets.dialogs import ConfirmDialog, PromptDialog
from widgets.message_view import MessageView
from widgets.pipe_prompt import PipePrompt

pytestmark = [pytest.mark.integration, pytest.mark.ui]

CSV = b"name,amount\nolga,12\nzoe,7\n"


def _with_attachment(subject: str, filename: str, ctype: str, data: bytes) -> bytes:
    return (
        (
            f"From: Olga <olga@example.org>\r\nTo: me@example.org\r\nSubject: {subject}\r\n"
            "Date: Wed, 02 Dec 2026 10:00:00 +0000\r\nMessage-ID: <t-{subject}@example.org>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n--B\r\n"
            "Content-Type: text/plain\r\n\r\nsee attached\r\n--B\r\n"
            f'Content-Type: {ctype}\r\nContent-Disposition: attachment; filename="{filename}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n"
        ).encode()
        + base64.encodebytes(data).replace(b"\n", b"\r\n")
        + b"--B--\r\n"
    )


async def type_keys(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press(_character_to_key(ch) if not ch.isalnum() else ch)


async def open_by_subject(pilot: Any, app: TermailApp, word: str) -> int:
    """Search `subject:word` and open the first match, waiting for the search field to have
    the focus before typing (under load a key typed earlier reaches the list: `c`, `s`, ...)."""
    ml = message_list(app)
    await wait_until(pilot, lambda: ml.row_count > 0)  # INBOX shown: the list takes the focus
    for _ in range(3):  # a folder arriving late may still take the focus back: press again
        await pilot.press("slash")
        field = await wait_until(
            pilot,
            lambda: app.screen.query("#query-input") and app.screen.query_one("#query-input"),
        )
        try:
            await wait_until(pilot, lambda f=field: f.has_focus, timeout=5)
            break
        except AssertionError:
            continue
    await type_keys(pilot, f"subject:{word}")
    await pilot.press("enter")
    await wait_until(pilot, lambda: "match" in str(app.screen.query_one("#status").message))
    await wait_until(pilot, lambda: ml.row_count > 0 and ml.summary(ml.uids[0]) is not None)
    ml.focus()
    await pilot.press("g", "enter")
    viewer = app.screen.query_one(MessageView)
    await wait_until(pilot, lambda: viewer.rendered is not None)
    return ml.uids[0]


def body_text(app: TermailApp) -> str:
    return app.screen.query_one(MessageView).body.text


async def test_pipe_message_to_wc_shows_the_raw_size(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(
        mail_user.name,
        b"From: olga@example.org\r\nSubject: pipe me\r\n\r\nsome text\r\nmore\r\n",
    )
    [raw] = fetch_inbox(mail_user, "pipe")
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "pipe")
        app.screen.query_one("MessageList").focus()
        await pilot.press("vertical_line")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PipePrompt) and app.screen)
        await pilot.press("enter")  # empty: says so, stays
        await pilot.pause(0.1)
        assert app.screen is prompt and "Type a command" in str(
            prompt.query_one("#pipe-error").render()
        )
        await type_keys(pilot, "wc -c")
        await pilot.press("enter")
        await wait_until(pilot, lambda: body_text(app).strip().isdigit())
        assert int(body_text(app).strip()) == len(raw)
        # The history offers it again; ctrl+t pipes the decoded text instead: it has the
        # sender check line, the raw message has not.
        await pilot.press("vertical_line")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PipePrompt) and app.screen)
        await pilot.press("up")
        assert prompt.query_one("#pipe-input").value == "wc -c"
        await pilot.press("ctrl+u")
        await type_keys(pilot, "grep -c 'Sender check'; exit 4")
        await pilot.press("ctrl+t")
        assert prompt.source == "decoded"
        await pilot.press("enter")
        await wait_until(
            pilot, lambda: "exit status 4" in str(app.screen.query_one("#mv-notices").render())
        )
        assert body_text(app).strip() == "1"
        # A command that does not exist: the screen says so, the app goes on.
        await pilot.press("vertical_line")
        await wait_until(pilot, lambda: isinstance(app.screen, PipePrompt))
        await type_keys(pilot, "no-such-tool-xyz")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "not found" in body_text(app))


async def test_mailcap_copiousoutput_shows_the_csv(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    mailcap = tmp_path / "mailcap"
    mailcap.write_text("text/csv; sed 's/,/ | /g' %s; copiousoutput\n")
    monkeypatch.setenv("MAILCAPS", str(mailcap))
    sandbox.deliver(mail_user.name, _with_attachment("csv here", "sums.csv", "text/csv", CSV))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "csv")
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.focus()
        await pilot.press("o")
        await wait_until(pilot, lambda: "olga | 12" in body_text(app))
        assert body_text(app).splitlines() == ["name | amount", "olga | 12", "zoe | 7"]
        notices = viewer.query_one("#mv-notices")
        assert notices.display and "sums.csv through sed" in str(notices.render())
        # Without a mailcap entry a text attachment is shown as it is.
        mailcap.write_text("image/png; true %s\n")
        await pilot.press("q")  # back from the output to the message
        assert not viewer.raw_mode and viewer.attachment_list.display
        viewer.attachment_list.focus()
        await pilot.press("o")
        await wait_until(pilot, lambda: "olga,12" in body_text(app))


async def test_hostile_name_through_mailcap_runs_only_the_viewer(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """`;rm -rf ~;.pdf`: the viewer gets one argument, a safe name in our private folder, and no
    other program runs (a fake rm in PATH would note it)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "log"
    for tool in ("rm", "viewer"):
        script = bin_dir / tool
        script.write_text(
            f'#!/bin/sh\nfor a in "$@"; do printf "%s\\t" "$a" >> {log}; done\n'
            f'echo "{tool}" >> {log}\n'
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    mailcap = tmp_path / "mailcap"
    mailcap.write_text("application/pdf; viewer %s\n")
    monkeypatch.setenv("MAILCAPS", str(mailcap))
    pdf = b"%PDF-1.4\n%fake\n"
    sandbox.deliver(
        mail_user.name, _with_attachment("hostile name", ";rm -rf ~;.pdf", "application/pdf", pdf)
    )
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "hostile")
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.focus()
        await pilot.press("o")
        await wait_until(pilot, lambda: log.exists() and log.read_text().endswith("viewer\n"))
        time.sleep(0.3)  # anything else the shell line started would have logged by now
    [line] = log.read_text().splitlines()
    args = line.split("\t")
    assert args[-1] == "viewer" and len(args) == 2
    path = Path(args[0])
    assert path.name == "rm_-rf.pdf" and path.parent.name.startswith("termail-open-")
    assert path.read_bytes() == pdf


async def test_bounce_arrives_with_resent_from(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "b")
    original = (
        b"From: Olga <olga@example.org>\r\nTo: someone@example.org\r\nSubject: bounce me\r\n"
        b"Message-ID: <bounce-orig@example.org>\r\n\r\nkeep these bytes\r\n"
    )
    sandbox.deliver(mail_user.name, original)
    [on_server] = fetch_inbox(mail_user, "bounce")
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "bounce")
        app.screen.query_one("MessageList").focus()
        await pilot.press("B")
        prompt = await wait_until(
            pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen
        )
        await type_keys(pilot, "nobody@")
        await pilot.press("enter")
        # Asked again, saying what is wrong, the typed text kept.
        again = await wait_until(
            pilot,
            lambda: (
                isinstance(app.screen, PromptDialog) and app.screen is not prompt and app.screen
            ),
        )
        assert "Not a valid address" in again.prompt_title and again.default == "nobody@"
        await pilot.press("ctrl+u")
        await type_keys(pilot, friend.address)
        await pilot.press("enter")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert friend.address in dialog.question and "“bounce me”" in dialog.question
        await pilot.press("y")
        await wait_until(pilot, lambda: fetch_inbox(friend, "bounce"), timeout=30)
    [arrived] = fetch_inbox(friend, "bounce")
    msg = email.message_from_bytes(arrived, policy=email.policy.default)
    assert mail_user.address in msg["Resent-From"] and msg["Resent-To"] == friend.address
    assert msg["Resent-Message-ID"] and msg["Resent-Date"]
    assert arrived.endswith(on_server)  # the original's bytes unchanged after the new fields
    # Only the new recipient got it: the user's own inbox still holds one copy.
    assert len(fetch_inbox(mail_user, "bounce")) == 1


async def test_edit_as_new_keeps_the_attachments(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    payload = os.urandom(3000)
    sandbox.deliver(
        mail_user.name,
        _with_attachment("edit again", "data.bin", "application/octet-stream", payload),
    )
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "edit")
        app.screen.query_one("MessageList").focus()
        await pilot.press("e")
        screen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        draft = screen.draft
        assert [(a.filename, a.data) for a in draft.attachments] == [("data.bin", payload)]
        assert draft.subject == "edit again" and draft.from_.address == mail_user.address
        assert screen.mode == "new"


async def test_archive_by_month_creates_the_folder_and_moves(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    from app.config.model import UiSettings

    for n in (1, 2):
        sandbox.deliver(
            mail_user.name,
            f"From: olga@example.org\r\nSubject: keep {n}\r\n"
            f"Date: Wed, 0{n} Dec 2026 10:00:00 +0000\r\n\r\nx\r\n".encode(),
        )
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        ml = app.screen.query_one("MessageList")
        await wait_until(pilot, lambda: ml.row_count == 2)
        app.screen.ui = UiSettings(archive="month")
        ml.focus()
        await pilot.press("t", "t", "y")  # mark both, archive
        await wait_until(pilot, lambda: ml.row_count == 0, timeout=30)
        assert any(f.name == "Archive/2026/12" for f in app.screen.account.folders)
    conn = imap(mail_user)
    typ, data = conn.select('"Archive/2026/12"')
    assert typ == "OK" and data[0] == b"2"
    conn.logout()


async def test_mailcap_open_asks_when_the_content_is_a_program(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    """A text/plain "readme.txt" holding a script: asked before the mailcap viewer gets it;
    "no" runs nothing and keeps no copy (h3's check on the xdg-open path, kept here)."""
    log = tmp_path / "ran"
    mailcap = tmp_path / "mailcap"
    mailcap.write_text(f"text/plain; cat %s > {log}; copiousoutput\n")
    monkeypatch.setenv("MAILCAPS", str(mailcap))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # TMPDIR read again
    sandbox.deliver(
        mail_user.name,
        _with_attachment("script inside", "readme.txt", "text/plain", b"#!/bin/sh\necho hi\n"),
    )
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "script")
        app.screen.query_one(MessageView).attachment_list.focus()
        await pilot.press("o")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert "a script" in dialog.question
        await pilot.press("n")
        await wait_until(
            pilot,
            lambda: not any(w.group == "attachment" and not w.is_finished for w in app.workers),
        )
    assert not log.exists()
    assert not list(tmp_path.glob("termail-open-*"))


async def test_pipe_marked_messages_as_one_mbox(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    for n in (1, 2, 3):
        sandbox.deliver(
            mail_user.name, f"From: olga@example.org\r\nSubject: many {n}\r\n\r\nx\r\n".encode()
        )
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        ml = message_list(app)
        await wait_until(pilot, lambda: ml.row_count == 3)
        ml.focus()
        await pilot.press("t", "t")  # mark two
        await pilot.press("vertical_line")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PipePrompt) and app.screen)
        assert prompt.source == "marked"
        await type_keys(pilot, "grep -c '^Subject: many'")
        await pilot.press("enter")
        await wait_until(pilot, lambda: body_text(app).strip() == "2")


async def test_pipe_the_highlighted_attachment(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, _with_attachment("part pipe", "sums.csv", "text/csv", CSV))
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: app.screen.query(MessageView))
        await open_by_subject(pilot, app, "part")
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.focus()
        await pilot.press("down")  # the attachment highlighted
        await pilot.press("vertical_line")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PipePrompt) and app.screen)
        await pilot.press("ctrl+t", "ctrl+t")  # raw → decoded → the attachment
        assert prompt.source == "part"
        assert "sums.csv" in str(prompt.query_one("#pipe-modes").render())
        await type_keys(pilot, "md5sum")
        await pilot.press("enter")
        import hashlib

        digest = hashlib.md5(CSV).hexdigest()
        await wait_until(pilot, lambda: body_text(app).startswith(digest))
