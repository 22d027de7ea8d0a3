"""The search query language: parsing, errors with positions, and the IMAP keys it compiles to."""

from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.imap.parser import Literal
from app.imap.search import (
    And,
    Not,
    Or,
    Query,
    QueryError,
    SearchCriteria,
    Term,
    compile_query,
    parse_query,
)

TODAY = date(2026, 3, 15)
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')


def args(text: str) -> list[str | Literal]:
    return compile_query(parse_query(text, today=TODAY)).args


def imap(text: str) -> str:
    return compile_query(parse_query(text, today=TODAY)).to_text()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("from:alice", 'FROM "alice"'),
        ('subject:"q4 report"', 'SUBJECT "q4 report"'),
        ("to:bob cc:carol bcc:dan", 'TO "bob" CC "carol" BCC "dan"'),
        ("body:invoice text:urgent", 'BODY "invoice" TEXT "urgent"'),
        ("since:2026-01-01", "SINCE 1-Jan-2026"),
        ("before:2026-12-31 on:2026-02-03", "BEFORE 31-Dec-2026 ON 3-Feb-2026"),
        ("since:1-feb-2026", "SINCE 1-Feb-2026"),
        ("since:2026/2/9", "SINCE 9-Feb-2026"),
        ("since:today", "SINCE 15-Mar-2026"),
        ("since:yesterday", "SINCE 14-Mar-2026"),
        ("since:7d", "SINCE 8-Mar-2026"),
        ("since:2w", "SINCE 1-Mar-2026"),
        ("is:unread", "UNSEEN"),
        ("is:read", "SEEN"),
        ("is:flagged", "FLAGGED"),
        ("is:answered", "ANSWERED"),
        ("is:deleted", "DELETED"),
        ("is:draft", "DRAFT"),
        ("IS:UNREAD", "UNSEEN"),
        ("larger:1M", "LARGER 1048576"),
        ("smaller:10k", "SMALLER 10240"),
        ("larger:1.5mb", "LARGER 1572864"),
        ("larger:100", "LARGER 100"),
        ("hello", 'OR SUBJECT "hello" FROM "hello"'),
        ('"a phrase"', 'OR SUBJECT "a phrase" FROM "a phrase"'),
        ("a b", 'OR SUBJECT "a" FROM "a" OR SUBJECT "b" FROM "b"'),
        ("is:unread and is:flagged", "UNSEEN FLAGGED"),
        ("is:unread or is:flagged", "OR UNSEEN FLAGGED"),
        ("is:unread OR is:flagged Or is:draft", "OR UNSEEN OR FLAGGED DRAFT"),
        ("not is:read", "NOT SEEN"),
        ("-is:read", "NOT SEEN"),
        ("not not is:read", "SEEN"),
        ("-(is:read is:flagged)", "NOT (SEEN FLAGGED)"),
        ("(is:read is:flagged) or is:draft", "OR (SEEN FLAGGED) DRAFT"),
        ("is:draft or (from:a to:b)", 'OR DRAFT (FROM "a" TO "b")'),
        ("(((is:draft)))", "DRAFT"),
        ("a (b c)", 'OR SUBJECT "a" FROM "a" OR SUBJECT "b" FROM "b" OR SUBJECT "c" FROM "c"'),
        ('subject:"say \\"hi\\""', 'SUBJECT "say \\"hi\\""'),
        ("subject:re:meeting", 'SUBJECT "re:meeting"'),
        ("re: meeting", 'OR SUBJECT "re:" FROM "re:" OR SUBJECT "meeting" FROM "meeting"'),
        (
            "https://example.org/x",
            'OR SUBJECT "https://example.org/x" FROM "https://example.org/x"',
        ),
        ("12:30", 'OR SUBJECT "12:30" FROM "12:30"'),
        ('"or"', 'OR SUBJECT "or" FROM "or"'),
        ("e-mail", 'OR SUBJECT "e-mail" FROM "e-mail"'),
        ("", "ALL"),
        ("   ", "ALL"),
    ],
)
def test_compiles(query: str, expected: str) -> None:
    assert imap(query) == expected


