"""Property tests: real messages, mutated (bytes flipped, cut, spliced), never break rendering."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from app.mime.render import (
    INTERNAL_ERROR_NOTICE,
    message_structure,
    render_from_parts,
    render_message,
)
from app.mime.types import RenderedMessage

DATA = Path(__file__).resolve().parent.parent / "data"
SHARED = Path(__file__).resolve().parent.parent.parent.parent / "shared"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


LIMIT = 64 * 1024


def _samples() -> list[bytes]:
    paths = sorted((DATA / "seed").glob("*.eml")) + sorted((DATA / "hostile").glob("*.eml"))
    for folder in (SHARED / "corpus", SHARED / "seed-messages"):
        if folder.is_dir():
            paths += sorted(p for p in folder.iterdir() if p.suffix != ".md")
    # Big files make each example slow without exercising anything the small ones do not.
    return [p.read_bytes() for p in paths if p.stat().st_size <= LIMIT]


SAMPLES = _samples()
TOKENS = [
    b"\r\n",
    b"\n",
    b"--",
    b"=?",
    b"?=",
    b"=?utf-8?q?=1B[2J?=",
    b"\x1b[2J",
    b"\x00",
    b"\xff\xfe",
    b"Content-Type: multipart/mixed; boundary=",
    b"Content-Type: message/rfc822\r\n\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"charset=",
    b'"',
    b"<ul><li>",
    b"&#x1b;",
    b";",
    b"*0*=",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    ops = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "cut", "insert", "delete", "repeat"]),
                st.floats(min_value=0, max_value=1),
                st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=6)),
            ),
            min_size=1,
            max_size=6,
        )
    )
    for op, where, extra in ops:
        pos = int(where * len(data))
        if op == "flip" and data:
            data[min(pos, len(data) - 1)] ^= extra[0] or 0x20
        elif op == "cut":
            del data[pos:]
        elif op == "insert":
            data[pos:pos] = extra
        elif op == "delete":
            del data[pos : pos + len(extra) * 4]
        elif op == "repeat":
            data[pos:pos] = bytes(data[pos : pos + 64]) * 3
    return bytes(data)


def _assert_safe(message: RenderedMessage) -> None:
    assert not any(INTERNAL_ERROR_NOTICE in n for n in message.notices), message.notices
    texts = [message.body, message.subject, *message.notices, *message.links]
    texts += [h.value for h in message.headers + message.full_headers]
    texts += [a.filename + (a.description or "") for a in message.attachments]
    for text in texts:
        assert UNSAFE.search(text) is None, repr(text[:100])
    for span in message.styles:
        assert 0 <= span.start <= span.end <= len(message.body)


@given(mutated(), st.booleans())
def test_mutated_messages_render(raw: bytes, prefer_html: bool) -> None:
    _assert_safe(render_message(raw, prefer_html=prefer_html))


@given(mutated())
def test_mutated_messages_render_by_parts(raw: bytes) -> None:
    header, structure, parts = message_structure(raw)
    _assert_safe(render_from_parts(header, structure, parts))


@given(st.binary(max_size=2000))
def test_random_bytes_render(raw: bytes) -> None:
    _assert_safe(render_message(raw))
