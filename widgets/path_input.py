"""Typing a file path with shell-like completion, and the prompt that asks for one to attach.

`complete_path` is the pure part (testable without a screen): Tab completes the longest common
prefix of the matching names, lists the candidates, expands `~`, ends folders with `/` and shows
hidden entries only when the typed part starts with a dot. `PathInput` binds it to Tab;
`PathPrompt` is the modal that asks for an attachment and refuses files that cannot be read.
File names come from the disk and are untrusted: they reach the screen only as `Text`.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from widgets.dialogs import DIALOG_CSS
from widgets.safe import human_size, safe_line, safe_text

__all__ = [
    "MAX_CANDIDATES",
    "PathCompletion",
    "PathInput",
    "PathPrompt",
    "candidates_text",
    "complete_path",
    "describe_file",
    "expand_path",
    "unreadable_reason",
]

MAX_CANDIDATES = 500
"""Matches kept for the listing at most; the common prefix still covers every match."""


@dataclass(frozen=True, slots=True)
class PathCompletion:
    """The outcome of one Tab: the new text and the names that matched (folders end in `/`)."""

    text: str
    candidates: list[str] = field(default_factory=list)
    error: str | None = None
    truncated: bool = False
    total: int = 0
    """Every match in the folder (`candidates` stops at MAX_CANDIDATES)."""


def expand_path(text: str, cwd: Path | None = None) -> Path:
    """`text` as a path: `~` expanded, relative paths taken from `cwd` (default: the process's)."""
    path = Path(os.path.expanduser(text))
    if not path.is_absolute():
        path = (cwd or Path.cwd()) / path
    return Path(os.path.normpath(path))  # "a/../b" shown and compared as "b"; links kept


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()  # follows symlinks, as a shell does
    except OSError:
        return False


def complete_path(text: str, cwd: Path | None = None) -> PathCompletion:
    """Complete the last component of `text` as a shell does on Tab.

    The completed text keeps a relative path relative; a leading `~` is expanded. With one
    match a folder gets its `/`; with several, the longest common prefix is filled in and
    every match is listed. Never raises: an unreadable folder comes back as `error`.
    """
    typed = text
    if typed.startswith("~"):
        expanded = os.path.expanduser(typed.split("/", 1)[0])
        if expanded.startswith("~"):  # an unknown user: leave it to the user
            return PathCompletion(text, error=f"no such user: {typed.split('/', 1)[0]}")
        typed = expanded + typed[len(typed.split("/", 1)[0]) :]
        if typed == expanded and not typed.endswith("/"):
            typed += "/"
    head, sep, part = typed.rpartition("/")
    prefix = head + sep  # what stays as typed
    folder = Path(prefix) if prefix else Path(".")
    if not folder.is_absolute():
        folder = (cwd or Path.cwd()) / folder
    show_hidden = part.startswith(".")
    matches: list[tuple[str, bool]] = []
    common: str | None = None  # over every match, also those past the listing cap
    count = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                if not name.startswith(part) or (name.startswith(".") and not show_hidden):
                    continue
                count += 1
                common = name if common is None else _common_prefix([common, name])
                if len(matches) < MAX_CANDIDATES:
                    matches.append((name, _is_dir(entry)))
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return PathCompletion(typed, error=f"cannot list {folder}: {reason}")
    if not matches or common is None:
        return PathCompletion(typed, error="no match")
    matches.sort(key=lambda m: m[0])
    candidates = [name + "/" if is_dir else name for name, is_dir in matches]
    if count == 1:
        name, is_dir = matches[0]
        return PathCompletion(prefix + name + ("/" if is_dir else ""), candidates, total=1)
    return PathCompletion(prefix + common, candidates, truncated=count > len(matches), total=count)


def _common_prefix(names: list[str]) -> str:
    """The longest string every name starts with (characters, not path components)."""
    first, last = min(names), max(names)
    length = 0
    while length < min(len(first), len(last)) and first[length] == last[length]:
        length += 1
    return first[:length]


def unreadable_reason(path: Path) -> str | None:
    """Why `path` cannot be attached (missing, a folder, a device, no permission), else None.

    Opens the file to be sure: permission bits do not tell the whole story (ACLs, root).
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    if stat.S_ISDIR(info.st_mode):
        return "it is a folder"
    if not stat.S_ISREG(info.st_mode):
        return "not a regular file (a device, pipe or socket)"
    try:
        with open(path, "rb") as f:
            f.read(1)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


class PathInput(Input):
    """An Input for a file path: Tab completes, and the candidates go up in a message."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "complete", "Complete path", id="path.complete", show=False),
    ]

    class Completed(Message):
        """Tab was pressed: `completion` holds the candidates (handle with `on_path_input_completed`)."""

        def __init__(self, path_input: PathInput, completion: PathCompletion) -> None:
            super().__init__()
            self.path_input = path_input
            self.completion = completion

        @property
        def control(self) -> PathInput:
            return self.path_input

    def __init__(self, value: str = "", *, cwd: Path | None = None, **kwargs: object) -> None:
        super().__init__(value, **kwargs)  # type: ignore[arg-type]
        self.cwd = cwd

    def action_complete(self) -> None:
        completion = complete_path(self.value, self.cwd)
        if completion.text != self.value:
            self.value = completion.text
        self.cursor_position = len(self.value)
        self.post_message(self.Completed(self, completion))


