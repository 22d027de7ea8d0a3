"""Turning untrusted strings into something a widget may show.

Every subject, name, header, body, file name, folder name and server reply reaches the screen
through these helpers, as `rich.text.Text` and never as markup: Textual parses markup in `str`
labels (a subject `[@click=app.quit]` would become a live action) and passes ESC, C1 and bidi
controls to the terminal (see ../shared/docs/libraries.md). `app.mime.sanitize` is the one place
that knows the rules; when it is not importable a local regex with the same character class is
used, and the regex also runs after `clean` as a second line of defence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rich.style import Style
from rich.text import Text
from textual.notifications import SeverityLevel
from textual.widget import Widget

from app.models import Address

__all__ = [
    "UNSAFE_RE",
    "SafeNotify",
    "addresses_text",
    "decode_header_text",
    "display_name",
    "human_size",
    "palette_text",
    "safe_line",
    "safe_notice",
    "safe_str",
    "safe_text",
    "theme_style",
]

UNSAFE_RE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
"""C0 (but TAB and LF), DEL, C1, bidi controls and lone surrogates (which make output raise):
what must never reach the terminal."""

REPLACEMENT = "\ufffd"

_INVISIBLE_RE = re.compile(
    "[\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2065"
    "\u206a-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]"
)
"""Invisible characters (Default_Ignorable_Code_Point less the bidi controls): removed from
everything but message bodies, where they only hide what a name really is."""

#: Longest toast text: a 1,000-character folder name is cut, not drawn over the whole screen.
NOTICE_MAX = 600

_CleanFn = Callable[..., str]


def _fallback_clean(text: str, max_len: int | None = None, keep_newlines: bool = True) -> str:
    text = text.replace("\r\n", "\n")
    if not keep_newlines:
        text = text.replace("\n", " ").replace("\t", " ")
    text = UNSAFE_RE.sub(REPLACEMENT, text)
    if max_len is not None and len(text) > max_len:
        text = text[: max(0, max_len - 1)] + "…"
    return text


def _load_clean() -> tuple[_CleanFn, _CleanFn | None]:
    try:
        from app.mime import sanitize
    except ImportError:
        return _fallback_clean, None
    clean = getattr(sanitize, "clean", None)
    clean_line = getattr(sanitize, "clean_line", None)
    if not callable(clean):
        return _fallback_clean, None
    return clean, clean_line if callable(clean_line) else None


_clean, _clean_line = _load_clean()


def _decoder() -> Callable[[str], str] | None:
    try:
        from app.mime.headers import decode_header
    except ImportError:
        return None
    return decode_header if callable(decode_header) else None


_decode = _decoder()


def safe_str(
    text: object,
    *,
    max_len: int | None = None,
    keep_newlines: bool = True,
    invisible: bool = False,
) -> str:
    """`text` with every control that could reach the terminal replaced; never raises.

    `invisible=True` also removes invisible characters (zero-width space, joiners, ...): for
    text that is not a message body (server replies, folder names, questions naming them).
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    try:
        if invisible:
            cleaned = _clean(text, max_len=max_len, keep_newlines=keep_newlines, invisible=True)
        else:
            cleaned = _clean(text, max_len=max_len, keep_newlines=keep_newlines)
    except Exception:  # a buggy sanitizer must not take the screen down
        cleaned = _fallback_clean(text, max_len=max_len, keep_newlines=keep_newlines)
    if invisible:
        cleaned = _INVISIBLE_RE.sub("", cleaned)
    if not keep_newlines:
        cleaned = cleaned.replace("\n", " ").replace("\t", " ")
    # Second line of defence, whatever `clean` did.
    return UNSAFE_RE.sub(REPLACEMENT, cleaned)


def safe_line(text: object, *, max_len: int | None = None) -> str:
    """One line of untrusted text: newlines and tabs become spaces."""
    if _clean_line is not None and isinstance(text, str):
        try:
            line = _clean_line(text) if max_len is None else _clean_line(text, max_len=max_len)
            line = _INVISIBLE_RE.sub("", line)
            return UNSAFE_RE.sub(REPLACEMENT, line.replace("\n", " ").replace("\t", " "))
        except Exception:  # fall back to the local rules
            pass
    return safe_str(text, max_len=max_len, keep_newlines=False, invisible=True)


