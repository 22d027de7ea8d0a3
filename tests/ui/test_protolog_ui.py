"""The protocol log screen: `P` shows the account's dialogue live; a refused RCPT is named
"5xx permanent failure" (F12 from the compose screen that failed); search, save; and a
server's escape sequence is drawn as a picture, never written raw."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.widgets import RichLog, Static

from app import protolog
from app.protolog import ImapTap, ProtocolLog, SmtpTap
from app.screens.compose import ComposeScreen
from tests.ui.test_app_sandbox import list_filled, wait_until
from tests.ui.test_compose_sandbox import make_app, open_compose
from widgets.dialogs import ConfirmDialog
from widgets.protocol_log import ProtocolLogScreen
from widgets.safe import SafeNotify
from widgets.save_prompt import SavePrompt

pytestmark = pytest.mark.ui


def shown_rows(screen: ProtocolLogScreen) -> list[str]:
    """The text of every row the RichLog holds (as drawn: segments joined)."""
    view = screen.query_one("#plog-lines", RichLog)
    return ["".join(segment.text for segment in strip) for strip in view.lines]


@pytest.mark.integration
async def test_p_shows_dialogue_and_refused_rcpt_is_named(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.clear_smtp_rules()
    refused = f"nobody{mail_user.name}@localhost"
    sandbox.force_smtp_reply(550, recipient=refused, text="5.7.1 Relaying denied")
    sandbox.deliver(mail_user.name, b"Subject: hello\r\nFrom: x@y.z\r\n\r\nhi\r\n")
    app = make_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(150, 40)) as pilot:
            await wait_until(pilot, lambda: list_filled(app))
            await pilot.press("P")
            screen = await wait_until(
                pilot, lambda: isinstance(app.screen, ProtocolLogScreen) and app.screen
            )
            await pilot.pause()
            rows = shown_rows(screen)
            assert any(" C: " in r and " SELECT " in r for r in rows)
            assert any(" S: " in r and "OK [READ-WRITE]" in r for r in rows)
            assert not any(mail_user.password in r for r in rows)
            await pilot.press("escape")
            await wait_until(pilot, lambda: not isinstance(app.screen, ProtocolLogScreen))

            compose = await open_compose(pilot, app)
            compose.query_one("#to").value = refused
            compose.query_one("#subject").value = "refused"
            compose.query_one("#body").text = "hi\n"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            error = compose.query_one("#compose-error", Static)
            await wait_until(pilot, lambda: "F12" in str(error.render()), timeout=30)
            assert isinstance(app.screen, ComposeScreen)  # not sent: the message stays
            await pilot.press("f12")
            screen = await wait_until(
                pilot, lambda: isinstance(app.screen, ProtocolLogScreen) and app.screen
            )
            await pilot.pause()
            rows = shown_rows(screen)
            refusal = [r for r in rows if "S: 550 5.7.1 Relaying denied" in r]
            assert (
                refusal
                and "[5xx permanent failure · 5.7.1 delivery not authorized" in (refusal[-1])
            )
            assert any(f"RCPT TO:<{refused}>" in r for r in rows)
            assert any("AUTH PLAIN <redacted>" in r for r in rows)
            status = str(screen.query_one("#plog-status", Static).render())
            assert "the last error" in status
            await pilot.press("escape")
            await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen))
    finally:
        sandbox.clear_smtp_rules()
        for account in app.accounts:
            protolog.detach(account.protocol_log)


class LogApp(SafeNotify, App[None]):
    def __init__(self, log: ProtocolLog) -> None:
        super().__init__()
        self.plog = log

    def compose(self) -> ComposeResult:
        yield Static("base")

    def on_mount(self) -> None:
        self.push_screen(ProtocolLogScreen(self.plog, account="hostile"))


async def test_escape_in_server_text_drawn_as_picture_search_and_save(tmp_path: Path) -> None:
    log = ProtocolLog("hostile")
    imap = ImapTap(log, "imap1")
    imap.command("A1", "SELECT", ["INBOX"])
    imap.response(b"* OK [ALERT] \x1b]0;owned\x07\x1b[2J gotcha")
    imap.response(b"A1 NO \x1b[31mno such folder")
    smtp = SmtpTap(log, "smtp2")
    smtp.reply(451, "4.3.0 try later")
    app = LogApp(log)
    async with app.run_test(size=(140, 30)) as pilot:
        screen = await wait_until(
            pilot, lambda: isinstance(app.screen, ProtocolLogScreen) and app.screen
        )
        await pilot.pause()
        rows = shown_rows(screen)
        joined = "\n".join(rows)
        assert "\x1b" not in joined and "\x07" not in joined
        assert "␛]0;owned" in joined
        assert any("[4xx temporary failure · 4.3.0" in r for r in rows)
        # Live: a line added while open shows up.
        imap.command("A2", "NOOP", [])
        await pilot.pause()
        assert any("A2 NOOP" in r for r in shown_rows(screen))
        # Search: only matching lines, Esc shows all again.
        await pilot.press("slash")
        for key in "owned":
            await pilot.press(key)
        await pilot.press("enter")
        await pilot.pause()
        assert len(shown_rows(screen)) == 1 and "owned" in shown_rows(screen)[0]
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown_rows(screen)) == len(log.lines)
        # Save: the save prompt, 0600, no raw escape.
        await pilot.press("s")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, SavePrompt) and app.screen)
        prompt.query_one("Input").value = str(tmp_path / "saved.log")
        await pilot.press("enter")
        saved = tmp_path / "saved.log"
        await wait_until(pilot, lambda: saved.exists() and saved.stat().st_size > 0)
        data = saved.read_bytes()
        assert b"\x1b" not in data and "␛".encode() in data
        assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ProtocolLogScreen))
