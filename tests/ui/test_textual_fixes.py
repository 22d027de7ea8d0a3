"""widgets/textual_fixes.py: a painted line no longer references itself (issue 21's soak), and a
strip makes its caches when it uses them."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from rich.segment import Segment
from rich.style import Style
from textual.cache import FIFOCache
from textual.strip import Strip

from widgets.textual_fixes import install


@pytest.fixture
def no_automatic_gc() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


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


def test_a_new_strip_makes_no_cache_until_one_is_used() -> None:
    """Seven empty FIFOCaches a strip were ~2 MB of a settled 100k INBOX (issue 21's RSS)."""
    install()
    strip = Strip([Segment("hello "), Segment("world")], 11)
    assert not [o for o in gc.get_referents(strip) if isinstance(o, FIFOCache)]
    cropped = strip.crop(0, 5)
    assert cropped.text == "hello"
    assert strip.crop(0, 5) is cropped  # Textual's crop cache, made on first use
    held = [o for o in gc.get_referents(strip) if isinstance(o, FIFOCache)]
    assert held == [strip._crop_cache]
    assert strip.apply_style(Style(bold=True)) is strip.apply_style(Style(bold=True))


def test_the_lazy_caches_fit_the_installed_textual() -> None:
    """A Textual whose Strip has other slots is left alone by install(): this says so."""
    from widgets.textual_fixes import STRIP_SLOTS

    install()
    assert frozenset(Strip.__slots__) == STRIP_SLOTS
