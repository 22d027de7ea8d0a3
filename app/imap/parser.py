"""IMAP response parser: a regex-driven tokenizer and typed decoders for server responses.

The engine hands us one complete response at a time, literals inline (``{5}\\r\\nhello`` or the
literal8 form ``~{5}\\r\\n...``). Everything a server sends is untrusted: any malformed input
raises `ParseError` and nothing else, and nesting is bounded so no input can exhaust the stack.

Speed matters (a folder listing parses 100,000 FETCH responses), so the tokenizer decodes each
run between literals once, lets one compiled regex cut it into tokens in C, and builds the nested
lists in a single flat loop. Token types carry the meaning: ``str`` is an atom or a quoted
string, ``bytes`` a literal, ``None`` is NIL and ``list`` a parenthesised list. Quoted strings are
decoded as UTF-8; text that is not UTF-8 is carried with surrogate escapes and only turned into
latin-1 where it becomes a field of a model (so section data can still be restored byte-exact).
Frequently repeated values (addresses, flag sets, time zones) are interned in small caches.
On top of that, FETCH responses in the canonical shape servers write take a regex fast path
(see `_fetch_fast`) that matches whole items at once; it must agree with the general decoder.
The message-list answer itself (UID FLAGS ... ENVELOPE BODYSTRUCTURE, as Dovecot writes it) is
matched up to its ENVELOPE by one regex (`_canonical`), and `parse_fetch_summary` turns it
straight into the MessageSummary the client keeps: about 10 us a message instead of 15.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import re
import typing
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, TypeAlias, overload

from app.imap.utf7 import Utf7Error, decode_mailbox
from app.models import Address, BodyPart, Envelope, MessageSummary
from app.uids import UidArray, ascending

__all__ = [
    "CapabilityData",
    "ESearchData",
    "EnabledData",
    "FetchData",
    "FlagsData",
    "IdData",
    "ListData",
    "Literal",
    "NamespaceData",
    "NumberData",
    "ParseError",
    "ResponseCode",
    "SearchData",
    "SectionData",
    "SortData",
    "StatusData",
    "StatusResponse",
    "ThreadData",
    "ThreadNode",
    "UidArray",
    "UnknownData",
    "Untagged",
    "VanishedData",
    "astring_arg",
    "format_sequence_set",
    "parse_bodystructure",
    "parse_continuation",
    "parse_envelope",
    "parse_fetch_summary",
    "parse_internaldate",
    "parse_sequence_set",
    "parse_tagged",
    "parse_uid_ranges",
    "parse_uid_set",
    "parse_untagged",
    "quote",
    "section_key",
    "split_responses",
]

#: Deepest list nesting the tokenizer accepts (a real BODYSTRUCTURE stays far below).
MAX_LIST_DEPTH = 256
#: Deepest BODYSTRUCTURE nesting accepted; Dovecot itself stops parsing MIME at 100 levels.
MAX_BODY_DEPTH = 100
#: Most numbers one sequence set may expand to, so "1:4294967295" cannot exhaust memory.
MAX_SEQUENCE_EXPANSION = 5_000_000
#: Most UIDs a VANISHED is expanded to; a bigger set is kept as ranges (`VanishedData.ranges`).
MAX_VANISHED_EXPANSION = 1_000_000
#: Most messages a mailbox is believed to hold: `* 4294967295 EXISTS` is a server lying.
MAX_EXISTS = 50_000_000


class ParseError(Exception):
    """The server sent something this parser cannot make sense of."""


@dataclass(frozen=True, slots=True)
class Literal:
    """A command argument that must be sent as an IMAP literal (8-bit, CR/LF, or just long)."""

    data: bytes


# -- result types ----------------------------------------------------------------------------


@dataclass(slots=True)
class SectionData:
    """One BODY[section]<origin> item: `origin` is the partial-fetch offset where one was given."""

    origin: int | None
    data: bytes | None


@dataclass(slots=True)
class FetchData:
    """One `* n FETCH (...)` response; attributes the server did not send are None."""

    seq: int
    uid: int | None = None
    flags: frozenset[str] | None = None
    envelope: Envelope | None = None
    bodystructure: BodyPart | None = None
    size: int | None = None
    internaldate: datetime | None = None
    modseq: int | None = None
    sections: dict[str, SectionData] = field(default_factory=dict)
    extra: dict[str, object] = field(default_factory=dict)


@dataclass(slots=True)
class ListData:
    """A LIST or LSUB line; `name` is decoded, `raw_name` as sent (what commands must use)."""

    attributes: frozenset[str]
    delimiter: str | None
    raw_name: str
    name: str
    lsub: bool = False


@dataclass(slots=True)
class StatusData:
    """`* STATUS name (MESSAGES 3 ...)`: counts keyed by upper-case item name."""

    raw_name: str
    name: str
    counts: dict[str, int]


@dataclass(slots=True)
class SearchData:
    """`* SEARCH 1 2 3 [(MODSEQ n)]`."""

    numbers: UidArray
    modseq: int | None = None


@dataclass(slots=True)
class ESearchData:
    """`* ESEARCH (TAG "t") UID ALL 1:3 COUNT 3 ...` (RFC 4731); absent items are None."""

    tag: str | None
    uid: bool
    all: UidArray | None = None
    count: int | None = None
    min: int | None = None
    max: int | None = None
    modseq: int | None = None


@dataclass(slots=True)
class SortData:
    """`* SORT 5 3 4`: numbers in the server's sort order."""

    numbers: UidArray


@dataclass(slots=True)
class ThreadNode:
    """One message of a THREAD tree; `uid` is None for a missing (dummy) parent."""

    uid: int | None
    children: list[ThreadNode] = field(default_factory=list)


@dataclass(slots=True)
class ThreadData:
    """`* THREAD (...)(...)`: one root node per thread."""

    threads: list[ThreadNode]


@dataclass(slots=True)
class NumberData:
    """`* n EXISTS`, `* n EXPUNGE` or `* n RECENT`."""

    kind: str
    number: int


@dataclass(slots=True)
class VanishedData:
    """`* VANISHED [(EARLIER)] uid-set` (RFC 7162).

    A set naming more than `MAX_VANISHED_EXPANSION` UIDs ("1:4294967295") is never expanded:
    `uids` is then empty and `ranges` holds it as (first, last) pairs, ascending and merged, to
    be checked against the UIDs the client knows (`covers`)."""

    uids: UidArray
    earlier: bool = False
    ranges: tuple[tuple[int, int], ...] = ()

    @property
    def too_large(self) -> bool:
        return bool(self.ranges) and not self.uids

    def covers(self, uid: int) -> bool:
        """Whether `uid` is in the set (for a set kept as ranges)."""
        i = bisect.bisect_right(self.ranges, (uid, 0xFFFFFFFF)) - 1
        return i >= 0 and self.ranges[i][0] <= uid <= self.ranges[i][1]


@dataclass(slots=True)
class CapabilityData:
    """`* CAPABILITY ...`, upper-cased."""

    capabilities: frozenset[str]


@dataclass(slots=True)
class EnabledData:
    """`* ENABLED ...` (RFC 5161), upper-cased."""

    capabilities: frozenset[str]


@dataclass(slots=True)
class FlagsData:
    """`* FLAGS (...)`: the flags defined in the selected mailbox."""

    flags: frozenset[str]


@dataclass(slots=True)
class ResponseCode:
    """A `[CODE value]` of a status response, `name` upper-cased.

    `value` by code: UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, UNSEEN -> int; PERMANENTFLAGS ->
    frozenset of flags; CAPABILITY -> frozenset, upper-cased; APPENDUID -> (uidvalidity,
    [uids]); COPYUID -> (uidvalidity, [source uids], [destination uids]) in server order;
    ALERT, TRYCREATE, READ-ONLY, READ-WRITE, NOMODSEQ, CLOSED -> None; any other code -> the
    raw text after the name, or None when there is none.
    """

    name: str
    value: object = None


@dataclass(slots=True)
class StatusResponse:
    """OK / NO / BAD / BYE / PREAUTH, tagged or untagged."""

    kind: str
    code: ResponseCode | None
    text: str


@dataclass(slots=True)
class IdData:
    """`* ID (...)` (RFC 2971); empty for `* ID NIL`."""

    params: dict[str, str | None]


@dataclass(slots=True)
class NamespaceData:
    """`* NAMESPACE` (RFC 2342): `raw` is the wire text, the three lists are (prefix, delimiter)."""

    raw: bytes
    personal: list[tuple[str, str | None]] = field(default_factory=list)
    other: list[tuple[str, str | None]] = field(default_factory=list)
    shared: list[tuple[str, str | None]] = field(default_factory=list)


@dataclass(slots=True)
class UnknownData:
    """Any untagged response this parser has no decoder for, kept whole."""

    name: str
    raw: bytes


Untagged: TypeAlias = (
    FetchData
    | ListData
    | StatusData
    | SearchData
    | ESearchData
    | SortData
    | ThreadData
    | NumberData
    | VanishedData
    | CapabilityData
    | EnabledData
    | FlagsData
    | StatusResponse
    | IdData
    | NamespaceData
    | UnknownData
)

