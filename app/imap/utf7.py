"""Modified UTF-7 mailbox names (RFC 3501 section 5.1.3), both ways.

IMAP4rev1 servers send and expect mailbox names in this form unless UTF8=ACCEPT is enabled:
printable US-ASCII stands for itself, "&" is written "&-", and every other run of characters is
UTF-16BE in base64 (with "," for "/", no padding) between "&" and "-".

`decode_mailbox` is strict about what cannot be decoded: 8-bit or control characters, an
unterminated shift, bad base64, leftover bits, an odd byte count or an unpaired surrogate raise
`Utf7Error` (a `ValueError`). It accepts decodable but non-canonical forms (two adjacent shifts,
printable ASCII inside a shift) because some servers write them. Callers that must show a name
whatever happens (the LIST decoder) catch `Utf7Error` and fall back to the raw name.
"""

from __future__ import annotations

import base64
import binascii
import re

__all__ = ["Utf7Error", "decode_mailbox", "encode_mailbox"]


class Utf7Error(ValueError):
    """A mailbox name that is not valid modified UTF-7 (or cannot be encoded into it)."""


_DIRECT = re.compile(r"[\x20-\x25\x27-\x7e]+")
_B64_CHARS = re.compile(r"[A-Za-z0-9+,]*")


def encode_mailbox(name: str) -> str:
    """Encode a Unicode mailbox name for the wire; raise `Utf7Error` on a lone surrogate."""
    if name.isascii() and "&" not in name and name.isprintable():
        return name
    out: list[str] = []
    pos = 0
    length = len(name)
    while pos < length:
        m = _DIRECT.match(name, pos)
        if m:
            out.append(m.group())
            pos = m.end()
            continue
        if name[pos] == "&":
            out.append("&-")
            pos += 1
            continue
        end = pos
        while end < length and not ("\x20" <= name[end] <= "\x7e"):
            end += 1
        try:
            raw = name[pos:end].encode("utf-16-be")
        except UnicodeEncodeError as exc:
            raise Utf7Error(f"cannot encode mailbox name: {exc.reason}") from None
        b64 = base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",")
        out.append(f"&{b64}-")
        pos = end
    return "".join(out)


def decode_mailbox(raw: str) -> str:
    """Decode a wire mailbox name; raise `Utf7Error` when it is not valid modified UTF-7."""
    if "&" not in raw:
        if raw.isascii() and raw.isprintable():
            return raw
        raise Utf7Error("mailbox name holds characters outside printable US-ASCII")
    out: list[str] = []
    pos = 0
    length = len(raw)
    while pos < length:
        amp = raw.find("&", pos)
        direct = raw[pos:] if amp < 0 else raw[pos:amp]
        if direct:
            if not (direct.isascii() and direct.isprintable()):
                raise Utf7Error("mailbox name holds characters outside printable US-ASCII")
            out.append(direct)
        if amp < 0:
            break
        dash = raw.find("-", amp + 1)
        if dash < 0:
            raise Utf7Error(f"unterminated '&' shift at position {amp}")
        segment = raw[amp + 1 : dash]
        pos = dash + 1
        if not segment:
            out.append("&")
            continue
        out.append(_decode_segment(segment, amp))
    return "".join(out)


def _decode_segment(segment: str, where: int) -> str:
    """One base64 run between '&' and '-', checked to be exactly what an encoder would write."""
    if _B64_CHARS.fullmatch(segment) is None or len(segment) % 4 == 1:
        raise Utf7Error(f"bad base64 in shift at position {where}")
    std = segment.replace(",", "/")
    try:
        data = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise Utf7Error(f"bad base64 in shift at position {where}") from None
    if base64.b64encode(data).decode("ascii").rstrip("=") != std:
        raise Utf7Error(f"non-zero padding bits in shift at position {where}")
    if len(data) % 2:
        raise Utf7Error(f"odd number of UTF-16 bytes in shift at position {where}")
    try:
        return data.decode("utf-16-be")
    except UnicodeDecodeError:
        raise Utf7Error(f"unpaired UTF-16 surrogate in shift at position {where}") from None
