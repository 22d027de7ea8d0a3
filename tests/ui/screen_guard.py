"""What may reach the screen: a check over the widget tree, the toasts and the terminal bytes.

`leaks(app)` lists every place where a control character (C0 but TAB/LF, DEL, C1), ESC, a bidi
control or an invisible character (zero-width space, joiners, ...) is about to be drawn, or a
toast that would parse markup. Used by the hostile-server UI tests after each step; an empty
list means the screen is clean.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

__all__ = ["FORBIDDEN", "leaks", "screen_text", "terminal_bytes"]

FORBIDDEN = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff"
    "\u00ad\u034f\u180e\U000e0000-\U000e007f]"
)

#: What Textual writes for drawing: SGR colours and attributes, cursor moves, mode switches.
_CSI = re.compile(rb"\x1b\[[0-9;:?<>=]*[ -/]*[@-~]")
_BAD_BYTES = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\x8b-\x8f\xaa-\xae]"
    rb"|\xe2\x81[\xa0-\xa9]|\xef\xbb\xbf"
)


def _plain(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Text):
        return value.plain
    plain = getattr(value, "plain", None)
    if isinstance(plain, str):
        return plain
    return str(value)


def _widget_strings(widget: Any) -> list[str]:
    """The strings a widget is about to draw (its content, value, labels, options)."""
    from textual.widgets import Button, Input, OptionList, Static, Tree

    found: list[str] = []
    if isinstance(widget, Static):
        found.append(_plain(widget.visual))
    if isinstance(widget, Button):
        found.append(_plain(widget.label))
    if isinstance(widget, Input):
        found += [widget.value, _plain(widget.placeholder)]
    if isinstance(widget, OptionList):
        for index in range(widget.option_count):
            found.append(_plain(widget.get_option_at_index(index).prompt))
    if isinstance(widget, Tree):
        stack = [widget.root]
        while stack:
            node = stack.pop()
            found.append(_plain(node.label))
            stack.extend(node.children)
    for name in ("border_title", "border_subtitle", "tooltip"):
        found.append(_plain(getattr(widget, name, None)))
    return found


def terminal_bytes(app: Any, width: int = 160) -> bytes:
    """What the app would write to a terminal for the top screen (toasts included)."""
    from rich.console import Console

    console = Console(force_terminal=True, color_system="truecolor", width=width, file=None)
    with console.capture() as capture:
        console.print(app.screen._compositor.render_update(full=True))
    return capture.get().encode("utf-8", "surrogateescape")


def screen_text(app: Any) -> str:
    """The top screen as plain text, as a person sees it."""
    data = re.sub(rb"\x1b\[[0-9;]*H", b"\n", terminal_bytes(app))  # each line starts with a move
    return _CSI.sub(b"", data).decode("utf-8", "replace")


def leaks(app: Any) -> list[str]:
    """Every control, bidi or invisible character about to be drawn, with where it was."""
    problems: list[str] = []
    for notification in list(app._notifications):
        for what, text in (("title", notification.title), ("message", notification.message)):
            if FORBIDDEN.search(text or ""):
                problems.append(f"toast {what}: {text!r}")
        if notification.markup:
            problems.append(f"toast parses markup: {notification.message!r}")
    for screen in app.screen_stack:
        for widget in screen.walk_children(with_self=True):
            for text in _widget_strings(widget):
                if FORBIDDEN.search(text):
                    problems.append(f"{type(widget).__name__}#{widget.id}: {text!r}")
    for what in (app.title, app.sub_title, getattr(app.screen, "title", None)):
        if what and FORBIDDEN.search(str(what)):
            problems.append(f"title: {what!r}")
    data = terminal_bytes(app)
    if b"\x1b]" in data or b"\x1bP" in data or b"\x1b_" in data or b"\x1b^" in data:
        problems.append("OSC/DCS/APC/PM sequence in the terminal output")
    leftover = _CSI.sub(b"", data)
    for match in _BAD_BYTES.finditer(leftover):
        start = max(0, match.start() - 30)
        problems.append(f"terminal bytes: {leftover[start : match.end() + 30]!r}")
        if len(problems) > 20:
            break
    return problems
