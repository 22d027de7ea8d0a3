"""An address field that offers the matching known addresses in a list under it.

Typing two characters of the last address (after the last comma) lists up to eight known
addresses whose name, a word of the name, or address starts with them (any case); Up/Down choose,
Tab or Enter insert the chosen one as it is known ("Ana García <ana@example.org>", its own case,
not the typed one), Escape closes the list. With the list closed the keys do what they always do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.binding import Binding, BindingType
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

from widgets.safe import safe_line

MIN_TYPED = 2
MAX_CANDIDATES = 8


def address_candidates(known: Sequence[str], typed: str, limit: int = MAX_CANDIDATES) -> list[str]:
    """Known "Name <address>" strings matching `typed`, in the order known (most used first).

    A match: the whole text, a word of the name, or the address starts with `typed`, ignoring
    case.
    """
    needle = typed.strip().lower()
    if len(needle) < MIN_TYPED:
        return []
    found: list[str] = []
    for candidate in known:
        lowered = candidate.lower()
        name, _, address = lowered.rpartition("<")
        address = address.rstrip(">").strip()
        words = name.replace('"', " ").split()
        matches = (
            lowered.startswith(needle)
            or address.startswith(needle)
            or any(word.startswith(needle) for word in words)
        )
        if matches and candidate not in found:
            found.append(candidate)
            if len(found) >= limit:
                break
    return found


class AddressCandidates(OptionList, can_focus=False):
    """The list under an address field; the field keeps the focus and drives it."""

    DEFAULT_CSS = """
    AddressCandidates {
        overlay: screen;
        position: absolute;
        display: none;
        width: 60;
        height: auto;
        max-height: 10;
        border: round $primary;
        background: $panel;
        padding: 0 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """


class AddressInput(Input):
    """A comma-separated address list with a completion list of the `known` addresses."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "candidate(1)", "Next address", id="address.next", show=False),
        Binding("up", "candidate(-1)", "Previous address", id="address.previous", show=False),
        Binding("tab,enter", "accept", "Insert address", id="address.accept", show=False),
        Binding("escape", "close_candidates", "Close the list", id="address.close", show=False),
    ]

    def __init__(self, value: str = "", *, known: list[str], **kwargs: object) -> None:
        super().__init__(value, **kwargs)  # type: ignore[arg-type]
        self.known = known
        """The known addresses, most used first (the caller may refill this very list)."""
        self.candidates: list[str] = []
        self._popup = AddressCandidates()

    def on_mount(self) -> None:
        self.screen.mount(self._popup)

    def on_unmount(self) -> None:
        if self._popup.is_mounted:
            self._popup.remove()

    @property
    def showing(self) -> bool:
        """The completion list is open."""
        return bool(self.candidates) and self._popup.display

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("candidate", "accept", "close_candidates"):
            return self.showing  # closed: the key goes on (Tab moves on, Escape closes...)
        return super().check_action(action, parameters)

    # -- what is typed ------------------------------------------------------------------------
    def _typed(self) -> tuple[str, str]:
        """(everything before the last address, the last address as typed so far)."""
        head, comma, last = self.value.rpartition(",")
        stripped = last.lstrip()
        return self.value[: len(self.value) - len(stripped)], stripped

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        if event.input is not self:
            return
        self.update_candidates()

    def update_candidates(self) -> None:
        """List the known addresses matching what is typed at the end (or close the list)."""
        _, typed = self._typed()
        if not self.has_focus or self.cursor_position < len(self.value):
            self.candidates = []
        else:
            self.candidates = address_candidates(self.known, typed)
            if len(self.candidates) == 1 and self.candidates[0] == typed:
                self.candidates = []  # already inserted
        popup = self._popup
        if not self.candidates:
            popup.display = False
            return
        popup.clear_options()
        popup.add_options(Option(Text(safe_line(c), no_wrap=True, end="")) for c in self.candidates)
        popup.highlighted = 0
        region = self.region
        popup.styles.offset = (region.x, region.y + region.height)
        popup.styles.width = max(20, min(70, region.width))
        popup.display = True

    def on_blur(self, event: events.Blur) -> None:
        self._close()

    def _close(self) -> None:
        self.candidates = []
        self._popup.display = False

    # -- keys -------------------------------------------------------------------------------
    def action_candidate(self, step: int) -> None:
        popup = self._popup
        if step > 0:
            popup.action_cursor_down()
        else:
            popup.action_cursor_up()

    def action_accept(self) -> None:
        index = self._popup.highlighted
        if not self.candidates:
            return
        chosen = self.candidates[index if index is not None else 0]
        head, _ = self._typed()
        self.value = head + chosen
        self.cursor_position = len(self.value)
        self._close()

    def action_close_candidates(self) -> None:
        self._close()