# -- tokenizer -------------------------------------------------------------------------------

# One token per match: a parenthesis, a quoted string (escapes unrolled), an atom (which may hold
# bracketed parts such as BODY[HEADER.FIELDS (A B)]<0>), or any other single character, which
# the loop rejects. Spaces between tokens are skipped by findall.
_ATOM_CHARS = r'[^\x00-\x20()"\[\]\x7f]'
_TOKEN_RE = re.compile(
    r"[()]"
    r'|"[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*"'
    rf"|{_ATOM_CHARS}+(?:\[[^\]\r\n]*\]{_ATOM_CHARS}*)*"
    r"|[^ ]"
)
_LITERAL_RE = re.compile(rb"\{([0-9]{1,10})\+?\}\r\n")
_UNESCAPE_RE = re.compile(r"\\(.)")
_BAD_SINGLE = frozenset(chr(c) for c in range(0x20)) | {'"', "[", "]", "\x7f"}
# Mailbox names are astrings (LIST, LSUB, STATUS): ASTRING-CHAR is ATOM-CHAR plus "]", and "["
# is an ATOM-CHAR, so `Projects]2024` and `[Gmail]/Trash` are single bare names (RFC 3501 /
# 9051 section 9). Brackets hold no structure there.
_ASTRING_TOKEN_RE = re.compile(
    r"[()]"
    r'|"[^"\\\r\n]*(?:\\[^\r\n][^"\\\r\n]*)*"'
    r'|[^\x00-\x20()"\x7f]+'
    r"|[^ ]"
)
_BAD_SINGLE_ASTRING = frozenset(chr(c) for c in range(0x20)) | {'"', "\x7f"}

Token: TypeAlias = Any  # str | bytes | None | list[Token]


def _next_literal(raw: bytes, pos: int) -> tuple[int, int, int] | None:
    """(start of the literal's header incl. a literal8 '~', data start, data end) or None."""
    find = raw.find
    while True:
        brace = find(b"{", pos)
        if brace < 0:
            return None
        m = _LITERAL_RE.match(raw, brace)
        if m is not None:
            head = brace - 1 if brace > 0 and raw[brace - 1] == 0x7E else brace
            data_start = m.end()
            return head, data_start, data_start + int(m.group(1))
        pos = brace + 1


def _tokenize(raw: bytes, start: int = 0, *, astrings: bool = False) -> list[Token]:
    """Cut `raw[start:]` into nested token lists (text that is not UTF-8 is surrogate-escaped).

    `astrings`: bare words are astrings (mailbox names), which may hold "[" and "]"."""
    out: list[Token] = []
    cur = out
    stack: list[list[Token]] = []
    pos = start
    end = len(raw)
    findall = (_ASTRING_TOKEN_RE if astrings else _TOKEN_RE).findall
    bad_single = _BAD_SINGLE_ASTRING if astrings else _BAD_SINGLE
    while True:
        lit = _next_literal(raw, pos)
        seg = raw[pos : lit[0] if lit else end]
        try:
            text = seg.decode("utf-8")
        except UnicodeDecodeError:
            text = seg.decode("utf-8", "surrogateescape")
        for t in findall(text):
            c = t[0]
            if c == '"':
                if len(t) < 2:
                    raise ParseError("unterminated quoted string")
                t = t[1:-1]
                if "\\" in t:
                    t = _UNESCAPE_RE.sub(r"\1", t)
                cur.append(t)
            elif c == "(":
                if len(stack) >= MAX_LIST_DEPTH:
                    raise ParseError("lists nested too deeply")
                stack.append(cur)
                new: list[Token] = []
                cur.append(new)
                cur = new
            elif c == ")":
                if not stack:
                    raise ParseError("unbalanced ')'")
                cur = stack.pop()
            elif t == "NIL":
                cur.append(None)
            else:
                if len(t) == 1 and t in bad_single:
                    raise ParseError(f"unexpected character {t!r}")
                cur.append(t)
        if lit is None:
            break
        if lit[2] > end:
            raise ParseError("literal runs past the end of the response")
        cur.append(raw[lit[1] : lit[2]])
        pos = lit[2]
    if stack:
        raise ParseError("unbalanced '('")
    return out


def _strip_crlf(raw: bytes) -> bytes:
    if raw.endswith(b"\r\n"):
        return raw[:-2]
    if raw.endswith(b"\n"):
        return raw[:-1]
    return raw


# -- small value decoders --------------------------------------------------------------------


def _clean(s: str) -> str:
    """A str whose non-UTF-8 bytes (surrogate escapes) are re-read as latin-1."""
    if s.isascii():
        return s
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return s.encode("utf-8", "surrogateescape").decode("latin-1")
    return s


