"""app.mime.sanitize: nothing that can drive a terminal survives, and text stays readable."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from app.mime.sanitize import CUT_MARKER, clean, clean_line, has_unsafe

UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def test_escape_sequences_are_shown_not_sent() -> None:
    out = clean("a\x1b[2J\x1b]0;title\x07b")
    assert "\x1b" not in out and "\x07" not in out
    assert out == "a\u241b[2J\u241b]0;title\u2407b"


def test_tab_and_newline_kept_nul_removed() -> None:
    assert clean("a\tb\nc\x00d") == "a\tb\ncd"


def test_c1_controls_and_del_replaced() -> None:
    out = clean("x\x9b31my\x85z\x7f")
    assert out == "x\ufffd31my\ufffdz\u2421"


def test_bidi_controls_removed() -> None:
    assert clean("invoice\u202egpj.exe \u2066x\u2069 \u200e\u200f\u061c") == "invoicegpj.exe x "


def test_line_ends_normalised_lone_cr_becomes_newline() -> None:
    assert clean("a\r\nb\rc") == "a\nb\nc"


def test_lone_surrogates_become_replacement_and_encode() -> None:
    out = clean("bad \udcff byte")
    assert out == "bad \ufffd byte"
    out.encode("utf-8")


def test_markup_is_left_alone() -> None:
    text = "[bold]x[/bold] [@click=app.quit]y[/] [/]"
    assert clean(text) == text
    assert clean_line(text) == text


def test_max_len_cuts_with_marker_and_count() -> None:
    out = clean("x" * 100, max_len=10)
    assert out == "x" * 10 + CUT_MARKER.format(n=90)


def test_max_len_on_huge_text_is_cheap_and_counts_right() -> None:
    out = clean("y" * 5_000_000, max_len=20)
    assert out.startswith("y" * 20) and "4,999,980" in out


def test_clean_line_is_one_line() -> None:
    assert clean_line("Subject\r\n\tfolded\nnext\ttab") == "Subject folded next tab"


def test_has_unsafe() -> None:
    assert has_unsafe("\x1b") and has_unsafe("a\rb") and not has_unsafe("plain [text]\n")


@given(st.text())
def test_clean_output_is_always_safe_and_stable(text: str) -> None:
    out = clean(text)
    assert UNSAFE.search(out) is None
    assert "\r" not in out
    assert clean(out) == out
    out.encode("utf-8")


@given(st.text(), st.integers(min_value=0, max_value=50))
def test_clean_line_never_holds_line_breaks(text: str, limit: int) -> None:
    out = clean_line(text, max_len=limit)
    assert "\n" not in out and "\t" not in out and "\r" not in out
    assert UNSAFE.search(out) is None
    assert len(out) <= limit + len(CUT_MARKER) + 20
