"""widgets/textual_fixes.py: a painted line no longer references itself (issue 21's soak)."""

from __future__ import annotations

import gc

import pytest
from rich.segment import Segment
from textual.strip import Strip

from widgets.textual_fixes import install


def _strips_alive() -> int:
    return sum(type(o) is Strip for o in gc.get_objects())


@pytest.mark.usefixtures("no_automatic_gc")
def test_a_line_divided_at_its_own_width_is_freed_without_the_collector() -> None:
    install()
    before = _strips_alive()
    for _ in range(50):
        strip = Strip([Segment("hello "), Segment("world")], 11)
        assert strip.divide([11]) == [strip]  # what the compositor asks of every lone line
        assert strip.divide(iter([11, 20])) == [strip]  # cuts past the end are dropped
        del strip
    assert _strips_alive() == before


def test_other_divisions_are_textuals_own() -> None:
    install()
    installed = Strip.divide
    install()  # once is enough: a second install does not wrap the wrapper
    assert Strip.divide is installed
    strip = Strip([Segment("hello "), Segment("world")], 11)
    parts = strip.divide([6, 11])
    assert [part.text for part in parts] == ["hello ", "world"]
    assert strip.divide([6, 11]) is parts  # still cached
