"""The prompt that asks where to save an attachment: folder and file name in one path.

The text starts as `<last folder>/<name>`; Tab completes it as a shell does (`PathInput`),
the name can be edited, and with several attachments ctrl+s saves them all into the folder
typed. A folder that does not exist is never created by surprise: the prompt says so, and a
second Enter creates it. The file names come from the sender and are untrusted: they are shown
only as sanitized `Text`, and the caller saves with `app.mime.attachments`, which never writes
outside the chosen folder.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from widgets.dialogs import DIALOG_CSS
from widgets.path_input import PathInput, candidates_text, expand_path
from widgets.safe import safe_line, safe_text

__all__ = ["SavePrompt", "SaveTarget", "short_path"]


@dataclass(frozen=True, slots=True)
class SaveTarget:
    """Where to save: `folder`, and `name` (None: every attachment under its own name)."""

    folder: Path
    name: str | None
    create: bool = False
    """The folder does not exist yet; the user agreed to create it."""


def short_path(path: Path) -> str:
    """`path` with the home folder written `~` (as the user would type it)."""
    text = str(path)
    home = os.path.expanduser("~")
    if home not in ("", "/", "~") and (text == home or text.startswith(home.rstrip("/") + "/")):
        return "~" + text[len(home.rstrip("/")) :]
    return text


class SavePrompt(ModalScreen[SaveTarget | None]):
    """Ask for the path to save one attachment to (or a folder for all of them)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("ctrl+s", "save_all", "Save all", id="save.all", show=False),
    ]

    DEFAULT_CSS = (
        "SavePrompt {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 90; }
        & #save-candidates { height: auto; max-height: 8; color: $text-muted; }
        & #save-note { height: auto; color: $warning; }
    }"""
    )

    def __init__(self, filename: str, folder: Path, *, size: str = "", count: int = 1) -> None:
        """Args:
        filename: The attachment's (already safe) name, the default file name.
        folder: The folder to start in (the last one used, or ~/Downloads).
        size: The attachment's size as shown ("12 B", "~5.0M"), for the title.
        count: How many attachments the message has; ctrl+s saves all when more than one.
        """
        super().__init__()
        self.filename = filename
        self.folder = folder
        self.size_text = size
        self.count = count
        self._create_ok: Path | None = None
        self._initial = short_path(folder / filename)

    def compose(self) -> ComposeResult:
        title = Text("Save ", end="")
        title.append(safe_line(self.filename, max_len=120), style="bold")
        if self.size_text:
            title.append(f" ({self.size_text})")
        title.append(" as")
        hint = "Tab: complete   Enter: save"
        if self.count > 1:
            hint += f"   ctrl+s: save all {self.count} into that folder"
        hint += "   Esc: cancel"
        with Vertical():
            yield Label(title, classes="dialog-title", id="dialog-title")
            yield PathInput(self._initial, select_on_focus=False, id="save-path")
            yield Static(Text("", end=""), id="save-candidates")
            yield Static(Text("", end=""), id="save-note")
            yield Static(Text(hint, end=""), classes="dialog-hint")

    @property
    def path_input(self) -> PathInput:
        return self.query_one(PathInput)

    def on_mount(self) -> None:
        field = self.path_input
        field.cursor_position = len(field.value)
        field.focus()
        if not self.folder.exists():
            self._create_ok = self.folder
            self._note(f"{short_path(self.folder)} does not exist yet: Enter creates it.")

    def _note(self, text: str) -> None:
        self.query_one("#save-note", Static).update(safe_text(text))

    @on(PathInput.Completed)
    def _completed(self, event: PathInput.Completed) -> None:
        event.stop()
        self.query_one("#save-candidates", Static).update(candidates_text(event.completion))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        if event.value != self._initial:
            self._note("")

    def _target(self, *, every: bool) -> SaveTarget | None:
        """The target the text names, or None (with a note) when it cannot be used yet."""
        value = self.path_input.value.strip()
        if not value:
            return None
        path = expand_path(value)
        if value.endswith("/") or path.is_dir() or every:
            folder, name = path, None
            if every and not value.endswith("/") and not path.is_dir():
                folder = path.parent  # "~/Downloads/a.pdf" + ctrl+s: into ~/Downloads
        else:
            folder, name = path.parent, path.name
        if folder.exists() and not folder.is_dir():
            self._note(f"{short_path(folder)} is not a folder.")
            return None
        create = not folder.exists()
        if create and self._create_ok != folder:
            self._create_ok = folder
            self._note(f"{short_path(folder)} does not exist: Enter again creates it.")
            return None
        if name is None and not every:
            name = self.filename
        return SaveTarget(folder, name, create)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        target = self._target(every=False)
        if target is not None:
            self.dismiss(target)

    def action_save_all(self) -> None:
        target = self._target(every=self.count > 1)
        if target is not None:
            self.dismiss(target)

    def action_cancel(self) -> None:
        self.dismiss(None)
