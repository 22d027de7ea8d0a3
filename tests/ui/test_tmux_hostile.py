"""The real terminal's bytes through a hostile session (issue 13, the tmux test).

termail runs in tmux on two accounts: one on the sandbox Dovecot with hostile folder names
(OSC 0 title, OSC 52 clipboard, CSI clear screen and reports, C1 CSI, bidi, zero-width, markup)
and an SMTP server forced to refuse with escape sequences in its reply; one on a scripted IMAP
server of our own (tests/faults/scripted.py) that sends ALERTs in its greeting and before a NO to
AUTHENTICATE, all carrying the same payloads. A person opens the hostile folder (c), looks at the
rename prompt (E), opens a folder that was deleted behind the app's back (Dovecot's NO echoes
the raw name), sends to a refused address, switches to the other account (Ctrl+A) and quits.

`tmux pipe-pane` records every byte the app wrote. Textual draws with CSI (SGR, cursor moves,
private modes, the kitty keyboard protocol) and sets the mouse pointer shape with OSC 22: those
are allowed. Any other OSC, DCS/APC/PM, other ESC sequences, a CSI Textual does not write, BEL
outside OSC 22, C1 controls, bidi or zero-width characters fail the test, and so does a change
of the pane's title.

The IMAP core shows a server's ALERT (issue 13 item 5): the test checks that the alert text is
drawn, as text, and that none of its bytes leak (ALERT_SHOWN).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from app.imap.utf7 import encode_mailbox
from tests.faults.scripted import ScriptedServer
from tests.ui.test_tmux_demo import Tmux as DemoTmux

pytestmark = [pytest.mark.integration, pytest.mark.ui]

TMUX = shutil.which("tmux")

PAYLOAD = "\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[6n\x1b[21t\u009b2J\u202e\u200b[b red]mk"
ASCII_PAYLOAD = "\x1b]0;pwned-title\x07\x1b]52;c;cHduZWQ=\x07\x1b[6n\x1b[21t[b red]mk"
EVIL = "Evil " + PAYLOAD  # a space: Dovecot quotes it (an unquoted `]` is h7's tokenizer fix)
GONE = "Gone " + PAYLOAD
ALERT_SHOWN = True  # the IMAP core's ALERT display (issue 13 item 5) is merged

#: What Textual writes itself.
_ALLOWED = re.compile(
    rb"\x1b\[[0-9;:]*m"  # SGR
    rb"|\x1b\[[0-9;]*[HABCDGf]"  # cursor moves
    rb"|\x1b\[[0-9]?[JK]"  # erase (Textual clears once at start)
    rb"|\x1b\[\?[0-9;]+[hl]"  # private modes: alt screen, mouse, paste, focus, sync
    rb"|\x1b\[\?[0-9]+\$p"  # mode queries (sync output, in-band resize)
    rb"|\x1b\[[<>=][0-9;]*u"  # kitty keyboard protocol push/pop
    rb"|\x1b\]22;[a-z-]*(?:\x07|\x1b\\\\)"  # OSC 22: the mouse pointer's shape
)
_BAD = re.compile(
    rb"\x1b|\x07|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]"
    rb"|\xe2\x80[\x8b-\x8f\xaa-\xae]|\xe2\x81[\xa0-\xa9]|\xef\xbb\xbf"
)


class Tmux(DemoTmux):
    """The demo test's driver, with a pause after each key and the picker/gone waits."""

    def wait_picker(self, shown: str, hidden: str, timeout: float = 20.0) -> None:
        """Until the folder picker's list shows `shown` and no longer `hidden` (the filter
        has run), so Enter chooses what was typed, however loaded the machine is."""
        deadline = time.monotonic() + timeout
        region = ""
        while time.monotonic() < deadline:
            lines = self.screen().splitlines()
            start = next((i for i, ln in enumerate(lines) if "Open folder" in ln), None)
            end = next((i for i, ln in enumerate(lines) if "Enter: choose" in ln), None)
            if start is not None and end is not None:
                region = "\n".join(lines[start + 2 : end])
                if shown in region and hidden not in region:
                    return
            time.sleep(0.25)
        raise AssertionError(f"the picker never showed only {shown!r}:\n{region}")

    def wait_gone(self, text: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text not in self.screen():
                return
            time.sleep(0.25)
        raise AssertionError(f"{text!r} stayed on the screen")

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "demo", *keys)
        time.sleep(0.3)

    def type(self, text: str) -> None:
        self.run("send-keys", "-t", "demo", "-l", text)
        time.sleep(0.3)


