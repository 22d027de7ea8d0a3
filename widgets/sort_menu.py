"""The sort menu (`o`): pick the list's order and its direction; dismisses with the choice.

One line per order, each on a key (mutt's `o` prompt, as a list): a key or Enter chooses,
`r` turns the direction round first. Each order starts in its natural direction (newest and
biggest first, names and subjects A to Z); choosing the order already in use keeps its
direction unless `r` was pressed. Dismisses with `SortChoice`, or None on Escape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from widgets.dialogs import DIALOG_CSS


@dataclass(frozen=True)
class SortChoice:
    """What the menu answered: an order name ("date", "from", ...) and its direction."""

    sort: str
    reverse: bool


#: (order, key, label) as the menu lists them.
ENTRIES: tuple[tuple[str, str, str], ...] = (
    ("date", "d", "Date sent"),
    ("arrival", "a", "Arrival"),
    ("from", "f", "From"),
    ("to", "t", "To"),
    ("subject", "s", "Subject"),
    ("size", "z", "Size"),
    ("thread-last-date", "l", "Threads by newest message"),
)

_DIRECTIONS = {
    "date": ("oldest first", "newest first"),
    "arrival": ("oldest first", "newest first"),
    "from": ("A to Z", "Z to A"),
    "to": ("A to Z", "Z to A"),
    "subject": ("A to Z", "Z to A"),
    "size": ("smallest first", "biggest first"),
    "thread-last-date": ("oldest first", "newest first"),
}


def direction_words(sort: str, reverse: bool) -> str:
    """How an order runs, in words: "newest first", "A to Z"."""
    words = _DIRECTIONS.get(sort, ("ascending", "descending"))
    return words[int(reverse)]


class SortMenu(ModalScreen[SortChoice | None]):
    """Choose the list's order; `r` reverses the direction of the highlighted order."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("r", "flip", "Reverse", id="sort.reverse"),
    ]

    DEFAULT_CSS = (
        "SortMenu {"
        + DIALOG_CSS
        + """
    & > Vertical { width: 66; }
    & OptionList { height: auto; max-height: 12; }
    """
        + "}"
    )

    def __init__(
        self, current: str, reverse: bool, defaults: Mapping[str, bool], *, threaded: bool = False
    ) -> None:
        """Args:
        current: The order in use (highlighted first).
        reverse: Its direction now.
        defaults: The natural direction of each order (app.store.threads.DEFAULT_REVERSE).
        threaded: Threads are shown (the title says the order applies to threads).
        """
        super().__init__()
        self.current = current
        self.defaults = dict(defaults)
        self.threaded = threaded
        self._reverse = {name: self.defaults.get(name, False) for name, _, _ in ENTRIES}
        self._reverse[current] = reverse

    def compose(self) -> ComposeResult:
        title = "Sort threads by" if self.threaded else "Sort by"
        with Vertical():
            yield Label(Text(title), classes="dialog-title", id="sort-title")
            yield OptionList(*self._options(), id="sort-options")
            yield Static(
                Text("key / Enter: choose   r: reverse   Esc: cancel", end=""),
                classes="dialog-hint",
            )

    def _options(self) -> Sequence[Option]:
        out = []
        for name, key, label in ENTRIES:
            line = Text(no_wrap=True, end="")
            line.append(f"{key}  ", style="bold")
            line.append(f"{label:<27}")
            line.append(direction_words(name, self._reverse[name]), style="italic")
            if name == self.current:
                line.append("  (now)", style="dim")
            out.append(Option(line, id=name))
        return out

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        names = [name for name, _, _ in ENTRIES]
        options.highlighted = names.index(self.current) if self.current in names else 0
        options.focus()

    def _highlighted(self) -> str:
        index = self.query_one(OptionList).highlighted
        return ENTRIES[index if index is not None else 0][0]

    def action_flip(self) -> None:
        name = self._highlighted()
        self._reverse[name] = not self._reverse[name]
        options = self.query_one(OptionList)
        index = options.highlighted
        options.clear_options()
        options.add_options(list(self._options()))
        options.highlighted = index

    def on_key(self, event: events.Key) -> None:
        for name, key, _ in ENTRIES:
            if event.character == key:
                event.stop()
                self.dismiss(SortChoice(name, self._reverse[name]))
                return

    @on(OptionList.OptionSelected, "#sort-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        name = ENTRIES[event.option_index][0]
        self.dismiss(SortChoice(name, self._reverse[name]))

    def action_cancel(self) -> None:
        self.dismiss(None)
