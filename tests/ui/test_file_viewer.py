"""`termail view FILE.eml` (issue 20 item 8): the viewer on a file does what the app's does:
save and open an attachment from the file, full headers, raw source, HTML/text, the help."""

from __future__ import annotations

import asyncio
import os
import stat
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from app.main import ViewerApp
from widgets.help_screen import HelpScreen
from widgets.message_view import MessageView
from widgets.save_prompt import SavePrompt

pytestmark = [pytest.mark.ui]

PAYLOAD = bytes(range(256)) * 40 + b"end\n"


def _message() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann <ann@example.org>"
    msg["To"] = "bob@example.org"
    msg["Subject"] = "Report attached"
    msg["X-Trace"] = "only in the full headers"
    msg.set_content("The plain text.\n")
    msg.add_alternative("<p>The <b>HTML</b> text.</p>", subtype="html")
    msg.add_attachment(PAYLOAD, maintype="image", subtype="png", filename="d.png")
    return msg.as_bytes()


async def _until(pilot: Any, check: Any, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


def _shown_keys(app: Any) -> set[str]:
    return {key for key, active in app.screen.active_bindings.items() if active.binding.show}


def _notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_footer_keys_are_the_viewers() -> None:
    app = ViewerApp(_message(), "report.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        keys = _shown_keys(app)
        assert {"a", "o", "h", "H", "V", "question_mark", "q"} <= keys, keys


async def test_save_attachment_from_the_file(tmp_path: Path) -> None:
    app = ViewerApp(_message(), "report.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        dialog = await _until(pilot, lambda: isinstance(app.screen, SavePrompt) and app.screen)
        dialog.path_input.value = str(tmp_path)  # the folder: saved under the attachment's name
        await pilot.press("enter")
        saved = tmp_path / "d.png"
        await _until(pilot, saved.exists)
        await _until(pilot, lambda: any("Saved" in n for n in _notices(app)))
        assert saved.read_bytes() == PAYLOAD


async def test_open_attachment_from_the_file(tmp_path: Path, monkeypatch: Any) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    copy = tmp_path / "opened.bin"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\ncp "$1" {copy}\n')
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    app = ViewerApp(_message(), "report.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await _until(pilot, copy.exists)
        await _until(pilot, lambda: copy.read_bytes() == PAYLOAD)


async def test_headers_raw_html_and_help_keys() -> None:
    app = ViewerApp(_message(), "report.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        viewer = app.screen.query_one(MessageView)
        assert "plain text" in viewer.body.text
        await pilot.press("h")
        assert viewer.full_headers
        await pilot.press("H")
        await _until(pilot, lambda: "HTML" in viewer.body.text)
        assert viewer.rendered is not None and viewer.rendered.is_html
        await pilot.press("H")
        await _until(pilot, lambda: "plain text" in viewer.body.text)
        await pilot.press("V")
        await _until(pilot, lambda: viewer.raw_mode and "X-Trace:" in viewer.body.text)
        await pilot.press("V")
        await _until(pilot, lambda: not viewer.raw_mode)
        await pilot.press("question_mark")
        await _until(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, HelpScreen))
        await pilot.press("q")
        await _until(pilot, lambda: not app.is_running)


async def test_open_asks_first_for_a_program(tmp_path: Path, monkeypatch: Any) -> None:
    from widgets.dialogs import ConfirmDialog

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    copy = tmp_path / "opened"
    opener = bin_dir / "xdg-open"
    opener.write_text(f'#!/bin/sh\ncp "$1" {copy}\n')
    opener.chmod(opener.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    msg = EmailMessage()
    msg["Subject"] = "a script"
    msg.set_content("see attached\n")
    msg.add_attachment(b"#!/bin/sh\necho hi\n", maintype="text", subtype="plain", filename="x.sh")
    app = ViewerApp(msg.as_bytes(), "script.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("o")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("n")
        await _until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.pause(0.3)
        assert not copy.exists()  # not opened


async def test_fetch_unknown_key_in_file_viewer(tmp_path: Path) -> None:
    """ctrl+k in `termail view`: asks, `n` runs nothing, `y` runs the (fake) gpg, then good."""
    from textual.widgets import Static

    from app.crypto.engine import Engine
    from tests.gpg_keys import GPG, Keyring, cleanup, key_fetch_setup
    from widgets.dialogs import ConfirmDialog
    from widgets.message_view import MessageView

    if GPG is None:
        pytest.skip("gpg is not installed")
    setup = key_fetch_setup(tmp_path)
    from app.crypto.view import set_default_engine

    set_default_engine(Engine(binary=str(setup.fake_gpg), home=str(setup.user_home)))
    try:
        app = ViewerApp(setup.message, "stranger.eml")
        async with app.run_test(size=(120, 40)) as pilot:
            badge = app.screen.query_one(MessageView).query_one("#mv-check", Static)
            for _ in range(200):
                if "not in your keyring" in str(badge.render()):
                    break
                await pilot.pause(0.05)
            await pilot.press("ctrl+k")
            for _ in range(100):
                if isinstance(app.screen, ConfirmDialog):
                    break
                await pilot.pause(0.05)
            assert isinstance(app.screen, ConfirmDialog)
            await pilot.press("n")
            await pilot.pause(0.2)
            assert not any("--recv-keys" in line for line in setup.logged())
            await pilot.press("ctrl+k")
            for _ in range(100):
                if isinstance(app.screen, ConfirmDialog):
                    break
                await pilot.pause(0.05)
            await pilot.press("y")
            for _ in range(200):
                if "good signature by Signer" in str(badge.render()):
                    break
                await pilot.pause(0.05)
            assert "good signature by Signer" in str(badge.render())
            assert any("--recv-keys" in line for line in setup.logged())
    finally:
        set_default_engine(None)
        cleanup(Keyring(setup.user_home))


async def test_ctrl_c_asks_whether_to_quit() -> None:
    """As in the client: a question, not Textual's notice with its markup shown literally."""
    from widgets.dialogs import ConfirmDialog

    app = ViewerApp(_message(), "report.eml")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        viewer = app.screen
        await pilot.press("ctrl+c")
        dialog = await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen)
        assert str(dialog.question) == "Quit termail view?"
        assert not _notices(app)
        await pilot.press("escape")
        await _until(pilot, lambda: app.screen is viewer)
        await pilot.press("ctrl+c")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await _until(pilot, lambda: not app.is_running)