def candidates_text(completion: PathCompletion, limit: int = 40) -> Text:
    """The matches of one Tab as one Text, folders styled, names sanitized."""
    if completion.error:
        return safe_text(completion.error, "italic")
    if len(completion.candidates) <= 1:
        return Text("", end="")
    text = Text(end="")
    for index, name in enumerate(completion.candidates[:limit]):
        if index:
            text.append("  ")
        text.append(safe_line(name), style="bold" if name.endswith("/") else "")
    more = max(completion.total, len(completion.candidates)) - limit
    if more > 0:
        text.append(f"  … and {more} more", style="italic")
    return text


class PathPrompt(ModalScreen[Path | None]):
    """Ask for a file to attach; dismisses with a readable file's Path, or None on Escape.

    Enter on something that cannot be read (missing, a folder, no permission) keeps the prompt
    open with the reason, so a typo is corrected in place rather than retyped.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    DEFAULT_CSS = (
        "PathPrompt {"
        + DIALOG_CSS
        + """
        & > Vertical { width: 90; }
        & #path-candidates { height: auto; max-height: 8; color: $text-muted; }
        & #path-error { height: auto; color: $error; }
    }"""
    )

    def __init__(self, title: str, default: str = "", *, cwd: Path | None = None) -> None:
        """Args:
        title: What the path is for.
        default: Initial text (usually a folder ending in `/`), the cursor after it.
        cwd: Where relative paths start (default: the process's working folder).
        """
        super().__init__()
        self.prompt_title = title
        self.default = default
        self.cwd = cwd

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                safe_text(self.prompt_title, invisible=True),
                classes="dialog-title",
                id="dialog-title",
            )
            yield PathInput(
                safe_line(self.default, max_len=4096),
                cwd=self.cwd,
                select_on_focus=False,
                id="path-input",
            )
            yield Static(Text("", end=""), id="path-candidates")
            yield Static(Text("", end=""), id="path-error")
            yield Static(
                Text("Tab: complete   Enter: attach   Esc: cancel", end=""), classes="dialog-hint"
            )

    @property
    def path_input(self) -> PathInput:
        return self.query_one(PathInput)

    def on_mount(self) -> None:
        field = self.path_input
        field.cursor_position = len(field.value)
        field.focus()

    @on(PathInput.Completed)
    def _completed(self, event: PathInput.Completed) -> None:
        event.stop()
        self.query_one("#path-error", Static).update(Text("", end=""))
        self.query_one("#path-candidates", Static).update(candidates_text(event.completion))

    @on(Input.Changed)
    def _typed(self, event: Input.Changed) -> None:
        event.stop()
        self.query_one("#path-error", Static).update(Text("", end=""))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if not event.value.strip():
            return
        path = expand_path(event.value, self.cwd)
        reason = unreadable_reason(path)
        if reason is not None:
            self.query_one("#path-error", Static).update(
                safe_text(f"Cannot attach {path}: {reason}")
            )
            return
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)


def describe_file(path: Path) -> Text:
    """`name (size)` for a status line, the name sanitized."""
    try:
        size = human_size(path.stat().st_size)
    except OSError:
        size = "?"
    return Text.assemble(safe_line(path.name), f" ({size})", end="")