def _bytes_text(b: bytes) -> str:
    """Literal bytes as text: UTF-8 where valid, latin-1 otherwise (never raises)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return b.decode("latin-1")


def _nstr(v: Token) -> str | None:
    """An nstring field as str (None for NIL); anything else is malformed."""
    cls = v.__class__
    if cls is str:
        return _clean(v)
    if v is None:
        return None
    if cls is bytes:
        return _bytes_text(v)
    raise ParseError("expected a string")


def _str(v: Token) -> str:
    cls = v.__class__
    if cls is str:
        return _clean(v)
    if cls is bytes:
        return _bytes_text(v)
    raise ParseError("expected a string")


def _num(v: Token) -> int:
    if v.__class__ is str and 0 < len(v) <= 20 and v.isascii() and v.isdigit():
        return int(v)
    raise ParseError(f"expected a number, got {_short(v)}")


def _list(v: Token) -> list[Token]:
    if v.__class__ is list:
        return v  # type: ignore[no-any-return]
    raise ParseError(f"expected a list, got {_short(v)}")


def _short(v: Token) -> str:
    """A bounded description of a token for error messages (never recursive)."""
    if isinstance(v, list):
        return f"a list of {len(v)}"
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def _as_bytes(v: Token) -> bytes | None:
    """Section data: literals as they are, quoted strings back to their original bytes."""
    cls = v.__class__
    if cls is bytes:
        return v  # type: ignore[no-any-return]
    if v is None:
        return None
    if cls is str:
        return v.encode("utf-8", "surrogateescape")  # type: ignore[no-any-return]
    raise ParseError("expected section data")


_FLAG_CACHE: dict[tuple[Token, ...], frozenset[str]] = {}


def _flags(v: Token) -> frozenset[str]:
    """A flag list; interned because a mailbox has only a handful of distinct flag sets."""
    items = _list(v)
    key = tuple(items)
    try:
        return _FLAG_CACHE[key]
    except (KeyError, TypeError):
        pass
    flags = []
    for item in items:
        if item is None:
            flags.append("NIL")
        elif item.__class__ is str:
            flags.append(_clean(item))
        else:
            raise ParseError("expected a flag")
    result = frozenset(flags)
    if len(_FLAG_CACHE) > 4096:
        _FLAG_CACHE.clear()
    _FLAG_CACHE[key] = result
    return result


def _atoms_upper(items: Iterable[Token]) -> frozenset[str]:
    out = []
    for item in items:
        if item.__class__ is not str:
            raise ParseError("expected an atom")
        out.append(item.upper())
    return frozenset(out)


# -- ENVELOPE --------------------------------------------------------------------------------

_ADDRESS_CACHE: dict[tuple[Token, ...], Address] = {}


def _address_list(v: Token) -> tuple[Address, ...]:
    """An ENVELOPE address list; group markers are kept as the model describes them."""
    if v is None:
        return ()
    if v.__class__ is not list:
        raise ParseError("expected an address list")
    out = []
    cache = _ADDRESS_CACHE
    for item in v:
        if item.__class__ is not list or len(item) != 4:
            raise ParseError("expected an address of four fields")
        key = tuple(item)
        try:
            out.append(cache[key])
            continue
        except (KeyError, TypeError):
            pass
        name, route, mailbox, host = item
        addr = Address(_nstr(name), _nstr(mailbox), _nstr(host), _nstr(route))
        if len(cache) > 20000:
            cache.clear()
        cache[key] = addr  # every field passed _nstr, so the key is hashable
        out.append(addr)
    return tuple(out)


def _envelope(v: Token) -> Envelope:
    if v.__class__ is not list or len(v) != 10:
        raise ParseError("ENVELOPE must be a list of ten fields")
    date, subject, from_, sender, reply_to, to, cc, bcc, in_reply_to, message_id = v
    return Envelope(
        _nstr(date),
        _nstr(subject),
        _address_list(from_),
        _address_list(sender),
        _address_list(reply_to),
        _address_list(to),
        _address_list(cc),
        _address_list(bcc),
        _nstr(in_reply_to),
        _nstr(message_id),
    )


# -- BODYSTRUCTURE ---------------------------------------------------------------------------


def _params(v: Token) -> dict[str, str]:
    """A body parameter list ("key" "value" ...) with lower-cased keys; NIL gives {}."""
    if v is None:
        return {}
    items = _list(v)
    if len(items) % 2:
        raise ParseError("odd number of items in a parameter list")
    out: dict[str, str] = {}
    for i in range(0, len(items), 2):
        value = items[i + 1]
        out[_str(items[i]).lower()] = "" if value is None else _str(value)
    return out


def _disposition(v: Token) -> tuple[str | None, dict[str, str]]:
    if v is None:
        return None, {}
    if v.__class__ is not list:
        # Some servers send a bare string here; keep it as the disposition type.
        return _str(v).lower(), {}
    if not v:
        return None, {}
    kind = _nstr(v[0])
    params = _params(v[1]) if len(v) > 1 else {}
    return (kind.lower() if kind is not None else None), params


def _language(v: Token) -> tuple[str, ...]:
    if v is None:
        return ()
    if v.__class__ is list:
        return tuple(_str(x) for x in v if x is not None)
    return (_str(v),)


def _extensions(part: BodyPart, ext: list[Token]) -> None:
    """md5 / disposition / language / location of a single part; further extensions skipped."""
    n = len(ext)
    if n > 0:
        part.md5 = _nstr(ext[0]) if ext[0].__class__ is not list else None
    if n > 1:
        part.disposition, part.disposition_params = _disposition(ext[1])
    if n > 2:
        part.language = _language(ext[2])
    if n > 3:
        part.location = _nstr(ext[3]) if ext[3].__class__ is not list else None


def _body(node: Token, multipart_id: str, single_id: str, depth: int) -> BodyPart:
    """One body node; multipart nodes get `multipart_id`, all others `single_id`."""
    if depth > MAX_BODY_DEPTH:
        raise ParseError("BODYSTRUCTURE nested too deeply")
    if node.__class__ is not list or not node:
        raise ParseError("a body must be a non-empty list")
    if node[0].__class__ is list:
        prefix = multipart_id + "." if multipart_id else ""
        children = []
        i = 0
        n = len(node)
        while i < n and node[i].__class__ is list:
            cid = f"{prefix}{i + 1}"
            children.append(_body(node[i], cid, cid, depth + 1))
            i += 1
        if i >= n:
            raise ParseError("multipart body without a subtype")
        part = BodyPart(multipart_id, "multipart", _str(node[i]).lower(), children=children)
        ext = node[i + 1 :]
        if ext:
            part.params = _params(ext[0]) if ext[0].__class__ is not str else {}
            if len(ext) > 1:
                part.disposition, part.disposition_params = _disposition(ext[1])
            if len(ext) > 2:
                part.language = _language(ext[2])
            if len(ext) > 3:
                part.location = _nstr(ext[3]) if ext[3].__class__ is not list else None
        return part
    if len(node) < 7:
        raise ParseError("a body part needs at least seven fields")
    maintype = _str(node[0]).lower()
    subtype = _str(node[1]).lower()
    encoding = node[5]
    part = BodyPart(
        single_id,
        maintype,
        subtype,
        _params(node[2]),
        _nstr(node[3]),
        _nstr(node[4]),
        "7bit" if encoding is None else _str(encoding).lower(),
        _num(node[6]) if node[6] is not None else 0,
    )
    rest = 7
    if maintype == "text":
        if len(node) > 7:
            part.lines = _num(node[7])
            rest = 8
    elif (
        maintype == "message"
        and subtype in ("rfc822", "global")
        and len(node) > 9
        and node[7].__class__ is list
        and node[8].__class__ is list
    ):
        part.envelope = _envelope(node[7])
        part.children = [_body(node[8], single_id, single_id + ".1", depth + 1)]
        part.lines = _num(node[9])
        rest = 10
    if len(node) > rest:
        _extensions(part, node[rest:])
    return part


def _bodystructure(v: Token) -> BodyPart:
    return _body(v, "", "1", 0)


# -- INTERNALDATE ----------------------------------------------------------------------------

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
    )
}
_DATE_RE = re.compile(
    r" ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})"
)
_TZ_CACHE: dict[str, timezone] = {}


def parse_internaldate(text: str) -> datetime:
    """'17-Jul-1996 02:44:25 -0700' as an aware datetime."""
    m = _DATE_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"bad INTERNALDATE {text[:40]!r}")
    day, mon, year, hh, mm, ss, sign, tzh, tzm = m.groups()
    month = _MONTHS.get(mon.upper())
    if month is None:
        raise ParseError(f"bad month in INTERNALDATE {text[:40]!r}")
    tzkey = sign + tzh + tzm
    tz = _TZ_CACHE.get(tzkey)
    if tz is None:
        minutes = int(tzh) * 60 + int(tzm)
        if minutes >= 24 * 60:
            raise ParseError(f"bad zone in INTERNALDATE {text[:40]!r}")
        tz = timezone(timedelta(minutes=-minutes if sign == "-" else minutes))
        _TZ_CACHE[tzkey] = tz
    try:
        return datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)
    except ValueError:
        raise ParseError(f"impossible INTERNALDATE {text[:40]!r}") from None


# -- FETCH -----------------------------------------------------------------------------------

_SECTION_RE = re.compile(r"(BODY|BINARY)\[([^\]]*)\](?:<([0-9]{1,20})>)?", re.IGNORECASE)
_SECTION_ALIASES = {"RFC822": "", "RFC822.HEADER": "HEADER", "RFC822.TEXT": "TEXT"}


def section_key(spec: str) -> str:
    """Normalise a section spec ("header.fields (From  To)") the way FetchData keys are."""
    spec = spec.replace('"', "").upper()
    if "  " in spec or "( " in spec or " )" in spec:
        spec = " ".join(spec.split()).replace("( ", "(").replace(" )", ")")
    return spec


def _fetch_items(fd: FetchData, items: list[Token]) -> FetchData:
    """Decode FETCH name/value pairs from tokens into `fd`."""
    if len(items) % 2:
        raise ParseError("FETCH data must be name/value pairs")
    for i in range(0, len(items), 2):
        key = items[i]
        value = items[i + 1]
        if key.__class__ is not str:
            raise ParseError("a FETCH item name must be an atom")
        key = key.upper()
        if key == "UID":
            fd.uid = _num(value)
        elif key == "FLAGS":
            fd.flags = _flags(value)
        elif key == "ENVELOPE":
            fd.envelope = _envelope(value)
        elif key == "RFC822.SIZE":
            fd.size = _num(value)
        elif key == "INTERNALDATE":
            if value.__class__ is not str:
                raise ParseError("INTERNALDATE must be a string")
            fd.internaldate = parse_internaldate(value)
        elif key == "BODYSTRUCTURE":
            fd.bodystructure = _bodystructure(value)
        elif key == "MODSEQ":
            mod = _list(value)
            if len(mod) != 1:
                raise ParseError("MODSEQ must hold one number")
            fd.modseq = _num(mod[0])
        elif key == "BODY":
            # The non-extensible BODY form; kept only when BODYSTRUCTURE was not sent.
            if fd.bodystructure is None:
                fd.bodystructure = _bodystructure(value)
        elif key in _SECTION_ALIASES:
            fd.sections[_SECTION_ALIASES[key]] = SectionData(None, _as_bytes(value))
        elif "[" in key:
            m = _SECTION_RE.fullmatch(key)
            if m is None:
                # BINARY.SIZE[1] and vendor items with brackets.
                fd.extra[key] = _plain(value)
                continue
            name, spec, origin = m.groups()
            spec = section_key(spec)
            if name == "BINARY":
                spec = "BINARY:" + spec
            fd.sections[spec] = SectionData(
                int(origin) if origin is not None else None, _as_bytes(value)
            )
        else:
            fd.extra[key] = _plain(value)
    return fd


# The fast path. Nearly every FETCH a client parses is the header fetch of a message list, in
# the canonical shape Dovecot (and most servers) write: upper-case item names, no literals, valid
# UTF-8, addresses without spaces between them. Those items are matched whole by compiled regexes
# and the values interned (BODYSTRUCTURE too, see _scan_body); anything else (sections, literals,
# an unusual spelling) hands the rest of the response to the general tokenizer. Tests check that
# both paths give equal results, on recorded, generated and randomly mutated responses.
# Possessive repeats (*+, ++, Python 3.11) never give back what they took: none of these
# patterns can match any other way, and not keeping backtracking points makes them faster.
_Q = r'"[^"\\\r\n]*+(?:\\[^\r\n][^"\\\r\n]*+)*+"'
_NSTR = rf"(?:{_Q}|NIL)"
_ADDR = rf"\({_NSTR} {_NSTR} {_NSTR} {_NSTR}\)"
_ALIST = rf"(?:NIL|\((?:{_ADDR})++\))"
_FLAG_ATOM = r"[^\x00-\x20()\"\[\]{}\x7f]++"
# Any run of the simple items, in any order; each group keeps the value of its item.
_SIMPLE_RUN_RE = re.compile(
    r"(?:(?:UID ([0-9]{1,20})"
    rf"|FLAGS \(((?:{_FLAG_ATOM}(?: {_FLAG_ATOM})*)?)\)"
    r"|RFC822\.SIZE ([0-9]{1,20})"
    r'|INTERNALDATE "([^"\\\r\n]*)"'
    r"|MODSEQ \(([0-9]{1,20})\))"
    r"(?: |(?=\)\Z)))+"
)
_FAST_ENVELOPE_RE = re.compile(
    rf"ENVELOPE \(({_NSTR}) ({_NSTR}) ({_ALIST}) ({_ALIST}) ({_ALIST}) ({_ALIST}) ({_ALIST})"
    rf" ({_ALIST}) ({_NSTR}) ({_NSTR})\)"
)
_FAST_ADDR_RE = re.compile(rf"\(({_NSTR}) ({_NSTR}) ({_NSTR}) ({_NSTR})\)")
_ALIST_CACHE: dict[str, tuple[Address, ...]] = {"NIL": ()}
_FAST_FLAGS_CACHE: dict[str, frozenset[str]] = {}


def _q(s: str) -> str | None:
    """A wire nstring matched by _NSTR (already valid UTF-8) as its value."""
    if s == "NIL":
        return None
    s = s[1:-1]
    if "\\" in s:
        s = _UNESCAPE_RE.sub(r"\1", s)
    return s


def _fast_alist(g: str) -> tuple[Address, ...]:
    try:
        return _ALIST_CACHE[g]
    except KeyError:
        pass
    out = tuple(
        Address(_q(name), _q(mailbox), _q(host), _q(route))
        for name, route, mailbox, host in _FAST_ADDR_RE.findall(g)
    )
    if len(_ALIST_CACHE) > 20000:
        _ALIST_CACHE.clear()
        _ALIST_CACHE["NIL"] = ()
    _ALIST_CACHE[g] = out
    return out


# BODYSTRUCTURE in the canonical shape (see _scan_body): message/rfc822 parts, partial extension
# data and anything unusual make it return None and the general decoder takes the whole
# BODYSTRUCTURE instead.
_PARAMS = rf"(?:NIL|\({_Q} {_Q}(?: {_Q} {_Q})*+\))"
_DSP = rf"(?:NIL|\({_Q} {_PARAMS}\))"
_LANG = rf"(?:NIL|{_Q}|\({_Q}(?: {_Q})*+\))"
_TAIL_EXT_RE = re.compile(rf"({_DSP}) ({_LANG}) ({_NSTR})")
_QS_RE = re.compile(_Q)
_ONE_PARAM_RE = re.compile(rf"\(({_Q}) ({_Q})\)")


def _uq(s: str) -> str:
    """A wire quoted string matched by _Q as its value."""
    s = s[1:-1]
    if "\\" in s:
        s = _UNESCAPE_RE.sub(r"\1", s)
    return s


def _fast_params(g: str) -> dict[str, str]:
    if g == "NIL":
        return {}
    m = _ONE_PARAM_RE.fullmatch(g)
    if m is not None:
        return {_uq(m.group(1)).lower(): _uq(m.group(2))}
    items = [_uq(x) for x in _QS_RE.findall(g)]
    return {items[i].lower(): items[i + 1] for i in range(0, len(items), 2)}


def _fast_dsp(g: str) -> tuple[str | None, dict[str, str]]:
    if g == "NIL":
        return None, {}
    q = _QS_RE.match(g, 1)
    assert q is not None  # guaranteed by _DSP
    return _uq(q.group()).lower(), _fast_params(g[q.end() + 1 : -1])


def _fast_lang(g: str) -> tuple[str, ...]:
    if g == "NIL":
        return ()
    return tuple(_uq(x) for x in _QS_RE.findall(g))


# The body in one flat pass. Each step matches, at the current position, either a leaf with
# the "(" of any multiparts opening just before it, or the end of a multipart. Leaf groups:
# 1 the opening "("s, 2 the fields before the size (3-8 one by one), 9 size, 10 lines, 11 the
# extension data (12-15 one by one); 2 and 11 together key the decoded fields in the cache.
# Multipart end: 16 subtype, 17 and 18 the parameter list when it is one pair (the usual
# boundary), 19 any other parameter list, 20 the rest of the extension data. A stack replaces
# recursion and part numbers are counted on the way; one regex call per leaf or multipart.
_BODY_STEP_RE = re.compile(
    rf"((?:\((?=\())*+)\((({_Q}) ({_Q}) ({_PARAMS}) ({_NSTR}) ({_NSTR}) ({_NSTR}))"
    rf" ([0-9]{{1,20}}+)(?: ([0-9]{{1,20}}+))?((?: ({_NSTR}) ({_DSP}) ({_LANG}) ({_NSTR}))?)\)"
    rf"| ({_Q})(?: (?:\(({_Q}) ({_Q})\)|({_PARAMS})) ({_DSP} {_LANG} {_NSTR}))?\)"
)
_PARAM_KEYS: dict[str, str] = {}


def _scan_body(text: str, pos: int) -> tuple[BodyPart, int] | None:
    """(BODYSTRUCTURE, end position) for the body at `pos`, or None for the general decoder."""
    match = _BODY_STEP_RE.match
    info_get = _BODY_INFO_CACHE.get
    # Open multiparts: (their part id, the prefix of their children's ids, their children).
    stack: list[tuple[str, str, list[BodyPart]]] = []
    part_id = ""
    prefix = ""
    children: list[BodyPart] = []
    while True:
        m = match(text, pos)
        if m is None:
            return None
        pos = m.end()
        if m.lastindex == 11:  # a leaf, perhaps first child of multiparts opening here
            opens, head, size, lines, ext = m.group(1, 2, 9, 10, 11)
            if opens:
                if len(stack) + len(opens) > MAX_BODY_DEPTH:
                    return None
                for _ in opens:
                    if stack:
                        sub_id = f"{prefix}{len(children) + 1}"
                        stack.append((part_id, prefix, children))
                        part_id = sub_id
                        prefix = sub_id + "."
                    else:
                        stack.append(("", "", []))
                    children = []
            key = (head, ext)
            linfo = info_get(key)
            if linfo is None:
                linfo = _leaf_info(key, m.group(3, 4, 5, 6, 7, 8, 12, 13, 14, 15))
            maintype, subtype, params, cid_, desc, enc, md5, dtype, dparams, lang, loc = linfo
            if (lines is not None) != (maintype == "text"):
                return None  # a text part without lines, or lines where md5 belongs
            part = BodyPart(
                f"{prefix}{len(children) + 1}" if stack else "1",
                maintype,
                subtype,
                dict(params) if params else {},
                cid_,
                desc,
                enc,
                int(size),
                int(lines) if lines is not None else None,
                md5,
                dtype,
                dict(dparams) if dparams else {},
                lang,
                loc,
            )
            if not stack:
                return part, pos
            children.append(part)
        else:  # a multipart closes
            if not stack:
                return None
            subtype_q, pkey, pvalue, plist, ext = m.group(16, 17, 18, 19, 20)
            tkey = (subtype_q, ext)
            info = info_get(tkey)
            if info is None:
                info = _tail_info(tkey)
            subtype, dtype, dparams, lang, loc = info
            if pkey is not None:
                name = _PARAM_KEYS.get(pkey)
                if name is None:
                    name = _PARAM_KEYS[pkey] = _uq(pkey).lower()
                    if len(_PARAM_KEYS) > 256:
                        _PARAM_KEYS.clear()
                mparams = {name: pvalue[1:-1] if "\\" not in pvalue else _uq(pvalue)}
            elif plist is not None:
                mparams = _fast_params(plist)
            else:
                mparams = {}
            part = BodyPart(
                part_id,
                "multipart",
                subtype,
                mparams,
                None,
                None,
                "7bit",
                0,
                None,
                None,
                dtype,
                dict(dparams) if dparams else {},
                lang,
                loc,
                children,
            )
            part_id, prefix, children = stack.pop()
            if not stack:
                return part, pos
            children.append(part)


def _tail_info(key: tuple[str | None, ...]) -> Any:
    """The decoded subtype and extension data of a multipart (`_BODY_STEP_RE` groups 16, 20)."""
    subtype, ext = key
    assert subtype is not None
    if ext is None:
        return _remember(key, (_uq(subtype).lower(), None, {}, (), None))
    m = _TAIL_EXT_RE.fullmatch(ext)
    assert m is not None  # the same patterns
    dsp, lang, loc = m.groups()
    dtype, dparams = _fast_dsp(dsp)
    return _remember(key, (_uq(subtype).lower(), dtype, dparams, _fast_lang(lang), _q(loc)))


# Decoded leaf and multipart descriptions keyed by their wire groups (sizes left out): a mailbox
# has few distinct shapes, so most parts cost one dict lookup. Values are never handed out
# directly; the dicts are copied into each BodyPart.
_BODY_INFO_CACHE: dict[object, Any] = {}


def _remember(key: object, info: Any) -> Any:
    if len(_BODY_INFO_CACHE) > 4096:
        _BODY_INFO_CACHE.clear()
    _BODY_INFO_CACHE[key] = info
    return info


def _leaf_info(key: object, groups: tuple[str | None, ...]) -> Any:
    maintype, subtype, params, cid, desc, enc, md5, dsp, lang, loc = groups
    assert maintype is not None and subtype is not None and params is not None
    assert cid is not None and desc is not None and enc is not None
    dtype, dparams = _fast_dsp(dsp) if dsp is not None else (None, {})
    return _remember(
        key,
        (
            _uq(maintype).lower(),
            _uq(subtype).lower(),
            _fast_params(params),
            _q(cid),
            _q(desc),
            "7bit" if enc == "NIL" else _uq(enc).lower(),
            _q(md5) if md5 is not None else None,
            dtype,
            dparams,
            _fast_lang(lang) if lang is not None else (),
            _q(loc) if loc is not None else None,
        ),
    )


def _fetch_fast(fd: FetchData, text: str, pos: int = 1) -> FetchData | None:
    """Decode the canonical items of `text` ("(UID 1 FLAGS ...)") from `pos`, the rest generally.

    Returns None when the response does not start in a shape this path knows. Whatever it
    meets later that it does not know is handed, from there on, to the general decoder.
    `pos` > 1 continues after items already decoded (see `_canonical`).
    """
    first = pos
    if first == 1 and not text.startswith("("):
        return None
    n = len(text)
    while True:
        m = _SIMPLE_RUN_RE.match(text, pos)
        if m is not None and m.end() != pos:
            uid, flags, size, date, modseq = m.groups()
            if uid is not None:
                fd.uid = int(uid)
            if flags is not None:
                fs = _FAST_FLAGS_CACHE.get(flags)
                if fs is None:
                    fs = frozenset(flags.split())
                    if len(_FAST_FLAGS_CACHE) > 4096:
                        _FAST_FLAGS_CACHE.clear()
                    _FAST_FLAGS_CACHE[flags] = fs
                fd.flags = fs
            if size is not None:
                fd.size = int(size)
            if date is not None:
                fd.internaldate = parse_internaldate(date)
            if modseq is not None:
                fd.modseq = int(modseq)
            pos = m.end()
        if pos == n - 1 and text[pos] == ")":
            return fd
        end = -1
        if text.startswith("ENVELOPE (", pos):
            m = _FAST_ENVELOPE_RE.match(text, pos)
            if m is not None:
                g = m.groups()
                fd.envelope = Envelope(
                    _q(g[0]),
                    _q(g[1]),
                    _fast_alist(g[2]),
                    _fast_alist(g[3]),
                    _fast_alist(g[4]),
                    _fast_alist(g[5]),
                    _fast_alist(g[6]),
                    _fast_alist(g[7]),
                    _q(g[8]),
                    _q(g[9]),
                )
                end = m.end()
        elif text.startswith("BODYSTRUCTURE (", pos):
            body = _scan_body(text, pos + 14)
            if body is not None:
                fd.bodystructure = body[0]
                end = body[1]
        if end >= 0:
            if end == n - 1 and text[end] == ")":
                return fd
            if end < n and text[end] == " ":
                pos = end + 1
                continue
        if pos == first == 1:
            return None
        # Hand the remaining items to the general path.
        rest = _tokenize(("(" + text[pos:]).encode("utf-8", "surrogateescape"))
        if len(rest) != 1 or rest[0].__class__ is not list:
            raise ParseError("FETCH needs one parenthesised list")
        return _fetch_items(fd, rest[0])


# The whole head of a message-list response in one match, as Dovecot writes it: "* n FETCH (",
# the simple items in any order (INTERNALDATE cut into its fields), then ENVELOPE. What follows
# (BODYSTRUCTURE, further items) continues in `_fetch_fast`. One regex call instead of four and
# no per-item function calls: this is the response a folder listing parses 100,000 times.
_CANON_RE = re.compile(
    r"\* ([0-9]{1,10}) FETCH \("
    r"(?:UID ([0-9]{1,20}) "
    rf"|FLAGS \(((?:{_FLAG_ATOM}(?: {_FLAG_ATOM})*)?)\) "
    r"|RFC822\.SIZE ([0-9]{1,20}) "
    r'|INTERNALDATE " ?([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2})'
    r' ([+-][0-9]{4})" '
    r"|MODSEQ \(([0-9]{1,20})\) )*"
    rf"ENVELOPE \(({_NSTR}) ({_NSTR}) ({_ALIST}) ({_ALIST}) ({_ALIST}) ({_ALIST}) ({_ALIST})"
    rf" ({_ALIST}) ({_NSTR}) ({_NSTR})\)"
)
_MONTH_ABBR = {
    m: i + 1
    for i, m in enumerate(
        ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    )
}


# Envelope is a frozen dataclass, whose __init__ assigns each of its ten fields through
# object.__setattr__: 1.2 us, as much as matching the whole ENVELOPE. The same object is built
# here by writing the slots directly (0.5 us); equal, hashable and immutable as ever. Only while
# the model has exactly these fields, in this order; otherwise the ordinary constructor is used.
_ENVELOPE_FIELDS = (
    "date",
    "subject",
    "from_",
    "sender",
    "reply_to",
    "to",
    "cc",
    "bcc",
    "in_reply_to",
    "message_id",
)


def _envelope_builder() -> Callable[..., Envelope]:
    names = tuple(f.name for f in dataclasses.fields(Envelope))
    slots = getattr(Envelope, "__slots__", ())
    if names != _ENVELOPE_FIELDS or tuple(slots) != _ENVELOPE_FIELDS:
        return Envelope  # pragma: no cover - the model changed: stay correct, if slower
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9 = (getattr(Envelope, n).__set__ for n in names)
    new = object.__new__

    def build(
        date: str | None,
        subject: str | None,
        from_: tuple[Address, ...],
        sender: tuple[Address, ...],
        reply_to: tuple[Address, ...],
        to: tuple[Address, ...],
        cc: tuple[Address, ...],
        bcc: tuple[Address, ...],
        in_reply_to: str | None,
        message_id: str | None,
    ) -> Envelope:
        env: Envelope = new(Envelope)
        s0(env, date)
        s1(env, subject)
        s2(env, from_)
        s3(env, sender)
        s4(env, reply_to)
        s5(env, to)
        s6(env, cc)
        s7(env, bcc)
        s8(env, in_reply_to)
        s9(env, message_id)
        return env

    return build


_new_envelope = _envelope_builder()


@overload
def _canonical(raw: bytes, summary: typing.Literal[True]) -> MessageSummary | None: ...
@overload
def _canonical(raw: bytes, summary: typing.Literal[False]) -> FetchData | None: ...
def _canonical(raw: bytes, summary: bool) -> FetchData | MessageSummary | None:
    """A `* n FETCH (...)` in the canonical message-list shape, or None for the usual path.

    With `summary`, the MessageSummary the client keeps (None when UID is missing), otherwise
    the FetchData. Items after the usual ones are decoded by `_fetch_fast`.
    """
    if raw.find(b" FETCH (", 2, 20) < 0 or raw.find(b"{") >= 0:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    m = _CANON_RE.match(text)
    if m is None:
        return None
    (
        seq,
        uid,
        flags,
        size,
        day,
        mon,
        year,
        hh,
        mi,
        ss,
        zone,
        modseq,
        e_date,
        e_subject,
        e_from,
        e_sender,
        e_reply_to,
        e_to,
        e_cc,
        e_bcc,
        e_in_reply_to,
        e_message_id,
    ) = m.groups()
    fs = None
    if flags is not None:
        fs = _FAST_FLAGS_CACHE.get(flags)
        if fs is None:
            fs = frozenset(flags.split())
            if len(_FAST_FLAGS_CACHE) > 4096:
                _FAST_FLAGS_CACHE.clear()
            _FAST_FLAGS_CACHE[flags] = fs
    date = None
    if day is not None:
        month = _MONTH_ABBR.get(mon)
        tz = _TZ_CACHE.get(zone)
        if month is None or tz is None:
            date = parse_internaldate(f"{day}-{mon}-{year} {hh}:{mi}:{ss} {zone}")
        else:
            try:
                date = datetime(int(year), month, int(day), int(hh), int(mi), int(ss), tzinfo=tz)
            except ValueError:
                raise ParseError(f"impossible INTERNALDATE {day}-{mon}-{year}") from None
    alist = _ALIST_CACHE.get
    # The frequent nstrings inline (_q is the slow spelling of the same).
    env = _new_envelope(
        None if e_date == "NIL" else e_date[1:-1] if "\\" not in e_date else _q(e_date),
        None if e_subject == "NIL" else e_subject[1:-1] if "\\" not in e_subject else _q(e_subject),
        alist(e_from) or _fast_alist(e_from),
        alist(e_sender) or _fast_alist(e_sender),
        alist(e_reply_to) or _fast_alist(e_reply_to),
        alist(e_to) or _fast_alist(e_to),
        alist(e_cc) or _fast_alist(e_cc),
        alist(e_bcc) or _fast_alist(e_bcc),
        _q(e_in_reply_to),
        None
        if e_message_id == "NIL"
        else e_message_id[1:-1]
        if "\\" not in e_message_id
        else _q(e_message_id),
    )
    pos = m.end()
    if text.endswith("\n"):
        text = text[:-2] if text.endswith("\r\n") else text[:-1]
    n = len(text)
    body = None
    if text.startswith(" BODYSTRUCTURE (", pos):
        scanned = _scan_body(text, pos + 15)
        if scanned is not None:
            body, pos = scanned
    if pos == n - 1 and text[pos] == ")":
        if summary:
            if uid is None:
                return None
            return MessageSummary(
                int(uid),
                fs or frozenset(),
                env,
                int(size) if size is not None else 0,
                date,
                body,
                int(modseq) if modseq is not None else None,
            )
        return FetchData(
            int(seq),
            int(uid) if uid is not None else None,
            fs,
            env,
            body,
            int(size) if size is not None else None,
            date,
            int(modseq) if modseq is not None else None,
        )
    if pos >= n or text[pos] != " ":
        return None  # an unusual layout: the usual path decodes it from the start
    fd = _fetch_fast(
        FetchData(
            int(seq),
            int(uid) if uid is not None else None,
            fs,
            env,
            body,
            int(size) if size is not None else None,
            date,
            int(modseq) if modseq is not None else None,
        ),
        text,
        pos + 1,
    )
    if not summary or fd is None:
        return fd
    if fd.uid is None or fd.envelope is None:  # no UID after all
        return None
    return MessageSummary(
        fd.uid,
        fd.flags or frozenset(),
        fd.envelope,
        fd.size or 0,
        fd.internaldate,
        fd.bodystructure,
        fd.modseq,
    )


def parse_fetch_summary(raw: bytes) -> MessageSummary | None:
    """A message-list FETCH response straight into a MessageSummary, or None.

    None means "not the canonical shape with UID and ENVELOPE": decode it with
    `parse_untagged` instead. A summary given here is the one `parse_untagged` would have led
    to (absent flags and size become empty and 0), without a FetchData in between. Malformed
    input raises ParseError, as everywhere here.
    """
    if raw.__class__ is not bytes:
        return None
    return _canonical(raw, True)


def _fetch(seq: int, raw: bytes, start: int) -> FetchData:
    """A `* n FETCH (...)` response from byte `start` (the opening parenthesis) on."""
    fd = FetchData(seq)
    if raw.find(b"{", start) < 0:
        try:
            text = raw[start:].decode("utf-8")
        except UnicodeDecodeError:
            pass
        else:
            result = _fetch_fast(fd, text)
            if result is not None:
                return result
    tokens = _tokenize(raw, start)
    if len(tokens) != 1 or tokens[0].__class__ is not list:
        raise ParseError("FETCH needs one parenthesised list")
    return _fetch_items(fd, tokens[0])


def _plain(v: Token) -> object:
    """An unknown attribute's value with text cleaned; lists copied without recursion."""
    if v.__class__ is str:
        return _clean(v)
    if v.__class__ is not list:
        return v
    root: list[object] = []
    work: list[tuple[list[Token], list[object]]] = [(v, root)]
    while work:
        src, dst = work.pop()
        for x in src:
            if x.__class__ is list:
                new: list[object] = []
                dst.append(new)
                work.append((x, new))
            elif x.__class__ is str:
                dst.append(_clean(x))
            else:
                dst.append(x)
    return root


