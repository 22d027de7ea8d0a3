"""How fast the IMAP parser decodes message-list FETCH responses, without any network.

Takes the header FETCH responses recorded from Dovecot (tests/data/imap/dovecot), repeats them
to 100,000, and parses them all, best of three runs. Prints JSON lines:

- header_parse_per_s: UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE MODSEQ of the sandbox's
  generated (realistic) messages (the target: >= 50,000)
- header_parse_with_bodystructure_per_s: the same plus BODYSTRUCTURE, as the client fetches
- edge_case_parse_per_s: the hand-written edge cases (literals, latin-1, 30 nested multiparts,
  nested messages) with BODYSTRUCTURE: the general decoder's speed, not the common case

Run: `.venv/bin/python bench/parser_speed.py [count]`.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.imap.parser import FetchData, parse_untagged, split_responses  # noqa: E402

DATA = ROOT / "tests" / "data" / "imap" / "dovecot"
_BODYSTRUCTURE = re.compile(rb" BODYSTRUCTURE \(.*\)\)\r\n\Z", re.DOTALL)


def load(name: str) -> list[bytes]:
    data = (DATA / f"{name}.txt").read_bytes()
    return [r for r in split_responses(data) if r.startswith(b"* ")]


def rate(responses: list[bytes], runs: int = 3) -> float:
    best = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        for raw in responses:
            parse_untagged(raw)
        best = max(best, len(responses) / (time.perf_counter() - t0))
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with_bs = load("fetch-generated")
    without_bs = [_BODYSTRUCTURE.sub(b")\r\n", r) for r in with_bs]
    for raw in without_bs:
        got = parse_untagged(raw)
        assert isinstance(got, FetchData) and got.envelope is not None and got.bodystructure is None
    for figure, sample in (
        ("header_parse_per_s", without_bs),
        ("header_parse_with_bodystructure_per_s", with_bs),
        ("edge_case_parse_per_s", load("fetch-headers")),
    ):
        work = (sample * (count // len(sample) + 1))[:count]
        print(json.dumps({"figure": figure, "value": round(rate(work)), "unit": "1/s"}))


if __name__ == "__main__":
    main()
