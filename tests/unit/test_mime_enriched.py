"""app.mime.enriched: text/enriched as text with emphasis, never raw tags."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.mime.enriched import enriched_to_segments, enriched_to_text


def test_bold_and_italic_become_styles() -> None:
    segments = enriched_to_segments("A <bold>big</bold> and <italic>slanted</italic> word")
    assert segments == [
        ("A ", ()),
        ("big", ("bold",)),
        (" and ", ()),
        ("slanted", ("italic",)),
        (" word", ()),
    ]


def test_nested_styles_and_unknown_commands() -> None:
    segments = enriched_to_segments("<bold><italic>both</italic></bold><color>red</color>")
    assert segments == [("both", ("bold", "italic")), ("red", ())]


def test_literal_less_than_and_param_hidden() -> None:
    assert enriched_to_text("1 <<2 <color><param>red</param>text</color>") == "1 <2 text"


def test_line_break_rules() -> None:
    assert enriched_to_text("a\r\nb\r\n\r\nc\r\n\r\n\r\nd") == "a b\nc\n\nd"
    assert enriched_to_text("<nofill>a\r\nb</nofill>") == "a\nb"


def test_richtext_nl_command() -> None:
    assert enriched_to_segments("a<nl>b\nc<lt>", richtext=True) == [("a\nb c<", ())]


def test_unbalanced_and_deep_nesting_bounded() -> None:
    text = "<bold>" * 100_000 + "x" + "</italic>" * 10
    assert enriched_to_text(text) == "x"


_PIECES = [*"ab<>/\r\n", "<bold>", "</bold>", "<param>", "</param>", "<nofill>", "<<"]


@given(st.lists(st.sampled_from(_PIECES), max_size=80).map("".join))
def test_never_raises(text: str) -> None:
    for piece, styles in enriched_to_segments(text):
        assert isinstance(piece, str) and all(isinstance(s, str) for s in styles)
