"""Fixes to Textual itself (8.2), installed once by the App before anything is drawn.

`Strip.divide` caches its answer on the strip; when the cuts are just the strip's own width
(the compositor's case for every line of a widget that nothing overlaps), the answer is
`[self]`, so the strip's own cache holds the strip: a reference cycle. Every painted line then
outlives its last use until CPython's next full collection, which with this many long-lived
objects runs only every minute or two: issue 21's soak found 7,500-9,300 such strips (with
their seven caches each, ~170,000 objects) waiting after each 30 s of new mail, RSS climbing
with them. Answering `[self]` without caching it costs nothing and changes no result; every
other division is still Textual's, cached as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from textual._compositor import ChopsUpdate, Compositor
from textual.strip import Strip

__all__ = ["AnsiThemeVariables", "install"]

_MARK = "_termail_no_self_cycle"


def install() -> None:
    """Make `Strip.divide` return `[self]` uncached, and partial updates render only the
    widgets that overlap what changed; idempotent."""
    _install_divide()
    _install_partial_update()


def _install_divide() -> None:
    original: Callable[[Strip, Iterable[int]], Sequence[Strip]] = Strip.divide
    if getattr(original, _MARK, False):
        return

    def divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
        cuts = list(cuts)  # an iterable read once: Textual's own code reads it once too
        length = self.cell_length
        if [cut for cut in cuts if cut <= length] == [length]:
            return [self]
        return original(self, cuts)

    divide.__doc__ = original.__doc__
    setattr(divide, _MARK, True)
    Strip.divide = divide  # type: ignore[method-assign]


def _install_partial_update() -> None:
    """A partial update renders every widget that overlaps the bounding box of what changed:
    new mail changes the list (top) and the status bar (bottom), so every widget on screen
    (the viewer, the footer's keys, the panes behind them) was rendered and cut, each
    refresh (issue 21). Only the changed spans are written out, and a widget that overlaps
    none of the changed regions has no cell in them, so it is left out; `cuts` (every
    widget's edges) is taken from the whole map first, as Textual caches it."""
    original: Callable[[Compositor], ChopsUpdate | None] = Compositor.render_partial_update
    if getattr(original, _MARK, False):
        return

    def render_partial_update(self: Compositor) -> ChopsUpdate | None:
        dirty = list(self._dirty_regions)
        if not dirty:
            return original(self)
        self.cuts  # noqa: B018 (computed and cached from every widget, before the filter)
        visible = self.visible_widgets
        self._visible_widgets = {
            widget: (region, clip)
            for widget, (region, clip) in visible.items()
            if any(region.intersection(clip).overlaps(changed) for changed in dirty)
        }
        try:
            return original(self)
        finally:
            self._visible_widgets = visible

    render_partial_update.__doc__ = original.__doc__
    setattr(render_partial_update, _MARK, True)
    Compositor.render_partial_update = render_partial_update  # type: ignore[method-assign]


class AnsiThemeVariables:
    """An App mixin: Textual's ANSI theme (`textual-ansi`, offered in the palette) defines no
    `$foreground-disabled`, which termail's widgets' CSS uses; the stylesheet then failed to
    parse and termail ended. That theme gets its `$text-disabled` under that name too."""

    def get_css_variables(self) -> dict[str, str]:
        variables: dict[str, str] = super().get_css_variables()  # type: ignore[misc]
        variables.setdefault("foreground-disabled", variables.get("text-disabled", "ansi_default"))
        return variables
