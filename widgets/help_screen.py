"""The `?` help screen, generated from the bindings active where it was opened.

It reads `Screen.active_bindings` of the screen underneath (the focused widget, its ancestors,
the screen and the App, after any keymap was applied), so it always shows the keys the user
really has, grouped by where they apply.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

_GROUP_NAMES = {
    "MessageList": "Message list",
    "FolderTree": "Folders",
    "MessageView": "Viewer",
    "BodyView": "Viewer body",
    "AttachmentList": "Attachments",
    "QueryInput": "Search",
    "MainScreen": "Messages and folders",
    "ComposeScreen": "Compose",
    "FileViewerScreen": "Message file",
}


def _group_name(node: DOMNode) -> str:
    from textual.app import App

    if isinstance(node, App):
        return "Everywhere"
    name = type(node).__name__
    return _GROUP_NAMES.get(name, name)


def key_sequences(node: DOMNode, action: str, shown: str) -> list[tuple[str, str, str]]:
    """(action, description, keys) of each two-key sequence a prefix binding starts: a node's
    `KEY_SEQUENCES` (the message list's `za` `zM` `zR`), `shown` being the prefix's key."""
    if not action.startswith("key_prefix("):
        return []
    prefix = action[len("key_prefix(") :].rstrip(")").strip("'\"")
    table: dict[str, dict[str, tuple[str, str]]] = getattr(node, "KEY_SEQUENCES", {})
    return [(act, desc, shown + second) for second, (act, desc) in table.get(prefix, {}).items()]


def collect_bindings(screen: Screen[Any]) -> list[tuple[str, list[tuple[str, str]]]]:
    """(group, [(keys, description)]) for every described binding active on `screen`.

    Several keys for the same action of the same node are shown together ("j, down").
    """
    app = screen.app
    groups: dict[str, dict[tuple[int, str], tuple[list[str], str]]] = {}
    order: list[str] = []
    for key, active in screen.active_bindings.items():
        binding = active.binding
        description = binding.description or ""
        if description and binding.tooltip:  # the longer story, where a binding tells one
            description = f"{description}: {binding.tooltip}"
        if not description:
            continue
        group = _group_name(active.node)
        if group not in groups:
            groups[group] = {}
            order.append(group)
        shown = app.get_key_display(binding) if binding.key == key else key
        sequences = key_sequences(active.node, binding.action, shown)
        for action, seq_description, seq_keys in sequences:  # `za` beside the action's keys
            keys, _ = groups[group].setdefault((id(active.node), action), ([], seq_description))
            if seq_keys not in keys:
                keys.insert(0, seq_keys)
        if sequences:
            continue
        slot = (id(active.node), binding.action)
        keys, _ = groups[group].setdefault(slot, ([], description))
        if shown not in keys:
            keys.append(shown)
    result: list[tuple[str, list[tuple[str, str]]]] = []
    for group in order:
        rows = [(", ".join(keys), description) for keys, description in groups[group].values()]
        result.append((group, rows))
    return result


class HelpScreen(ModalScreen[None]):
    """A scrollable list of the active key bindings; any of Escape, q or ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
        background: $background 60%;
        & > Vertical {
            width: 90;
            max-width: 95%;
            height: 90%;
            background: $panel;
            border: thick $primary;
            padding: 0 1;
        }
        & #help-title { text-style: bold; color: $text-primary; height: 1; margin-bottom: 1; }
        & VerticalScroll { height: 1fr; }
        & #help-hint { color: $text-muted; height: 1; }
    }
    """

    def __init__(self, target: Screen[Any] | None = None) -> None:
        """Args:
        target: The screen whose bindings to list (default: the active screen when shown).
        """
        super().__init__()
        self._target = target

    def compose(self) -> ComposeResult:
        target = self._target if self._target is not None else self.app.screen
        with Vertical():
            yield Static(Text("Keys", end=""), id="help-title")
            with VerticalScroll():
                yield Static(self._table(target), id="help-table")
            yield Static(Text("Esc, q or ?: close   ↑↓ scroll", end=""), id="help-hint")

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def _table(self, target: Screen[Any]) -> Table:
        table = Table.grid(padding=(0, 2), expand=True)
        table.add_column("keys", no_wrap=True, min_width=12, style="bold")
        table.add_column("action", ratio=1)
        for index, (group, rows) in enumerate(collect_bindings(target)):
            if index:
                table.add_row("", "")
            table.add_row(Text(group, style="bold underline", end=""), "")
            for keys, description in rows:
                table.add_row(Text(keys, end=""), Text(description, end=""))
        return table

    def action_close(self) -> None:
        self.dismiss(None)
