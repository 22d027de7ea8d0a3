"""The header cache and resync, against the sandbox: warm first screen, resync, and its raw bound.

Builds a folder of N generated messages (100,000 by default), loads it into termail's cache
through `app.store.sync.resync` (a cold full load), then, as another client would, changes it with a
plain imaplib connection: flags of 1,000 messages and 1,000 new messages (APPEND). Then measures:

- cache_warm_first_screen_ms: open the cache file, read the mailbox state (the UID list) and the
  first 50 summaries of the list: what a warm start shows before the server answers
- cache_get_50_summaries_ms: the 50 summaries alone, cache already open
- resync_s: `resync()` on a logged-in ImapClient, from the cache as it was before the changes
  (SELECT ... QRESYNC, then the new messages' summaries, then one cache transaction)
- resync_raw_bound_s: a bare TLS socket sending the same commands and reading the answers to the
  end, no parsing: what the server and the network alone need
- resync_ratio: resync_s / resync_raw_bound_s (goal <= 2)
- resync_condstore_s and resync_condstore_raw_bound_s: the same without QRESYNC (CONDSTORE:
  UID FETCH ... (FLAGS) (CHANGEDSINCE m)), as on servers that offer only that
- resync_sorted_s and resync_sorted_raw_bound_s: QRESYNC with the list in REVERSE DATE order,
  which new mail makes the server sort again (UID SORT)
- cache_full_load_s: the cold load (UID list + first 2,000 summaries) that filled the cache
- cache_file_mb: the cache file's size afterwards

Each timed figure is the median of several runs after untimed ones (the first sessions after
the changes makes Dovecot rewrite its index, a one-off server cost that would swamp both sides);
the cache file is restored before each resync, and ours and the raw bound alternate.
Run: `.venv/bin/python -m bench.cache [--messages N] [--runs R]`; prints JSON lines.
"""

from __future__ import annotations

import argparse
import asyncio
import imaplib
import json
import random
import re
import shutil
import socket
import ssl
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.imap.parser import format_sequence_set  # noqa: E402
from app.models import TlsMode  # noqa: E402
from app.store.cache import HeaderCache  # noqa: E402
from app.store.sync import first_screen, resync  # noqa: E402

Emit = Callable[[str, float, str], None]
#: Untimed resync + raw passes before the timed ones (Dovecot's index settles after the changes).
WARMUP = 3

_LITERAL_AT_END = re.compile(rb"\{(\d+)\+?\}\r\n$")


def emit_json(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit}), flush=True)


# -- the raw bound: a bare socket ----------------------------------------------------------------


class RawImap:
    """The least a client can do: write a command, read to its tagged completion, parse nothing.

    Literals are skipped by their announced length (so a literal holding a fake tagged line cannot
    end a command early); nothing else of the answer is looked at.
    """

    def __init__(self, host: str, port: int, context: ssl.SSLContext) -> None:
        raw = socket.create_connection((host, port))
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = context.wrap_socket(raw, server_hostname="localhost")
        self.buf = b""
        self.tag = 0
        self.bytes_read = 0
        self._read_line()  # greeting

    def _fill(self) -> None:
        data = self.sock.recv(1 << 18)
        if not data:
            raise ConnectionError("server closed the connection")
        self.bytes_read += len(data)
        self.buf += data

    def _read_line(self) -> bytes:
        """One response line, with any literals it announces inline (not decoded)."""
        out = b""
        while True:
            end = self.buf.find(b"\r\n")
            while end < 0:
                self._fill()
                end = self.buf.find(b"\r\n")
            line, self.buf = self.buf[: end + 2], self.buf[end + 2 :]
            out += line
            m = _LITERAL_AT_END.search(line)
            if m is None:
                return out
            need = int(m.group(1))
            while len(self.buf) < need:
                self._fill()
            out += self.buf[:need]
            self.buf = self.buf[need:]

    def command(self, text: str) -> list[bytes]:
        self.tag += 1
        tag = f"R{self.tag}".encode()
        self.sock.sendall(tag + b" " + text.encode() + b"\r\n")
        lines: list[bytes] = []
        while True:
            line = self._read_line()
            if line.startswith(tag + b" "):
                if not line[len(tag) + 1 :].startswith(b"OK"):
                    raise RuntimeError(f"{text[:60]}: {line!r}")
                return lines
            lines.append(line)

    def close(self) -> None:
        try:
            self.command("LOGOUT")
        except (OSError, RuntimeError, ConnectionError):
            pass
        self.sock.close()


