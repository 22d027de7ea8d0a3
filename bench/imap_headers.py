"""The message-list header fetch of a 100,000-message folder: termail against a bare socket.

Seeds a private sandbox with N generated messages (100,000 by default), warms Dovecot's cache
with one throw-away FETCH, then measures, alternating, best of R runs each:

- bare_socket_fetch_s: a blocking socket sending `UID FETCH 1:* (<items>)` and reading the answer
  to the tagged OK, no parsing: what the server and the loopback need
- termail_read_s: the same FETCH through termail's engine (aioimaplib with its framing replaced),
  every response framed, literals inline, and handed to a callback: the library's own cost
- ratio: termail_read_s / bare_socket_fetch_s (goal <= 1.3)
- termail_fetch_s: `ImapClient.fetch_summaries(all uids)`: windows of 1,000 UIDs pipelined, every
  response framed and parsed into a MessageSummary (ENVELOPE, BODYSTRUCTURE, ...)
- ratio_with_parsing: termail_fetch_s / bare_socket_fetch_s (parsing is pure Python; no goal)
- headers_per_s: N / termail_fetch_s, fetched and parsed (goal >= 50,000)
- server_headers_per_s: N / bare_socket_fetch_s, the most any client could reach against this
  server (Dovecot builds ENVELOPE and BODYSTRUCTURE from its cache: about 2 s per 100,000 on
  the project's 2-core machine, idle, i.e. under 50,000/s), so headers_per_s is read against it
- termail_uid_list_s: the UID SEARCH that gives the UIDs (ESEARCH), measured apart
- response_mb: size of the FETCH answer

<items> is what termail fetches: UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE BODYSTRUCTURE MODSEQ.
Both clients use the plain port on loopback (no TLS on either side, so the client's own cost is
not hidden behind decryption). Prints JSON lines {"figure", "value", "unit"}.

Run: `.venv/bin/python -m bench.imap_headers [--messages N] [--runs R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.imap.client import SUMMARY_ITEMS, ImapClient  # noqa: E402
from app.models import TlsMode  # noqa: E402
from app.sandbox import Sandbox  # noqa: E402

ITEMS = SUMMARY_ITEMS + " MODSEQ"


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit}), flush=True)


def _tmp_base() -> str:
    base = Path("/dev/shm")
    return str(base) if base.is_dir() else tempfile.gettempdir()


class BareClient:
    """The least a client can do: send the command, read bytes until the tagged completion."""

    def __init__(self, host: str, port: int, user: str, password: str) -> None:
        self.sock = socket.create_connection((host, port))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.buf = bytearray()
        self.n = 0
        self._read_until(b"\r\n")
        self.command(f'LOGIN "{user}" "{password}"')
        self.command("SELECT INBOX")

    def _read_until(self, end: bytes) -> int:
        total = 0
        buf = self.buf
        recv_into = self.sock.recv_into
        chunk = bytearray(1 << 20)
        view = memoryview(chunk)
        while True:
            got = recv_into(view)
            if not got:
                raise ConnectionError("server closed")
            total += got
            # Only the tail can hold the completion; keep a little of it across reads.
            buf += view[:got]
            if buf.find(end, max(0, len(buf) - got - len(end))) >= 0:
                del buf[:]
                return total
            if len(buf) > 4096:
                del buf[: len(buf) - 4096]

    def command(self, text: str) -> int:
        self.n += 1
        tag = f"b{self.n}"
        self.buf[:] = b"\r\n"  # the completion may be the very first line of the answer
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        return self._read_until(f"\r\n{tag} OK".encode())

    def close(self) -> None:
        self.sock.close()


def bare_fetch(sb: Sandbox, user: Any) -> tuple[float, int]:
    client = BareClient(sb.host, sb.imap_port, user.name, user.password)
    t0 = time.perf_counter()
    size = client.command(f"UID FETCH 1:* ({ITEMS})")
    elapsed = time.perf_counter() - t0
    client.close()
    return elapsed, size


async def termail_fetch(settings: Any, credentials: Any) -> tuple[float, float, float, int]:
    """(fetch_summaries s, engine read s, UID list s, messages)."""
    client = await ImapClient.connect(settings, credentials)
    await client.select("INBOX")
    t0 = time.perf_counter()
    uids = await client.uid_list()
    t1 = time.perf_counter()
    summaries = await client.fetch_summaries(uids)
    t2 = time.perf_counter()
    assert len(summaries) == len(uids) and all(s.envelope.subject for s in summaries[:100])
    del summaries
    # The engine alone: the same single FETCH, every response framed and handed over whole.
    conn = client.connection
    assert conn is not None
    count = 0

    def take(raw: bytes) -> None:
        nonlocal count
        count += 1

    t3 = time.perf_counter()
    (await conn.execute("UID FETCH", "1:*", f"({ITEMS})", on_untagged=take)).check()
    t4 = time.perf_counter()
    assert count >= len(uids)
    await client.close()
    return t2 - t1, t4 - t3, t1 - t0, len(uids)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    sb = Sandbox(Path(tempfile.mkdtemp(prefix="termail-bench-", dir=_tmp_base())))
    sb.start()
    try:
        user = sb.add_user("bench")
        t0 = time.perf_counter()
        sb.seed_generated(user.name, args.messages)
        emit("seed_s", round(time.perf_counter() - t0, 2), "s")
        settings = user.imap_settings(
            tls=TlsMode.NONE, allow_insecure=True, timeout=120.0, compress=False
        )
        credentials = user.credentials()
        # Warm Dovecot's index and cache so both clients read the same warm folder.
        bare_fetch(sb, user)
        bare_fetch(sb, user)
        bare: list[float] = []
        ours: list[float] = []
        reads: list[float] = []
        listing: list[float] = []
        size = count = 0
        for _ in range(args.runs):
            b, size = bare_fetch(sb, user)
            bare.append(b)
            f, r, u, count = asyncio.run(termail_fetch(settings, credentials))
            ours.append(f)
            reads.append(r)
            listing.append(u)
        best_bare, best_ours, best_read = min(bare), min(ours), min(reads)
        emit("messages", count, "messages")
        emit("response_mb", round(size / 1e6, 1), "MB")
        emit("bare_socket_fetch_s", round(best_bare, 3), "s")
        emit("termail_read_s", round(best_read, 3), "s")
        emit("ratio", round(best_read / best_bare, 3), "x")
        emit("termail_fetch_s", round(best_ours, 3), "s")
        emit("ratio_with_parsing", round(best_ours / best_bare, 3), "x")
        emit("headers_per_s", round(count / best_ours), "1/s")
        emit("server_headers_per_s", round(count / best_bare), "1/s")
        emit("termail_uid_list_s", round(min(listing), 3), "s")
    finally:
        sb.stop(remove=True)


if __name__ == "__main__":
    main()
