"""`termail config check` against hostile servers: what they say is shown, never sent raw.

The text of a BYE greeting, a BAD to STARTTLS, an SMTP 554 greeting, a 454 to STARTTLS and a NO
to AUTHENTICATE reaches the user in `config check`'s output, and a network attacker can write it
before TLS. Each carries OSC 0 (terminal title), OSC 52 (clipboard), CSI (clear screen), C1 CSI,
a bidi override and a zero-width space: none of it may reach the terminal, and the words around
it must still be readable. Fake servers of our own (tests/faults/scripted.py) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from app.config.commands import config_check
from tests.faults.scripted import ScriptedServer

PAYLOAD = (
    "evil\x1b]0;pwned-title\x07\x1b]52;c;ZXZpbA==\x07\x1b[2J\u009b31m\u202ereversed\u200bzw"
    "[b]markup[/b]"
)
RAW = PAYLOAD.encode("utf-8")

#: What must never be printed: C0 but TAB/LF, DEL, C1, bidi controls, invisible characters.
FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)


def _servers() -> dict[str, tuple[ScriptedServer, ScriptedServer]]:
    imap_caps = b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] hi\r\n"
    return {
        # IMAP BYE greeting, SMTP 554 greeting.
        "greet": (
            ScriptedServer(b"* BYE " + RAW + b"\r\n", close_after_greeting=True),
            ScriptedServer(b"554 " + RAW + b"\r\n", imap=False, close_after=frozenset({b"QUIT"})),
        ),
        # BAD to STARTTLS, 454 to STARTTLS.
        "starttls": (
            ScriptedServer(imap_caps, {b"STARTTLS": b"{tag} BAD " + RAW + b"\r\n"}),
            ScriptedServer(
                b"220 smtp.test ESMTP\r\n",
                {
                    b"EHLO": b"250-smtp.test\r\n250 STARTTLS\r\n",
                    b"STARTTLS": b"454 " + RAW + b"\r\n",
                },
                imap=False,
            ),
        ),
        # NO after AUTHENTICATE (and LOGIN), 535 after AUTH: plaintext, allow_insecure.
        "auth": (
            ScriptedServer(
                b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hi\r\n",
                {
                    b"AUTHENTICATE": b"{tag} NO " + RAW + b"\r\n",
                    b"LOGIN": b"{tag} NO " + RAW + b"\r\n",
                },
            ),
            ScriptedServer(
                b"220 smtp.test ESMTP\r\n",
                {
                    b"EHLO": b"250-smtp.test\r\n250 AUTH PLAIN LOGIN\r\n",
                    b"AUTH": b"535 " + RAW + b"\r\n",
                },
                imap=False,
            ),
        ),
    }


def _config(tmp_path: Path, ports: dict[str, tuple[int, int]]) -> Path:
    lines: list[str] = []
    for name, (imap_port, smtp_port) in ports.items():
        imap_tls, smtp_tls = {
            "greet": ("none", "none"),
            "starttls": ("starttls", "starttls"),
            "auth": ("none", "none"),
        }[name]
        insecure = "allow_insecure = true\n" if imap_tls == "none" else ""
        lines.append(
            f'[accounts.{name}]\naddress = "{name}@example.test"\n\n'
            f'[accounts.{name}.imap]\nhost = "127.0.0.1"\nport = {imap_port}\n'
            f'tls = "{imap_tls}"\nuser = "{name}"\npassword_env = "HOSTILE_PW"\n'
            f"keyring = false\ntimeout = 5\n{insecure}\n"
            f'[accounts.{name}.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
            f'tls = "{smtp_tls}"\ntimeout = 5\n'
            + ("allow_insecure = true\n" if smtp_tls == "none" else "")
            + "\n"
        )
    path = tmp_path / "config.toml"
    path.write_text("".join(lines))
    path.chmod(0o600)
    return path


async def test_config_check_prints_hostile_server_text_safely(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOSTILE_PW", "pw-not-shown-42")
    servers = _servers()
    async with AsyncExitStack() as stack:
        for imap, smtp in servers.values():
            await stack.enter_async_context(imap)
            await stack.enter_async_context(smtp)
        ports = {name: (imap.port, smtp.port) for name, (imap, smtp) in servers.items()}
        path = _config(tmp_path, ports)
        out = io.StringIO()
        code = await asyncio.to_thread(config_check, ["--config", str(path)], out=out)
    captured = capsys.readouterr()
    text = out.getvalue() + captured.out + captured.err
    assert code == 1, text
    assert "6 of 6 logins failed." in text, text
    # Each failure quotes the server (readably), and nothing of the payload's controls is left.
    for account in servers:
        for which in ("IMAP", "SMTP"):
            line = next(
                (ln for ln in text.splitlines() if f"{account}: {which} FAILED" in ln), None
            )
            assert line is not None, (account, which, text)
            assert "evil" in line and "pwned-title" in line, (account, which, line)
    found = FORBIDDEN.findall(text)
    assert not found, f"control characters printed: {sorted(set(map(ascii, found)))}\n{text!r}"
    assert "\x1b]" not in text and "\x1b[" not in text
    assert "pw-not-shown-42" not in text
    # The servers really were asked (no check that stopped before reaching them).
    assert any(b"STARTTLS" in line for line in servers["starttls"][0].received)
    assert any(b"STARTTLS" in line.upper() for line in servers["starttls"][1].received)
    assert any(
        b"AUTHENTICATE" in line.upper() or b"LOGIN" in line.upper()
        for line in servers["auth"][0].received
    )
    assert any(b"AUTH" in line.upper() for line in servers["auth"][1].received)
    json.dumps(text)  # printable as JSON, i.e. valid str (no lone surrogates)
