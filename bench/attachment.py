"""Showing a message with a 25 MB attachment: the bytes read from the socket, against the least.

Delivers one message (a plain-text part of a few KB and a 25 MB PDF attachment, base64) into a
sandbox INBOX, then, through `bench.launch.CountingProxy` (which counts the TLS bytes the client
really reads), opens it as the app does: `Account.summaries_for` (the list row: envelope, flags,
size, BODYSTRUCTURE) and `Account.load_message` (header block and text parts only). Prints:

- attachment_message_bytes_read: bytes from the server from asking for the row to the message
  rendered (on a connection already logged in with the folder selected)
- attachment_message_needed_bytes: the header block + the BODYSTRUCTURE as the server writes it
  + the text part's octets: what any client must read to show the message
- attachment_bytes_ratio: the two divided (goal <= 1.1), with termail's default COMPRESS=DEFLATE
  (the sandbox Dovecot offers it, as Dovecot 2.4 always does)
- attachment_message_bytes_read_uncompressed / attachment_bytes_ratio_uncompressed: the same
  with `compress = false`: what the fetches cost without compression (the row's ENVELOPE repeats
  most of the header block, which is why this stays above 1.1)
- attachment_message_size_bytes: the whole message (what a client fetching BODY[] reads)
- attachment_message_open_s: time of the two calls

Run alone: `.venv/bin/python -m bench.attachment`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

Emit = Callable[..., None]
ATTACHMENT_BYTES = 25 * 1024 * 1024


def emit_json(figure: str, value: float, unit: str, **extra: Any) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit, **extra}), flush=True)


def big_message(size: int = ATTACHMENT_BYTES, seed: int = 7) -> bytes:
    """A realistic mail: a few KB of text, then a `size`-byte PDF-like attachment in base64."""
    rng = random.Random(seed)
    words = [
        "report",
        "quarter",
        "numbers",
        "attached",
        "please",
        "review",
        "the",
        "figures",
        "before",
        "friday",
    ]
    text = "\r\n".join(" ".join(rng.choice(words) for _ in range(12)) for _ in range(40))  # ~3.5 KB
    blob = b"%PDF-1.4\n" + rng.randbytes(size - 9)
    encoded = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    head = (
        "From: Ana Garcia <ana@example.org>\r\nTo: Bench <bench@localhost>\r\n"
        "Subject: Q4 report with the full data set\r\n"
        "Date: Sat, 28 Nov 2026 09:30:00 +0000\r\nMessage-ID: <big-attachment@example.org>\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n'
        "--b1\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        f"Hello,\r\n\r\n{text}\r\n\r\nAna\r\n"
        '--b1\r\nContent-Type: application/pdf; name="q4-data.pdf"\r\n'
        'Content-Disposition: attachment; filename="q4-data.pdf"\r\n'
        "Content-Transfer-Encoding: base64\r\n\r\n"
    ).encode()
    return head + encoded + b"--b1--\r\n"


def _needed(sb: Any, user: Any, uid: int) -> tuple[int, int, int, int]:
    """(header bytes, BODYSTRUCTURE bytes as sent, text part octets, whole size) by bare socket."""
    from bench.cache import RawImap

    raw = RawImap(sb.host, sb.imaps_port, sb.client_ssl_context())
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        raw.command("EXAMINE INBOX")
        header = b"".join(raw.command(f"UID FETCH {uid} (BODY.PEEK[HEADER])"))
        m = re.search(rb"\{(\d+)\}\r\n", header)
        header_len = int(m.group(1)) if m else 0
        structure = b"".join(raw.command(f"UID FETCH {uid} (BODYSTRUCTURE)"))
        i = structure.find(b"BODYSTRUCTURE ")
        bodystructure_len = len(structure[i + len(b"BODYSTRUCTURE ") :].rstrip(b")\r\n")) + 1
        text = b"".join(raw.command(f"UID FETCH {uid} (BODY.PEEK[1])"))
        m = re.search(rb"\{(\d+)\}\r\n", text)
        text_len = int(m.group(1)) if m else 0
        size_line = b"".join(raw.command(f"UID FETCH {uid} (RFC822.SIZE)"))
        m = re.search(rb"RFC822\.SIZE (\d+)", size_line)
        whole = int(m.group(1)) if m else 0
    finally:
        raw.close()
    return header_len, bodystructure_len, text_len, whole


async def _open_through_proxy(
    sb: Any, user: Any, uid: int, *, compress: bool = True
) -> tuple[int, float, Any]:
    from app.account import Account
    from app.models import Folder, FolderRole, TlsMode
    from bench.launch import CountingProxy

    with CountingProxy(sb.host, sb.imaps_port) as proxy:
        creds = user.credentials()
        account = Account(
            user.name,
            user.imap_settings(TlsMode.IMPLICIT, port=proxy.port, compress=compress),
            lambda: creds,
        )
        await account.connect()
        try:
            await account.open_folder(Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX))
            await asyncio.sleep(0.05)  # nothing of the set-up still in flight
            before = proxy.down
            t0 = time.perf_counter()
            summaries = await account.summaries_for([uid])
            rendered = await account.load_message(uid)
            elapsed = time.perf_counter() - t0
            await asyncio.sleep(0.05)  # the proxy's thread forwards the last bytes
            read = proxy.down - before
        finally:
            await account.close()
    assert summaries and summaries[0].uid == uid
    return read, elapsed, rendered


def run(sb: Any, emit: Emit = emit_json) -> dict[str, float]:
    """Deliver the message to a user of its own and measure; returns the figures too."""
    user = sb.add_user(f"attach{random.randrange(10**6)}")
    sb.deliver(user.name, big_message())
    uid = 1
    header_len, bodystructure_len, text_len, whole = _needed(sb, user, uid)
    read, elapsed, rendered = asyncio.run(_open_through_proxy(sb, user, uid))
    plain_read, _, _ = asyncio.run(_open_through_proxy(sb, user, uid, compress=False))
    attachments = getattr(rendered, "attachments", [])
    if not attachments or "Hello" not in getattr(rendered, "body", ""):
        raise RuntimeError("the message did not render with its text and attachment")
    needed = header_len + bodystructure_len + text_len
    figures = {
        "attachment_message_bytes_read": float(read),
        "attachment_message_needed_bytes": float(needed),
        "attachment_bytes_ratio": read / needed,
        "attachment_bytes_ratio_uncompressed": plain_read / needed,
        "attachment_message_size_bytes": float(whole),
        "attachment_message_open_s": elapsed,
    }
    emit("attachment_message_bytes_read", read, "bytes")
    emit(
        "attachment_message_needed_bytes",
        needed,
        "bytes",
        note=f"header {header_len} + BODYSTRUCTURE {bodystructure_len} + text part {text_len}",
    )
    emit("attachment_bytes_ratio", round(read / needed, 3), "x", note="COMPRESS=DEFLATE on")
    emit(
        "attachment_message_bytes_read_uncompressed",
        plain_read,
        "bytes",
        note="the same with compress = false",
    )
    emit("attachment_bytes_ratio_uncompressed", round(plain_read / needed, 3), "x")
    emit("attachment_message_size_bytes", whole, "bytes")
    emit("attachment_message_open_s", round(elapsed, 4), "s")
    return figures


def main(argv: list[str] | None = None) -> int:
    argparse.ArgumentParser(prog="python -m bench.attachment", description=__doc__).parse_args(argv)
    import shutil

    from app.sandbox import Sandbox

    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-attbench-", dir=base))
    sb = Sandbox(root)
    try:
        sb.start()
        run(sb)
    finally:
        sb.stop(remove=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