# -- other untagged data ---------------------------------------------------------------------


def _mailbox_name(v: Token, utf8: bool) -> tuple[str, str]:
    """(raw_name, decoded name) of a LIST/STATUS mailbox."""
    if v is None:  # an atom NIL is a mailbox called NIL
        raw = "NIL"
    elif v.__class__ is bytes:
        raw = _bytes_text(v)
    elif v.__class__ is str:
        raw = _clean(v)
    else:
        raise ParseError("expected a mailbox name")
    if raw.upper() == "INBOX":
        return raw, "INBOX"
    if utf8:
        return raw, raw
    try:
        return raw, decode_mailbox(raw)
    except Utf7Error:
        return raw, raw


def _list_data(tokens: list[Token], lsub: bool, utf8: bool) -> ListData:
    if len(tokens) < 3:
        raise ParseError("LIST needs attributes, delimiter and name")
    attrs = _list(tokens[0])
    attributes = []
    for a in attrs:
        if a.__class__ is not str:
            raise ParseError("a mailbox attribute must be an atom")
        attributes.append(a)
    delim = tokens[1]
    delimiter = None if delim is None else _str(delim)
    raw_name, name = _mailbox_name(tokens[2], utf8)
    return ListData(frozenset(attributes), delimiter, raw_name, name, lsub)


