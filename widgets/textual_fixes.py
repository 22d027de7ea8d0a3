"""Fixes to Textual itself (8.2), installed once by the App before anything is drawn.

`Strip.divide` caches its answer on the strip; when the cuts are just the strip's own width
(the compositor's case for every line of a widget that nothing overlaps), the answer is
`[self]`, so the strip's own cache holds the strip: a reference cycle. Every painted line then
outlives its last use until CPython's next full collection, which with this many long-lived
objects runs only every minute or two: issue 21's soak found 7,500-9,300 such strips (with
their seven caches each, ~170,000 objects) waiting after each 30 s of new mail, RSS climbing
with them. Answering `[self]` without caching it costs nothing and changes no result; every
other division is still Textual's, cached as before.

Every `Strip` makes seven empty `FIFOCache`s (each with its dict) when it is made, one per
operation it might cache (crop, divide, style, filter, …); a line is asked one or two of them,
most sub-strips none. At a 100,000-message INBOX in a 160x48 terminal 1,810 strips were alive
once settled, with 12,135 of their 12,718 caches empty: ~2 MB of the RSS (issue 21: RSS ≤
aerc's). Here each cache is made on its first use (a descriptor over the slot), so what is
cached and every result are Textual's; making a strip costs seven objects less.

A partial update renders only the widgets that overlap a changed region, not every widget in
the bounding box of the changes (`_install_partial_update`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.segment import Segment
from textual._compositor import ChopsUpdate, Compositor
from textual.cache import FIFOCache
from textual.strip import Strip

__all__ = ["AnsiThemeVariables", "install"]

_MARK = "_termail_no_self_cycle"

#: Strip's cache slots and their sizes, as Textual 8.2's `Strip.__init__` makes them.
STRIP_CACHES: dict[str, int] = {
    "_divide_cache": 4,
    "_crop_cache": 16,
    "_style_cache": 16,
    "_filter_cache": 4,
    "_line_length_cache": 4,
    "_crop_extend_cache": 4,
    "_offsets_cache": 4,
}
#: Every slot of that Strip: another Textual's Strip is left as it is.
STRIP_SLOTS = frozenset(
    {"_segments", "_cell_length", *STRIP_CACHES, "_render_cache", "_link_ids", "_cell_count"}
)


class _CacheOnFirstUse:
    """A data descriptor over one of Strip's cache slots: the slot's FIFOCache is made the
    first time it is read, not with the strip."""

    __slots__ = ("_size", "_slot")

    def __init__(self, slot: Any, size: int) -> None:
        self._slot = slot  # the slot's own member descriptor
        self._size = size

    def __get__(self, strip: Strip | None, owner: type | None = None) -> Any:
        if strip is None:
            return self
        try:
            return self._slot.__get__(strip, owner)
        except AttributeError:
            cache: FIFOCache[Any, Any] = FIFOCache(self._size)
            self._slot.__set__(strip, cache)
            return cache

    def __set__(self, strip: Strip, value: Any) -> None:
        self._slot.__set__(strip, value)


def _strip_init(self: Strip, segments: Iterable[Segment], cell_length: int | None = None) -> None:
    """Textual's `Strip.__init__` without the seven caches (made on first use)."""
    self._segments = list(segments)
    self._cell_length = cell_length
    self._render_cache = None
    self._link_ids = None
    self._cell_count = None


def _install_lazy_strip_caches() -> bool:
    """Strip's caches made on first use; False (nothing changed) for a Strip whose slots are
    not the ones this was written for."""
    if isinstance(Strip.__dict__.get("_crop_cache"), _CacheOnFirstUse):
        return True
    if frozenset(getattr(Strip, "__slots__", ())) != STRIP_SLOTS:
        return False
    for name, size in STRIP_CACHES.items():
        setattr(Strip, name, _CacheOnFirstUse(Strip.__dict__[name], size))
    Strip.__init__ = _strip_init  # type: ignore[method-assign]
    return True


def install() -> None:
    """Make `Strip.divide` return `[self]` uncached, Strip's caches made on first use, and
    partial updates render only the widgets that overlap what changed; idempotent."""
    _install_lazy_strip_caches()
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