# -- helpers -------------------------------------------------------------------------------------


def _imaplib(sb: Any, user: Any) -> imaplib.IMAP4_SSL:
    conn = imaplib.IMAP4_SSL(sb.host, sb.imaps_port, ssl_context=sb.client_ssl_context())
    conn.login(user.name, user.password)
    return conn


def _message(i: int) -> bytes:
    return (
        f"From: Bench Sender <bench{i % 17}@example.org>\r\n"
        f"To: Demo <demo@localhost>\r\n"
        f"Subject: New message number {i}\r\n"
        f"Date: Sat, 28 Nov 2026 12:{i % 60:02d}:00 +0000\r\n"
        f"Message-ID: <new{i}@example.org>\r\n"
        "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        f"Body of new message {i}.\r\n"
    ).encode()


def change_on_server(sb: Any, user: Any, flag_changes: int, new: int, seed: int = 1) -> None:
    """Another client at work: flags of `flag_changes` messages, then `new` APPENDed messages."""
    conn = _imaplib(sb, user)
    try:
        typ, data = conn.select("INBOX")
        typ, data = conn.uid("SEARCH", "ALL")
        uids = [int(x) for x in (data[0] or b"").split()]
        rng = random.Random(seed)
        chosen = sorted(rng.sample(uids, min(flag_changes, len(uids))))
        # toggle \\Seen, so that every one of them is a real change (a no-op STORE is none)
        typ, data = conn.uid("FETCH", format_sequence_set(chosen), "(UID FLAGS)")
        seen = {
            int(m.group(1))
            for line in data
            if isinstance(line, bytes) and b"\\Seen" in line
            for m in [re.search(rb"UID (\d+)", line)]
            if m is not None
        }
        read = [u for u in chosen if u not in seen]
        unread = [u for u in chosen if u in seen]
        for part, op in ((read, "+FLAGS"), (unread, "-FLAGS")):
            for i in range(0, len(part), 200):
                conn.uid("STORE", format_sequence_set(part[i : i + 200]), op, "(\\Seen)")
        for i in range(new):
            conn.append("INBOX", None, None, _message(i))
    finally:
        conn.logout()


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


# -- the benchmark -----------------------------------------------------------------------------


async def _connect(user: Any) -> Any:
    from app.imap.client import ImapClient

    return await ImapClient.connect(user.imap_settings(tls=TlsMode.IMPLICIT), user.credentials())