def _status_data(tokens: list[Token], utf8: bool) -> StatusData:
    if len(tokens) < 2:
        raise ParseError("STATUS needs a name and a list")
    raw_name, name = _mailbox_name(tokens[0], utf8)
    items = _list(tokens[1])
    if len(items) % 2:
        raise ParseError("STATUS items must be pairs")
    counts = {}
    for i in range(0, len(items), 2):
        key = items[i]
        if key.__class__ is not str:
            raise ParseError("a STATUS item name must be an atom")
        counts[key.upper()] = _num(items[i + 1])
    return StatusData(raw_name, name, counts)


def _uid_array(numbers: list[int]) -> UidArray:
    try:
        return UidArray(numbers)
    except OverflowError:
        raise ParseError("a number beyond 32 bits where a UID or sequence number goes") from None


#: Bytes a run of numbers may hold; anything else sends it to the tokenizer.
_DIGITS_AND_SPACE = b"0123456789 "
#: Bytes of a number run converted at a time: the temporary bytes objects stay small.
_NUMBER_CHUNK = 1 << 15


def _number_run(raw: bytes, start: int, end: int) -> UidArray | None:
    """`raw[start:end]` as space-separated decimal numbers straight into a UidArray, in chunks:
    a 100,000-UID SORT answer never becomes 100,000 tokens and ints at once. None when the
    run holds anything else (the general path then decides, and raises if it must)."""
    out = UidArray()
    pos = start
    extend = out.extend
    try:
        while pos < end:
            stop = end
            if end - pos > _NUMBER_CHUNK:
                stop = raw.rfind(b" ", pos, pos + _NUMBER_CHUNK)
                if stop <= pos:
                    return None
            piece = raw[pos:stop]
            if piece.translate(None, _DIGITS_AND_SPACE):
                return None
            extend(map(int, piece.split(b" ")))  # "" (doubled spaces) raises ValueError
            pos = stop + 1
    except (ValueError, OverflowError):
        return None
    return out


