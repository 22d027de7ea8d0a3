"""The user's search language, parsed and compiled to IMAP SEARCH keys.

Syntax (all case-insensitive, terms side by side are ANDed)::

    from:alice  to:  cc:  bcc:  subject:"q4 report"  body:  text:
    since:2026-01-01  before:  on:      (also 1-Jan-2026, today, yesterday, 7d, 2w)
    is:unread is:read is:flagged is:unflagged is:answered is:unanswered is:deleted is:draft
    has:attachment  larger:1M  smaller:10k   (k/M/G are powers of 1024; a bare number is bytes)
    word  "a phrase"      free text: matched against the subject OR the sender
    a or b   not a   -a   ( ... )   and (optional)

Dates compare with the server's INTERNALDATE (SINCE/BEFORE/ON), which is when the message
arrived, not its Date header. `has:attachment` is a heuristic, as IMAP has no such key: a
top-level Content-Type of multipart/mixed or application/*, or the `$HasAttachment` keyword some
servers (Dovecot with attachment detection) set. It misses attachments inside
multipart/related or deeper structures and counts multipart/mixed mail without one.

An unknown field with a value (`form:alice`) is an error rather than a silent text search, so
typos are caught; `re:` with nothing after it, or a URL, stays plain text. Quote to be sure.
An empty query compiles to `ALL`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeAlias

from app.imap.parser import Literal, quote

__all__ = [
    "And",
    "Not",
    "Or",
    "Query",
    "QueryError",
    "SearchCriteria",
    "Term",
    "compile_query",
    "parse_query",
]

#: Deepest nesting of parentheses and negations accepted.
MAX_DEPTH = 64

TEXT_FIELDS = ("from", "to", "cc", "bcc", "subject", "body", "text")
DATE_FIELDS = ("since", "before", "on")
SIZE_FIELDS = ("larger", "smaller")
FIELDS = (*TEXT_FIELDS, *DATE_FIELDS, *SIZE_FIELDS, "is", "has")

_IS_VALUES = {
    "unread": "UNSEEN",
    "unseen": "UNSEEN",
    "read": "SEEN",
    "seen": "SEEN",
    "flagged": "FLAGGED",
    "starred": "FLAGGED",
    "unflagged": "UNFLAGGED",
    "unstarred": "UNFLAGGED",
    "answered": "ANSWERED",
    "replied": "ANSWERED",
    "unanswered": "UNANSWERED",
    "deleted": "DELETED",
    "undeleted": "UNDELETED",
    "draft": "DRAFT",
}
_HAS_VALUES = {"attachment": "attachment", "attachments": "attachment"}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH_INDEX = {m.lower(): i + 1 for i, m in enumerate(_MONTHS)}
_ISO_DATE_RE = re.compile(r"([0-9]{4})[-/]([0-9]{1,2})[-/]([0-9]{1,2})")
_IMAP_DATE_RE = re.compile(r"([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})")
_RELATIVE_RE = re.compile(r"([0-9]{1,5})([dw])")
_SIZE_RE = re.compile(r"([0-9]{1,15}(?:\.[0-9]{1,6})?)([kmg]?)b?", re.IGNORECASE)
_FIELD_KEY_RE = re.compile(r"[A-Za-z]+")
_MAX_SIZE = 0xFFFFFFFF


class QueryError(ValueError):
    """A query the user must fix; `position` is the 0-based offset the message is about."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def __str__(self) -> str:
        return f"{self.message} (at position {self.position + 1})"


# -- the query tree --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Term:
    """One condition. `field` is a FIELDS name or "word" for free text; values are typed:
    str for text fields, `date` for dates, int for sizes, the IMAP key for `is`."""

    field: str
    value: str | date | int
    position: int = 0


@dataclass(frozen=True, slots=True)
class Not:
    child: Node