def safe_text(
    text: object,
    style: str | Style = "",
    *,
    single_line: bool = False,
    max_len: int | None = None,
    invisible: bool = False,
) -> Text:
    """A `Text` (never markup) holding sanitized `text`.

    Args:
        text: Untrusted text (anything; `None` gives an empty Text).
        style: A Rich style for the whole text.
        single_line: Fold newlines and tabs into spaces (list rows, labels); invisible
            characters are removed from single lines.
        max_len: Cut to this many characters, ending with an ellipsis.
        invisible: Remove invisible characters from multi-line text too (not a mail body).
    """
    if single_line:
        cleaned = safe_line(text, max_len=max_len)
    else:
        cleaned = safe_str(text, max_len=max_len, invisible=invisible)
    return Text(cleaned, style=style, no_wrap=single_line, end="")


def safe_notice(text: object, *, max_len: int = NOTICE_MAX) -> str:
    """A toast's title or message: controls shown as pictures, bidi and invisibles removed,
    cut to `max_len`. Shown with `markup=False`, so `[b]` stays literal."""
    return safe_str(text, max_len=max_len, invisible=True)


def decode_header_text(raw: str | None) -> str:
    """A raw header value decoded (RFC 2047) by `app.mime.headers` where present, else as is."""
    if not raw:
        return ""
    if _decode is not None:
        try:
            return str(_decode(raw))
        except Exception:  # decoding must never break a row
            return raw
    return raw


def display_name(address: Address) -> str:
    """What a list row shows for one address: the decoded name, else the address."""
    name = decode_header_text(address.name).strip().strip('"').strip()
    return name or address.email or "?"


def addresses_text(addresses: Iterable[Address]) -> str:
    """Display names of an address list joined with commas (group markers skipped)."""
    shown = [display_name(a) for a in addresses if a.host is not None or a.name]
    return ", ".join(shown)


def human_size(size: int | None) -> str:
    """Byte counts as a mail client shows them: 512B, 12K, 3.4M, 1.2G."""
    if size is None or size < 0:
        return ""
    if size < 1024:
        return f"{size}B"
    value = float(size)
    for unit in ("K", "M", "G", "T"):
        value /= 1024
        if value < 10:
            return f"{value:.1f}{unit}"
        if value < 1024 or unit == "T":
            return f"{value:.0f}{unit}"
    return f"{value:.0f}T"


def theme_style(widget: Widget, component: str) -> Style:
    """A component class of `widget` as a Rich style, colours resolved against its background.

    `get_component_rich_style(partial=True)` drops alpha, so `$foreground-muted` came out as
    full foreground. Here translucent colours are blended over the widget's real background
    (focus tint included), as CSS would. `auto` colours (`$text-muted`) are resolved by Textual
    against the component's own, absent, background (white on the light theme's white), so
    component classes use `$foreground-muted` / `$foreground-disabled` instead.
    Callers cache the result and drop it on `notify_style_update` and focus changes.
    """
    styles = widget.get_component_styles(component)
    _, background = widget.background_colors
    bgcolor = None
    if styles.has_rule("background"):
        over = styles.background
        if over.a > 0:
            background = background + over
            bgcolor = background.rich_color
    color = None
    if styles.has_rule("color"):
        fg = styles.color
        if fg.a > 0 or fg.auto:
            color = (background + fg).rich_color
    return Style(color=color, bgcolor=bgcolor) + styles.text_style


def palette_text(text: object, *, max_len: int = 200) -> str:
    """A command palette title or help line: cleaned, and its markup escaped.

    Textual's palette parses hit titles and help as markup (`Matcher.highlight` and the help
    line both call `Content.from_markup`), so an account named `[@click=app.quit]` would be a
    live action there.
    """
    from textual.markup import escape

    return escape(safe_line(text, max_len=max_len))


class SafeNotify:
    """Mixin for an `App`: every toast, whoever raises it, passes through `safe_notice`.

    Textual's `notify(..., markup=False)` stops markup but draws ESC, C1, bidi and invisible
    characters as they come (it strips only BEL, BS, VT, FF and CR), and folder names, SMTP
    replies and server errors reach toasts from many places. Overriding `App.notify` is the
    one choke point: `Widget.notify` and `Screen.notify` call it too. Markup is always off.
    """

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        del markup  # always off: a toast is never markup
        super().notify(  # type: ignore[misc]
            safe_notice(message),
            title=safe_line(title, max_len=200),
            severity=severity,
            timeout=timeout,
            markup=False,
        )