def _search_data(tokens: list[Token]) -> SearchData:
    numbers = []
    modseq = None
    for t in tokens:
        if t.__class__ is list:
            if len(t) == 2 and t[0].__class__ is str and t[0].upper() == "MODSEQ":
                modseq = _num(t[1])
                continue
            raise ParseError("unexpected list in SEARCH")
        numbers.append(_num(t))
    return SearchData(_uid_array(numbers), modseq)


def _esearch_data(tokens: list[Token]) -> ESearchData:
    tag = None
    i = 0
    if tokens and tokens[0].__class__ is list:
        corr = tokens[0]
        if len(corr) == 2 and corr[0].__class__ is str and corr[0].upper() == "TAG":
            tag = _str(corr[1])
        i = 1
    result = ESearchData(tag, False)
    n = len(tokens)
    while i < n:
        key = tokens[i]
        if key.__class__ is not str:
            raise ParseError("an ESEARCH item name must be an atom")
        key = key.upper()
        if key == "UID":
            result.uid = True
            i += 1
            continue
        if i + 1 >= n:
            raise ParseError(f"ESEARCH {key[:20]} has no value")
        value = tokens[i + 1]
        if key == "ALL":
            if value.__class__ is not str:
                raise ParseError("ESEARCH ALL needs a sequence set")
            result.all = parse_uid_set(value)
        elif key == "COUNT":
            result.count = _num(value)
        elif key == "MIN":
            result.min = _num(value)
        elif key == "MAX":
            result.max = _num(value)
        elif key == "MODSEQ":
            result.modseq = _num(value)
        i += 2
    return result


def _thread_data(tokens: list[Token]) -> ThreadData:
    """RFC 5256 THREAD lists, turned into trees without recursion."""
    roots: list[ThreadNode] = []
    # Work items: (a list from the response, the children list its thread hangs from).
    work: list[tuple[list[Token], list[ThreadNode]]] = []
    for t in tokens:
        work.append((_list(t), roots))
        while work:
            items, parent_children = work.pop()
            holder = parent_children
            last: ThreadNode | None = None
            i = 0
            n = len(items)
            while i < n and items[i].__class__ is not list:
                node = ThreadNode(_num(items[i]))
                holder.append(node)
                holder = node.children
                last = node
                i += 1
            if last is None:
                dummy = ThreadNode(None)
                holder.append(dummy)
                holder = dummy.children
            branches = items[i:]
            for b in branches:
                if b.__class__ is not list:
                    raise ParseError("a number after a branch in THREAD")
            # Push in reverse so branches come out in server order.
            work.extend((b, holder) for b in reversed(branches))
    return ThreadData(roots)


