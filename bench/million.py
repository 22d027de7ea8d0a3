"""`python -m bench.million`: the real `termail` in tmux on a 1,000,000-message INBOX (issue 21).

The INBOX (--n generated messages between bench.peers' two markers, on /dev/shm) is seeded
once per invocation and reused by every run. Kinds, each timed from the launch to the first
screen showing the newest marker (`bench.peers.run_once`: tmux 160x48, screen polled every
50 ms), then End pressed until the oldest marker shows:

* cold_sortcold: no termail cache, and Dovecot's SORT cold: before each run Dovecot is
  stopped, every `dovecot.index.cache` of the user deleted (the file that holds the parsed
  Date/From/Subject fields SORT reads; without it Dovecot reads each message file again) and
  Dovecot started again. This is "a fresh Dovecot" of the issue.
* cold: no termail cache, Dovecot's cache warm (it sorted the folder before).
* warm: termail's header cache filled by an untimed run first. That run presses End as the
  timed ones do, so it keeps no splash snapshot (only the start screen is kept): the figure is
  a warm start without the splash. `--fill-top` leaves the filling run on the start screen,
  and the timed run then starts from its snapshot.

`--before CMD` times a second termail command (an older checkout) in the same sitting, as
million_before_<kind>. Prints JSON lines as `python -m bench`: million_<kind>_{first_screen_s, jump_end_s,
rss_settled_mb, rss_peak_mb} (medians of --runs; peak is VmHWM read 2 s after the first
screen, with End pressed), and million_select_{search,last_uid}_s: the opening round trip on
a raw socket, SELECT with UID SEARCH ALL (what a cold start sent before) and with FETCH * (UID)
(what it sends now). `--peers` adds aerc's cold kinds (the same Dovecot set-up) for a
ratio. The headers/s figure is `python -m bench.imap_headers` (a FETCH of summaries end to
end), run here with --headers.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import peers  # noqa: E402


def _cold_sort(sb: Any, user: Any) -> None:
    """Dovecot restarted with the user's index caches gone: its next SORT parses every file."""
    sb.stop_dovecot()
    removed = 0
    for path in Path(sb.mail_root).rglob("dovecot.index.cache"):
        with contextlib.suppress(OSError):
            path.unlink()
            removed += 1
    sb.start_dovecot()
    peers.log(f"Dovecot restarted, {removed} dovecot.index.cache removed")


