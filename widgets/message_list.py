"""The message list: a virtual list over a folder's UIDs, one rendered line per visible row.

A folder may hold 100,000 messages, so this is a Line API widget (`ScrollView.render_line`), not a
DataTable (which blocked the UI for 11 s on 100,000 rows, ../shared/docs/libraries.md) and never a
widget per row. The widget knows the UID order and whatever summaries it was given; for rows near
the screen that have none it shows a placeholder and asks for them with `SummariesWanted`,
remembering what is in flight so scrolling never asks twice (aerc's `lib/msgstore.go` approach).
Rendered lines live in an LRU cache keyed by row and a generation counter; the generation moves
whenever the row order, the width or the styles change.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from itertools import islice
from math import ceil
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.reactive import var
from textual.scroll_view import ScrollView
from textual.scrollbar import ScrollBar
from textual.strip import Strip

from app.imap.parser import UidArray
from app.models import Flag, MessageSummary
from widgets.safe import addresses_text, decode_header_text, human_size, safe_line, theme_style

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

CacheKey = tuple[int, int]


def _local_now() -> datetime:
    return datetime.now().astimezone()


def message_date(summary: MessageSummary) -> datetime | None:
    """The Date header as an aware datetime, else INTERNALDATE, else None; never raises."""
    raw = summary.envelope.date
    found: datetime | None = None
    if raw:
        try:
            found = parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError, OverflowError):
            found = None
    if found is None:
        found = summary.internaldate
    if found is not None and found.tzinfo is None:
        found = found.replace(tzinfo=UTC)
    return found


def format_date(when: datetime | None, now: datetime, *, compact: bool = False) -> str:
    """Today: `14:05`; this year: `Nov 29`; else `2019-03-02` (`2019` when `compact`)."""
    if when is None:
        return ""
    try:
        local = when.astimezone(now.tzinfo)
    except (ValueError, OverflowError, OSError):
        local = when
    if local.date() == now.date():
        return f"{local.hour:02d}:{local.minute:02d}"
    if local.year == now.year:
        return f"{_MONTHS[local.month - 1]} {local.day:2d}"
    if compact:
        return f"{local.year:04d}"
    return f"{local.year:04d}-{local.month:02d}-{local.day:02d}"


#: How far down the list new mail may be inserted and the drawn rows still be kept, moved.
INSERT_NEAR_TOP = 64


class Inserted(NamedTuple):
    """`new` is `old` with UIDs inserted among its first rows: where each old row went."""

    moved: dict[int, int]
    """Old row -> new row, for the old rows before `tail`."""
    tail: int
    """From this old row on, every row is `shift` rows lower."""
    shift: int

    def row(self, old: int) -> int:
        return old + self.shift if old >= self.tail else self.moved[old]


def _inserted(old: Sequence[int], new: Sequence[int]) -> Inserted | None:
    """How `new` is `old` with UIDs inserted among its first `INSERT_NEAR_TOP` rows (new mail
    on top, and after the rows dated in the top row's second: `app.store.news.on_top`), else
    None. The long tail is compared in C for UidArrays."""
    shift = len(new) - len(old)
    if shift <= 0 or not old or new[-1] != old[-1]:
        return None
    moved: dict[int, int] = {}
    i = j = 0
    while i - j < shift:
        if i > INSERT_NEAR_TOP + shift or j >= len(old):
            return None
        if new[i] == old[j]:
            moved[j] = i
            j += 1
        i += 1
    if isinstance(new, UidArray) and isinstance(old, UidArray):
        same = new[i:] == old[j:]
    else:
        same = list(new[i:]) == list(old[j:])
    return Inserted(moved, j, shift) if same else None


def _thumb(bar: ScrollBar) -> list[Segment]:
    """What the vertical scrollbar draws (Textual's own `render_bar`, its geometry only)."""
    virtual = ceil(bar.window_virtual_size)
    window = ceil(bar.window_size if bar.window_size < virtual else 0)
    drawn = bar.renderer.render_bar(
        size=bar.size.height,
        virtual_size=virtual,
        window_size=window,
        position=bar.position,
        thickness=bar.thickness,
    )
    return list(drawn.segments)


class MessageList(ScrollView, can_focus=True, inherit_bindings=False):
    """A virtual list of the messages of one folder (or of search results)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j,down", "cursor_down", "Next", id="list.down", show=False),
        Binding("k,up", "cursor_up", "Previous", id="list.up", show=False),
        Binding("g,home", "first", "First", id="list.first", show=False),
        Binding("G,end", "last", "Last", id="list.last", show=False),
        Binding("pagedown,space", "page_down", "Page down", id="list.page_down", show=False),
        Binding("pageup", "page_up", "Page up", id="list.page_up", show=False),
        Binding("enter", "open", "Open", id="list.open"),
        Binding("t,semicolon", "toggle_mark", "Mark", id="list.mark"),
        # -- thread folding keys (issue 15): `z` starts a two-key sequence (KEY_SEQUENCES) --
        Binding("z", "key_prefix('z')", "Fold keys: za zM zR", id="thread.prefix", show=False),
        Binding("alt+v", "fold_thread", "Fold/unfold thread", id="thread.fold", show=False),
        Binding(
            "minus,alt+shift+v", "fold_all", "Fold all threads", id="thread.fold_all", show=False
        ),
        Binding("plus", "unfold_all", "Unfold all threads", id="thread.unfold_all", show=False),
        # -- end of the thread folding keys --
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "message-list--cursor",
        "message-list--unread",
        "message-list--flagged",
        "message-list--marked",
        "message-list--placeholder",
        "message-list--flags",
        "message-list--date",
        "message-list--address",
        "message-list--size",
        "message-list--hover",
        "message-list--empty",
        "message-list--thread",
        "message-list--deleted",
    }

    DEFAULT_CSS = """
    MessageList {
        background: $surface;
        color: $foreground;
        overflow-x: hidden;
        overflow-y: auto;
        & > .message-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        &:focus {
            background-tint: $foreground 5%;
            & > .message-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .message-list--unread { text-style: bold; }
        & > .message-list--flagged { color: $text-warning; }
        & > .message-list--marked { background: $secondary-muted; }
        & > .message-list--placeholder { color: $foreground-disabled; }
        & > .message-list--flags { color: $text-accent; }
        & > .message-list--date { color: $foreground-muted; }
        & > .message-list--address { }
        & > .message-list--size { color: $foreground-muted; }
        & > .message-list--thread { color: $foreground-muted; }
        & > .message-list--deleted { color: $foreground-muted; text-style: strike; }
        & > .message-list--hover { background: $block-hover-background; }
        & > .message-list--empty { color: $foreground-muted; text-style: italic; }
    }
    """

    class SummariesWanted(Message):
        """Rows near the screen have no summary: fetch these UIDs and call `update_summaries`.

        Handle with `on_message_list_summaries_wanted`. `epoch` identifies the UID list the
        request was made for; pass it back to `update_summaries` to drop answers that arrive
        after the folder changed.
        """

        def __init__(self, message_list: MessageList, uids: list[int], epoch: int) -> None:
            super().__init__()
            self.message_list = message_list
            self.uids = uids
            """UIDs wanted, the visible rows first."""
            self.epoch = epoch

        @property
        def control(self) -> MessageList:
            return self.message_list

    class Highlighted(Message):
        """The cursor moved to another message. Handle with `on_message_list_highlighted`."""

        def __init__(self, message_list: MessageList, uid: int | None) -> None:
            super().__init__()
            self.message_list = message_list
            self.uid = uid

        @property
        def control(self) -> MessageList:
            return self.message_list

    class Opened(Message):
        """Enter (or a double click) on a message. Handle with `on_message_list_opened`."""

        def __init__(self, message_list: MessageList, uid: int) -> None:
            super().__init__()
            self.message_list = message_list
            self.uid = uid

        @property
        def control(self) -> MessageList:
            return self.message_list

    # -- two-key sequences (issue 15): what the screen shows while a prefix waits --------
    KEY_SEQUENCES: ClassVar[dict[str, dict[str, tuple[str, str]]]] = {
        "z": {
            "a": ("fold_thread", "Fold/unfold thread"),
            "M": ("fold_all", "Fold all threads"),
            "R": ("unfold_all", "Unfold all threads"),
        },
    }
    """Prefix key -> second key -> (action, description), as vim's and aerc's `za` `zM` `zR`.
    The prefix is an ordinary binding (`thread.prefix`, rebindable); `?` and the palette list
    each sequence beside the action's single keys."""

    class PendingKey(Message):
        """A prefix key waits for its second key (`prefix` set), or was completed or cancelled
        (`prefix` None; `note` says what the second key did when it was not one of them)."""

        def __init__(self, message_list: MessageList, prefix: str | None, note: str = "") -> None:
            super().__init__()
            self.message_list = message_list
            self.prefix = prefix
            self.note = note

        @property
        def control(self) -> MessageList:
            return self.message_list

    # -- end of the two-key sequences' messages --

    class MarksChanged(Message):
        """The set of marked messages changed. Handle with `on_message_list_marks_changed`."""

        def __init__(self, message_list: MessageList, count: int) -> None:
            super().__init__()
            self.message_list = message_list
            self.count = count

        @property
        def control(self) -> MessageList:
            return self.message_list

    sent_mode: var[bool] = var(False)
    """Show the recipients (To) instead of the sender: for Sent and Drafts."""

    def __init__(
        self,
        *,
        summary_limit: int = 5_000,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        """Create an empty list.

        Args:
            summary_limit: How many summaries to keep; the oldest given are dropped first (and
                asked for again if they come back into view), so memory stays bounded on huge
                folders.
        """
        super().__init__(name=name, id=id, classes=classes, disabled=disabled)
        self._uids: Sequence[int] = []
        """Shared with the caller when a UidArray (never changed in place), else a copy."""
        self._depths: list[int] | None = None
        self._tree: tuple[list[int], list[int]] | None = None
        """Every row of the threads (UIDs, depths), folded or not; None for a flat list."""
        self.folded: set[int] = set()
        """Root UIDs of the folded threads; kept through refreshes, forgotten with the folder."""
        self._hidden: dict[int, list[int]] = {}
        """Folded root UID -> the UIDs hidden under its line."""
        self._root_of: dict[int, int] = {}
        """Hidden UID -> the root whose line stands for it."""
        self._summaries: OrderedDict[int, MessageSummary] = OrderedDict()
        self._requested: set[int] = set()
        self._summary_limit = max(100, summary_limit)
        self._cursor = -1
        self._hover = -1
        self._generation = 0
        self._epoch = 0
        self._cache: LRUCache[CacheKey, Strip] = LRUCache(1024)
        self._styles: dict[str, Style] = {}
        """Resolved component styles ("" is the widget's own), cleared on any style change."""
        self._content_w = 1
        self._width_generation = -1
        self._request_scheduled = False
        self.marked: set[int] = set()
        """UIDs marked for a bulk action (t / ;). The owner may change it, then call
        `refresh_uids` with the UIDs changed (`set_uids` and `remove_uids` repaint anyway)."""
        self.now: Callable[[], datetime] = _local_now
        self.date_formats: tuple[str, str, str] | None = None
        """strftime formats for today, this year and older dates (the config's); None: built-in."""
        """Clock used for the date column (today / this year); tests fix it."""
        self.empty_text = "No messages"
        """What an empty list says."""
        self.render_count = 0
        """Rows rendered (not served from the cache) so far: for tests and benchmarks."""
        self.held_source: Callable[[Sequence[int]], Iterable[MessageSummary]] | None = None
        """Summaries at hand (memory, the local cache; never a server) for the rows about to
        be drawn, so that they are drawn filled, never "loading…" first. Set by the owner after
        `set_uids`; a reset of the list (another folder) forgets it."""
        self._held_tried: set[int] = set()
        self.new_above = 0
        """New mail placed above the visible rows since the user last saw the top: drawn as a
        "↑ N new" header over the top line (never over the cursor); cleared at the top."""
        self._scroll_retry = False
        self.pending_prefix: str | None = None
        """A prefix key (`z`) waiting for its second key; None when none waits."""

    # -- data in ------------------------------------------------------------------------------
    @property
    def uids(self) -> Sequence[int]:
        """The UIDs in display order (read only)."""
        return self._uids

    def share_uids(self, uids: Sequence[int]) -> bool:
        """Hold `uids` in place of an equal list (nothing is drawn again); False, and nothing
        changed, when they differ. The server's list replacing the cached one is most often
        the same: one copy of a big folder's UIDs then, not two (400 KB at 100,000; issue 21)."""
        if uids is self._uids:
            return True
        if len(uids) != len(self._uids) or uids != self._uids:
            return False
        self._uids = uids
        return True

    @property
    def row_count(self) -> int:
        return len(self._uids)

    @property
    def epoch(self) -> int:
        """Changes whenever the summaries are reset (another folder)."""
        return self._epoch

    @property
    def cursor_row(self) -> int:
        """Row of the cursor, -1 when the list is empty."""
        return self._cursor

    @property
    def cursor_uid(self) -> int | None:
        """UID under the cursor, or None when the list is empty."""
        if 0 <= self._cursor < len(self._uids):
            return self._uids[self._cursor]
        return None

    def summary(self, uid: int) -> MessageSummary | None:
        """The summary held for `uid`, if any."""
        return self._summaries.get(uid)

    def set_uids(
        self,
        uids: Sequence[int],
        *,
        keep_cursor: bool = True,
        reset_summaries: bool | None = None,
        depths: Sequence[int] | None = None,
    ) -> None:
        """Show these UIDs, in this order.

        Args:
            uids: The folder's UIDs as displayed (sorted by the core).
            keep_cursor: Keep the cursor on the same message (and that message at the same
                place on the screen) if it is still listed, else on the same row. False puts
                the cursor on the first row: a new folder or new search results.
            reset_summaries: Forget held summaries and in-flight requests (the UIDs now belong
                to another folder). Defaults to `not keep_cursor`.
            depths: Optional thread depth of each row (same length as `uids`), indenting the
                subject.
        """
        old_uid = self.cursor_uid
        old_row = self._cursor
        screen_offset = old_row - int(self.scroll_offset.y)
        # The cursor on the first row, the top in view: follow the top (the newest mail).
        follow_top = keep_cursor and old_row == 0 and int(self.scroll_offset.y) == 0
        if reset_summaries if reset_summaries is not None else not keep_cursor:
            self._summaries.clear()
            self._requested.clear()
            self._held_tried.clear()
            self.held_source = None
            self._epoch += 1
            self.marked.clear()
            self.folded.clear()
        if depths is not None and len(depths) == len(uids):
            self._tree = (list(uids), list(depths))
            uids, depths = self._fold_rows(*self._tree)
            if old_uid is not None:
                old_uid = self._root_of.get(old_uid, old_uid)  # now under a folded line
        else:
            self._tree = None
            self._hidden = {}
            self._root_of = {}
            depths = None
        # A folder's UidArray (400 KB at 100,000 messages) is shown as it is; a list of ints
        # made from it would cost 3.6 MB more.
        old_uids = self._uids
        self._uids = uids if isinstance(uids, UidArray) else list(uids)
        self._depths = list(depths) if depths is not None else None
        inserted = _inserted(old_uids, self._uids) if keep_cursor and depths is None else None
        if inserted is not None:
            self._shift_cache(inserted, (old_row, self._hover))
        else:
            self._invalidate_all()
        count = len(self._uids)
        new_row = -1
        if count:
            if keep_cursor and old_uid is not None:
                try:
                    new_row = self._uids.index(old_uid)
                except ValueError:
                    new_row = min(max(old_row, 0), count - 1)
            else:
                new_row = 0
        if not keep_cursor:
            self.new_above = 0
        elif follow_top and new_row > 0:
            new_row = 0
        elif new_row > old_row >= 0:
            self.new_above += new_row - old_row  # rows came above the message in view
        self._cursor = new_row
        self._set_row_count(count)
        if keep_cursor and new_row >= 0 and 0 <= screen_offset < self._page_height():
            self.scroll_to(y=max(0, new_row - screen_offset), animate=False, immediate=True)
        elif not keep_cursor:
            self.scroll_to(y=0, animate=False, immediate=True)
        self._scroll_cursor_visible()
        self.refresh()
        self._schedule_request()
        if self.cursor_uid != old_uid:
            self.post_message(self.Highlighted(self, self.cursor_uid))

    def _fold_rows(self, uids: list[int], depths: list[int]) -> tuple[list[int], list[int]]:
        """The rows shown for these thread rows: a folded thread's root alone on its line."""
        self._hidden = {}
        self._root_of = {}
        shown: list[int] = []
        shown_depths: list[int] = []
        root: int | None = None
        for uid, depth in zip(uids, depths, strict=True):
            if depth == 0:
                root = uid if uid in self.folded else None
            elif root is not None:
                self._hidden.setdefault(root, []).append(uid)
                self._root_of[uid] = root
                continue
            shown.append(uid)
            shown_depths.append(depth)
        return shown, shown_depths

    def _thread_root(self) -> int | None:
        """The root UID of the thread under the cursor."""
        uid = self.cursor_uid
        if uid is None or self._tree is None:
            return None
        uids, depths = self._tree
        row = uids.index(uid)
        while row > 0 and depths[row] > 0:
            row -= 1
        return uids[row]

    def _refold(self, cursor_uid: int | None = None) -> None:
        if self._tree is None:
            return
        old = self.cursor_uid
        uids, depths = self._tree
        self.set_uids(uids, keep_cursor=True, reset_summaries=False, depths=depths)
        if cursor_uid is not None and cursor_uid != old:
            self.select_uid(cursor_uid)

    def _threads_off(self) -> bool:
        if self._tree is None:
            self.notify("Threads are off: T shows them", markup=False)
            return True
        return False

    def action_fold_thread(self) -> None:
        """Fold the thread under the cursor onto its first message's line, or unfold it."""
        if self._threads_off():
            return
        root = self._thread_root()
        if root is None:
            return
        if root in self.folded:
            self.folded.discard(root)
        else:
            uids, depths = self._tree or ([], [])
            row = uids.index(root)
            if row + 1 >= len(uids) or depths[row + 1] == 0:
                self.notify("A single message: nothing to fold", markup=False)
                return
            self.folded.add(root)
        self._refold(root)

    def action_fold_all(self) -> None:
        if self._threads_off() or self._tree is None:
            return
        uids, depths = self._tree
        self.folded = {
            uid
            for i, (uid, depth) in enumerate(zip(uids, depths, strict=True))
            if depth == 0 and i + 1 < len(uids) and depths[i + 1] > 0
        }
        self._refold(self._thread_root())

    def action_unfold_all(self) -> None:
        if self._threads_off():
            return
        self.folded.clear()
        self._refold()

    # -- two-key sequences and whole folded threads (issue 15) ---------------------------
    def action_key_prefix(self, prefix: str) -> None:
        """Wait for the second key of a sequence (`za`); the screen shows the prefix."""
        if prefix not in self.KEY_SEQUENCES:
            return
        self.pending_prefix = prefix
        self.post_message(self.PendingKey(self, prefix))

    def cancel_prefix(self, note: str = "") -> None:
        """Forget a waiting prefix key (focus lost, or a key that is not a sequence's)."""
        if self.pending_prefix is not None:
            self.pending_prefix = None
            self.post_message(self.PendingKey(self, None, note))

    async def on_key(self, event: events.Key) -> None:
        prefix = self.pending_prefix
        if prefix is None:
            return
        # The key after a prefix is the sequence's, whatever it is: never also its own binding
        # (`z` then `d` must not delete).
        event.stop()
        event.prevent_default()
        self.pending_prefix = None
        second = event.character if event.is_printable and event.character else event.key
        found = self.KEY_SEQUENCES[prefix].get(second)
        if found is None:
            keys = " ".join(prefix + k for k in self.KEY_SEQUENCES[prefix])
            shown = safe_line(second, max_len=20)
            note = "" if event.key == "escape" else f"{prefix} {shown}: not a key here ({keys})"
            self.post_message(self.PendingKey(self, None, note))
            return
        self.post_message(self.PendingKey(self, None))
        await self.run_action(found[0])

    def _on_blur_prefix(self) -> None:
        self.cancel_prefix()

    def thread_uids(self, uid: int) -> list[int]:
        """`uid` and, when its line is a folded thread, every message folded under it."""
        return [uid, *self._hidden.get(uid, ())]

    def is_folded_line(self, uid: int | None) -> bool:
        """True when `uid`'s line stands for a folded thread (more than one message)."""
        return uid is not None and bool(self._hidden.get(uid))

    def _newest_date(self, root: MessageSummary, hidden: list[int]) -> datetime | None:
        """The newest date of a folded thread, among the summaries held (the root's at least)."""
        newest = message_date(root)
        for uid in hidden:
            held = self._summaries.get(uid)
            when = message_date(held) if held is not None else None
            if when is not None and (newest is None or when > newest):
                newest = when
        return newest

    # -- end of the two-key sequences and whole folded threads --

    def remove_uids(self, uids: Iterable[int]) -> None:
        """Drop these UIDs from the list (deleted, moved); the cursor goes to the next row."""
        gone = set(uids)
        if not gone:
            return
        if self._tree is not None:
            # A folded root that goes unfolds its thread: its replies stay in sight.
            self.folded.difference_update(gone)
            rows = [(u, d) for u, d in zip(*self._tree, strict=True) if u not in gone]
            for uid in gone:
                self._summaries.pop(uid, None)
                self._requested.discard(uid)
            self.marked.difference_update(gone)
            self.set_uids(
                [u for u, _ in rows],
                keep_cursor=True,
                reset_summaries=False,
                depths=[d for _, d in rows],
            )
            return
        old = self._uids
        if not any(map(gone.__contains__, old)):
            return
        old_uid = self.cursor_uid
        cursor = self._cursor
        kept: Sequence[int]
        if isinstance(old, UidArray):
            kept = UidArray(u for u in old if u not in gone)
        else:
            kept = [u for u in old if u not in gone]
        # The cursor stays on its message, or on the first survivor after it.
        before = sum(1 for u in islice(old, max(cursor, 0)) if u not in gone)
        new_cursor = before if before < len(kept) else len(kept) - 1
        depths = self._depths
        self._uids = kept
        if depths is not None:
            self._depths = [d for u, d in zip(old, depths, strict=False) if u not in gone]
        for uid in gone:
            self._summaries.pop(uid, None)
            self._requested.discard(uid)
        self.marked.difference_update(gone)
        self._cursor = new_cursor
        self._invalidate_all()
        self._set_row_count(len(self._uids))
        self._scroll_cursor_visible()
        self.refresh()
        self._schedule_request()
        if self.cursor_uid != old_uid:
            self.post_message(self.Highlighted(self, self.cursor_uid))

    def update_summaries(
        self, summaries: Iterable[MessageSummary], *, epoch: int | None = None
    ) -> None:
        """Take summaries (new, or changed flags) and repaint their rows if on screen.

        Args:
            summaries: Summaries for any UIDs; those not listed are kept for later.
            epoch: The `SummariesWanted.epoch` they answer; stale answers are dropped.
        """
        if epoch is not None and epoch != self._epoch:
            return
        changed: set[int] = set()
        store = self._summaries
        for summary in summaries:
            uid = summary.uid
            store[uid] = summary
            store.move_to_end(uid)
            self._requested.discard(uid)
            changed.add(uid)
        if not changed:
            return
        evicted = False
        while len(store) > self._summary_limit:
            store.popitem(last=False)
            evicted = True
        self._refresh_uids(changed)
        if evicted:
            self._schedule_request()

    def forget_requested(self, uids: Iterable[int]) -> None:
        """These requests failed: ask again when the rows are next on screen."""
        self._requested.difference_update(uids)
        self._schedule_request()

    def refresh_uids(self, uids: Iterable[int]) -> None:
        """Repaint the rows of these UIDs (after changing `marked` or a summary in place)."""
        self._refresh_uids(set(uids))

    def select_uid(self, uid: int) -> bool:
        """Put the cursor on `uid` (scrolling it into view); False when it is not listed.
        A message under a folded line unfolds its thread."""
        root = self._root_of.get(uid)
        if root is not None:
            self.folded.discard(root)
            self._refold()
        try:
            row = self._uids.index(uid)
        except ValueError:
            return False
        self._move_cursor(row)
        return True

    def toggle_mark(self) -> None:
        """Mark or unmark the message under the cursor, then move to the next one."""
        uid = self.cursor_uid
        if uid is None:
            return
        thread = self.thread_uids(uid)  # a folded line marks its whole thread (issue 15)
        if uid in self.marked:
            self.marked.difference_update(thread)
        else:
            self.marked.update(thread)
        self._refresh_row(self._cursor)
        self.post_message(self.MarksChanged(self, len(self.marked)))
        if self._cursor < len(self._uids) - 1:
            self._move_cursor(self._cursor + 1)

    def clear_marks(self) -> None:
        """Unmark everything."""
        if self.marked:
            self.marked.clear()
            self._invalidate_all()
            self.refresh()
            self.post_message(self.MarksChanged(self, 0))

    # -- actions ------------------------------------------------------------------------------
    def action_cursor_down(self) -> None:
        self._move_cursor(self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._move_cursor(self._cursor - 1)

    def action_first(self) -> None:
        self._move_cursor(0)

    def action_last(self) -> None:
        self._move_cursor(len(self._uids) - 1)

    def action_page_down(self) -> None:
        """Cursor and view one page down, like mutt."""
        page = self._page_height()
        self._move_cursor(self._cursor + page, scroll_by=page)

    def action_page_up(self) -> None:
        page = self._page_height()
        self._move_cursor(self._cursor - page, scroll_by=-page)

    def action_open(self) -> None:
        uid = self.cursor_uid
        if uid is not None:
            self.post_message(self.Opened(self, uid))

    def action_toggle_mark(self) -> None:
        self.toggle_mark()

    # -- cursor -------------------------------------------------------------------------------
    def _page_height(self) -> int:
        return max(1, self.scrollable_content_region.height)

    def _content_width(self) -> int:
        return max(1, self.scrollable_content_region.width)

    def _move_cursor(self, row: int, *, scroll_by: int = 0) -> None:
        count = len(self._uids)
        if not count:
            return
        row = min(max(row, 0), count - 1)
        if scroll_by:
            self.scroll_to(y=self.scroll_offset.y + scroll_by, animate=False, immediate=True)
        if row == self._cursor:
            self._scroll_cursor_visible()
            return
        old = self._cursor
        self._cursor = row
        self._refresh_row(old)
        self._refresh_row(row)
        self._scroll_cursor_visible()
        self.post_message(self.Highlighted(self, self._uids[row]))

    def _scroll_cursor_visible(self) -> None:
        if self._cursor < 0:
            return
        top = int(self.scroll_offset.y)
        height = self._page_height()
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, immediate=True)
        elif self._cursor >= top + height:
            self.scroll_to(y=self._cursor - height + 1, animate=False, immediate=True)
        else:
            return
        if not self._cursor_on_screen() and not self._scroll_retry:
            # Not laid out for the new length yet (End just after the list was filled, at
            # start-up): the scroll was clamped; once more after the next layout.
            self._scroll_retry = True
            self.call_after_refresh(self._retry_scroll)

    def _cursor_on_screen(self) -> bool:
        top = int(self.scroll_offset.y)
        return top <= self._cursor < top + self._page_height()

    def _retry_scroll(self) -> None:
        self._scroll_retry = False
        if self._cursor >= 0 and not self._cursor_on_screen():
            y = max(0, min(int(self.scroll_offset.y), self._cursor))
            if self._cursor >= y + self._page_height():
                y = self._cursor - self._page_height() + 1
            self.scroll_to(y=y, animate=False, immediate=True)

    # -- repaint bookkeeping ------------------------------------------------------------------
    def _shift_cache(self, inserted: Inserted, stale: tuple[int, ...]) -> None:
        """New mail came among the first rows (on top, or after the rows of the top's second):
        the rows drawn are the same messages a few rows lower, so their strips are kept (a
        refresh a second under delivery redrew every row before); the cursor's and the
        hover's old rows are drawn again. Only those within a page of the view are kept:
        the rest, pushed further down by each new mail, piled up to the cache's 1,024 strips
        (seven caches each) under steady delivery (issue 21's soak)."""
        page = self._page_height()
        top = int(self.scroll_offset.y)
        near = range(max(0, top - page), top + 2 * page)
        kept = [
            (new_row, strip)
            for (row, generation), strip in (
                (k, self._cache.get(k)) for k in list(self._cache.keys())
            )
            if generation == self._generation
            and row not in stale
            and strip is not None
            and (new_row := inserted.row(row)) in near
        ]
        self._cache.clear()
        for row, strip in kept:
            self._cache.set((row, self._generation), strip)

    def _set_row_count(self, count: int) -> None:
        """The scrollable height is now `count` rows.

        Setting `virtual_size` lays out the whole screen (Textual's reactive has layout=True),
        which then repaints every widget: at a refresh a second under delivery that was most
        of the CPU (issue 21). A new height at the same width changes only the scrollbar's
        thumb, so it is set without a layout, as Textual's own `_size_updated(layout=False)`
        does; the scrollbar appearing or going (its reactive) still lays out."""
        size = Size(self._content_width(), count)
        old = self.virtual_size
        if size == old:
            return
        if not self.is_mounted or old.width != size.width:
            self.virtual_size = size
            return
        self.set_reactive(MessageList.virtual_size, size)
        if size.height > old.height and self.show_vertical_scrollbar:
            bar = self.vertical_scrollbar
            before = _thumb(bar)
            bar.set_reactive(ScrollBar.window_virtual_size, size.height)
            if _thumb(bar) == before:
                # More rows, the scrollbar drawn the same (its thumb moves by eighths of a
                # cell, and at the top of a long list it does not move): not drawn again,
                # which Textual's `_scroll_update` does, every line of it, each new mail.
                return
        self._scroll_update(size)

    def _invalidate_all(self) -> None:
        self._generation += 1
        self._cache.clear()

    def _refresh_row(self, row: int) -> None:
        if row < 0:
            return
        self._cache.discard((row, self._generation))
        top = int(self.scroll_offset.y)
        if top <= row < top + self._page_height():
            self.refresh_line(row)

    def _refresh_uids(self, uids: set[int]) -> None:
        if not uids:
            return
        roots = {self._root_of[u] for u in uids if u in self._root_of}
        if roots:
            uids = uids | roots  # a folded line counts its hidden unread
        uid_list = self._uids
        count = len(uid_list)
        # Only cached rows and visible rows can show a stale line: check those, not the folder.
        for row, generation in list(self._cache.keys()):
            if generation == self._generation and row < count and uid_list[row] in uids:
                self._cache.discard((row, generation))
        top = int(self.scroll_offset.y)
        for row in range(top, min(count, top + self._page_height())):
            if uid_list[row] in uids:
                self._cache.discard((row, self._generation))
                self.refresh_line(row)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._invalidate_all()

    def _on_focus(self, event: events.Focus) -> None:
        self._styles.clear()
        self._invalidate_all()
        self.refresh()

    def _on_blur(self, event: events.Blur) -> None:
        self._on_blur_prefix()
        self._styles.clear()
        self._invalidate_all()
        self.refresh()

    def _on_resize(self, event: events.Resize) -> None:
        self._cache.grow(max(1024, event.size.height * 4))
        self._invalidate_all()
        self.virtual_size = Size(self._content_width(), len(self._uids))
        self._scroll_cursor_visible()
        self._schedule_request()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self.new_above and round(new_value) == 0:
            self.new_above = 0  # the user is at the top: the new mail is in view
            self.refresh()
        if round(old_value) != round(new_value):
            self._schedule_request()

    def watch_sent_mode(self, sent_mode: bool) -> None:
        self._invalidate_all()
        self.refresh()

    # -- asking for summaries -----------------------------------------------------------------
    def _schedule_request(self) -> None:
        if not self._request_scheduled and self.is_attached:
            self._request_scheduled = True
            self.call_after_refresh(self._request_visible)

    def _request_visible(self) -> None:
        """Post `SummariesWanted` for the rows on screen and one screen above and below."""
        self._request_scheduled = False
        count = len(self._uids)
        if not count:
            return
        height = self._page_height()
        top = min(max(0, int(self.scroll_offset.y)), count - 1)
        bottom = min(count, top + height)
        rows = [
            *range(top, bottom),
            *range(bottom, min(count, bottom + height)),
            *range(top - 1, max(-1, top - height - 1), -1),
        ]
        have = self._summaries
        asked = self._requested
        wanted: list[int] = []
        for row in rows:
            uid = self._uids[row]
            if uid not in have and uid not in asked:
                wanted.append(uid)
            for hidden in self._hidden.get(uid, ()):  # a folded line counts their unread
                if hidden not in have and hidden not in asked:
                    wanted.append(hidden)
        if wanted and self.held_source is not None:
            # Rows just off screen (new mail above a cursor further down) may be at hand:
            # taken now, not asked of the screen (a worker and a progress job each).
            for summary in self.held_source(wanted):
                have[summary.uid] = summary
            while len(have) > self._summary_limit:
                have.popitem(last=False)
            wanted = [uid for uid in wanted if uid not in have]
        if wanted:
            asked.update(wanted)
            self.post_message(self.SummariesWanted(self, wanted, self._epoch))

    # -- rendering ----------------------------------------------------------------------------
    def _style(self, name: str) -> Style:
        style = self._styles.get(name)
        if style is None:
            if name == "message-list--cursor":
                style = self.get_component_rich_style(name, partial=False)
            else:
                style = theme_style(self, name)
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        row = int(self.scroll_offset.y) + y
        width = self.size.width
        if y == 0 and self.new_above and row != self._cursor:
            return self._new_above_strip(width)
        key = (row, self._generation)
        strip = self._cache.get(key)
        if strip is None:
            if self.held_source is not None and row < len(self._uids):
                self._fill_held(row)
            strip = self._render_row(row, width)
            if row < len(self._uids):
                self._cache[key] = strip
        return strip

    def _new_above_strip(self, width: int) -> Strip:
        text = Text(safe_line(f" ↑ {self.new_above:,} new (g: to the top)"), style="bold")
        text.truncate(width, pad=True)
        style = self.get_component_rich_style("message-list--flags")
        return Strip(text.render(self.app.console), width).apply_style(style)

    def _fill_held(self, row: int) -> None:
        """`row` has no summary yet: take those at hand for it and the rest of the page."""
        uid = self._uids[row]
        if uid in self._summaries or uid in self._held_tried or self.held_source is None:
            return
        end = min(len(self._uids), row + self._page_height())
        wanted = [u for u in self._uids[row:end] if u not in self._summaries]
        self._held_tried.update(wanted)
        if len(self._held_tried) > 4 * self._summary_limit:
            self._held_tried = set(wanted)
        store = self._summaries
        for summary in self.held_source(wanted):
            store[summary.uid] = summary
            self._requested.discard(summary.uid)
        while len(store) > self._summary_limit:
            store.popitem(last=False)

    def _format_date(self, when: datetime | None, *, compact: bool) -> str:
        if self.date_formats is None or when is None or compact:
            return format_date(when, self.now(), compact=compact)
        now = self.now()
        try:
            local = when.astimezone(now.tzinfo)
            today, this_year, older = self.date_formats
            if local.date() == now.date():
                return local.strftime(today)
            return local.strftime(this_year if local.year == now.year else older)
        except (ValueError, OverflowError, OSError):
            return format_date(when, now, compact=compact)

    def _columns(self, width: int) -> tuple[int, int, int, int]:
        """Widths of the date, address, subject and size columns for this content width.

        Wide lists show full dates and sizes; below 70 cells dates shrink to six cells and the
        size goes; the subject always keeps what is left.
        """
        if width >= 70:
            date_w, size_w, addr_w = 10, 6, min(30, max(10, width // 4))
        elif width >= 50:
            date_w, size_w, addr_w = 6, 0, min(20, max(10, width // 4))
        else:
            date_w, size_w, addr_w = 6, 0, max(6, width // 4)
        fixed = 6 + date_w + 1 + addr_w + 1 + (size_w + 1 if size_w else 0)
        subject_w = max(1, width - fixed)
        return date_w, addr_w, subject_w, size_w

    def _render_row(self, row: int, width: int) -> Strip:
        base = self._styles.get("")
        if base is None:
            base = self._styles[""] = self.rich_style
        if self._width_generation != self._generation:
            self._width_generation = self._generation
            self._content_w = self._content_width()
        content_width = min(width, self._content_w)
        if row >= len(self._uids):
            if row == 0:
                text = Text(f" {self.empty_text}", end="")
                text.stylize(base + self._style("message-list--empty"))
                text.truncate(content_width, pad=True)
                return Strip(text.render(self.app.console), content_width).extend_cell_length(
                    width, base
                )
            return Strip.blank(width, base)
        self.render_count += 1
        uid = self._uids[row]
        summary = self._summaries.get(uid)
        date_w, addr_w, subject_w, size_w = self._columns(content_width)
        text = Text(no_wrap=True, end="")
        depth = self._depths[row] if self._depths is not None else 0
        if summary is None:
            flags = "*" if uid in self.marked else " "
            text.append(f"{flags:<5} ", self._style("message-list--flags"))
            text.append(" " * (date_w + 1))
            text.append(_cell("…", addr_w))
            text.append(" ")
            text.append(_cell("loading…", subject_w, self._style("message-list--placeholder")))
            if size_w:
                text.append(" " + " " * size_w)
        else:
            hidden = self._hidden.get(uid)
            unread, label = self._fold_label(summary, hidden) if hidden else (0, "")
            flags = self._flags(summary)
            if unread and flags[1] == " ":
                flags = flags[0] + "●" + flags[2:]  # unread mail under the folded line
            text.append(flags, self._style("message-list--flags"))
            text.append(" ")
            # A folded line shows its thread's newest date (issue 15).
            when = self._newest_date(summary, hidden) if hidden else message_date(summary)
            date = self._format_date(when, compact=date_w < 10)
            text.append(_cell(date, date_w, self._style("message-list--date")))
            text.append(" ")
            text.append(_cell(self._who(summary), addr_w, self._style("message-list--address")))
            text.append(" ")
            subject = safe_line(decode_header_text(summary.envelope.subject)) or "(no subject)"
            if depth > 0:
                indent = "  " * min(depth - 1, 10) + "└ "
                text.append(indent[:subject_w], self._style("message-list--thread"))
                subject_w = max(0, subject_w - len(indent))
            if label:
                text.append(label[:subject_w], self._style("message-list--thread"))
                subject_w = max(0, subject_w - len(label))
            if subject_w:
                text.append(_cell(subject, subject_w))
            if size_w:
                text.append(" ")
                text.append(
                    human_size(summary.size).rjust(size_w)[:size_w],
                    self._style("message-list--size"),
                )
            if not summary.seen or unread:
                text.stylize(self._style("message-list--unread"))
            if summary.flagged:
                text.stylize(self._style("message-list--flagged"))
            if Flag.DELETED in summary.flags:  # marked for expunge ($), by us or another client
                text.stylize(self._style("message-list--deleted"))
        if uid in self.marked:
            text.stylize(self._style("message-list--marked"))
        if row == self._hover and row != self._cursor:
            text.stylize(self._style("message-list--hover"))
        if row == self._cursor:
            text.stylize(self._style("message-list--cursor"))
        text.truncate(content_width, pad=True)
        text.stylize_before(base)  # Text.render ignores its own style; the base must be a span
        strip = Strip(text.render(self.app.console), content_width)
        return strip.extend_cell_length(width, base)

    def _fold_label(self, root: MessageSummary, hidden: list[int]) -> tuple[int, str]:
        """The unread count of a folded thread and its "+29 (3 unread) " label; the count
        says "?" while some of the hidden messages' summaries are still on their way."""
        held = [self._summaries.get(u) for u in hidden]
        unread = sum(1 for s in held if s is not None and not s.seen) + (not root.seen)
        known = "" if all(s is not None for s in held) else "?"
        if unread or known:
            return unread, f"+{len(hidden)} ({unread}{known} unread) "
        return 0, f"+{len(hidden)} "

    def _flags(self, summary: MessageSummary) -> str:
        return "".join(
            (
                "*" if summary.uid in self.marked else " ",
                "D" if Flag.DELETED in summary.flags else ("●" if not summary.seen else " "),
                "!" if summary.flagged else " ",
                "r" if summary.answered else " ",
                "@" if summary.has_attachment else " ",
            )
        )

    def _who(self, summary: MessageSummary) -> str:
        envelope = summary.envelope
        if self.sent_mode:
            shown = addresses_text(envelope.to or envelope.cc or envelope.bcc)
            return "To: " + safe_line(shown or "?")
        return safe_line(addresses_text(envelope.from_ or envelope.sender) or "?")

    # -- mouse --------------------------------------------------------------------------------
    def _row_at(self, event: events.MouseEvent) -> int | None:
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        row = int(self.scroll_offset.y) + offset.y
        return row if 0 <= row < len(self._uids) else None

    async def _on_click(self, event: events.Click) -> None:
        row = self._row_at(event)
        if row is None:
            return
        event.stop()
        was_cursor = row == self._cursor
        self._move_cursor(row)
        if event.chain >= 2 or was_cursor:
            self.action_open()

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        row = self._row_at(event)
        new = -1 if row is None else row
        if new != self._hover:
            old = self._hover
            self._hover = new
            self._refresh_row(old)
            self._refresh_row(new)

    def _on_leave(self, event: events.Leave) -> None:
        if self._hover >= 0:
            old = self._hover
            self._hover = -1
            self._refresh_row(old)


def _cell(value: str, width: int, style: Style | str = "") -> Text:
    """`value` cut or padded to exactly `width` cells (wide characters counted right)."""
    text = Text(value, style=style, no_wrap=True, end="")
    text.truncate(width, overflow="ellipsis", pad=True)
    return text
