"""widgets.safe: untrusted strings become inert Text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from app.models import Address
from widgets.safe import (
    UNSAFE_RE,
    _fallback_clean,
    addresses_text,
    display_name,
    human_size,
    safe_line,
    safe_text,
)


def test_safe_text_is_text_not_markup() -> None:
    text = safe_text("[bold]x[/] [@click=app.quit]", "italic")
    assert isinstance(text, Text)
    assert text.plain == "[bold]x[/] [@click=app.quit]"
    assert not text.spans or all("@click" not in str(span.style) for span in text.spans)


def test_controls_are_replaced() -> None:
    hostile = "a\x1b]0;t\x07b\x9b2J\u202ec\x00d\r\ne"
    assert UNSAFE_RE.search(safe_text(hostile).plain) is None
    line = safe_line(hostile)
    assert "\n" not in line and UNSAFE_RE.search(line) is None
    assert safe_text(None).plain == ""


def test_fallback_clean_matches_the_rules() -> None:
    assert _fallback_clean("a\x1bb\u202ec\r\nd") == "a\ufffdb\ufffdc\nd"
    assert _fallback_clean("a\nb\tc", keep_newlines=False) == "a b c"
    assert _fallback_clean("abcdef", max_len=4) == "abc…"


@given(st.text())
def test_nothing_unsafe_survives(value: str) -> None:
    assert UNSAFE_RE.search(safe_text(value).plain) is None
    line = safe_line(value)
    assert UNSAFE_RE.search(line) is None and "\n" not in line


def test_names_and_sizes() -> None:
    assert display_name(Address('"Alice A."', "alice", "example.org")) == "Alice A."
    assert display_name(Address(None, "bob", "example.org")) == "bob@example.org"
    group = (
        Address(None, "team", None),
        Address("Carol", "c", "x.test"),
        Address(None, None, None),
    )
    assert addresses_text(group) == "Carol"
    assert [human_size(n) for n in (0, 512, 2048, 48_213, 1_204_000, 3 * 1024**3)] == [
        "0B",
        "512B",
        "2.0K",
        "47K",
        "1.1M",
        "3.0G",
    ]
