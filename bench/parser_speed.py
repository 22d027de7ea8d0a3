"""How fast the IMAP parser decodes message-list FETCH responses, without any network.

Takes the header FETCH responses recorded from Dovecot (tests/data/imap/dovecot), repeats them
to 100,000, and parses them all, best of three runs. Prints JSON lines:

- header_parse_per_s: UID FLAGS ENVELOPE RFC822.SIZE INTERNALDATE MODSEQ of the sandbox's
  generated (realistic) messages (the target: >= 50,000)
- header_parse_with_bodystructure_per_s: the same plus BODYSTRUCTURE, as the client fetches
- summary_parse_per_s: the same responses through `parse_fetch_summary`, straight into the
  MessageSummary objects `ImapClient.fetch_summaries` keeps (what the folder listing runs)
- edge_case_parse_per_s: the hand-written edge cases (literals, latin-1, 30 nested multiparts,
  nested messages) with BODYSTRUCTURE: the general decoder's speed, not the common case

Run: `.venv/bin/python bench/parser_speed.py [count]`.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.imap.parser import (  # noqa: E402
    FetchData,
    parse_fetch_summary,
    parse_untagged,
    split_responses,
)

DATA = ROOT / "tests" / "data" / "imap" / "dovecot"
_BODYSTRUCTURE = re.compile(rb" BODYSTRUCTURE \(.*\)\)\r\n\Z", re.DOTALL)


def load(name: str) -> list[bytes]:
    data = (DATA / f"{name}.txt").read_bytes()
    return [r for r in split_responses(data) if r.startswith(b"* ")]


def rate(
    responses: list[bytes], runs: int = 3, parse: Callable[[bytes], object] = parse_untagged
) -> float:
    best = 0.0
    for _ in range(runs):
        t0 = time.perf_counter()
        for raw in responses:
            parse(raw)
        best = max(best, len(responses) / (time.perf_counter() - t0))
    return best


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with_bs = load("fetch-generated")
    without_bs = [_BODYSTRUCTURE.sub(b")\r\n", r) for r in with_bs]
    for raw in without_bs:
        got = parse_untagged(raw)
        assert isinstance(got, FetchData) and got.envelope is not None and got.bodystructure is None
    assert all(parse_fetch_summary(raw) is not None for raw in with_bs)
    for figure, sample, parse in (
        ("header_parse_per_s", without_bs, parse_untagged),
        ("header_parse_with_bodystructure_per_s", with_bs, parse_untagged),
        ("summary_parse_per_s", with_bs, parse_fetch_summary),
        ("edge_case_parse_per_s", load("fetch-headers"), parse_untagged),
    ):
        work = (sample * (count // len(sample) + 1))[:count]
        value = round(rate(work, parse=parse))
        print(json.dumps({"figure": figure, "value": value, "unit": "1/s"}))


if __name__ == "__main__":
    main()
