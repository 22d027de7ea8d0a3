"""`termail render FILE.eml|- [--html] [--headers full|compact]`: a message as plain text.

Prints headers, the sender check, the body (bold as *x*, italic and underline as _x_), the
links and the attachment list. Everything printed comes from a `RenderedMessage`, so it has
been sanitized: the output holds no control character but newline and tab, whatever the input.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import TextIO

from app.mime.render import render_message
from app.mime.sanitize import clean_line
from app.mime.termout import say
from app.mime.types import RenderedMessage, StyleSpan

#: Largest input read, in bytes; a bigger file is cut (and the render says so).
MAX_INPUT = 64 * 1024 * 1024

_MARKS = {"bold": "*", "italic": "_", "underline": "_"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="termail render",
        description="Print a message file as text, safely (no terminal control characters).",
    )
    parser.add_argument("file", help="the .eml file to show, or - for standard input")
    parser.add_argument(
        "--html", action="store_true", help="prefer the HTML part when there is one"
    )
    parser.add_argument(
        "--headers",
        choices=("compact", "full"),
        default="compact",
        help="compact: From/To/Cc/Reply-To/Date/Subject; full: every header in order",
    )
    return parser


def _emphasis(body: str, spans: Sequence[StyleSpan]) -> str:
    """Body text with bold/italic/underline spans marked the way plain-text mail does."""
    inserts: list[tuple[int, int, str]] = []  # (offset, order, mark): closes before opens
    for span in spans:
        mark = _MARKS.get(span.style)
        if mark is None or span.end <= span.start:
            continue
        start, end = span.start, span.end
        # Keep marks off surrounding whitespace: "*word* ", not "*word *".
        while start < end and body[start].isspace():
            start += 1
        while end > start and body[end - 1].isspace():
            end -= 1
        if start == end:
            continue
        inserts.append((start, 1, mark))
        inserts.append((end, 0, mark))
    if not inserts:
        return body
    inserts.sort()
    out: list[str] = []
    pos = 0
    for offset, _, mark in inserts:
        out.append(body[pos:offset])
        out.append(mark)
        pos = offset
    out.append(body[pos:])
    return "".join(out)


def format_text_view(message: RenderedMessage, *, full_headers: bool = False) -> str:
    """The whole text view of a rendered message, as printed by `termail render`."""
    lines: list[str] = []
    shown = message.full_headers if full_headers else message.headers
    for header in shown:
        lines.append(f"{header.name}: {header.value}")
    check = message.sender_check
    lines.append(f"Sender check: {check.summary}")
    for warning in check.warnings:
        lines.append(f"  ! {warning}")
    for status in message.crypto:  # OpenPGP / S/MIME verdicts (app/crypto)
        lines.append(f"{status.level.capitalize()}: {status.summary}")
        lines.extend(f"  {detail}" for detail in status.details)
    lines.append("")
    body = _emphasis(message.body, message.styles).rstrip("\n")
    lines.append(body)
    if message.attachments:
        lines.append("")
        lines.append(f"Attachments ({len(message.attachments)}):")
        for index, item in enumerate(message.attachments, 1):
            size = ("~" if item.size_is_estimate else "") + f"{item.size:,} bytes"
            extra = " inline" if item.inline else ""
            line = f"  {index}. {item.filename}  [{item.mime_type}, {size}, part {item.part_id}{extra}]"
            if item.description:
                line += f"  {item.description}"
            lines.append(line)
    if message.notices:
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  - {notice}" for notice in message.notices)
    return "\n".join(lines) + "\n"


def _read(path: str, stdin: TextIO) -> bytes:
    if path == "-":
        buffer = getattr(stdin, "buffer", None)
        if buffer is not None:
            data: bytes = buffer.read(MAX_INPUT + 1)
            return data
        return stdin.read(MAX_INPUT + 1).encode("utf-8", "surrogateescape")
    with open(path, "rb") as handle:
        return handle.read(MAX_INPUT + 1)


def _write(text: str, stream: TextIO) -> None:
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        text = text.encode(encoding, "replace").decode(encoding, "replace")
    stream.write(text)
    stream.flush()


def render_main(
    argv: list[str],
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    render: Callable[..., RenderedMessage] | None = None,
) -> int:
    """Run `termail render`; returns the exit status (0 shown, 1 unreadable file, 2 usage)."""
    out = stdout if stdout is not None else sys.stdout
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse has printed the usage
        return int(exc.code) if isinstance(exc.code, int) else 2
    try:
        raw = _read(args.file, stdin if stdin is not None else sys.stdin)
    except OSError as exc:
        name = clean_line(args.file, max_len=500)
        say(f"termail render: cannot read {name}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    message = (render or render_message)(raw[:MAX_INPUT], prefer_html=args.html)
    if len(raw) > MAX_INPUT:
        message.notices.append(f"input cut to {MAX_INPUT:,} bytes")
    _write(format_text_view(message, full_headers=args.headers == "full"), out)
    return 0
