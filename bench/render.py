"""How long the MIME model takes on big messages, without any network.

Generates, deterministically, (a) a 10 MB message with 20 parts (plain text, an HTML
alternative, 18 base64 attachments of different types) and (b) a message whose only body is
1 MB of newsletter-like HTML (tables, links, lists, images), then renders each with
`render_message`, best of three runs. The html2text worker is started before timing (its
start-up is reported on its own). Prints JSON lines:

- render_10mb_20_parts_s: whole render incl. parsing, attachment list with decoded sizes
- render_1mb_html_s: whole render incl. html2text in its worker process and sanitizing
- html_worker_start_s: first conversion on a cold worker (process start + import html2text)
- render_10mb_20_parts_mb_per_s: the first figure as throughput

Run: `.venv/bin/python bench/render.py`.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.mime import html as html_mod  # noqa: E402
from app.mime.render import render_message  # noqa: E402

WORDS = [
    "mail",
    "message",
    "server",
    "folder",
    "inbox",
    "reply",
    "forward",
    "attachment",
    "header",
    "body",
    "subject",
    "terminal",
    "client",
    "protocol",
    "encoding",
    "charset",
    "boundary",
    "sender",
    "recipient",
    "draft",
    "outbox",
    "Grüße",
    "naïve",
    "café",
    "中文",
    "данные",
]


def _text(rng: random.Random, size: int) -> str:
    out: list[str] = []
    length = 0
    line: list[str] = []
    while length < size:
        word = rng.choice(WORDS)
        line.append(word)
        length += len(word) + 1
        if len(line) > 11:
            out.append(" ".join(line))
            line = []
    out.append(" ".join(line))
    return "\n".join(out)


def _html(rng: random.Random, size: int) -> str:
    chunks = ["<html><head><style>td{color:red}</style></head><body>"]
    length = 0
    row = 0
    while length < size:
        row += 1
        words = " ".join(rng.choice(WORDS) for _ in range(30))
        piece = (
            f'<table width="600"><tr><td><h2>Item {row}</h2>'
            f'<p>{words} <a href="https://example.com/item/{row}?utm=x">read more</a></p>'
            f'<img src="https://tracker.example/{row}.gif" alt="pic {row}">'
            f"<ul><li>{words[:40]}</li><li><b>{words[40:80]}</b></li></ul></td></tr></table>"
        )
        chunks.append(piece)
        length += len(piece)
    chunks.append("</body></html>")
    return "".join(chunks)


def big_message(rng: random.Random) -> bytes:
    head = (
        "From: Bench <bench@example.com>\r\nTo: you@example.com\r\nSubject: ten megabytes\r\n"
        "Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="BOUNDARY-mixed"\r\n\r\n'
    )
    parts = [head.encode()]
    text = _text(rng, 200_000).replace("\n", "\r\n").encode()
    html = _html(rng, 300_000).encode()
    parts.append(
        b'--BOUNDARY-mixed\r\nContent-Type: multipart/alternative; boundary="BOUNDARY-alt"\r\n\r\n'
        b"--BOUNDARY-alt\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text + b"\r\n"
        b"--BOUNDARY-alt\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(html).replace(b"\n", b"\r\n")
        + b"--BOUNDARY-alt--\r\n"
    )
    kinds = ["application/pdf", "image/jpeg", "application/zip", "image/png"]
    for index in range(18):
        data = rng.randbytes(520_000)
        kind = kinds[index % len(kinds)]
        parts.append(
            f'--BOUNDARY-mixed\r\nContent-Type: {kind}; name="file-{index}"\r\n'
            f'Content-Disposition: attachment; filename="file-{index}"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n".encode()
            + base64.encodebytes(data).replace(b"\n", b"\r\n")
        )
    parts.append(b"--BOUNDARY-mixed--\r\n")
    return b"".join(parts)


def html_message(rng: random.Random) -> bytes:
    html = _html(rng, 1_000_000).encode()
    return (
        b"From: News <news@example.com>\r\nTo: you@example.com\r\nSubject: newsletter\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + html
    )


def best_of(raw: bytes, runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        render_message(raw)
        best = min(best, time.perf_counter() - start)
    return best


def emit(figure: str, value: float, unit: str) -> None:
    print(json.dumps({"figure": figure, "value": round(value, 4), "unit": unit}), flush=True)


def main() -> None:
    rng = random.Random(20240101)
    html_mod.shutdown_worker()
    start = time.perf_counter()
    html_mod.html_to_text("<p>warm up</p>")
    emit("html_worker_start_s", time.perf_counter() - start, "s")

    big = big_message(rng)
    result = render_message(big)
    assert len(result.attachments) == 18, len(result.attachments)
    seconds = best_of(big)
    emit("render_10mb_20_parts_s", seconds, "s")
    emit("render_10mb_20_parts_mb_per_s", len(big) / 1e6 / seconds, "MB/s")

    page = html_message(rng)
    result = render_message(page)
    assert result.is_html and result.links, result.notices
    assert not any("could not be converted" in n for n in result.notices), result.notices
    emit("render_1mb_html_s", best_of(page), "s")
    html_mod.shutdown_worker()


if __name__ == "__main__":
    main()