@pytest.fixture
def alert_server() -> Iterator[ScriptedServer]:
    """A scripted IMAP server in a thread of its own (the test itself is synchronous)."""
    raw = PAYLOAD.encode()
    server = ScriptedServer(
        b"* OK [ALERT] greeting " + raw + b"\r\n",
        {
            b"CAPABILITY": b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n{tag} OK done\r\n",
            b"AUTHENTICATE": b"* OK [ALERT] login "
            + raw
            + b"\r\n{tag} NO [ALERT] no "
            + raw
            + b"\r\n",
            b"LOGIN": b"* OK [ALERT] login " + raw + b"\r\n{tag} NO [ALERT] no " + raw + b"\r\n",
        },
    )
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with server:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        yield server
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)


def write_config(path: Path, sandbox: Any, user: Any, alert_port: int) -> None:
    q = json.dumps
    path.write_text(
        f"""\
[accounts.hostile]
address = {q(user.address)}
display_name = "Test User"
# The refused send below still waits in the outbox first (the undo-send path), 1 s not 10.
send_delay = 1

[accounts.hostile.imap]
host = "127.0.0.1"
port = {sandbox.imaps_port}
tls = "implicit"
user = {q(user.name)}
ca_file = {q(str(sandbox.ca_file))}
password_env = "TERMAIL_TEST_PW"
keyring = false

[accounts.hostile.smtp]
host = "127.0.0.1"
port = {sandbox.smtp_port}
tls = "starttls"
ca_file = {q(str(sandbox.ca_file))}

[accounts.alerts]
address = "alerts@example.test"

[accounts.alerts.imap]
host = "127.0.0.1"
port = {alert_port}
tls = "none"
allow_insecure = true
user = "alerts"
password_env = "TERMAIL_TEST_PW"
keyring = false
timeout = 5

[accounts.alerts.smtp]
host = "127.0.0.1"
port = {alert_port}
tls = "none"
allow_insecure = true
"""
    )
    path.chmod(0o600)


def leaks(data: bytes) -> list[str]:
    """Every sequence or character in the terminal bytes that Textual would not write."""
    rest = _ALLOWED.sub(b"", data)
    found = []
    for match in _BAD.finditer(rest):
        found.append(repr(rest[max(0, match.start() - 20) : match.end() + 30]))
        if len(found) >= 15:
            break
    return found


