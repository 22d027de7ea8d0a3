"""What the protocol log costs on the hot path: a 100,000-message FETCH through the framer.

Feeds the engine's framer (`ImapProtocol.data_received`) the bytes of one UID FETCH answer of
100,000 messages (FLAGS, a short ENVELOPE-like literal each, then the tagged OK) in 64 KB chunks,
with nobody logging (tap None) and with an account's protocol log attached (the tap counts every
untagged response past the first `app.protolog.BURST` and formats only those). Best of five.
Prints JSON lines:

- protolog_fetch_100k_untapped_s, protolog_fetch_100k_tapped_s: framing time
- protolog_fetch_100k_overhead_pct: the tap's share
- protolog_fetch_100k_lines_logged: lines the log holds after it (not 100,000)

Run: `.venv/bin/python -m bench.protolog [--messages N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

from app import protolog
from app.imap.engine import ImapProtocol, _Pending


def _answer(n: int) -> bytes:
    rows = []
    for uid in range(1, n + 1):
        lit = b"Subject: message number %d\r\n" % uid
        rows.append(
            b"* %d FETCH (UID %d FLAGS (\\Seen) BODY[HEADER.FIELDS (SUBJECT)] {%d}\r\n%s)\r\n"
            % (uid, uid, len(lit), lit)
        )
    rows.append(b"A1 OK Fetch completed.\r\n")
    return b"".join(rows)


def _run(data: bytes, tapped: bool) -> tuple[float, int]:
    loop = asyncio.new_event_loop()
    try:
        proto = ImapProtocol(loop)
        proto.greeting.set_result(b"* OK")
        log = protolog.ProtocolLog("bench")
        if tapped:
            proto.tap = protolog.ImapTap(log, "imap1")
            proto.tap.command("A1", "UID FETCH", ["1:*", "(FLAGS BODY.PEEK[HEADER])"])
        count = 0

        def on_untagged(_raw: bytes) -> None:
            nonlocal count
            count += 1

        cmd = _Pending(loop, "A1", "UID FETCH", on_untagged, None)
        cmd.sent = True
        proto.inflight.append(cmd)
        proto.by_tag["A1"] = cmd
        step = 64 << 10
        t0 = time.perf_counter()
        for at in range(0, len(data), step):
            proto.data_received(data[at : at + step])
        elapsed = time.perf_counter() - t0
        assert cmd.future.done() and count > 0
        return elapsed, len(log.lines)
    finally:
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="bench.protolog")
    parser.add_argument("--messages", type=int, default=100_000)
    args = parser.parse_args()
    data = _answer(args.messages)
    plain = min(_run(data, False)[0] for _ in range(5))
    runs = [_run(data, True) for _ in range(5)]
    tapped = min(r[0] for r in runs)
    lines = runs[0][1]
    for name, value, unit in (
        ("protolog_fetch_100k_untapped_s", round(plain, 4), "s"),
        ("protolog_fetch_100k_tapped_s", round(tapped, 4), "s"),
        ("protolog_fetch_100k_overhead_pct", round(100 * (tapped - plain) / plain, 1), "%"),
        ("protolog_fetch_100k_lines_logged", lines, "lines"),
    ):
        print(json.dumps({"figure": name, "value": value, "unit": unit}), flush=True)


if __name__ == "__main__":
    main()