def _opening_figures(sb: Any, user: Any, runs: int) -> None:
    """The opening round trip on a raw socket, alternating: SELECT with the UID SEARCH a cold
    start used to send, and with the `FETCH * (UID)` it sends now (UIDs without gaps need no
    search). Medians of `runs`, a new connection each, its index already open (BareClient
    selects, then UNSELECT): the difference is the search alone (issue 21: 0.26-0.46 s on
    1,000,000)."""
    from bench.imap_headers import BareClient

    times: dict[str, list[float]] = {"search": [], "last_uid": []}
    for _ in range(max(1, runs)):
        for kind, second in (
            ("search", "UID SEARCH RETURN (ALL) ALL"),
            ("last_uid", "FETCH * (UID)"),
        ):
            client = BareClient(sb.host, sb.imap_port, user.name, user.password)
            try:
                client.command("UNSELECT")  # BareClient selects; time a SELECT of our own
                t0 = time.perf_counter()
                client.buf[:] = b"\r\n"
                client.sock.sendall(f"s1 SELECT INBOX\r\ns2 {second}\r\n".encode())
                client._read_until(b"\r\ns2 OK")
                times[kind].append(time.perf_counter() - t0)
            finally:
                client.close()
    for kind, values in times.items():
        values.sort()
        peers.emit(f"million_select_{kind}_s", values[len(values) // 2], "s", runs=len(values))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.million", description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000, help="messages in INBOX")
    parser.add_argument("--runs", type=int, default=1, help="timed runs per kind (median)")
    parser.add_argument("--only", default="", help="regex on kind names (cold_sortcold|warm)")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to a first screen")
    parser.add_argument("--termail", default=peers._termail_command(), help="termail command")
    parser.add_argument(
        "--before",
        default="",
        help="a second termail command (e.g. an older checkout: env PYTHONPATH=DIR termail),"
        " timed in the same sitting as million_before_<kind>",
    )
    parser.add_argument("--peers", action="store_true", help="aerc too (cold kinds)")
    parser.add_argument(
        "--fill-settle", type=float, default=15.0, help="seconds the warm kind's filling run stays"
    )
    parser.add_argument("--headers", action="store_true", help="run bench.imap_headers too")
    parser.add_argument(
        "--fill-top",
        action="store_true",
        help="the warm kind's filling run presses no End: it ends on the start screen, so the"
        " timed run starts from its splash snapshot (app/splash.py); by default it presses End"
        " as every timed run does, which leaves no snapshot and times the warm start without it",
    )
    args = parser.parse_args(argv)
    if not shutil.which("tmux"):
        peers.log("tmux is not installed: no figures")
        return 0
    from app.sandbox import Sandbox
    from bench.launch import warm_server

    peers._compile_termail()
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else tempfile.gettempdir()
    root = Path(tempfile.mkdtemp(prefix="termail-million-", dir=base))
    os.chmod(root, 0o755)
    (root / "sandbox").mkdir()
    sb = Sandbox(root / "sandbox")
    try:
        sb.start()
        user = sb.add_user("bench")
        t0 = time.perf_counter()
        peers.log(f"seeding {args.n} messages")
        # The generated dates reach 2052 at 1,000,000: the newest marker after them all.
        peers._seed(sb, user, args.n, ("Thu, 1 Jan 2099 00:00:00 +0000", 4070908800.0))
        warm_server(sb, user, ["INBOX"])
        peers.emit("million_seed_s", time.perf_counter() - t0, "s", n=args.n)
        made = peers._entries(root / "work", user, {0: sb.imap_port}, args.termail)
        if args.before:
            for e in peers._entries(root / "before", user, {0: sb.imap_port}, args.before):
                if e.client == "termail":
                    made.append(replace(e, client="before"))
        _opening_figures(sb, user, max(3, args.runs))
        by = {(e.client, e.kind): e for e in made}
        entries: list[tuple[str, peers.Entry, bool]] = []
        clients = ["termail"] + (["before"] if args.before else [])
        clients += ["aerc"] if args.peers and ("aerc", "cold") in by else []
        for client in clients:
            cold = by[(client, "cold")]
            entries.append(("cold_sortcold", replace(cold, results=[]), True))
            entries.append(("cold", replace(cold, results=[]), False))
            if client != "aerc":
                entries.append(("warm", replace(by[(client, "warm")], results=[]), False))
        for kind, entry, cold_sort in entries:
            name = f"{entry.client}_{kind}"
            if args.only and not re.search(args.only, name):
                continue
            for k in range(args.runs):
                if entry.setup is not None and (not entry.warm or k == 0):
                    entry.setup()
                if entry.warm:
                    # The filling run stays until the server's order is in the cache (a cold
                    # start draws the newest rows before the SORT, which may take seconds).
                    settle, peers.SETTLE = peers.SETTLE, args.fill_settle
                    fill = replace(entry, jump_marker="") if args.fill_top else entry
                    try:
                        peers.run_once(fill, None, timed=True, timeout=args.timeout)
                    finally:
                        peers.SETTLE = settle
                if cold_sort:
                    _cold_sort(sb, user)
                got = peers.run_once(entry, None, timed=True, timeout=args.timeout)
                peers.log(
                    f"{name} run {k + 1}: {json.dumps({x: round(v, 3) for x, v in got.items()})}"
                )
                entry.results.append(got)
            for key, unit in (*peers.UNITS.items(), ("rss_peak_mb", "MB")):
                value = peers._median(entry, key)
                if value is not None and key != "turns":
                    peers.emit(f"million_{name}_{key}", value, unit, n=args.n)
            if cold_sort:  # leave Dovecot's cache warm for the next kind, as "cold" expects
                warm_server(sb, user, ["INBOX"])
        if args.headers:
            subprocess.run([sys.executable, "-m", "bench.imap_headers"], cwd=ROOT, check=False)
    finally:
        with contextlib.suppress(Exception):
            peers._tmux("kill-server", check=False)
        sb.stop(remove=True)
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