def message(subject: str) -> bytes:
    return (
        f"From: a@example.org\r\nTo: b@example.org\r\nSubject: {subject}\r\n"
        "Message-ID: <tmux-hostile@example.org>\r\n\r\nbody\r\n"
    ).encode()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_hostile_session_writes_nothing_but_textuals_own_sequences(
    tmp_path: Path, sandbox: Any, mail_user: Any, alert_server: ScriptedServer
) -> None:
    import imaplib

    for name in (EVIL, GONE):
        sandbox.ensure_maildir(mail_user.name, encode_mailbox(name))
    sandbox.deliver(mail_user.name, message("hello"), mailbox=encode_mailbox(EVIL))
    sandbox.deliver(mail_user.name, message("inbox"))
    refused = f"refused-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(554, recipient=refused, text="5.7.1 no " + ASCII_PAYLOAD)

    termail = Path(sys.executable).parent / "termail"
    config = tmp_path / "config.toml"
    write_config(config, sandbox, mail_user, alert_server.port)
    raw = tmp_path / "terminal.bin"
    env_file = tmp_path / "env.sh"
    env_file.write_text(
        f"export TERMAIL_STATE_DIR={tmp_path}/state\nexport TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_DATA_HOME={tmp_path}/data\nexport XDG_CACHE_HOME={tmp_path}/cache\n"
        f"export TERMAIL_TEST_PW={mail_user.password}\n"
    )
    tmux = Tmux(f"termail-hostile-{os.getpid()}")
    tmux.run("new-session", "-d", "-s", "demo", "-x", "160", "-y", "45", "bash --norc --noprofile")
    try:
        tmux.run("pipe-pane", "-t", "demo", "-o", f"cat >> {raw}")
        start = raw.stat().st_size if raw.exists() else 0
        tmux.type(f". {env_file}; {termail} --config {config} --account hostile; echo EXITED $?")
        tmux.keys("Enter")
        tmux.wait_for("INBOX")
        screen = tmux.wait_for("Evil ␛]0;pwned-title␇")
        assert "Gone" in screen

        # c: open the hostile folder; E: its rename prompt; Escape.
        tmux.keys("c")
        tmux.wait_for("Open folder")
        tmux.type("Evil")
        tmux.wait_picker("Evil", "Gone")
        tmux.keys("Enter")
        tmux.wait_for("hello")
        tmux.keys("E")
        tmux.wait_for("Rename")
        tmux.keys("Escape")
        tmux.wait_gone("Rename")

        # A folder deleted behind the app's back: Dovecot's NO quotes the raw name.
        conn = imaplib.IMAP4_SSL(
            sandbox.host, sandbox.imaps_port, ssl_context=sandbox.client_ssl_context()
        )
        conn.login(mail_user.name, mail_user.password)
        wire = next(
            line.decode().split(' "/" ', 1)[1] for line in conn.list()[1] if b"Gone" in line
        )
        assert conn.delete(wire)[0] == "OK"
        conn.logout()
        tmux.keys("c")
        tmux.wait_for("Open folder")
        tmux.type("Gone")
        tmux.wait_picker("Gone", "Evil")
        tmux.keys("Enter")
        tmux.wait_for("Cannot open")

        # A send refused with escape sequences in the SMTP reply.
        tmux.keys("m")
        tmux.wait_for("Subject")
        for part in (refused, "Tab", "Tab", "Tab", "refused here", "Tab", "body"):
            if part == "Tab":
                tmux.keys("Tab")
            else:
                tmux.type(part)
        tmux.keys("C-s")
        tmux.wait_for("Send")
        tmux.keys("y")
        # (After the undo-send delay, 1 s here: the refusal comes back into compose.)
        tmux.wait_for("Not sent: 554", timeout=40)
        tmux.keys("Escape")
        tmux.wait_for("Discard")
        tmux.keys("d")
        time.sleep(1)

        # The scripted server: ALERTs in its greeting and before the NO to AUTHENTICATE.
        tmux.run("send-keys", "-t", "demo", "q")
        tmux.wait_for("EXITED", timeout=20)
        tmux.type(f"{termail} --config {config} --account alerts; echo DONE $?")
        tmux.keys("Enter")
        screen = tmux.wait_for("Cannot connect", timeout=30)
        assert "␛]0;pwned-title␇␛]52;c;" in screen  # the NO text, shown as text
        if ALERT_SHOWN:
            tmux.wait_for("greeting ␛]0;pwned-title␇", timeout=30)
        tmux.keys("q")
        tmux.wait_for("DONE", timeout=20)
        title = tmux.run("display-message", "-p", "-t", "demo", "#{pane_title}")
    finally:
        tmux.run("kill-server")
    data = raw.read_bytes()[start:]
    assert len(data) > 10_000, "pipe-pane recorded (almost) nothing"
    assert b"pwned-title" in data  # the hostile text was drawn, as text
    assert "pwned" not in title, f"the pane's title was changed: {title!r}"
    found = leaks(data)
    assert not found, "bytes the app did not write itself:\n" + "\n".join(found)