def test_has_attachment_heuristic() -> None:
    assert args("has:attachment") == [
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


def test_non_ascii_goes_as_utf8_literal() -> None:
    crit = compile_query(parse_query("from:Jürgen subject:report", today=TODAY))
    assert crit == SearchCriteria(
        "UTF-8", ["FROM", Literal("Jürgen".encode()), "SUBJECT", '"report"']
    )
    assert compile_query(parse_query("from:bob")).charset is None


def test_group_ending_in_a_literal_still_closes() -> None:
    got = args("is:draft or (from:bob subject:Grüße)")
    assert got == [
        "OR",
        "DRAFT",
        "(FROM",
        '"bob"',
        "SUBJECT",
        Literal("Grüße".encode()),
        "ALL)",
    ]


def test_tree_shape() -> None:
    q = parse_query("from:a (b or -c) is:unread", today=TODAY)
    assert isinstance(q, Query) and q.text == "from:a (b or -c) is:unread"
    assert q.root == And(
        (
            Term("from", "a", 0),
            Or((Term("word", "b", 8), Not(Term("word", "c", 14)))),
            Term("is", "UNSEEN", 17),
        )
    )
    assert q.to_text() == "from:a (b or -c) is:unread"
    assert parse_query("").root is None


@pytest.mark.parametrize(
    ("query", "message", "position"),
    [
        ("from:", "from: needs a value", 5),
        ('subject:"  "', "subject: needs a value", 8),
        ("form:alice", "unknown field 'form:'", 0),
        ("(a", "missing ')'", 0),
        ("a (b", "missing ')'", 2),
        ("a)", "unmatched ')'", 1),
        (")", "unmatched ')'", 0),
        ("()", "empty parentheses", 0),
        ("or a", "'or' needs a term before it", 0),
        ("a or", "'or' needs a term after it", 2),
        ("a or or b", "'or' needs a term after it", 2),
        ("and a", "'and' needs a term before it", 0),
        ("a and", "'and' needs a term after it", 2),
        ("not", "'not' needs a term", 0),
        ("a -", "'-' must be followed by a term", 2),
        ("is:bogus", "unknown is:bogus", 3),
        ("has:kids", "unknown has:kids", 4),
        ("since:2026-13-01", "impossible date", 6),
        ("since:soon", "bad date", 6),
        ("since:0000-01-01", "impossible date", 6),
        ("larger:1T", "bad size", 7),
        ("larger:5G", "larger than IMAP can express", 7),
        ('"abc', "unterminated quoted phrase", 0),
        ('from:"abc', "unterminated quoted phrase", 5),
        ('""', "empty phrase", 0),
        ("a\x00b", "control characters", 1),
        ("a\ud800", "invalid character", 1),
        ("(" * 100 + "a" + ")" * 100, "nested too deeply", 64),
        ("-" * 100 + "a", "nested too deeply", 64),
    ],
)
def test_errors(query: str, message: str, position: int) -> None:
    with pytest.raises(QueryError) as info:
        parse_query(query, today=TODAY)
    assert message in info.value.message
    assert info.value.position == position
    assert str(position + 1) in str(info.value)


def test_whitespace_and_tabs_separate_terms() -> None:
    assert imap("is:read\tis:draft\n") == "SEEN DRAFT"
    assert imap('"two\twords"') == 'OR SUBJECT "two words" FROM "two words"'


# -- properties ------------------------------------------------------------------------------

_pieces = st.sampled_from(
    [
        "from:",
        "subject:",
        "since:",
        "is:",
        "has:",
        "larger:",
        "to:",
        "(",
        ")",
        "-",
        "not",
        "or",
        "and",
        '"',
        "alice",
        "q4",
        "2026-01-01",
        "7d",
        "unread",
        "attachment",
        "1M",
        " ",
        "  ",
        "Grüße",
        "\\",
        ":",
        "x:y",
        "\t",
        "日本",
    ]
)


@given(st.text())
def test_random_text_raises_only_query_error(text: str) -> None:
    try:
        q = parse_query(text, today=TODAY)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        return
    compile_query(q)


@given(st.lists(_pieces, max_size=25).map("".join))
def test_random_query_pieces(text: str) -> None:
    try:
        q = parse_query(text, today=TODAY)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        return
    crit = compile_query(q)
    # Every argument is a non-empty atom/quoted string or a literal, parentheses balance, and a
    # literal appears exactly when CHARSET UTF-8 is asked for.
    depth = 0
    for a in crit.args:
        if isinstance(a, Literal):
            assert a.data and not a.data.isascii()
            continue
        assert a and "\r" not in a and "\n" not in a
        bare = _QUOTED.sub("", a)
        depth += bare.count("(") - bare.count(")")
        assert depth >= 0
    assert depth == 0
    assert (crit.charset == "UTF-8") == any(isinstance(a, Literal) for a in crit.args)
    # The canonical text parses back to the same search.
    again = parse_query(q.to_text(), today=TODAY)
    assert compile_query(again) == crit


_terms = st.sampled_from(
    [
        "from:alice",
        'subject:"q4 report"',
        "since:2026-01-01",
        "is:unread",
        "has:attachment",
        "larger:1M",
        "to:Jürgen",
        "body:日本",
        "word",
        '"a \\"quoted\\" phrase"',
        "before:7d",
    ]
)
_queries = st.recursive(
    _terms,
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(" ".join),
        st.tuples(inner, inner).map(" or ".join),
        st.tuples(inner, inner).map(" and ".join),
        inner.map(lambda q: f"({q})"),
        inner.map(lambda q: f"-({q})"),
        inner.map(lambda q: f"not {q}"),
    ),
    max_leaves=8,
)


@given(_queries)
def test_well_formed_queries_compile_to_balanced_keys(text: str) -> None:
    q = parse_query(text, today=TODAY)
    crit = compile_query(q)
    depth = 0
    for a in crit.args:
        if isinstance(a, Literal):
            continue
        assert not a.startswith(")") and not a.endswith("(")
        bare = _QUOTED.sub("", a)
        depth += bare.count("(") - bare.count(")")
        assert depth >= 0
    assert depth == 0
    # No argument starts with ')' or ends with '(': joined with spaces, no space lands
    # inside a parenthesis, as the IMAP grammar wants.
    assert compile_query(parse_query(q.to_text(), today=TODAY)) == crit
