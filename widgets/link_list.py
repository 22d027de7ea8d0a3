"""Links in the viewer: whether the terminal gets OSC 8 hyperlinks, and the list to pick from.

Hyperlink support is decided from the environment only, as `widgets.image_caps` does for
graphics (nothing is asked of the terminal): terminals known to handle OSC 8 get them, unknown
ones do not (some print the sequence). `[ui] hyperlinks = "auto" | "on" | "off"` and
`TERMAIL_HYPERLINKS=on|off` override the guess. A hyperlink only ever covers text that shows
its own target (`RenderedMessage.link_spans`), and only http, https and mailto targets that
`app.mime.links.wire_url` accepted (printable ASCII, so no ESC or BEL can end it early).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from app.mime.links import Link, display_url
from app.mime.types import RenderedMessage
from widgets.safe import safe_line, safe_text

__all__ = [
    "LinkListScreen",
    "hyperlink_spans",
    "hyperlink_support",
    "hyperlinks_enabled",
    "link_bindings",
]


def link_bindings() -> list[BindingType]:
    """`1`–`9` open link N of the message shown (asking first), `0` lists them. For a screen
    with an `open_link(number)` action (0: the list); one line in `?` for the nine."""
    keys: list[BindingType] = [
        Binding(
            str(n),
            f"open_link({n})",
            "Open link 1–9 (asks first, full address shown)" if n == 1 else "",
            id=f"links.open_{n}",
            show=False,
        )
        for n in range(1, 10)
    ]
    keys.append(Binding("0", "open_link(0)", "Links of the message", id="links.list", show=False))
    return keys


_PROGRAMS = frozenset(
    {"iterm.app", "wezterm", "ghostty", "vscode", "hyper", "mintty", "contour", "tabby", "rio"}
)
_TERMS = ("xterm-kitty", "foot", "alacritty", "wezterm", "xterm-ghostty", "contour", "rio")


def _version(text: str) -> tuple[int, ...]:
    out = []
    for piece in text.replace("-", ".").split("."):
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        out.append(int(digits))
    return tuple(out)


def hyperlink_support(env: Mapping[str, str], setting: str = "auto") -> bool:
    """Whether to send OSC 8 hyperlinks to the terminal `env` describes (e.g. `os.environ`)."""
    wanted = env.get("TERMAIL_HYPERLINKS", "").strip().lower() or setting.strip().lower()
    if wanted in ("on", "yes", "true", "1"):
        return True
    if wanted in ("off", "no", "false", "0"):
        return False
    term = env.get("TERM", "").lower()
    program = env.get("TERM_PROGRAM", "").lower()
    if term in ("", "dumb", "linux", "vt100", "vt220") or term.startswith("screen"):
        return False
    if env.get("TMUX") or program == "tmux" or term.startswith("tmux"):
        # tmux >= 3.4 keeps hyperlinks and passes them on only to a terminal that has them.
        return program == "tmux" and _version(env.get("TERM_PROGRAM_VERSION", "")) >= (3, 4)
    if env.get("KITTY_WINDOW_ID") or env.get("WEZTERM_PANE") or env.get("WT_SESSION"):
        return True
    if env.get("KONSOLE_VERSION") or env.get("ALACRITTY_WINDOW_ID") or env.get("DOMTERM"):
        return True
    if program in _PROGRAMS or term.startswith(_TERMS):
        return True
    vte = _version(env.get("VTE_VERSION", ""))
    return bool(vte) and vte[0] >= 5000  # GNOME Terminal, Tilix, Terminator: VTE 0.50+


def hyperlinks_enabled(app: Any) -> bool:
    """The App's answer, decided once (its `ui.hyperlinks` setting and the environment)."""
    cached = getattr(app, "_termail_hyperlinks", None)
    if isinstance(cached, bool):
        return cached
    setting = str(getattr(getattr(app, "ui", None), "hyperlinks", "auto") or "auto")
    enabled = hyperlink_support(os.environ, setting)
    try:
        app._termail_hyperlinks = enabled
    except AttributeError:  # pragma: no cover - an object without attributes
        pass
    return enabled


def hyperlink_spans(app: Any, rendered: RenderedMessage | None) -> list[tuple[int, int, str]]:
    """(start, end, url) of the OSC 8 hyperlinks for the body of `rendered`; none when the
    terminal does not get hyperlinks, and none for a link that may not be opened."""
    if rendered is None or not rendered.link_spans or not hyperlinks_enabled(app):
        return []
    links = rendered.link_list
    out = []
    for span in rendered.link_spans:
        if not 0 < span.number <= len(links):
            continue
        link = links[span.number - 1]
        if link.openable and link.wire:
            out.append((span.start, span.end, link.wire))
    return out


def link_line(link: Link) -> Text:
    """One row of the list: number, the full target (as asked about), its text, why not."""
    shown, warnings = display_url(link.target)
    row = Text(f"[{link.number}] ", style="bold", end="")
    row.append_text(safe_text(shown, single_line=True))
    if link.text:
        row.append("\n     shown as: ", style="dim")
        row.append_text(safe_text(safe_line(link.text, max_len=200), single_line=True))
    for warning in warnings:
        row.append("\n     ⚠ ", style="bold")
        row.append_text(safe_text(warning, single_line=True))
    why = link.why_not()
    if why:
        row.append("\n     ", style="dim")
        row.append_text(safe_text(why, single_line=True, style="dim"))
    return row


class LinkListScreen(ModalScreen[int | None]):
    """The links of the message shown; Enter (or a digit) picks one, Esc closes."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Close", id="links.close"),
    ]

    DEFAULT_CSS = """
    LinkListScreen { align: center middle; }
    LinkListScreen > Vertical {
        width: 90%; height: auto; max-height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    LinkListScreen #links-title { text-style: bold; }
    LinkListScreen #links-hint { color: $foreground-muted; }
    LinkListScreen OptionList { height: auto; max-height: 30; border: none; }
    """

    def __init__(self, links: list[Link]) -> None:
        super().__init__()
        self.links = links

    def compose(self) -> ComposeResult:
        with Vertical():
            count = len(self.links)
            yield Static(Text(f"Links of this message ({count})", end=""), id="links-title")
            yield OptionList(
                *(Option(link_line(link), id=f"link-{link.number}") for link in self.links),
                id="links-options",
            )
            yield Static(
                Text("Enter or 1–9: open (asks first, with the full address)   Esc: close", end=""),
                id="links-hint",
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_key(self, event: Any) -> None:
        character = getattr(event, "character", None)
        if character and character.isdigit() and character != "0":
            number = int(character)
            if number <= len(self.links):
                event.stop()
                self.dismiss(number)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self.links):
            self.dismiss(self.links[event.option_index].number)

    def action_close(self) -> None:
        self.dismiss(None)