@dataclass(frozen=True, slots=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    children: tuple[Node, ...]


Node: TypeAlias = Term | Not | And | Or


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query; `root` is None for an empty one (matches everything)."""

    root: Node | None
    text: str = ""

    def to_text(self) -> str:
        """A canonical spelling of the query, for debugging and logs."""
        return "" if self.root is None else _node_text(self.root, top=True)


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """What goes after `UID SEARCH [CHARSET UTF-8]`: join `args` with spaces, literals as such."""

    charset: str | None
    args: list[str | Literal]

    def to_text(self) -> str:
        """The command text with literals shown inline as {n}text, for debugging."""
        parts = []
        for a in self.args:
            if isinstance(a, Literal):
                parts.append(f"{{{len(a.data)}}}{a.data.decode('utf-8', 'replace')}")
            else:
                parts.append(a)
        head = f"CHARSET {self.charset} " if self.charset else ""
        return head + " ".join(parts)


# -- tokens ----------------------------------------------------------------------------------

_LPAREN, _RPAREN, _NEG, _WORD, _PHRASE, _FIELD = "(", ")", "-", "word", "phrase", "field"


@dataclass(slots=True)
class _Tok:
    kind: str
    pos: int
    text: str = ""
    field: str = ""


def _check_char(ch: str, pos: int) -> None:
    if ch < " " or ch == "\x7f":
        raise QueryError("control characters are not allowed in a query", pos)
    if "\ud800" <= ch <= "\udfff":
        raise QueryError("invalid character in the query", pos)


def _read_phrase(text: str, pos: int) -> tuple[str, int]:
    """The phrase opened by the quote at `pos`: (value, position after the closing quote)."""
    out: list[str] = []
    i = pos + 1
    n = len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            return "".join(out), i + 1
        if ch == "\\" and i + 1 < n and text[i + 1] in '"\\':
            out.append(text[i + 1])
            i += 2
            continue
        if ch.isspace():
            ch = " "
        else:
            _check_char(ch, i)
        out.append(ch)
        i += 1
    raise QueryError("unterminated quoted phrase", pos)


def _read_bare(text: str, pos: int) -> int:
    """End of a bare word starting at `pos`."""
    i = pos
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace() or ch in '()"':
            break
        _check_char(ch, i)
        i += 1
    return i


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        _check_char(ch, i)
        if ch == "(":
            out.append(_Tok(_LPAREN, i))
            i += 1
        elif ch == ")":
            out.append(_Tok(_RPAREN, i))
            i += 1
        elif ch == '"':
            start = i
            value, i = _read_phrase(text, i)
            out.append(_Tok(_PHRASE, start, value))
        elif ch == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] != ")":
            out.append(_Tok(_NEG, i))
            i += 1
        else:
            end = _read_bare(text, i)
            if end == i:  # a lone '-' before a space or ')'
                end = i + 1
            word = text[i:end]
            colon = word.find(":")
            key = word[:colon] if colon > 0 else ""
            if key and _FIELD_KEY_RE.fullmatch(key):
                field = key.lower()
                vpos = i + colon + 1
                if field in FIELDS:
                    if vpos < n and text[vpos] == '"' and end == vpos:
                        value, end = _read_phrase(text, vpos)
                    else:
                        value = word[colon + 1 :]
                    if not value.strip():
                        raise QueryError(f"{field}: needs a value", vpos)
                    out.append(_Tok(_FIELD, i, value, field))
                    i = end
                    continue
                rest = word[colon + 1 :]
                if rest and not rest.startswith("//"):
                    known = ", ".join(f"{f}:" for f in FIELDS)
                    raise QueryError(
                        f"unknown field '{key}:' (known: {known}); put the word in quotes to"
                        " search for it as text",
                        i,
                    )
            if word == "-":
                raise QueryError("'-' must be followed by a term, as in -from:bob", i)
            out.append(_Tok(_WORD, i, word))
            i = end
    return out


# -- parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str, today: date) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.today = today

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    @staticmethod
    def keyword(tok: _Tok | None) -> str | None:
        if tok is not None and tok.kind == _WORD and tok.text.lower() in ("and", "or", "not"):
            return tok.text.lower()
        return None

    def end_pos(self) -> int:
        return len(self.text)

    def parse(self) -> Node | None:
        if not self.toks:
            return None
        node = self.parse_or(0)
        tok = self.peek()
        if tok is not None:
            raise QueryError("unmatched ')'", tok.pos)
        return node

    def parse_or(self, depth: int) -> Node:
        children = [self.parse_and(depth)]
        while self.keyword(self.peek()) == "or":
            op = self.toks[self.i]
            self.i += 1
            if self.starts_term(self.peek()) is False:
                raise QueryError("'or' needs a term after it", op.pos)
            children.append(self.parse_and(depth))
        flat: list[Node] = []
        for child in children:
            flat.extend(child.children if isinstance(child, Or) else (child,))
        return flat[0] if len(flat) == 1 else Or(tuple(flat))

    def starts_term(self, tok: _Tok | None) -> bool:
        if tok is None or tok.kind == _RPAREN:
            return False
        return self.keyword(tok) not in ("or", "and")

    def parse_and(self, depth: int) -> Node:
        children: list[Node] = []
        while True:
            tok = self.peek()
            if tok is None or tok.kind == _RPAREN:
                break
            kw = self.keyword(tok)
            if kw == "or":
                if not children:
                    raise QueryError("'or' needs a term before it", tok.pos)
                break
            if kw == "and":
                if not children:
                    raise QueryError("'and' needs a term before it", tok.pos)
                self.i += 1
                if not self.starts_term(self.peek()):
                    raise QueryError("'and' needs a term after it", tok.pos)
                continue
            child = self.parse_unary(depth)
            children.extend(child.children if isinstance(child, And) else (child,))
        if not children:
            tok = self.peek()
            if tok is not None:
                raise QueryError("unmatched ')'", tok.pos)
            raise QueryError("expected a search term", self.end_pos())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_unary(self, depth: int) -> Node:
        tok = self.peek()
        assert tok is not None
        if depth >= MAX_DEPTH:
            raise QueryError("query nested too deeply", tok.pos)
        if tok.kind == _NEG or self.keyword(tok) == "not":
            self.i += 1
            if not self.starts_term(self.peek()):
                raise QueryError(f"'{'-' if tok.kind == _NEG else 'not'}' needs a term", tok.pos)
            child = self.parse_unary(depth + 1)
            if isinstance(child, Not):  # not not x == x
                return child.child
            return Not(child)
        if tok.kind == _LPAREN:
            self.i += 1
            inner = self.peek()
            if inner is not None and inner.kind == _RPAREN:
                raise QueryError("empty parentheses", tok.pos)
            if inner is None:
                raise QueryError("missing ')'", tok.pos)
            node = self.parse_or(depth + 1)
            close = self.peek()
            if close is None or close.kind != _RPAREN:
                raise QueryError("missing ')'", tok.pos)
            self.i += 1
            return node
        self.i += 1
        return self.term(tok)

    def term(self, tok: _Tok) -> Term:
        if tok.kind in (_WORD, _PHRASE):
            if not tok.text.strip():
                raise QueryError("empty phrase", tok.pos)
            return Term("word", tok.text, tok.pos)
        field = tok.field
        value = tok.text
        vpos = tok.pos + len(field) + 1
        if field in TEXT_FIELDS:
            return Term(field, value, tok.pos)
        if field in DATE_FIELDS:
            return Term(field, self.date_value(value, vpos), tok.pos)
        if field in SIZE_FIELDS:
            return Term(field, _size_value(value, vpos), tok.pos)
        if field == "is":
            key = _IS_VALUES.get(value.lower())
            if key is None:
                raise QueryError(
                    f"unknown is:{value}; use one of " + ", ".join(sorted(_IS_VALUES)), vpos
                )
            return Term("is", key, tok.pos)
        has = _HAS_VALUES.get(value.lower())
        if has is None:
            raise QueryError(f"unknown has:{value}; only has:attachment is known", vpos)
        return Term("has", has, tok.pos)

    def date_value(self, value: str, pos: int) -> date:
        low = value.lower()
        try:
            if low == "today":
                return self.today
            if low == "yesterday":
                return self.today - timedelta(days=1)
            m = _RELATIVE_RE.fullmatch(low)
            if m:
                days = int(m.group(1)) * (7 if m.group(2) == "w" else 1)
                return self.today - timedelta(days=days)
            m = _ISO_DATE_RE.fullmatch(value)
            if m:
                return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            m = _IMAP_DATE_RE.fullmatch(value)
            if m and m.group(2).lower() in _MONTH_INDEX:
                return date(int(m.group(3)), _MONTH_INDEX[m.group(2).lower()], int(m.group(1)))
        except (ValueError, OverflowError):
            raise QueryError(f"impossible date {value!r}", pos) from None
        raise QueryError(
            f"bad date {value!r}: use 2026-01-31, 31-Jan-2026, today, yesterday, 7d or 2w", pos
        )


def _size_value(value: str, pos: int) -> int:
    m = _SIZE_RE.fullmatch(value)
    if m is None:
        raise QueryError(f"bad size {value!r}: use a number of bytes or 10k, 1.5M, 2G", pos)
    unit = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[m.group(2).lower()]
    size = int(float(m.group(1)) * unit)
    if size > _MAX_SIZE:
        raise QueryError(f"size {value!r} is larger than IMAP can express", pos)
    return size


def parse_query(text: str, *, today: date | None = None) -> Query:
    """Parse the user's query; raise QueryError with a message and position on a mistake.

    `today` anchors relative dates (today, yesterday, 7d); it defaults to the local date.
    """
    parser = _Parser(text, today or date.today())
    return Query(parser.parse(), text)


# -- compiler --------------------------------------------------------------------------------


def _string_arg(value: str) -> str | Literal:
    if value.isascii():
        return quote(value)  # control characters were refused by the tokenizer
    return Literal(value.encode("utf-8"))


def _imap_date(d: date) -> str:
    return f"{d.day}-{_MONTHS[d.month - 1]}-{d.year:04d}"


def _term_args(term: Term) -> list[str | Literal]:
    f = term.field
    v = term.value
    if f == "word":
        assert isinstance(v, str)
        arg = _string_arg(v)
        return ["OR", "SUBJECT", arg, "FROM", arg]
    if f in TEXT_FIELDS:
        assert isinstance(v, str)
        return [f.upper(), _string_arg(v)]
    if f in DATE_FIELDS:
        assert isinstance(v, date)
        return [f.upper(), _imap_date(v)]
    if f in SIZE_FIELDS:
        return [f.upper(), str(v)]
    if f == "is":
        assert isinstance(v, str)
        return [v]
    # has:attachment, see the module docstring.
    return [
        "OR",
        "OR",
        "HEADER",
        "Content-Type",
        "multipart/mixed",
        "HEADER",
        "Content-Type",
        "application/",
        "KEYWORD",
        "$HasAttachment",
    ]


def _key_args(node: Node) -> list[str | Literal]:
    """Arguments forming exactly one IMAP search-key (a parenthesised list for an AND)."""
    if isinstance(node, Term):
        return _term_args(node)
    if isinstance(node, Not):
        return ["NOT", *_key_args(node.child)]
    if isinstance(node, Or):
        out: list[str | Literal] = []
        last = len(node.children) - 1
        for i, child in enumerate(node.children):
            if i < last:
                out.append("OR")
            out.extend(_key_args(child))
        return out
    inner: list[str | Literal] = []
    for child in node.children:
        inner.extend(_key_args(child))
    return _group(inner)


def _group(args: list[str | Literal]) -> list[str | Literal]:
    """Parenthesise a key list so it still joins with single spaces (no space after '(')."""
    first = args[0]
    assert isinstance(first, str)  # every key starts with an atom
    out: list[str | Literal] = ["(" + first, *args[1:]]
    last = out[-1]
    if isinstance(last, Literal):
        out.append("ALL)")  # ANDing ALL changes nothing and gives ')' a token to follow
    else:
        out[-1] = last + ")"
    return out


def compile_query(query: Query) -> SearchCriteria:
    """IMAP SEARCH keys for `query`; CHARSET UTF-8 when any string is not ASCII."""
    if query.root is None:
        return SearchCriteria(None, ["ALL"])
    root = query.root
    if isinstance(root, And):
        args: list[str | Literal] = []
        for child in root.children:
            args.extend(_key_args(child))
    else:
        args = _key_args(root)
    charset = "UTF-8" if any(isinstance(a, Literal) for a in args) else None
    return SearchCriteria(charset, args)


# -- canonical text --------------------------------------------------------------------------


def _quote_value(v: str) -> str:
    if (
        v
        and not any(c.isspace() or c in '()"\\:' for c in v)
        and v.lower()
        not in (
            "and",
            "or",
            "not",
        )
        and not v.startswith("-")
    ):
        return v
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _node_text(node: Node, top: bool = False) -> str:
    if isinstance(node, Term):
        v = node.value
        if node.field == "word":
            assert isinstance(v, str)
            return _quote_value(v)
        if isinstance(v, date):
            return f"{node.field}:{v.isoformat()}"
        if node.field == "is":
            names = {key: name for name, key in reversed(list(_IS_VALUES.items()))}
            return f"is:{names.get(str(v), str(v).lower())}"
        return f"{node.field}:{_quote_value(str(v))}"
    if isinstance(node, Not):
        return "-" + _node_text(node.child)
    if isinstance(node, Or):
        body = " or ".join(_node_text(c) for c in node.children)
        return body if top else f"({body})"
    body = " ".join(_node_text(c) for c in node.children)
    return body if top else f"({body})"
