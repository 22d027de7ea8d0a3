"""The `|` prompt: a shell command (↑/↓ walk the history), what to pipe and where output goes.

Dismisses with a `PipeChoice`, or None on Escape. Enter on an empty line says so and stays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from widgets.dialogs import DIALOG_CSS
from widgets.safe import safe_line

#: Where the command's output goes: shown in the viewer, on the terminal (app suspended), dropped.
OUTPUTS: tuple[tuple[str, str], ...] = (
    ("show", "shown in the viewer"),
    ("terminal", "on the terminal (termail steps aside)"),
    ("discard", "discarded"),
)


@dataclass(frozen=True, slots=True)
class PipeChoice:
    command: str
    source: str
    """One of the keys of the `sources` the prompt was given ("raw", "decoded", …)."""
    output: str
    """"show", "terminal" or "discard"."""


class PipePrompt(ModalScreen[PipeChoice | None]):
    """Ask for the command to pipe to; ctrl+t picks the input, ctrl+o the output (ctrl+d is
    the field's own delete-right)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="pipe.cancel"),
        Binding("up", "history(1)", "Older command", id="pipe.older", show=False),
        Binding("down", "history(-1)", "Newer command", id="pipe.newer", show=False),
        Binding("ctrl+t", "next_source", "Input", id="pipe.source"),
        Binding("ctrl+o", "next_output", "Output", id="pipe.output"),
    ]

    DEFAULT_CSS = "PipePrompt {" + DIALOG_CSS + "} PipePrompt #pipe-error { color: $error; }"

    def __init__(
        self,
        sources: Sequence[tuple[str, str]],
        history: Sequence[str] = (),
        *,
        source: str | None = None,
        output: str = "show",
    ) -> None:
        """Args:
        sources: (key, label) of what can be piped, e.g. ("raw", "the raw message").
        history: Commands typed before, newest first.
        source: The key chosen at first (else the first of `sources`).
        output: The output chosen at first.
        """
        super().__init__()
        self.sources = list(sources) or [("raw", "the raw message")]
        keys = [k for k, _ in self.sources]
        self.source_index = keys.index(source) if source in keys else 0
        outs = [k for k, _ in OUTPUTS]
        self.output_index = outs.index(output) if output in outs else 0
        self.history = list(history)
        self._position = -1
        self._typed = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(Text("Pipe to a shell command"), classes="dialog-title")
            yield Input(placeholder="e.g. wc -c, less, grep -i invoice", id="pipe-input")
            yield Static(id="pipe-modes", classes="dialog-hint")
            yield Static(Text("", end=""), id="pipe-error")
            yield Static(
                Text(
                    "Enter: run   ↑ ↓: history   ctrl+t: input   ctrl+o: output   Esc: cancel",
                    end="",
                ),
                classes="dialog-hint",
            )

    def on_mount(self) -> None:
        self._show_modes()
        self.query_one(Input).focus()

    @property
    def source(self) -> str:
        return self.sources[self.source_index][0]

    @property
    def output(self) -> str:
        return OUTPUTS[self.output_index][0]

    def _show_modes(self) -> None:
        label = safe_line(self.sources[self.source_index][1], max_len=60)
        text = Text(f"Input: {label}\nOutput: {OUTPUTS[self.output_index][1]}", end="")
        self.query_one("#pipe-modes", Static).update(text)

    def action_next_source(self) -> None:
        self.source_index = (self.source_index + 1) % len(self.sources)
        self._show_modes()

    def action_next_output(self) -> None:
        self.output_index = (self.output_index + 1) % len(OUTPUTS)
        self._show_modes()

    def action_history(self, step: int) -> None:
        if not self.history:
            return
        field = self.query_one(Input)
        if self._position == -1:
            self._typed = field.value
        position = max(-1, min(len(self.history) - 1, self._position + step))
        self._position = position
        field.value = self._typed if position == -1 else self.history[position]
        field.cursor_position = len(field.value)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        command = event.value.strip()
        if not command:
            self.query_one("#pipe-error", Static).update(
                Text("Type a command first (Esc cancels)", end="")
            )
            return
        self.dismiss(PipeChoice(command, self.source, self.output))

    def action_cancel(self) -> None:
        self.dismiss(None)
