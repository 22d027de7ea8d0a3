"""Header decoding that never raises: RFC 2047 words, RFC 2231 parameters, address lists, dates.

The stdlib's header objects (`email.policy.default`) raise on inputs seen in real mail (an
encoded CR/LF inside an address, odd groups) and its address parser rewrites display names
("Dr. Sandra Carberry" loses a space). So headers are read here from their raw text with small,
linear, lenient parsers: structure first (quotes, comments, angle brackets, groups), encoded
words decoded after, so a decoded name can never change where one address ends.

Everything returned for display has been through `app.mime.sanitize`. `decode_header_raw` is the
exception (for the compose code, which must check `has_crlf` before reusing any value).
"""

from __future__ import annotations

import binascii
import re
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import parsedate_to_datetime

from app.mime.charsets import decode_bytes, decode_header_bytes, normalize_charset
from app.mime.sanitize import LINE_MAX, clean_line
from app.mime.types import ShownAddress
from app.models import Address

#: Raw header text longer than this is cut before any parsing (a 1 MB header stays cheap).
MAX_HEADER_INPUT = 256 * 1024
#: Address headers are parsed up to this many characters and this many entries.
MAX_ADDRESS_INPUT = 64 * 1024
MAX_ADDRESSES = 1000
ADDRESS_LIST_CUT = "… [address list cut]"

Headers = Sequence[tuple[str, str]]