def _id_data(tokens: list[Token]) -> IdData:
    if not tokens or tokens[0] is None:
        return IdData({})
    items = _list(tokens[0])
    if len(items) % 2:
        raise ParseError("ID parameters must be pairs")
    return IdData({_str(items[i]): _nstr(items[i + 1]) for i in range(0, len(items), 2)})


def _namespace_data(rest: bytes, tokens: list[Token]) -> NamespaceData:
    groups: list[list[tuple[str, str | None]]] = []
    for t in tokens[:3]:
        entries: list[tuple[str, str | None]] = []
        if t is not None:
            for desc in _list(t):
                d = _list(desc)
                if len(d) < 2:
                    raise ParseError("a namespace needs a prefix and a delimiter")
                entries.append((_str(d[0]), _nstr(d[1])))
        groups.append(entries)
    while len(groups) < 3:
        groups.append([])
    return NamespaceData(rest, groups[0], groups[1], groups[2])


# -- status responses ------------------------------------------------------------------------

_STATUS_KINDS = frozenset({"OK", "NO", "BAD", "BYE", "PREAUTH"})
_NO_VALUE_CODES = frozenset({"ALERT", "TRYCREATE", "READ-ONLY", "READ-WRITE", "NOMODSEQ", "CLOSED"})
_INT_CODES = frozenset({"UIDVALIDITY", "UIDNEXT", "HIGHESTMODSEQ", "UNSEEN"})
_CODE_RE = re.compile(rb"\[([^\]\r\n]*)\] ?")


def _code_value(name: str, raw: bytes) -> object:
    """The typed value of a response code (see ResponseCode)."""
    if name in _NO_VALUE_CODES:
        return None
    if name in _INT_CODES:
        tokens = _tokenize(raw)
        if len(tokens) != 1:
            raise ParseError(f"[{name}] needs one number")
        return _num(tokens[0])
    if name == "PERMANENTFLAGS":
        tokens = _tokenize(raw)
        if len(tokens) != 1:
            raise ParseError("[PERMANENTFLAGS] needs a flag list")
        return _flags(tokens[0])
    if name == "CAPABILITY":
        tokens = _tokenize(raw)
        return _atoms_upper(tokens)
    if name == "APPENDUID":
        tokens = _tokenize(raw)
        if len(tokens) != 2 or tokens[1].__class__ is not str:
            raise ParseError("[APPENDUID] needs a UIDVALIDITY and a UID set")
        return (_num(tokens[0]), parse_sequence_set(tokens[1]))
    if name == "COPYUID":
        tokens = _tokenize(raw)
        if len(tokens) != 3 or tokens[1].__class__ is not str or tokens[2].__class__ is not str:
            raise ParseError("[COPYUID] needs a UIDVALIDITY and two UID sets")
        return (_num(tokens[0]), parse_sequence_set(tokens[1]), parse_sequence_set(tokens[2]))
    return _bytes_text(raw) if raw else None


def _status(kind: str, rest: bytes) -> StatusResponse:
    """The part after 'OK ' etc.: an optional [CODE value] and the human text."""
    code = None
    if rest.startswith(b"["):
        m = _CODE_RE.match(rest)
        if m is not None:
            inner = m.group(1)
            name_b, _, value_b = inner.partition(b" ")
            name = _bytes_text(name_b).upper()
            if not name:
                raise ParseError("empty response code")
            code = ResponseCode(name, _code_value(name, value_b.strip()))
            rest = rest[m.end() :]
    return StatusResponse(kind, code, _bytes_text(rest))


# -- entry points ----------------------------------------------------------------------------

_HEAD_RE = re.compile(rb"\* (?:([0-9]{1,10}) ([A-Za-z]+)|([A-Za-z0-9._=-]+))(?: |\Z)")
_NUMBER_LISTS = frozenset({b"SORT", b"SEARCH"})


def parse_untagged(raw: bytes, *, utf8: bool = False) -> Untagged:
    """Decode one complete untagged response (``* ...``, literals inline, CRLF optional).

    `utf8` says that UTF8=ACCEPT is enabled, so mailbox names are UTF-8, not modified UTF-7.
    """
    if raw.__class__ is bytes:
        fd = _canonical(raw, False)
        if fd is not None:
            return fd
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError("a response must be bytes")
    raw = bytes(raw)
    end = len(raw)
    if raw.endswith(b"\n"):
        end -= 2 if raw.endswith(b"\r\n") else 1
    m = _HEAD_RE.match(raw, 0, end)
    if m is None:
        raise ParseError(f"not an untagged response: {raw[:40]!r}")
    start = m.end()
    number, kind, name = m.groups()
    if number is None and name.upper() in _NUMBER_LISTS:
        # SORT and SEARCH answers hold every UID of a folder: never copied, never tokenized.
        numbers = _number_run(raw, start, end)
        if numbers is not None:
            return SortData(numbers) if name.upper() == b"SORT" else SearchData(numbers)
    if end != len(raw):
        raw = raw[:end]
    if number is not None:
        kind = kind.upper()
        num = int(number)
        if kind == b"FETCH":
            return _fetch(num, raw, start)
        if kind in (b"EXISTS", b"EXPUNGE", b"RECENT"):
            if start != len(raw):
                raise ParseError(f"trailing data after {kind.decode()}")
            if num > MAX_EXISTS:
                raise ParseError(
                    f"{kind.decode()} {num}: more messages than any mailbox holds "
                    f"(at most {MAX_EXISTS:,} believed)"
                )
            return NumberData(kind.decode(), num)
        return UnknownData(kind.decode(), raw)
    word = name.decode("ascii").upper()
    rest = raw[start:]
    if word in _STATUS_KINDS:
        return _status(word, rest)
    if word == "FLAGS":
        tokens = _tokenize(rest)
        if len(tokens) != 1:
            raise ParseError("FLAGS needs one list")
        return FlagsData(_flags(tokens[0]))
    if word in ("LIST", "LSUB"):
        tokens = _tokenize(rest, astrings=True)
        return _list_data(tokens, word == "LSUB", utf8)
    if word == "STATUS":
        tokens = _tokenize(rest, astrings=True)
        return _status_data(tokens, utf8)
    if word == "SEARCH":
        tokens = _tokenize(rest)
        return _search_data(tokens)
    if word == "ESEARCH":
        tokens = _tokenize(rest)
        return _esearch_data(tokens)
    if word == "SORT":
        tokens = _tokenize(rest)
        return SortData(_uid_array([_num(t) for t in tokens]))
    if word == "THREAD":
        tokens = _tokenize(rest)
        return _thread_data(tokens)
    if word == "VANISHED":
        tokens = _tokenize(rest)
        earlier = False
        if tokens and tokens[0].__class__ is list:
            head = tokens.pop(0)
            earlier = any(x.__class__ is str and x.upper() == "EARLIER" for x in head)
        if len(tokens) != 1 or tokens[0].__class__ is not str:
            raise ParseError("VANISHED needs one UID set")
        ranges = parse_uid_ranges(tokens[0])
        if sum(hi - lo + 1 for lo, hi in ranges) > MAX_VANISHED_EXPANSION:
            return VanishedData(UidArray(), earlier, tuple(ranges))
        return VanishedData(parse_uid_set(tokens[0]), earlier)
    if word == "CAPABILITY":
        tokens = _tokenize(rest)
        return CapabilityData(_atoms_upper(tokens))
    if word == "ENABLED":
        tokens = _tokenize(rest)
        return EnabledData(_atoms_upper(tokens))
    if word == "ID":
        tokens = _tokenize(rest)
        return _id_data(tokens)
    if word == "NAMESPACE":
        tokens = _tokenize(rest)
        return _namespace_data(rest, tokens)
    return UnknownData(word, raw)


_TAGGED_RE = re.compile(rb"([\x21-\x7e]+) ([A-Za-z]+)(?: |\Z)")


def parse_tagged(raw: bytes) -> tuple[str, StatusResponse]:
    """Decode a tagged completion (``A1 OK [CODE] text``) into (tag, status)."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError("a response must be bytes")
    raw = _strip_crlf(bytes(raw))
    m = _TAGGED_RE.match(raw)
    if m is None:
        raise ParseError(f"not a tagged response: {raw[:40]!r}")
    tag = m.group(1).decode("ascii")
    if tag in ("*", "+"):
        raise ParseError("not a tagged response")
    kind = m.group(2).decode("ascii").upper()
    if kind not in ("OK", "NO", "BAD"):
        raise ParseError(f"a tagged response must be OK, NO or BAD, not {kind[:20]!r}")
    return tag, _status(kind, raw[m.end() :])


def parse_continuation(raw: bytes) -> str:
    """The text of a continuation request (``+ text``; a bare ``+`` gives "")."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise ParseError("a response must be bytes")
    raw = _strip_crlf(bytes(raw))
    if not raw.startswith(b"+"):
        raise ParseError("not a continuation request")
    rest = raw[1:]
    if rest.startswith(b" "):
        rest = rest[1:]
    return _bytes_text(rest)


