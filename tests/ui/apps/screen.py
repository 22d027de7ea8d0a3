"""Reading what a running test app shows: as plain text, and as the bytes a terminal would get."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.app import App


def _render(app: App[Any], *, terminal: bool) -> Console:
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=terminal,
        color_system="truecolor" if terminal else None,
        legacy_windows=False,
        record=True,
        safe_box=False,
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console


def screen_text(app: App[Any]) -> str:
    """The screen as plain text, one line per row."""
    return _render(app, terminal=False).export_text(styles=False)


def terminal_bytes(app: App[Any]) -> str:
    """The screen as the escape-sequence stream a truecolor terminal would receive."""
    console = _render(app, terminal=True)
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()