_ESCAPED_BYTES = re.compile("[\udc80-\udcff]")
_FOLD = re.compile(r"\r?\n(?=[ \t])|\r(?=[ \t])")
_EW = re.compile(r"=\?([^?\s]{1,60})\?([bBqQ])\?([^?]*)\?=")
_Q_HEX = re.compile(rb"=([0-9A-Fa-f]{2})")
_B64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_WS = re.compile(r"\s+")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)("|$)', re.S)
_ESCAPED = re.compile(r"\\(.)", re.S)
_MSGID = re.compile(r"<([^<>\s]{1,998})>")
_ANGLE_TARGET = re.compile(r"<([^<>]{1,2000})>")


# --- raw text -------------------------------------------------------------------------------


def _to_text(value: str | bytes | None) -> str:
    """Header text as str; raw 8-bit bytes (as bytes or surrogate-escaped) read as UTF-8/1252."""
    if value is None:
        return ""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return decode_header_bytes(bytes(value[: MAX_HEADER_INPUT * 4]))
    if not isinstance(value, str):
        value = str(value)
    if len(value) > MAX_HEADER_INPUT:
        value = value[:MAX_HEADER_INPUT]
    if not value.isascii() and _ESCAPED_BYTES.search(value) is not None:
        try:
            return decode_header_bytes(value.encode("utf-8", "surrogateescape"))
        except UnicodeError:
            return value.encode("utf-8", "replace").decode("utf-8")
    return value


def unfold(text: str) -> str:
    """Remove RFC 5322 folding (a line break followed by whitespace keeps the whitespace)."""
    return _FOLD.sub("", text)


def _b_decode(payload: str) -> bytes | None:
    data = _B64_JUNK.sub(b"", payload.encode("ascii", "ignore"))
    if len(data) % 4 == 1:
        data = data[:-1]
    data += b"=" * (-len(data) % 4)
    try:
        return binascii.a2b_base64(data)
    except (binascii.Error, ValueError):
        return None


def _q_decode(payload: str) -> bytes:
    data = payload.encode("utf-8", "surrogateescape").replace(b"_", b" ")
    return _Q_HEX.sub(lambda m: bytes([int(m.group(1), 16)]), data)


def decode_words(text: str) -> str:
    """Decode RFC 2047 encoded words in `text`, leniently; the result is NOT sanitized.

    Whitespace between two encoded words is dropped (RFC 2047 section 6.2); adjacent words in
    the same charset are joined as bytes before decoding, since broken mailers split multibyte
    characters across words. Words with unknown charsets are guessed, never rejected; a word
    that cannot be decoded at all is kept as written.
    """
    if "=?" not in text:
        return text
    pieces: list[tuple[str | None, bytes | str]] = []  # (charset, bytes) or (None, text)
    pos = 0
    last_was_word = False
    for match in _EW.finditer(text):
        between = text[pos : match.start()]
        charset, kind, payload = match.group(1), match.group(2), match.group(3)
        data = _b_decode(payload) if kind in "bB" else _q_decode(payload)
        if data is None:  # undecodable: keep the word as written
            if between:
                pieces.append((None, between))
            pieces.append((None, match.group(0)))
            last_was_word = False
            pos = match.end()
            continue
        if between and not (last_was_word and between.isspace()):
            pieces.append((None, between))
        label = charset.split("*", 1)[0]
        prev = pieces[-1] if pieces else None
        if (
            last_was_word
            and prev is not None
            and prev[0] is not None
            and isinstance(prev[1], bytes)
            and normalize_charset(prev[0]) == normalize_charset(label)
        ):
            pieces[-1] = (prev[0], prev[1] + data)
        else:
            pieces.append((label, data))
        last_was_word = True
        pos = match.end()
    if pos < len(text):
        pieces.append((None, text[pos:]))
    out: list[str] = []
    for charset, piece in pieces:
        if charset is None:
            out.append(piece if isinstance(piece, str) else piece.decode("utf-8", "replace"))
        else:
            assert isinstance(piece, bytes)
            out.append(decode_bytes(piece, charset)[0])
    return "".join(out)


def decode_header_raw(value: str | bytes | None) -> str:
    """Unfolded, decoded header text, NOT sanitized: only for checks such as `has_crlf`."""
    try:
        return decode_words(unfold(_to_text(value)))
    except Exception:  # last resort: the parsers above are meant not to raise
        return _to_text(value)


def decode_header(value: str | bytes | None, *, max_len: int | None = LINE_MAX) -> str:
    """A header value ready to show on one line: decoded in any charset, sanitized, capped."""
    return clean_line(decode_header_raw(value), max_len=max_len)


def has_crlf(value: str | bytes | None) -> bool:
    """True when the decoded value holds CR, LF or NUL beyond its folding.

    Such a value came from an encoded word or a broken header; reusing it in an outgoing
    header could inject new header lines, so compose code must refuse or clean it.
    """
    text = decode_header_raw(value)
    return "\r" in text or "\n" in text or "\x00" in text


# --- address lists ----------------------------------------------------------------------------


def _split_addresses(text: str) -> list[tuple[str, str | None, bool]]:
    """Split an address list into (segment, group, is_empty_group) at top-level `,` and `;`.

    Quotes, comments, angle brackets and domain literals are respected; `name:` before any
    address starts a group, `;` ends it. A `;` outside a group separates like `,` (Outlook).
    """
    out: list[tuple[str, str | None, bool]] = []
    buf: list[str] = []
    group: str | None = None
    members = 0
    in_quote = in_angle = in_bracket = escape = False
    comment = 0
    seen_addr = False

    def flush() -> None:
        nonlocal buf, seen_addr, members
        seg = "".join(buf).strip()
        if seg:
            out.append((seg, group, False))
            members += 1
        buf = []
        seen_addr = False

    index = 0
    length = len(text)
    while index < length:
        ch = text[index]
        index += 1
        if len(out) > MAX_ADDRESSES:
            break
        if ch == "=" and not (escape or in_quote or comment or in_angle or in_bracket):
            word = _EW.match(text, index - 1)
            if word is not None:  # an encoded word is one token: its ':' or ',' split nothing
                buf.append(word.group(0))
                index = word.end()
                continue
        if escape:
            buf.append(ch)
            escape = False
            continue
        if in_quote:
            buf.append(ch)
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
            continue
        if comment:
            buf.append(ch)
            if ch == "\\":
                escape = True
            elif ch == "(":
                comment += 1
            elif ch == ")":
                comment -= 1
            continue
        if in_angle:
            buf.append(ch)
            if ch == ">":
                in_angle = False
            continue
        if in_bracket:
            buf.append(ch)
            if ch == "]":
                in_bracket = False
            continue
        if ch == '"':
            in_quote = True
        elif ch == "(":
            comment = 1
        elif ch == "<":
            in_angle = True
            seen_addr = True
        elif ch == "[":
            in_bracket = True
        elif ch == "@":
            seen_addr = True
        elif ch == ",":
            flush()
            continue
        elif ch == ":" and group is None and not seen_addr:
            group = "".join(buf).strip()
            buf = []
            members = 0
            continue
        elif ch == ";":
            flush()
            if group is not None:
                if members == 0:
                    out.append(("", group, True))
                group = None
            continue
        buf.append(ch)
    flush()
    if group is not None and members == 0:
        out.append(("", group, True))
    return out


def _top_level_index(seg: str, target: str) -> int:
    """Index of the first `target` outside quotes and comments, or -1."""
    in_quote = escape = False
    comment = 0
    for i, ch in enumerate(seg):
        if escape:
            escape = False
        elif in_quote:
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
        elif comment:
            if ch == "\\":
                escape = True
            elif ch == "(":
                comment += 1
            elif ch == ")":
                comment -= 1
        elif ch == '"':
            in_quote = True
        elif ch == "(":
            comment = 1
        elif ch == target:
            return i
    return -1


def _comments(seg: str) -> tuple[str, list[str]]:
    """`seg` without its top-level comments, and the comments' texts."""
    outside: list[str] = []
    found: list[str] = []
    current: list[str] = []
    in_quote = escape = False
    comment = 0
    for ch in seg:
        if comment:
            if escape:
                current.append(ch)
                escape = False
            elif ch == "\\":
                escape = True
            elif ch == "(":
                comment += 1
                current.append(ch)
            elif ch == ")":
                comment -= 1
                if comment == 0:
                    found.append("".join(current))
                    current = []
                else:
                    current.append(ch)
            else:
                current.append(ch)
            continue
        if escape:
            outside.append(ch)
            escape = False
        elif in_quote:
            outside.append(ch)
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
        elif ch == '"':
            in_quote = True
            outside.append(ch)
        elif ch == "(":
            comment = 1
        else:
            outside.append(ch)
    if current:
        found.append("".join(current))
    return "".join(outside), found


def _unquote_phrase(text: str) -> str:
    """Remove the quotes of quoted strings (unescaping them), keeping everything else."""
    if '"' not in text:
        return text
    return _QUOTED.sub(lambda m: _ESCAPED.sub(r"\1", m.group(1)), text)


def _display_name(raw: str) -> str:
    name = decode_words(_unquote_phrase(raw.strip()))
    return clean_line(_WS.sub(" ", name).strip(), max_len=1024)


def _address_part(raw: str) -> str:
    addr = raw.strip()
    if addr.startswith("@") and ":" in addr:  # obsolete source route <@a,@b:user@host>
        addr = addr.split(":", 1)[1]
    if "=?" in addr:
        addr = decode_words(addr)
    return clean_line(_WS.sub("", addr), max_len=1024)


def _parse_mailbox(seg: str, group: str | None) -> ShownAddress:
    lt = _top_level_index(seg, "<")
    if lt >= 0:
        gt = seg.find(">", lt)
        addr = seg[lt + 1 : gt if gt >= 0 else len(seg)]
        name_part = seg[:lt]
        if not name_part.strip() and gt >= 0:
            name_part = " ".join(_comments(seg[gt + 1 :])[1])
        return ShownAddress(_display_name(name_part), _address_part(addr), group)
    if _top_level_index(seg, "@") >= 0:
        outside, comments = _comments(seg)
        return ShownAddress(_display_name(" ".join(comments)), _address_part(outside), group)
    # No address at all: show the name exactly as written (minus quoting and encoding).
    return ShownAddress(_display_name(seg), "", group)


def parse_addresses(value: str | bytes | None, *, limit: int = MAX_ADDRESSES) -> list[ShownAddress]:
    """Parse an address header (From, To, Cc, ...) without ever raising or rejecting an entry.

    Groups become entries with `group` set (an empty group is one entry with only `group`);
    address-less names are kept as written; names are decoded after the structure is known.
    """
    try:
        text = unfold(_to_text(value))
        if len(text) > MAX_ADDRESS_INPUT:
            text = text[:MAX_ADDRESS_INPUT]
        result: list[ShownAddress] = []
        for seg, group, empty in _split_addresses(text):
            if len(result) >= limit:
                break
            shown_group = _display_name(group) if group is not None else None
            if empty:
                result.append(ShownAddress("", "", shown_group or ""))
            else:
                result.append(_parse_mailbox(seg, shown_group))
        return result
    except Exception:  # defensive: show the raw text as one name rather than fail
        return [ShownAddress(decode_header(value, max_len=1024), "")]


def address_list_was_cut(value: str | bytes | None, shown: Sequence[ShownAddress]) -> bool:
    """True when `parse_addresses` stopped early on `value` (too long or too many entries)."""
    text = _to_text(value)
    return len(text) >= MAX_ADDRESS_INPUT or len(shown) >= MAX_ADDRESSES


def format_addresses(addresses: Iterable[ShownAddress], *, max_len: int | None = LINE_MAX) -> str:
    """One display line for a list of addresses; groups shown as `name: a, b;`."""
    parts: list[str] = []
    current_group: str | None = None
    members: list[str] = []

    def close_group() -> None:
        nonlocal current_group, members
        if current_group is not None:
            parts.append(
                f"{current_group}: {', '.join(members)};" if members else f"{current_group}: ;"
            )
        current_group = None
        members = []

    for addr in addresses:
        if addr.group is not None:
            if addr.group != current_group:
                close_group()
                current_group = addr.group
            if not addr.is_empty_group:
                members.append(addr.display)
            continue
        close_group()
        parts.append(addr.display)
    close_group()
    return clean_line(", ".join(parts), max_len=max_len)


def shown_address_header(value: str | bytes | None) -> tuple[list[ShownAddress], str]:
    """Parse and format an address header in one go; a cut list says so."""
    addresses = parse_addresses(value)
    line = format_addresses(addresses)
    if address_list_was_cut(value, addresses):
        line += " " + ADDRESS_LIST_CUT
    return addresses, line


def decode_envelope_address(addr: Address) -> tuple[str, str]:
    """(name, email) of an IMAP ENVELOPE address, decoded and sanitized.

    For a group start marker (host None, mailbox = group name) the group name comes back as
    `name` and `email` is ""; for a group end marker both are "".
    """
    try:
        name = _display_name(addr.name or "") if addr.name else ""
        if addr.host is None:
            if addr.mailbox and not name:
                return _display_name(addr.mailbox), ""
            return name, ""
        return name, _address_part(addr.email)
    except Exception:
        return "", ""


# --- parameters (RFC 2045 / 2231) -------------------------------------------------------------


def _split_semicolons(text: str) -> list[str]:
    parts: list[str] = []
    buf: list[str] = []
    in_quote = escape = False
    for ch in text:
        if escape:
            buf.append(ch)
            escape = False
            continue
        if in_quote:
            buf.append(ch)
            if ch == "\\":
                escape = True
            elif ch == '"':
                in_quote = False
            continue
        if ch == '"':
            in_quote = True
        elif ch == ";":
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def _unquote_value(value: str) -> str:
    value = value.strip()
    if value.startswith('"'):
        end = value.find('"', 1)
        while end > 0 and value[end - 1] == "\\":
            end = value.find('"', end + 1)
        inner = value[1:end] if end > 0 else value[1:]
        # Only \" and \\ are unescaped: Windows mailers put unescaped paths (C:\dir\f.doc) in
        # quoted file names, and the path parts must stay visible to be stripped safely.
        return _PARAM_ESCAPE.sub(r"\1", inner)
    return value


_PARAM_ESCAPE = re.compile(r'\\(["\\])')
_SECTION = re.compile(r"(.+?)\*(\d{1,4})(\*?)")


def _plain_value(value: str) -> str:
    text = _to_text(value)
    return decode_words(text) if "=?" in text else text


def collapse_params(params: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Join RFC 2231 continuations (`name*0*`, `name*1`) and decode `charset'lang'%XX` values.

    Keys come back lowercased without their `*` parts; an extended value wins over a plain one
    of the same name; among duplicates the first wins. Values are decoded but NOT sanitized.
    """
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    simple: dict[str, str] = {}
    sections: dict[str, dict[int, tuple[bool, str]]] = {}
    for raw_name, raw_value in items[:2000]:
        name = str(raw_name).strip().lower()
        value = "" if raw_value is None else str(raw_value)
        if name.endswith("*") and name.count("*") == 1:
            sections.setdefault(name[:-1], {}).setdefault(0, (True, value))
            continue
        match = _SECTION.fullmatch(name)
        if match is not None:
            base, number, star = match.group(1), int(match.group(2)), match.group(3)
            sections.setdefault(base, {}).setdefault(number, (bool(star), value))
            continue
        simple.setdefault(name, value)
    result = {name: _plain_value(value) for name, value in simple.items()}
    for base, parts in sections.items():
        charset: str | None = None
        chunks: list[bytes] = []
        for index, number in enumerate(sorted(parts)):
            encoded, value = parts[number]
            if encoded:
                if index == 0 and value.count("'") >= 2:
                    charset, _lang, value = value.split("'", 2)
                raw = value.encode("utf-8", "surrogateescape")
                chunks.append(urllib.parse.unquote_to_bytes(raw))
            else:
                chunks.append(value.encode("utf-8", "surrogateescape"))
        text, _note = decode_bytes(b"".join(chunks), charset or "utf-8")
        result[base] = decode_words(text) if "=?" in text else text
    return result


def parse_params(value: str | bytes | None) -> tuple[str, dict[str, str]]:
    """Split a Content-Type / Content-Disposition value into its lowercased main value and
    its parameters (RFC 2231 collapsed, encoded words decoded, not sanitized). Never raises."""
    try:
        text = unfold(_to_text(value))[:MAX_ADDRESS_INPUT]
        pieces = _split_semicolons(text)
        main_words = _comments(pieces[0])[0].split()
        main = main_words[0].lower() if main_words else ""
        pairs: list[tuple[str, str]] = []
        for piece in pieces[1:]:
            name, sep, raw = piece.partition("=")
            if not sep:
                continue
            name = _comments(name)[0].strip()
            if not name:
                continue
            pairs.append((name, _unquote_value(raw)))
        # A parameter folded in without its ';' (seen in the wild): "multipart/mixed boundary=x"
        if len(main_words) > 1 and "=" in pieces[0]:
            for word in main_words[1:]:
                name, sep, raw = word.partition("=")
                if sep and name:
                    pairs.append((name, _unquote_value(raw)))
        return main, collapse_params(pairs)
    except Exception:
        return "", {}


# --- other header kinds -----------------------------------------------------------------------


def parse_date(value: str | bytes | None) -> datetime | None:
    """The Date header as an aware or naive datetime, or None when it cannot be parsed."""
    text = _to_text(value).strip()[:200]
    if not text:
        return None
    try:
        return parsedate_to_datetime(text)
    except Exception:
        return None


def message_ids(value: str | bytes | None, *, limit: int = 500) -> list[str]:
    """The `<id>` tokens of Message-ID / In-Reply-To / References, sanitized, in order."""
    text = unfold(_to_text(value))
    found: list[str] = []
    for match in _MSGID.finditer(text):
        found.append(clean_line(f"<{match.group(1)}>", max_len=1000))
        if len(found) >= limit:
            break
    return found


def angle_targets(value: str | bytes | None, *, limit: int = 20) -> list[str]:
    """The `<...>` contents of a header such as List-Unsubscribe, sanitized."""
    text = unfold(_to_text(value))
    found: list[str] = []
    for match in _ANGLE_TARGET.finditer(text):
        found.append(clean_line(_WS.sub("", match.group(1)), max_len=2000))
        if len(found) >= limit:
            break
    return found


def header_values(headers: Headers, name: str) -> list[str]:
    """All raw values of header `name` (case-insensitive), in order."""
    lowered = name.lower()
    return [value for key, value in headers if str(key).strip().lower() == lowered]


def first_header(headers: Headers, name: str) -> str | None:
    """The first raw value of header `name`, or None."""
    lowered = name.lower()
    for key, value in headers:
        if str(key).strip().lower() == lowered:
            return value
    return None
