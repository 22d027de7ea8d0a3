"""New mail in a big sorted folder: placed here (now) against listing the whole folder (before).

Seeds N generated messages (100,000 by default) into two sandbox Dovecots, `dovecot` (SORT,
QRESYNC) and `minimal` (`IMAP4rev1 CHILDREN NAMESPACE`: no SORT, CONDSTORE, ESEARCH), opens
INBOX newest first with a header cache (on minimal the order made here, keys fetched once),
then R times: one message delivered, `Account.reload_uids()` (what IDLE news or the poll
triggers). Timed both ways in the same run: with the placement of issue 14 item 9, and with
it turned off (every new message lists the whole folder: UID SORT, or UID SEARCH ALL).

Prints JSON lines {"figure", "value", "unit"}: the median seconds per new message and the
listings of the whole folder per new message. No goal is asserted: the figure is the point.

Run: `.venv/bin/python -m bench.new_mail_sorted [--messages N] [--runs R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import app.store.sync as sync  # noqa: E402
from app.account import Account  # noqa: E402
from app.models import Folder, TlsMode  # noqa: E402
from app.sandbox import Sandbox  # noqa: E402

INBOX = Folder("INBOX", "INBOX", "/")


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": value, "unit": unit}), flush=True)


def _tmp_base() -> str:
    base = Path("/dev/shm")
    return str(base) if base.is_dir() else tempfile.gettempdir()


def _mail(i: int) -> bytes:
    return (
        f"From: New <new{i}@example.org>\r\nTo: bench@localhost\r\nSubject: arrived {i}\r\n"
        f"Date: Fri, 01 Jan 2100 10:{i % 60:02d}:00 +0000\r\nMessage-ID: <nm{i}@example.org>"
        f"\r\n\r\nnew mail {i}\r\n"
    ).encode()


async def run(sb: Sandbox, user: Any, cache: Path, runs: int, placed: bool, base: int) -> Any:
    settings = user.imap_settings(
        tls=TlsMode.NONE, allow_insecure=True, timeout=300.0, compress=False
    )
    creds = user.credentials()
    account = Account(user.name, settings, lambda: creds, cache_path=cache)
    await account.connect()
    original = sync._placed
    if not placed:
        sync._placed = lambda *a, **k: None  # type: ignore[assignment]  # the old way: list
    try:
        await account.open_folder(INBOX)
        if account.sorts_locally():
            await account.local_order()  # the order made here (keys fetched once)
        client = account.client
        assert client is not None
        listings = 0
        uid_list = client.uid_list

        async def counting(sort: str | None = None) -> Any:
            nonlocal listings
            listings += 1
            return await uid_list(sort=sort)

        client.uid_list = counting  # type: ignore[method-assign]
        times = []
        for i in range(runs):
            sb.deliver(user.name, _mail(base + i))
            t0 = time.perf_counter()
            uids = await account.reload_uids()
            times.append(time.perf_counter() - t0)
            assert account.current is not None and len(uids) == account.current.exists
        return statistics.median(times), listings / runs
    finally:
        sync._placed = original  # type: ignore[assignment]
        await account.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    sandboxes: list[Sandbox] = []
    try:
        emit("messages", args.messages, "messages")
        for kind in ("dovecot", "minimal"):
            root = Path(tempfile.mkdtemp(prefix=f"termail-bench-{kind}-", dir=_tmp_base()))
            sb = Sandbox(root, profile=kind)
            sandboxes.append(sb)
            sb.start()
            user = sb.add_user("bench")
            sb.seed_generated("bench", args.messages)
            cache = root / "headers.sqlite3"
            base = 0
            # The first pair warms Dovecot's indexes and the cache; the second is reported.
            for placed in (False, True, False, True):
                median, listings = asyncio.run(run(sb, user, cache, args.runs, placed, base))
                base += args.runs
                if base > 2 * args.runs:
                    way = "placed" if placed else "listed"
                    emit(f"{kind}_new_mail_{way}_s", round(median, 4), "s")
                    emit(f"{kind}_new_mail_{way}_listings", listings, "per new message")
    finally:
        for sb in sandboxes:
            sb.stop(remove=True)


if __name__ == "__main__":
    main()
