"""widgets/textual_fixes.py: a painted line no longer references itself, a strip makes its
caches when it uses them, and a partial update renders only what overlaps the change (issue
21's soak)."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from rich.segment import Segment
from rich.style import Style
from textual._compositor import ChopsUpdate, Compositor
from textual.app import App, ComposeResult
from textual.cache import FIFOCache
from textual.containers import Horizontal
from textual.geometry import Region
from textual.strip import Strip
from textual.widgets import Static

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


class Stack(App[None]):
    """A line on top, a tall widget between, a line at the bottom: what changes under new
    mail is the list at the top and the status bar at the bottom."""

    CSS = "#middle { height: 1fr; } Horizontal { height: 1fr; }"

    def compose(self) -> ComposeResult:
        yield Static("top line", id="top")
        with Horizontal():
            yield Static("left " * 30, id="middle")
            yield Static("right side", id="side")
        yield Static("bottom line", id="bottom")


async def test_a_partial_update_renders_only_what_overlaps_the_change() -> None:
    """The widgets between two changes (the viewer, the footer) were rendered and cut on
    every refresh under new mail (issue 21): the bounding box of the changes was rendered;
    what is written out is still what a full render shows there."""
    install()
    app = Stack()
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.pause()
        rendered: list[str] = []
        for widget in app.screen.query("#middle, #side"):
            draw = widget.render_lines

            def counted(crop: Region, draw: Any = draw, name: str = str(widget.id)) -> Any:
                rendered.append(name)
                return draw(crop)

            widget.render_lines = counted  # type: ignore[method-assign]
        updates: list[ChopsUpdate | None] = []
        partial = Compositor.render_partial_update

        def kept(self: Compositor) -> ChopsUpdate | None:
            updates.append(partial(self))
            return updates[-1]

        Compositor.render_partial_update = kept  # type: ignore[method-assign]
        try:
            app.screen.query_one("#top", Static).update("top line, new")
            app.screen.query_one("#bottom", Static).update("bottom line, new")
            await pilot.pause()
        finally:
            Compositor.render_partial_update = partial  # type: ignore[method-assign]
        assert rendered == []
        (update,) = [u for u in updates if u is not None]
        full = app.screen._compositor.render_strips()
        for y, x1, x2 in update.spans:
            cells = "".join(
                strip.text for x, strip in update.chops[y].items() if strip and x1 <= x < x2
            )
            assert cells == full[y].crop(x1, x2).text
        assert {y for y, _, _ in update.spans} == {0, 11}
        assert "top line, new" in full[0].text and "bottom line, new" in full[11].text
