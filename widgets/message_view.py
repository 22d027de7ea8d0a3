"""The message viewer: headers, the sender check, the body and the attachment list.

The body is a Line API widget (`BodyView`): a 600 KB body took 0.7 s to lay out as one `Static`
(probed on Textual 8.2.8), while wrapping line by line and rendering only what is on screen keeps
even the raw source of a large message instant. All text arrives already sanitized in a
`RenderedMessage` (app.mime.types); it is still shown only as `rich.text.Text`, and a
length-preserving pass replaces any control character that slipped through, so the named style
spans keep pointing at the right characters.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from app.mime.lists import MailingList, mailing_list
from app.mime.types import STYLE_NAMES, AttachmentInfo, RenderedMessage, ShownHeader, StyleSpan
from app.models import Verdict
from widgets.crypto_badge import crypto_text
from widgets.invitation_view import InvitationCard, ListLine
from widgets.safe import (
    REPLACEMENT,
    UNSAFE_RE,
    human_size,
    safe_line,
    safe_str,
    safe_text,
    theme_style,
)

if TYPE_CHECKING:  # the type only: app.mime.calendar (zoneinfo) stays off the first screen
    from app.mime.calendar import Invitation

_divide_line: Callable[[str, int, bool], list[int]] | None
try:  # rich's word wrapper; private, so keep a plain fallback
    from rich._wrap import divide_line as _divide_line
except ImportError:  # pragma: no cover - depends on the rich version
    _divide_line = None

TAB_SIZE = 8

Row = tuple[int, int, int]
"""(logical line, start, end) of one screen row."""


def _wire_ok(url: str) -> bool:
    """A URL that can go into an OSC 8 sequence: printable ASCII, no space, bounded."""
    return 0 < len(url) <= 8192 and all("!" <= char <= "~" for char in url)


def _wrap_ascii(line: str, width: int) -> list[int]:
    """Greedy word wrap of a line of one-cell characters: a few C-level searches per row."""
    offsets: list[int] = []
    start = 0
    length = len(line)
    while length - start > width:
        cut = line.rfind(" ", start, start + width + 1)
        # Break after the space (it may hang one cell past the edge); fold a word too long.
        cut = start + width if cut <= start else cut + 1
        offsets.append(cut)
        start = cut
    return offsets


def _wrap_offsets(line: str, width: int) -> list[int]:
    """Start offsets of the rows `line` wraps into at `width` cells (0 excluded)."""
    if line.isascii() and line.isprintable():
        return _wrap_ascii(line, width)
    if _divide_line is not None:
        try:
            return list(_divide_line(line, width, True))
        except Exception:  # a wrapper bug must not hide the body
            pass
    offsets: list[int] = []
    used = 0
    for index, char in enumerate(line):
        size = cell_len(char)
        if used + size > width and index:
            offsets.append(index)
            used = 0
        used += size
    return offsets


def _expand_tabs(line: str) -> tuple[str, list[int]]:
    """`line` with tabs expanded, and where each old index went (plus one past the end)."""
    out: list[str] = []
    where: list[int] = []
    column = 0
    for char in line:
        where.append(column)
        if char == "\t":
            pad = TAB_SIZE - column % TAB_SIZE
            out.append(" " * pad)
            column += pad
        else:
            out.append(char)
            column += 1
    where.append(column)
    return "".join(out), where


class BodyView(ScrollView, can_focus=True, inherit_bindings=False):
    """Scrollable text with named style spans, wrapped (a body) or not (raw source)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "line_down", "Scroll down", id="body.down", show=False),
        Binding("k,up", "line_up", "Scroll up", id="body.up", show=False),
        Binding("space,pagedown", "page_down", "Page down", id="body.page_down", show=False),
        Binding("b,pageup", "page_up", "Page up", id="body.page_up", show=False),
        Binding("g,home", "top", "Top", id="body.top", show=False),
        Binding("G,end", "bottom", "Bottom", id="body.bottom", show=False),
        Binding("right", "scroll_right", "Scroll right", id="body.right", show=False),
        Binding("left", "scroll_left", "Scroll left", id="body.left", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        *(f"body-view--{name}" for name in STYLE_NAMES),
        "body-view--placeholder",
        "body-view--error",
        "body-view--raw",
    }

    DEFAULT_CSS = """
    BodyView {
        background: $surface;
        color: $foreground;
        overflow-y: auto;
        overflow-x: auto;
        padding: 0 1;
        &:focus { background-tint: $foreground 3%; }
        & > .body-view--bold { text-style: bold; }
        & > .body-view--italic { text-style: italic; }
        & > .body-view--underline { text-style: underline; }
        & > .body-view--quote { color: $text-secondary; }
        & > .body-view--link { color: $text-accent; text-style: underline; }
        & > .body-view--signature { color: $foreground-muted; }
        & > .body-view--fixed { background: $panel; }
        & > .body-view--heading { color: $text-primary; text-style: bold; }
        & > .body-view--placeholder { color: $foreground-muted; text-style: italic; }
        & > .body-view--error { color: $text-error; text-style: bold; }
        & > .body-view--raw { }
    }
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._lines: list[str] = []
        self._spans: dict[int, list[tuple[int, int, str]]] = {}
        self._line_style = ""
        self._wrap = True
        self._rows: list[Row] = []
        self._rows_width = -1
        self._max_width = 0
        self._generation = 0
        self._cache: LRUCache[tuple[int, int], Strip] = LRUCache(512)
        self._styles: dict[str, Style] = {}

    @property
    def text(self) -> str:
        """The text shown (tabs expanded), for tests and copying."""
        return "\n".join(self._lines)

    @property
    def wrap(self) -> bool:
        return self._wrap

    @property
    def row_count(self) -> int:
        return len(self._rows)

    def set_body(
        self,
        text: str,
        spans: Sequence[StyleSpan] = (),
        *,
        wrap: bool = True,
        line_style: str = "",
        links: Sequence[tuple[int, int, str]] = (),
    ) -> None:
        """Show `text` with its named style spans, from the top.

        Args:
            text: Sanitized text; any control character left is replaced one for one.
            spans: `StyleSpan`s over `text` (indices into `text`); unknown names are ignored.
            wrap: Wrap at the widget width (a body), or scroll sideways (raw source).
            line_style: A component name (e.g. "placeholder") styling every line.
            links: (start, end, url) hyperlinks (OSC 8) over `text`; only printable ASCII
                URLs are taken (see app.mime.links.wire_url), others are dropped.
        """
        text = UNSAFE_RE.sub(REPLACEMENT, text.replace("\r", " "))
        raw_lines = text.split("\n")
        starts: list[int] = []
        offset = 0
        for line in raw_lines:
            starts.append(offset)
            offset += len(line) + 1
        tab_maps: dict[int, list[int]] = {}
        lines: list[str] = []
        for index, line in enumerate(raw_lines):
            if "\t" in line:
                line, where = _expand_tabs(line)
                tab_maps[index] = where
            lines.append(line)
        per_line: dict[int, list[tuple[int, int, str]]] = {}
        pieces = [(span.start, span.end, span.style) for span in spans if span.style in STYLE_NAMES]
        # Hyperlinks (OSC 8) ride as spans named by their URL after a NUL, which no style name
        # has; `links` come checked by app.mime.links.wire_url (printable ASCII only).
        pieces.extend((start, end, "\x00" + url) for start, end, url in links if _wire_ok(url))
        for start_at, end_at, name in pieces:
            if end_at <= start_at or start_at >= len(text):
                continue
            first = max(0, bisect_right(starts, max(0, start_at)) - 1)
            for index in range(first, len(raw_lines)):
                line_start = starts[index]
                if line_start >= end_at:
                    break
                local_start = max(0, start_at - line_start)
                local_end = min(len(raw_lines[index]), end_at - line_start)
                if local_end <= local_start:
                    continue
                moved = tab_maps.get(index)
                if moved is not None:
                    local_start, local_end = moved[local_start], moved[local_end]
                per_line.setdefault(index, []).append((local_start, local_end, name))
        self._lines = lines
        self._spans = per_line
        self._wrap = wrap
        self._line_style = line_style
        self._max_width = 0 if wrap else max((cell_len(line) for line in lines), default=0)
        self._rows_width = -1
        self._relayout()
        self.scroll_to(0, 0, animate=False, immediate=True)

    def set_message(self, text: str, *, style: str = "placeholder") -> None:
        """One short line instead of a body: loading, an error, nothing selected."""
        self.set_body(safe_str(text), wrap=True, line_style=style)

    # -- layout -------------------------------------------------------------------------------
    def _text_width(self) -> int:
        return max(10, self.scrollable_content_region.width)

    def _relayout(self) -> None:
        width = self._text_width()
        if width != self._rows_width or not self._rows:
            rows: list[Row] = []
            append = rows.append
            if self._wrap:
                for index, line in enumerate(self._lines):
                    length = len(line)
                    if length <= width and (line.isascii() or cell_len(line) <= width):
                        append((index, 0, length))
                        continue
                    start = 0
                    for cut in _wrap_offsets(line, width):
                        append((index, start, cut))
                        start = cut
                    append((index, start, length))
            else:
                rows = [(index, 0, len(line)) for index, line in enumerate(self._lines)]
            self._rows = rows
            self._rows_width = width
        self._generation += 1
        self._cache.clear()
        virtual_width = width if self._wrap else max(width, self._max_width)
        self.virtual_size = Size(virtual_width, len(self._rows))
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        if self._wrap:
            self._relayout()
        else:
            self._generation += 1
            self._cache.clear()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._restyle()

    def _restyle(self) -> None:
        self._styles.clear()
        self._generation += 1
        self._cache.clear()
        self.refresh()

    def _on_focus(self, event: events.Focus) -> None:
        self._restyle()  # the focus tint changes the background the colours blend over

    def _on_blur(self, event: events.Blur) -> None:
        self._restyle()

    # -- rendering ----------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            style = theme_style(self, f"body-view--{name}")
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        row = scroll_y + y
        width = self.size.width
        base = self.rich_style
        if row >= len(self._rows):
            return Strip.blank(width, base)
        key = (row, self._generation)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(row, base)
            self._cache[key] = strip
        if self._wrap:
            return strip.extend_cell_length(width, base).crop(0, width)
        return strip.crop_extend(scroll_x, scroll_x + width, base)

    def _render_row(self, row: int, base: Style) -> Strip:
        index, start, end = self._rows[row]
        line_style = base + self._style(self._line_style) if self._line_style else base
        text = Text(self._lines[index][start:end], no_wrap=True, end="")
        text.stylize(line_style)  # a span: Text.render ignores the Text's own style
        for span_start, span_end, name in self._spans.get(index, ()):
            if span_end <= start or span_start >= end:
                continue
            style = Style(link=name[1:]) if name.startswith("\x00") else self._style(name)
            text.stylize(style, max(span_start, start) - start, min(span_end, end) - start)
        return Strip(text.render(self.app.console), text.cell_len)

    # -- keys ---------------------------------------------------------------------------------
    def action_line_down(self) -> None:
        self.scroll_to(y=self.scroll_offset.y + 1, animate=False, immediate=True)

    def action_line_up(self) -> None:
        self.scroll_to(y=self.scroll_offset.y - 1, animate=False, immediate=True)

    def action_page_down(self) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_offset.y + height, animate=False, immediate=True)

    def action_page_up(self) -> None:
        height = max(1, self.scrollable_content_region.height - 1)
        self.scroll_to(y=self.scroll_offset.y - height, animate=False, immediate=True)

    def action_top(self) -> None:
        self.scroll_to(y=0, animate=False, immediate=True)

    def action_bottom(self) -> None:
        self.scroll_to(y=self.max_scroll_y, animate=False, immediate=True)

    def action_scroll_right(self) -> None:
        self.scroll_to(x=self.scroll_offset.x + 8, animate=False, immediate=True)

    def action_scroll_left(self) -> None:
        self.scroll_to(x=self.scroll_offset.x - 8, animate=False, immediate=True)


class AttachmentList(OptionList):
    """The attachments of the message shown; Enter opens the highlighted one."""

    DEFAULT_CSS = """
    AttachmentList {
        text-wrap: nowrap;
        text-overflow: ellipsis;
        height: auto;
        max-height: 8;
        border: none;
        border-top: solid $primary-muted;
        background: $surface;
        padding: 0 1;
        &:focus { border: none; border-top: solid $primary; }
    }
    """

    def set_attachments(self, attachments: Sequence[AttachmentInfo]) -> None:
        """Replace the list: one aligned row per attachment (name, type, size, description)."""
        self._attachments = list(attachments)
        self.clear_options()
        if not attachments:
            return
        names = [safe_line(a.filename, max_len=80) or "(unnamed)" for a in attachments]
        types = [safe_line(a.mime_type, max_len=40) for a in attachments]
        name_w = min(40, max(cell_len(n) for n in names))
        type_w = min(30, max(len(t) for t in types))
        options: list[Option] = []
        for info, name, mime in zip(attachments, names, types, strict=True):
            row = Text(no_wrap=True, end="")
            row.append("@ ", "bold")
            shown = Text(name, no_wrap=True, end="")
            shown.truncate(name_w, overflow="ellipsis", pad=True)
            row.append_text(shown)
            row.append("  ")
            row.append(mime[:type_w].ljust(type_w), "dim")
            row.append("  ")
            size = human_size(info.size)
            if info.size_is_estimate:
                size = "~" + size  # estimated from the encoded size the server gave
            row.append(size.rjust(7))
            if info.inline:
                row.append("  (inline)", "dim")
            if info.description:
                row.append("  ")
                row.append(safe_line(info.description, max_len=200), "italic")
            options.append(Option(row))
        self.add_options(options)
        self.highlighted = 0

    @property
    def attachments(self) -> list[AttachmentInfo]:
        return list(getattr(self, "_attachments", []))

    @property
    def highlighted_attachment(self) -> AttachmentInfo | None:
        """The highlighted attachment, else the first one, else None."""
        items = self.attachments
        if not items:
            return None
        index = self.highlighted if self.highlighted is not None else 0
        return items[index] if 0 <= index < len(items) else items[0]


def html_switch_note(
    rendered: RenderedMessage, prefer_html: bool, before: RenderedMessage | None = None
) -> str:
    """What `H` did to the message shown, in words: an HTML-only or a text-only message
    looks the same either way, and the user is told why instead of seeing nothing happen.

    `before` is the same message as it was shown before the switch, when known: the same
    kind of part both times means there was no other part to switch to.
    """
    if before is not None and before.is_html == rendered.is_html:
        if rendered.is_html:
            return "Only an HTML part: shown as text"
        return "No HTML part: this message is plain text"
    if rendered.is_html:
        if not prefer_html:
            return "Only an HTML part: shown as text"
        return "HTML part shown (converted to text)"
    if prefer_html:
        return "No HTML part: this message is plain text"
    return "Text part shown"


class _HeaderBox(VerticalScroll, can_focus=False):
    """Headers scroll on their own when the full set (Received path) is long."""


class MessageView(Vertical):
    """Shows one `RenderedMessage`; asks the screen to save or open attachments."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "save_attachment", "Save attachment", id="view.save_attachment"),
        Binding("o", "open_attachment", "Open attachment", id="view.open_attachment"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-view--header-name",
        "message-view--header-value",
        "message-view--subject",
        "message-view--verified",
        "message-view--failed",
        "message-view--unknown",
        "message-view--warning",
        "message-view--notice",
    }

    DEFAULT_CSS = """
    MessageView {
        background: $surface;
        height: 1fr;
        & > .message-view--header-name { color: $text-primary; text-style: bold; }
        & > .message-view--header-value { }
        & > .message-view--subject { text-style: bold; }
        & > .message-view--verified { color: $text-success; }
        & > .message-view--failed { color: $text-error; text-style: bold; }
        & > .message-view--unknown { color: $text-warning; }
        & > .message-view--warning { color: $text-warning; }
        & > .message-view--notice { color: $foreground-muted; text-style: italic; }
        & > _HeaderBox {
            height: auto;
            max-height: 50%;
            padding: 0 1;
            background: $panel;
            scrollbar-size-vertical: 1;
        }
        & > #mv-check { height: auto; padding: 0 1; background: $panel; }
        & > #mv-notices { height: auto; padding: 0 1; }
        & > BodyView { height: 1fr; }
        & > ProgressBar { height: 1; padding: 0 1; width: 1fr; }
        & > ProgressBar Bar { width: 1fr; }
        &.-no-message > _HeaderBox, &.-no-message > #mv-check, &.-no-message > #mv-notices {
            display: none;
        }
        &.-raw > #mv-check, &.-raw > _HeaderBox { display: none; }  /* the source has them */
        &.-raw > ListLine, &.-raw > InvitationCard { display: none; }
        & > AttachmentList { display: none; }
        &.-attachments > AttachmentList { display: block; }
        &.-raw > AttachmentList { display: none; }
    }
    """

    class SaveAttachment(Message):
        """Save this attachment. Handle with `on_message_view_save_attachment`."""

        def __init__(self, view: MessageView, info: AttachmentInfo) -> None:
            super().__init__()
            self.view = view
            self.info = info

        @property
        def control(self) -> MessageView:
            return self.view

    class OpenAttachment(Message):
        """Open this attachment with a viewer. Handle with `on_message_view_open_attachment`."""

        def __init__(self, view: MessageView, info: AttachmentInfo) -> None:
            super().__init__()
            self.view = view
            self.info = info

        @property
        def control(self) -> MessageView:
            return self.view

    full_headers: reactive[bool] = reactive(False)
    """Show every header in received order (the Received path) instead of the compact set."""

    def __init__(
        self,
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._rendered: RenderedMessage | None = None
        self._raw = False
        # Before the mount: the class styles its parts as they are mounted (added in on_mount,
        # every part was styled a second time before the first frame).
        self.add_class("-no-message", update=False)

    def compose(self) -> ComposeResult:
        with _HeaderBox(id="mv-header-box"):
            yield Static(id="mv-headers")
        yield Static(id="mv-check")
        yield Static(id="mv-notices")
        yield ListLine(id="mv-list")
        yield InvitationCard(id="mv-invite")
        yield BodyView(id="mv-body")
        yield AttachmentList(id="mv-attachments")
        # The download's ProgressBar (three widgets) is made by the first `set_progress`: it is
        # hidden until then, and the first screen is drawn without it.

    def on_mount(self) -> None:
        if self._rendered is None:
            self.body.set_message("No message selected")

    # -- parts --------------------------------------------------------------------------------
    @property
    def body(self) -> BodyView:
        return self.query_one(BodyView)

    @property
    def attachment_list(self) -> AttachmentList:
        return self.query_one(AttachmentList)

    @property
    def rendered(self) -> RenderedMessage | None:
        """The message shown (None while loading, after an error, or before any)."""
        return self._rendered

    @property
    def raw_mode(self) -> bool:
        return self._raw

    def focus(self, scroll_visible: bool = True) -> MessageView:
        """Focus goes to the body, the part that scrolls."""
        self.body.focus(scroll_visible)
        return self

    # -- data in ------------------------------------------------------------------------------
    def show(self, rendered: RenderedMessage) -> None:
        """Show a rendered message from the top."""
        self._rendered = rendered
        self._raw = False
        self.remove_class("-no-message", "-raw")
        self._render_headers()
        self._render_check()
        self._render_notices()
        self.query_one(ListLine).set_list(
            mailing_list((h.name, h.value) for h in rendered.full_headers)
        )
        self.query_one(InvitationCard).show_invitation(None)  # the screen fetches it after
        self.body.set_body(rendered.body, rendered.styles, wrap=True, links=self._hyperlinks())
        attachments = self.attachment_list
        attachments.set_attachments(rendered.attachments)
        self.set_class(bool(rendered.attachments), "-attachments")
        for bar in self.query_children(ProgressBar):
            bar.display = False

    def _hyperlinks(self) -> list[tuple[int, int, str]]:
        """The OSC 8 hyperlinks of the shown message, where the terminal has them."""
        from widgets.link_list import hyperlink_spans

        return hyperlink_spans(self.app, self._rendered)

    def replacing(self) -> None:
        """Another message is on its way: from now on nothing acts on the one drawn (its
        attachments, links, raw source), though it stays drawn until the next one (or
        "Loading…") replaces it, without restyling the viewer in between."""
        self._rendered = None
        self._raw = False

    def show_loading(self, text: str = "Loading…") -> None:
        """A placeholder while the message is fetched."""
        self._show_state(text, "placeholder")

    def show_error(self, text: str) -> None:
        """Loading failed: say why instead of a body."""
        self._show_state(text, "error")

    def show_raw(self, text: str, *, title: str = "Raw source (V: back to the message)") -> None:
        """The raw source, wrapped at the width: its own header block is the only one shown
        (the rendered headers box is hidden, not shown a second time above it).

        Also shows other plain text about the message (a pipe's output, a text attachment)
        under its own `title`."""
        self._raw = True
        self.add_class("-raw")
        notices = self.query_one("#mv-notices", Static)
        notices.display = True  # _render_notices hides it for a message without notices
        notices.update(
            Text(safe_line(title, max_len=200), style=self._component("message-view--notice"))
        )
        self.body.set_body(safe_str(text), wrap=True, line_style="raw")

    def leave_raw(self) -> None:
        """Back from the raw source to the rendered message, if one is held."""
        if self._raw and self._rendered is not None:
            self.show(self._rendered)

    def set_progress(self, done: int, total: int) -> None:
        """Progress of a download (an attachment being saved); hidden once complete."""
        found = self.query_children(ProgressBar)
        if found:
            bar = found.first()
        elif total <= 0 or done >= total:
            return  # nothing shown yet, and nothing to show
        else:
            bar = ProgressBar(id="mv-progress", show_eta=False)
            self.mount(bar)
        if total <= 0 or done >= total:
            bar.update(total=max(total, 1), progress=max(total, 1))
            bar.display = False
            return
        bar.display = True
        bar.update(total=total, progress=max(0, done))

    def _show_state(self, text: str, style: str) -> None:
        self._rendered = None
        self._raw = False
        self.add_class("-no-message")
        self.remove_class("-raw")
        self.query_one("#mv-notices", Static).display = False
        self.query_one("#mv-headers", Static).update("")
        self.query_one(ListLine).set_list(None)
        self.query_one(InvitationCard).show_invitation(None)
        attachments = self.attachment_list
        attachments.set_attachments([])
        self.remove_class("-attachments")
        self.body.set_message(text, style=style)

    # -- rendering ----------------------------------------------------------------------------
    def _component(self, name: str) -> Style:
        return theme_style(self, name)

    def watch_full_headers(self, full: bool) -> None:
        if self._rendered is not None:
            self._render_headers()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self._rendered is not None and self.is_mounted:
            self.call_later(self._restyle)

    def _restyle(self) -> None:
        if self._rendered is not None:
            self._render_headers()
            self._render_check()
            if not self._raw:
                self._render_notices()

    def _render_headers(self) -> None:
        rendered = self._rendered
        if rendered is None:
            return
        headers: list[ShownHeader] = (
            rendered.full_headers
            if self.full_headers and rendered.full_headers
            else rendered.headers
        )
        name_style = self._component("message-view--header-name")
        value_style = self._component("message-view--header-value")
        subject_style = self._component("message-view--subject")
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(ratio=1, overflow="fold")
        for header in headers:
            name = safe_line(header.name, max_len=80)
            style = subject_style if name.lower() == "subject" else value_style
            grid.add_row(
                Text(f"{name}:", style=name_style, no_wrap=True, end=""),
                safe_text(header.value, style=style, single_line=not self.full_headers),
            )
        if not headers and rendered.subject:
            grid.add_row(
                Text("Subject:", style=name_style, end=""),
                safe_text(rendered.subject, style=subject_style, single_line=True),
            )
        self.query_one("#mv-headers", Static).update(grid)

    def _render_check(self) -> None:
        rendered = self._rendered
        if rendered is None:
            return
        check = rendered.sender_check
        line = Text(end="")
        # The summary carries the verdict's words ("verified by ...", "failed at ..."); the
        # mark and the style say it at a glance, as `termail render` says "Sender check: ...".
        if check.verdict is Verdict.VERIFIED:
            line.append("✓ Sender check: ", self._component("message-view--verified"))
        elif check.verdict is Verdict.FAILED:
            line.append("✗ Sender check: ", self._component("message-view--failed"))
        else:
            line.append("? Sender check: ", self._component("message-view--unknown"))
        line.append_text(safe_text(check.summary, single_line=True))
        warning_style = self._component("message-view--warning")
        for warning in check.warnings:
            line.append("\n  ⚠ ", warning_style)
            line.append_text(safe_text(warning, style=warning_style, single_line=True))
        line.append_text(crypto_text(rendered.crypto, self._component))  # OpenPGP badge
        self.query_one("#mv-check", Static).update(line)

    def _render_notices(self) -> None:
        rendered = self._rendered
        if rendered is None:
            return
        style = self._component("message-view--notice")
        notices = list(rendered.notices)
        if rendered.is_html:
            notices.append("Shown from the HTML part")
        elif rendered.has_html_alternative:
            notices.append("An HTML version exists")
        widget = self.query_one("#mv-notices", Static)
        widget.display = bool(notices)
        text = Text(end="")
        for index, notice in enumerate(notices):
            if index:
                text.append("\n")
            text.append("ℹ ", style)
            text.append_text(safe_text(notice, style=style, single_line=True))
        widget.update(text)

    # -- invitation and list (widgets/invitation_view.py) ---------------------------------------
    def show_invitation(self, invitation: Invitation | None) -> None:
        """The calendar part of the shown message, read by the screen after `show`."""
        if self._rendered is not None:
            self.query_one(InvitationCard).show_invitation(invitation)

    @property
    def invitation(self) -> Invitation | None:
        return self.query_one(InvitationCard).invitation if self._rendered is not None else None

    @property
    def mailing_list(self) -> MailingList | None:
        return self.query_one(ListLine).mailing_list if self._rendered is not None else None

    # -- attachments --------------------------------------------------------------------------
    @property
    def highlighted_attachment(self) -> AttachmentInfo | None:
        """The attachment the save/open keys act on."""
        return self.attachment_list.highlighted_attachment

    def action_save_attachment(self) -> None:
        info = self.highlighted_attachment
        if info is not None and not self._raw:
            self.post_message(self.SaveAttachment(self, info))

    def action_open_attachment(self) -> None:
        info = self.highlighted_attachment
        if info is not None and not self._raw:
            self.post_message(self.OpenAttachment(self, info))

    @on(OptionList.OptionSelected, "#mv-attachments")
    def _attachment_chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        items = self.attachment_list.attachments
        if 0 <= event.option_index < len(items):
            self.post_message(self.OpenAttachment(self, items[event.option_index]))
