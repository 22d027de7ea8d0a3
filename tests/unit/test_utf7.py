"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imap.utf7 import Utf7Error, decode_mailbox, encode_mailbox

EXAMPLES = [
    ("INBOX", "INBOX"),
    ("", ""),
    ("A&B", "A&-B"),
    ("&", "&-"),
    ("Entwürfe", "Entw&APw-rfe"),
    ("日本語", "&ZeVnLIqe-"),
    ("日本語/子", "&ZeVnLIqe-/&W1A-"),
    # RFC 3501's own example.
    ("~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"),
    ("Ünïcödé ✓", "&ANw-n&AO8-c&APY-d&AOk- &JxM-"),
    ("emoji 📬", "emoji &2D3c7A-"),
    ("tab\there", "tab&AAk-here"),
    ("a/b,c+d", "a/b,c+d"),
]


@pytest.mark.parametrize(("name", "wire"), EXAMPLES)
def test_examples_both_ways(name: str, wire: str) -> None:
    assert encode_mailbox(name) == wire
    assert decode_mailbox(wire) == name


@pytest.mark.parametrize(
    "bad",
    [
        "&",  # unterminated
        "abc&ZeVn",  # unterminated
        "&ZeVnLIqe",  # no closing '-'
        "&Z-",  # impossible base64 length
        "&AP-",  # leftover bits that are not zero
        "&APw",  # unterminated
        "&AA-",  # one byte: not UTF-16
        "&2D0-",  # an unpaired high surrogate
        "&3Mw-",  # an unpaired low surrogate
        "&ab/c-",  # '/' is not in the modified alphabet
        "&AP=-",  # padding is not used
        "Entwürfe",  # 8-bit where only ASCII may be
        "new\nline",  # control character
    ],
)
def test_malformed_raise_utf7error(bad: str) -> None:
    with pytest.raises(Utf7Error):
        decode_mailbox(bad)


def test_noncanonical_but_decodable_is_accepted() -> None:
    assert decode_mailbox("&AGE-&AGI-") == "ab"  # adjacent shifts, printable ASCII inside
    assert isinstance(Utf7Error("x"), ValueError)


def test_lone_surrogate_cannot_be_encoded() -> None:
    with pytest.raises(Utf7Error):
        encode_mailbox("bad\ud800")


@given(st.text(alphabet=st.characters(codec="utf-8")))
def test_round_trip(name: str) -> None:
    wire = encode_mailbox(name)
    assert wire.isascii() and all(" " <= c <= "~" for c in wire)
    assert decode_mailbox(wire) == name
    assert encode_mailbox(decode_mailbox(wire)) == wire


@given(st.text())
def test_decode_never_raises_anything_else(raw: str) -> None:
    try:
        name = decode_mailbox(raw)
    except Utf7Error:
        return
    # Whatever decodes re-encodes to something that decodes to the same name.
    assert decode_mailbox(encode_mailbox(name)) == name
