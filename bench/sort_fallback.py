"""Opening a big folder on a server without SORT / THREAD, against one that has them.

Seeds N generated messages (100,000 by default) into two sandbox Dovecots: `minimal`, whose
CAPABILITY after login is cut to `IMAP4rev1 CHILDREN NAMESPACE` (no SORT, THREAD, ESEARCH), and
the usual one. After one untimed round (Dovecot builds its indexes and sort data once), the best
of R runs of, each on a fresh connection (no header cache, plain port on loopback):

- open_first_screen_s: `Account.open_folder(INBOX)` and the summaries of the first screen
  (100 rows): what the user waits for before rows are drawn. On `minimal` the rows are by UID
  (newest first) at this point; the order arrives after.
- order_arrives_s (minimal): `Account.local_order()` after the open: the sort keys of the whole
  folder fetched (INTERNALDATE RFC822.SIZE ENVELOPE References, windows of 1,000, pipelined),
  parsed and sorted by date here. The list is usable meanwhile.
- resort_cached_s (minimal): `o` to another order (subject) with the keys held: no server.
- threads_s: `Account.thread_view()`: minimal threads here (JWZ, keys held); dovecot uses the
  server's UID THREAD REFERENCES and UID SORT (DATE) for the order.

Prints JSON lines {"figure", "value", "unit"}. No goal is asserted: the figure is the point.

Run: `.venv/bin/python -m bench.sort_fallback [--messages N] [--runs R]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.account import Account  # noqa: E402
from app.models import Folder, TlsMode  # noqa: E402
from app.sandbox import Sandbox  # noqa: E402

INBOX = Folder("INBOX", "INBOX", "/")


def emit(figure: str, value: float, unit: str, note: str = "") -> None:
    line: dict[str, Any] = {"figure": figure, "value": value, "unit": unit}
    if note:
        line["note"] = note
    print(json.dumps(line), flush=True)


def _tmp_base() -> str:
    base = Path("/dev/shm")
    return str(base) if base.is_dir() else tempfile.gettempdir()


async def one_run(user: Any, local: bool) -> dict[str, float]:
    settings = user.imap_settings(
        tls=TlsMode.NONE, allow_insecure=True, timeout=300.0, compress=False
    )
    creds = user.credentials()
    account = Account(user.name, settings, lambda: creds)
    await account.connect()
    try:
        assert account.sorts_locally() == local
        figures: dict[str, float] = {}
        t0 = time.perf_counter()
        opened = await account.open_folder(INBOX)
        first = await account.summaries_for(list(opened.uids[: account.first_fetch]))
        figures["open_first_screen_s"] = time.perf_counter() - t0
        assert len(first) == min(len(opened.uids), account.first_fetch)
        if local:
            assert not opened.ordered
            t1 = time.perf_counter()
            ordered = await account.local_order()
            figures["order_arrives_s"] = time.perf_counter() - t1
            assert ordered is not None and len(ordered) == len(opened.uids)
            t2 = time.perf_counter()
            await account.resort("subject", False)
            figures["resort_cached_s"] = time.perf_counter() - t2
        t3 = time.perf_counter()
        uids, _depths = await account.thread_view()
        figures["threads_s"] = time.perf_counter() - t3
        assert len(uids) == len(opened.uids)
        return figures
    finally:
        await account.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    kinds = ("minimal", "dovecot")
    sandboxes: dict[str, Sandbox] = {}
    try:
        users = {}
        for kind in kinds:
            root = Path(tempfile.mkdtemp(prefix=f"termail-bench-{kind}-", dir=_tmp_base()))
            sb = sandboxes[kind] = Sandbox(root, profile=kind)
            sb.start()
            users[kind] = sb.add_user("bench")
            t0 = time.perf_counter()
            sb.seed_generated("bench", args.messages)
            emit(f"{kind}_seed_s", round(time.perf_counter() - t0, 2), "s")
        emit("messages", args.messages, "messages")
        for kind in kinds:
            asyncio.run(one_run(users[kind], kind == "minimal"))  # untimed: indexes built
            best: dict[str, float] = {}
            for _ in range(args.runs):
                for name, value in asyncio.run(one_run(users[kind], kind == "minimal")).items():
                    best[name] = min(value, best.get(name, value))
            for name, value in best.items():
                emit(f"{kind}_{name}", round(value, 3), "s")
    finally:
        for sb in sandboxes.values():
            sb.stop(remove=True)


if __name__ == "__main__":
    main()
