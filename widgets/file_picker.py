"""A modal file picker for attachments: a folder tree, Enter attaches, several files a visit.

It opens at the folder used last (kept for the process) or $HOME. Each file chosen is checked
for readability at once and handed to `on_pick`, so the compose screen lists it while the
picker stays open for the next one; Escape closes and dismisses with every file attached.
File and folder names come from the disk and are untrusted: they are drawn only as sanitized
`Text` (Textual's DirectoryTree passes control characters through).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import ClassVar

from rich.text import Text, TextType
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Label, Static

from widgets.dialogs import DIALOG_CSS
from widgets.path_input import describe_file, unreadable_reason
from widgets.safe import safe_line, safe_text

__all__ = ["AttachTree", "FilePicker", "start_folder"]

PickHandler = Callable[[Path], str | None]
"""Called with each readable file chosen; returns an error to show (e.g. already attached)."""

_last_folder: Path | None = None


def start_folder() -> Path:
    """Where the picker opens: the folder used last in this run, else $HOME, else the cwd."""
    for candidate in (_last_folder, Path.home() if _home_known() else None):
        if candidate is not None and candidate.is_dir():
            return candidate
    return Path.cwd()


def _home_known() -> bool:
    try:
        Path.home()
    except (RuntimeError, KeyError):
        return False
    return True


def remember_folder(folder: Path) -> None:
    """Note the folder a file was attached from, for the next picker or path prompt."""
    global _last_folder
    _last_folder = folder


class AttachTree(DirectoryTree):
    """A DirectoryTree whose labels are sanitized Text and whose dot-files hide by default."""

    def __init__(self, path: str | Path, *, show_hidden: bool = False, **kwargs: object) -> None:
        self.show_hidden = show_hidden
        super().__init__(path, **kwargs)  # type: ignore[arg-type]

    def process_label(self, label: TextType) -> Text:
        plain = label.plain if isinstance(label, Text) else str(label)
        return Text(safe_line(plain), no_wrap=True, end="")

    def filter_paths(self, paths: Iterable[Path]) -> Iterable[Path]:
        if self.show_hidden:
            return paths
        return [p for p in paths if not p.name.startswith(".")]


class FilePicker(ModalScreen[list[Path]]):
    """Pick files to attach; dismisses with the list attached during this visit."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Done", id="picker.close"),
        Binding("backspace", "parent", "Up a folder", id="picker.parent"),
        Binding("full_stop", "toggle_hidden", "Hidden files", id="picker.hidden"),
        Binding("tilde", "home", "Home", id="picker.home"),
    ]

    DEFAULT_CSS = (
        "FilePicker {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 100; height: 90%; max-height: 90%; padding: 0 1; }
        & .dialog-title { margin-bottom: 0; }
        & #picker-folder { height: 1; color: $text-muted; }
        & AttachTree { height: 1fr; }
        & #picker-status { height: auto; max-height: 4; }
        & #picker-error { height: auto; color: $error; }
        & .dialog-hint { height: 1; }
    }"""
    )

    def __init__(self, start: Path | None = None, *, on_pick: PickHandler | None = None) -> None:
        """Args:
        start: The folder to show first (default: `start_folder()`).
        on_pick: Receives each readable file chosen; its error string, if any, is shown.
        """
        super().__init__()
        self.start = start if start is not None and start.is_dir() else start_folder()
        self.on_pick = on_pick
        self.picked: list[Path] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Attach files", end=""), classes="dialog-title")
            yield Static(safe_text(str(self.start), single_line=True), id="picker-folder")
            yield AttachTree(self.start, id="picker-tree")
            yield Static(Text("", end=""), id="picker-status")
            yield Static(Text("", end=""), id="picker-error")
            yield Static(
                Text(
                    "Enter: attach / open folder   Backspace: up   .: hidden files   "
                    "~: home   Esc: done",
                    end="",
                ),
                classes="dialog-hint",
            )

    @property
    def folder_tree(self) -> AttachTree:
        return self.query_one(AttachTree)

    def on_mount(self) -> None:
        self.folder_tree.focus()

    def _show_folder(self, folder: Path) -> None:
        self.query_one("#picker-folder", Static).update(safe_text(str(folder), single_line=True))

    def _set_root(self, folder: Path) -> None:
        tree = self.folder_tree
        tree.path = folder
        self._show_folder(folder)

    def _error(self, text: str) -> None:
        self.query_one("#picker-error", Static).update(safe_text(text))

    @on(DirectoryTree.FileSelected)
    def _file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        self.pick(event.path)

    def pick(self, path: Path) -> bool:
        """Attach `path` if it can be read; the reason is shown when not. True when attached."""
        reason = unreadable_reason(path)
        if reason is not None:
            self._error(f"Cannot attach {path.name}: {reason}")
            return False
        if path in self.picked:
            self._error(f"{path.name} is attached already")
            return False
        if self.on_pick is not None:
            refused = self.on_pick(path)
            if refused:
                self._error(refused)
                return False
        self.picked.append(path)
        remember_folder(path.parent)
        self._error("")
        status = Text("Attached: ", style="bold", end="")
        for index, item in enumerate(self.picked):
            if index:
                status.append(", ")
            status.append_text(describe_file(item))
        self.query_one("#picker-status", Static).update(status)
        return True

    def action_parent(self) -> None:
        folder = Path(self.folder_tree.path)
        parent = folder.parent
        if parent != folder:
            self._set_root(parent)

    def action_home(self) -> None:
        if _home_known():
            self._set_root(Path.home())

    def action_toggle_hidden(self) -> None:
        tree = self.folder_tree
        tree.show_hidden = not tree.show_hidden
        tree.reload()

    def action_close(self) -> None:
        self.dismiss(list(self.picked))
