"""Pipe a message (raw or decoded), a part or the marked messages to a shell command.

mutt's `pipe-message` (`pipe_decode` for the decoded text) and aerc's `:pipe [-m]`. The command
is the user's own line, run by `/bin/sh -c`; what it prints is either captured (bounded, for the
viewer) or goes to the terminal while the app is suspended (`run_interactive`). The typed lines
are kept, newest first, in the state file (`pipe.history`).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.mime.termout import say
from app.state import recall, remember

__all__ = [
    "HISTORY_KEY",
    "MAX_HISTORY",
    "PipeResult",
    "add_history",
    "decoded_text",
    "history",
    "mbox_stream",
    "run_captured",
    "run_interactive",
]

HISTORY_KEY = "pipe.history"
MAX_HISTORY = 50
#: Output kept for the viewer; the rest is read and dropped (the command is never blocked).
MAX_OUTPUT = 2 << 20

Source = Literal["raw", "decoded", "part", "marked"]


@dataclass(frozen=True, slots=True)
class PipeResult:
    """How a captured command ended: its exit status and what it printed (stdout + stderr)."""

    returncode: int
    output: bytes
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


def history() -> list[str]:
    """The commands typed before, newest first."""
    saved = recall(HISTORY_KEY, [])
    if not isinstance(saved, list):
        return []
    return [c for c in saved if isinstance(c, str) and c.strip()][:MAX_HISTORY]


def add_history(command: str) -> list[str]:
    """Put `command` first in the history (once); a failure to write the state file is ignored."""
    command = command.strip()
    if not command:
        return history()
    entries = [command, *(c for c in history() if c != command)][:MAX_HISTORY]
    with contextlib.suppress(OSError, TypeError, ValueError):
        remember(HISTORY_KEY, entries)
    return entries


def decoded_text(raw: bytes) -> bytes:
    """The message as a reader sees it (decoded headers, the text, the attachment list), UTF-8."""
    from app.mime.render import render_message
    from app.mime.textview import format_text_view

    return format_text_view(render_message(raw)).encode("utf-8")


_FROM_LINE = re.compile(rb"^(>*From )", re.M)


def mbox_stream(messages: Sequence[bytes], sender: str = "MAILER-DAEMON") -> bytes:
    """Several messages as one mboxrd stream (`From ` separators, `>From` quoting, LF ends)."""
    out = bytearray()
    for data in messages:
        body = data.replace(b"\r\n", b"\n")
        body = _FROM_LINE.sub(rb">\1", body)
        out += f"From {sender} Thu Jan  1 00:00:00 1970\n".encode()
        out += body
        if not body.endswith(b"\n"):
            out += b"\n"
        out += b"\n"
    return bytes(out)


async def run_captured(command: str, data: bytes, *, limit: int = MAX_OUTPUT) -> PipeResult:
    """Run `command` with `data` on its standard input and collect what it prints.

    A command that does not read its input (`true`, `date`) is fine: the broken pipe is
    ignored. Output past `limit` is drained and dropped, so the command never blocks on it.
    """
    proc = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdin is not None and proc.stdout is not None

    async def feed() -> None:
        assert proc.stdin is not None
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.write(data)
            await proc.stdin.drain()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            proc.stdin.close()

    writer = asyncio.ensure_future(feed())
    out = bytearray()
    truncated = False
    try:
        while chunk := await proc.stdout.read(65536):
            room = max(limit - len(out), 0)
            out += chunk[:room]
            truncated = truncated or len(chunk) > room
        await writer
        code = await proc.wait()
    except BaseException:
        writer.cancel()
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        raise
    return PipeResult(code, bytes(out), truncated)


def run_interactive(command: str, data: bytes, *, wait: bool = True) -> int:
    """Run `command` on the terminal (the app suspended), `data` on its input; its exit status.

    With `wait`, "Press Enter to return to termail" is asked on the terminal afterwards, so
    what the command printed can be read (mutt's wait_key).
    """
    try:
        done = subprocess.run(["/bin/sh", "-c", command], input=data, check=False)
        code = done.returncode
    except OSError as exc:
        say(f"termail: cannot run the command: {exc}")
        code = 127
    if wait:
        try:
            with open("/dev/tty", "r+b", buffering=0) as tty:
                status = f"exit status {code}" if code else "done"
                tty.write(f"\n[{status}] Press Enter to return to termail ".encode())
                tty.readline()
        except OSError:
            pass
    return code
