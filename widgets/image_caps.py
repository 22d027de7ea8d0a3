"""Which way the terminal can draw an image: Kitty graphics, Sixel or Unicode half-blocks.

Decided from the environment only: nothing is fetched, and the terminal is not asked here (a
query inside a running Textual app would race its input thread for the answer; textual-image
asks for the cell size once, at its import before Textual starts, and only when this chose a
graphics protocol). Unknown terminals
get half-blocks, which work everywhere. Inside tmux (or screen) half-blocks too, since graphics
reach the outer terminal only through passthrough: `TERMAIL_IMAGES=sixel` says the tmux in use
draws Sixel (tmux >= 3.4 built with it); Kitty graphics are never sent through tmux, since
textual-image does not wrap them for passthrough.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

__all__ = ["GraphicsProtocol", "graphics_protocol"]

GraphicsProtocol = Literal["kitty", "sixel", "halfblocks"]

_KITTY_PROGRAMS = frozenset({"ghostty"})
_SIXEL_PROGRAMS = frozenset({"wezterm", "contour", "mlterm"})
_SIXEL_TERMS = ("foot", "mlterm", "contour", "yaft")


def graphics_protocol(env: Mapping[str, str]) -> GraphicsProtocol:
    """The protocol to draw with for the terminal `env` describes (e.g. `os.environ`)."""
    wanted = env.get("TERMAIL_IMAGES", "").strip().lower()
    term = env.get("TERM", "").lower()
    program = env.get("TERM_PROGRAM", "").lower()
    multiplexed = bool(env.get("TMUX")) or term.startswith(("tmux", "screen")) or program == "tmux"
    if wanted in ("halfblocks", "half-blocks", "none", "off"):
        return "halfblocks"
    if multiplexed:
        return "sixel" if wanted == "sixel" else "halfblocks"
    if wanted in ("kitty", "sixel"):
        return "kitty" if wanted == "kitty" else "sixel"
    if env.get("KITTY_WINDOW_ID") or term == "xterm-kitty" or program in _KITTY_PROGRAMS:
        return "kitty"
    if program in _SIXEL_PROGRAMS or term.startswith(_SIXEL_TERMS):
        return "sixel"
    return "halfblocks"