def parse_bodystructure(raw: bytes) -> BodyPart:
    """Decode a parenthesised BODYSTRUCTURE (or BODY) on its own."""
    tokens = _tokenize(_strip_crlf(bytes(raw)))
    if len(tokens) != 1:
        raise ParseError("expected one BODYSTRUCTURE list")
    return _bodystructure(tokens[0])


def parse_envelope(raw: bytes) -> Envelope:
    """Decode a parenthesised ENVELOPE on its own."""
    tokens = _tokenize(_strip_crlf(bytes(raw)))
    if len(tokens) != 1:
        raise ParseError("expected one ENVELOPE list")
    return _envelope(tokens[0])


# -- sequence sets ---------------------------------------------------------------------------

_SEQ_RANGE_RE = re.compile(r"([0-9]{1,10}|\*)(?::([0-9]{1,10}|\*))?")


def parse_sequence_set(s: str, max_value: int | None = None) -> list[int]:
    """Expand "1:3,7,9:*" in the order written (ranges ascending); '*' needs `max_value`."""
    out: list[int] = []
    if not s:
        raise ParseError("empty sequence set")
    _expand_into(out, s.split(","), max_value)
    return out


def _expand_into(out: list[int] | UidArray, pieces: Iterable[str], max_value: int | None) -> None:
    """Append each "n", "n:m" or "*" piece to `out`, ranges ascending, within the bound."""
    for piece in pieces:
        m = _SEQ_RANGE_RE.fullmatch(piece)
        if m is None:
            raise ParseError(f"bad sequence set item {piece[:30]!r}")
        lo = _seq_number(m.group(1), max_value)
        hi = lo if m.group(2) is None else _seq_number(m.group(2), max_value)
        if lo > hi:
            lo, hi = hi, lo
        if len(out) + (hi - lo + 1) > MAX_SEQUENCE_EXPANSION:
            raise ParseError("sequence set too large to expand")
        if lo == hi:
            out.append(lo)
        else:
            out.extend(range(lo, hi + 1))


#: Characters of a sequence set made of single numbers only (ESEARCH ALL of a sparse folder).
_DIGITS_AND_COMMA = str.maketrans("", "", "0123456789,")
_SET_CHUNK = 1 << 15


def parse_uid_set(s: str, max_value: int | None = None) -> UidArray:
    """`parse_sequence_set` into a UidArray, a chunk at a time: "1:100000" or a 700 KB list of
    single UIDs costs 400 KB, with no list of ints or of 100,000 strings on the way."""
    if not s:
        raise ParseError("empty sequence set")
    out = UidArray()
    pos, n = 0, len(s)
    while pos < n:
        stop = n
        if n - pos > _SET_CHUNK:
            stop = s.rfind(",", pos, pos + _SET_CHUNK)
            if stop <= pos:
                stop = s.find(",", pos + _SET_CHUNK)
                stop = n if stop < 0 else stop
        chunk = s[pos:stop]
        if stop < n and stop == n - 1:
            raise ParseError("bad sequence set item ''")
        pos = stop + 1
        if not chunk.translate(_DIGITS_AND_COMMA):
            pieces = chunk.split(",")
            if "" in pieces or max(map(len, pieces)) > 10:
                raise ParseError("bad sequence set item")
            try:
                values = UidArray(map(int, pieces))
            except OverflowError:
                raise ParseError("sequence number out of range") from None
            if 0 in values:
                raise ParseError("sequence number out of range: 0")
            out.extend(values)
        else:
            _expand_into(out, chunk.split(","), max_value)
        if len(out) > MAX_SEQUENCE_EXPANSION:
            raise ParseError("sequence set too large to expand")
    return out


def parse_uid_ranges(s: str) -> list[tuple[int, int]]:
    """A UID set ("1:3,7,9:4294967295") as ascending, merged (first, last) ranges, without
    expanding it (so a hostile "1:4294967295" costs one pair); no '*'."""
    if not s:
        raise ParseError("empty sequence set")
    pairs: list[tuple[int, int]] = []
    for piece in s.split(","):
        m = _SEQ_RANGE_RE.fullmatch(piece)
        if m is None:
            raise ParseError(f"bad sequence set item {piece[:30]!r}")
        lo = _seq_number(m.group(1), None)
        hi = lo if m.group(2) is None else _seq_number(m.group(2), None)
        pairs.append((min(lo, hi), max(lo, hi)))
    pairs.sort()
    merged = [pairs[0]]
    for lo, hi in pairs[1:]:
        last_lo, last_hi = merged[-1]
        if lo <= last_hi + 1:
            merged[-1] = (last_lo, max(last_hi, hi))
        else:
            merged.append((lo, hi))
    return merged


def _seq_number(text: str, max_value: int | None) -> int:
    if text == "*":
        if max_value is None:
            raise ParseError("'*' in a sequence set where no largest value is known")
        return max_value
    value = int(text)
    if value == 0 or value > 0xFFFFFFFF:
        raise ParseError(f"sequence number out of range: {text}")
    return value


def format_sequence_set(numbers: Iterable[int]) -> str:
    """Sorted, de-duplicated numbers compressed to ranges: [1, 2, 3, 7] -> "1:3,7".

    Sorted as a UidArray (`app.uids.ascending`): the known UIDs of a 1,000,000-message
    folder (a QRESYNC SELECT) never become a set and a sorted list of ints (~100 MB)."""
    items = numbers if isinstance(numbers, Collection) else list(numbers)
    values: Sequence[int]
    try:
        values = ascending(items)
    except OverflowError:  # beyond 32 bits, or negative (refused below)
        values = sorted(set(items))
    if not values:
        raise ValueError("an IMAP sequence set cannot be empty")
    if values[0] < 1:
        raise ValueError("sequence numbers start at 1")
    parts: list[str] = []
    start = prev = values[0]
    for v in itertools.islice(values, 1, None):
        if v == prev + 1:
            prev = v
            continue
        parts.append(str(start) if start == prev else f"{start}:{prev}")
        start = prev = v
    parts.append(str(start) if start == prev else f"{start}:{prev}")
    return ",".join(parts)


# -- command arguments -----------------------------------------------------------------------

_ATOM_ARG_RE = re.compile(r"[\x21-\x7e]+")
#: Sent quoted: atom-specials, and "[" / "]" (legal in an astring, but not every server's
#: parser agrees, and a bare `a]b` reads like the end of a response code to some).
_NON_ATOM_RE = re.compile(r'[(){%*"\\\[\]]')


def quote(s: str) -> str:
    """`s` as an IMAP quoted string; CR, LF and NUL cannot be quoted (send a Literal).

    Non-ASCII text is kept as it is: valid only once UTF8=ACCEPT is enabled, otherwise the
    caller sends a Literal (as `astring_arg` does).
    """
    if "\r" in s or "\n" in s or "\x00" in s:
        raise ValueError("CR, LF and NUL cannot be sent in a quoted string; use a Literal")
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def astring_arg(s: str) -> str | Literal:
    """The cheapest safe form of an astring argument: atom, quoted string or Literal.

    Non-ASCII text and control characters go as a UTF-8 Literal; "NIL" and the empty string are
    quoted so a server cannot read them as anything but a string.
    """
    if _ATOM_ARG_RE.fullmatch(s) and _NON_ATOM_RE.search(s) is None and s.upper() != "NIL":
        return s
    if "\x00" in s:
        raise ValueError("NUL cannot be sent in an IMAP string")
    if s.isascii() and all(" " <= ch <= "~" for ch in s):
        return quote(s)
    return Literal(s.encode("utf-8"))


_LINE_LITERAL_RE = re.compile(rb"~?\{([0-9]{1,10})\}\r\n\Z")


def split_responses(data: bytes) -> list[bytes]:
    """Cut a recorded byte stream into complete responses (each with its CRLF, literals inline).

    A trailing incomplete response raises ParseError; used by tests, benchmarks and replays.
    """
    out: list[bytes] = []
    pos = 0
    n = len(data)
    while pos < n:
        start = pos
        while True:
            eol = data.find(b"\r\n", pos)
            if eol < 0:
                raise ParseError("incomplete response at the end of the data")
            line_end = eol + 2
            m = _LINE_LITERAL_RE.search(data, max(pos, line_end - 16), line_end)
            if m is None:
                pos = line_end
                break
            pos = line_end + int(m.group(1))
            if pos > n:
                raise ParseError("literal runs past the end of the data")
        out.append(data[start:pos])
    return out