class _NoQresync:
    """The client with QRESYNC hidden, to measure the CONDSTORE way on the same server."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset(c for c in self._client.capabilities if c.upper() != "QRESYNC")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


async def _timed_resync(
    user: Any, snapshot: Path, work: Path, condstore_only: bool, sort: str | None = None
) -> tuple[float, Any]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(snapshot, work)
    cache = HeaderCache.open(work)
    client = await _connect(user)
    try:
        wrapped = _NoQresync(client) if condstore_only else client
        t0 = time.perf_counter()
        result = await resync(wrapped, cache, "INBOX", sort=sort)
        elapsed = time.perf_counter() - t0
    finally:
        await client.close()
        cache.close()
    return elapsed, result


def _raw_resync(
    sb: Any,
    user: Any,
    before: Any,
    new_uids: Sequence[int],
    items: str,
    condstore_only: bool,
    sort: str | None = None,
) -> float:
    """The same commands as resync sent by a bare socket, from SELECT to the last answer."""
    raw = RawImap(sb.host, sb.imaps_port, sb.client_ssl_context())
    try:
        raw.command(f'LOGIN "{user.name}" "{user.password}"')
        raw.command("ENABLE CONDSTORE" if condstore_only else "ENABLE QRESYNC")
        known = format_sequence_set(sorted(before.uids))
        t0 = time.perf_counter()
        if condstore_only:
            raw.command("SELECT INBOX (CONDSTORE)")
        else:
            raw.command(
                f"SELECT INBOX (QRESYNC ({before.uidvalidity} {before.highestmodseq} {known}))"
            )
        if new_uids:
            first = max(before.uidnext, max(before.uids, default=0) + 1)
            raw.command(f"UID FETCH {first}:{max(new_uids)} {items}")
        if condstore_only:
            raw.command(f"UID FETCH {known} (FLAGS) (CHANGEDSINCE {before.highestmodseq})")
        if sort is not None:
            raw.command(f"UID SORT ({sort}) UTF-8 ALL")
        elapsed = time.perf_counter() - t0
    finally:
        raw.close()
    return elapsed


def _summary_items() -> str:
    """The FETCH items ImapClient asks for a summary (so the raw bound moves the same bytes)."""
    from app.imap.client import SUMMARY_ITEMS

    return f"({SUMMARY_ITEMS} MODSEQ)"  # the client adds MODSEQ once CONDSTORE is enabled


async def run(
    sb: Any,
    messages: int = 100_000,
    *,
    runs: int = 5,
    flag_changes: int = 1000,
    new: int = 1000,
    emit: Emit = emit_json,
    workdir: Path | None = None,
) -> None:
    """All the cache figures against a running sandbox `sb`, on a user of its own."""
    user = sb.add_user(f"cachebench{random.randrange(10**6)}")
    sb.seed_generated(user.name, messages)
    conn = _imaplib(sb, user)  # let Dovecot index the folder before anything is timed
    conn.select("INBOX", readonly=True)
    conn.logout()
    work = Path(workdir or tempfile.mkdtemp(prefix="termail-cachebench-", dir=_tmp_base()))
    path = work / "cache.sqlite3"
    snapshot = work / "snapshot.sqlite3"
    try:
        cache = HeaderCache.open(path)
        client = await _connect(user)
        t0 = time.perf_counter()
        await resync(client, cache, "INBOX")
        emit("cache_full_load_s", round(time.perf_counter() - t0, 4), "s")
        await client.close()
        before = cache.mailbox_state("INBOX")
        cache.close()
        assert before is not None and before.highestmodseq is not None
        emit("cache_file_mb", round(path.stat().st_size / 1e6, 2), "MB")
        shutil.copyfile(path, snapshot)

        # warm first screen: open + state + 50 summaries, best of the runs (file in page cache)
        warm, get50 = [], []
        for _ in range(max(runs, 5)):
            t0 = time.perf_counter()
            c = HeaderCache.open(path, full_check=False)
            state = c.mailbox_state("INBOX")
            assert state is not None
            first = first_screen(state, 50)
            t1 = time.perf_counter()
            got = c.get_summaries("INBOX", state.uidvalidity, first)
            t2 = time.perf_counter()
            assert len(got) == len(first), (len(got), len(first))
            c.close()
            warm.append(t2 - t0)
            get50.append(t2 - t1)
        emit("cache_warm_first_screen_ms", round(_median(warm) * 1000, 3), "ms")
        emit("cache_get_50_summaries_ms", round(_median(get50) * 1000, 3), "ms")

        change_on_server(sb, user, flag_changes, new)
        items = _summary_items()
        modes = (
            (False, None, "resync"),
            (True, None, "resync_condstore"),
            (False, "REVERSE DATE", "resync_sorted"),
        )
        for condstore_only, sort, name in modes:
            ours, bound = [], []
            result = None
            # untimed passes first: the first session after the changes also makes
            # Dovecot update its own index and cache files, a one-off cost of the server
            for run_index in range(runs + WARMUP):
                elapsed, result = await _timed_resync(user, snapshot, path, condstore_only, sort)
                raw = _raw_resync(sb, user, before, result.new_uids, items, condstore_only, sort)
                if run_index >= WARMUP:
                    ours.append(elapsed)
                    bound.append(raw)
            assert result is not None
            if not condstore_only:
                assert len(result.new_uids) == new, len(result.new_uids)
                assert len(result.flag_changes) == flag_changes, len(result.flag_changes)
            emit(f"{name}_s", round(_median(ours), 4), "s")
            emit(f"{name}_raw_bound_s", round(_median(bound), 4), "s")
            emit(f"{name}_ratio", round(_median(ours) / _median(bound), 2), "x")
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _tmp_base() -> str:
    import os

    return "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cache", description=__doc__)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    from app.sandbox import Sandbox

    root = Path(tempfile.mkdtemp(prefix="termail-bench-", dir=_tmp_base()))
    sb = Sandbox(root)
    sb.start()
    try:
        asyncio.run(run(sb, args.messages, runs=args.runs))
    finally:
        sb.stop(remove=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
