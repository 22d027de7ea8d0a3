"""Modal dialogs that return a value through `dismiss`: confirm, choose, prompt, pick a folder.

Use with `await app.push_screen_wait(ConfirmDialog(...))` inside a worker, or `push_screen(...,
callback)`. Questions and folder names often hold server text, so everything is drawn as `Text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from widgets.safe import safe_line, safe_text

#: The look every modal dialog shares (nest it in the screen's own selector); widgets that
#: are dialogs of their own (path prompt, file picker) use it too.
DIALOG_CSS = """
    align: center middle;
    background: $background 60%;
    & > Vertical {
        width: 70;
        max-width: 95%;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        background: $panel;
        border: thick $primary;
    }
    & .dialog-title { text-style: bold; color: $text-primary; width: 1fr; margin-bottom: 1; }
    & .dialog-buttons { height: auto; align-horizontal: right; margin-top: 1; }
    & .dialog-buttons Button { margin-left: 2; min-width: 10; }
    & .dialog-hint { color: $text-muted; height: auto; }
"""


class ConfirmDialog(ModalScreen[bool]):
    """A yes/no question; dismisses with True (y, Enter on Yes) or False (n, Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="dialog.yes"),
        Binding("n,escape", "answer(False)", "No", id="dialog.no"),
    ]

    DEFAULT_CSS = "ConfirmDialog {" + DIALOG_CSS + "}"

    def __init__(
        self, question: str, *, yes: str = "Yes", no: str = "No", danger: bool = True
    ) -> None:
        """Args:
        question: The question; may hold server text (shown literally).
        yes: Label of the affirmative button.
        no: Label of the negative button (focused first, so Enter alone never destroys).
        danger: Style the affirmative button as an error.
        """
        super().__init__()
        self.question = question
        self._yes = yes
        self._no = no
        self._danger = danger

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                safe_text(self.question, invisible=True),
                classes="dialog-title",
                id="dialog-question",
            )
            yield Static(Text("y: yes   n / Esc: no", end=""), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    Text(self._yes), id="dialog-yes", variant="error" if self._danger else "primary"
                )
                yield Button(Text(self._no), id="dialog-no")

    def on_mount(self) -> None:
        self.query_one("#dialog-no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        if self.is_active:  # "y y" typed fast: the second must not pop the screen below
            self.dismiss(answer)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_answer(event.button.id == "dialog-yes")


class ChoiceDialog(ModalScreen[str | None]):
    """A question with a few named answers, each on a key; dismisses with its key, or None
    on Escape (the "not now" answer, which must never destroy anything)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "choose('')", "Cancel", id="dialog.cancel"),
    ]

    DEFAULT_CSS = "ChoiceDialog {" + DIALOG_CSS + "}"

    def __init__(self, question: str, choices: Sequence[tuple[str, str]]) -> None:
        """Args:
        question: The question; may hold untrusted text (shown literally).
        choices: (key, label) pairs, the first focused; a key is one character.
        """
        super().__init__()
        self.question = question
        self.choices = list(choices)

    def compose(self) -> ComposeResult:
        hint = "   ".join(f"{key}: {label.lower()}" for key, label in self.choices)
        with Vertical():
            yield Label(
                safe_text(self.question, invisible=True),
                classes="dialog-title",
                id="dialog-question",
            )
            yield Static(Text(hint + "   Esc: cancel", end=""), classes="dialog-hint")
            with Horizontal(classes="dialog-buttons"):
                for key, label in self.choices:
                    yield Button(Text(label), id=f"choice-{ord(key)}")

    def on_mount(self) -> None:
        self.query(Button).first().focus()

    def on_key(self, event: events.Key) -> None:
        for key, _ in self.choices:
            if event.character == key:
                event.stop()
                self._answer(key)
                return

    def action_choose(self, key: str) -> None:
        self._answer(key or None)

    def _answer(self, key: str | None) -> None:
        # Keys typed fast reach a dialog already dismissed: a second dismiss would pop the
        # screen below it (the compose screen) or raise ScreenStackError and end the app.
        if self.is_active:
            self.dismiss(key)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self._answer(chr(int((event.button.id or "choice-0").removeprefix("choice-"))))


class PromptDialog(ModalScreen[str | None]):
    """Ask for one line of text; dismisses with the text (Enter) or None (Escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
    ]

    DEFAULT_CSS = "PromptDialog {" + DIALOG_CSS + "}"

    def __init__(
        self,
        title: str,
        default: str = "",
        *,
        placeholder: str = "",
        password: bool = False,
        allow_empty: bool = False,
    ) -> None:
        """Args:
        title: What is asked (may name a server folder; shown literally).
        default: Initial text, the cursor after it (a path to complete, a name to edit).
        placeholder: Hint shown while the input is empty.
        password: Hide what is typed.
        allow_empty: Accept an empty answer (else Enter on empty does nothing).
        """
        super().__init__()
        self.prompt_title = title
        self.default = default
        self._shown_default = safe_line(default, max_len=1000)
        self._placeholder = placeholder
        self._password = password
        self._allow_empty = allow_empty

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                safe_text(self.prompt_title, invisible=True),
                classes="dialog-title",
                id="dialog-title",
            )
            yield Input(
                # The default is often server text (a folder name to rename): drawn as typed
                # text, so it is cleaned like any other line.
                self._shown_default,
                placeholder=safe_line(self._placeholder),
                password=self._password,
                select_on_focus=False,
                id="dialog-input",
            )
            yield Static(Text("Enter: OK   Esc: cancel", end=""), classes="dialog-hint")

    def on_mount(self) -> None:
        field = self.query_one(Input)
        field.cursor_position = len(field.value)
        field.focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value and event.value == self._shown_default:
            # Enter on the untouched default: the value as given, not its cleaned picture
            # (renaming `Evil<ESC>` must not silently become renaming it to `Evil␛`).
            self.dismiss(self.default)
        elif event.value or self._allow_empty:
            self.dismiss(event.value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class FolderPicker(ModalScreen[str | None]):
    """Choose one folder name from a list, filtered as you type; None on Escape.

    Opened before the folder list is known (`names` None: a cold start whose INBOX is drawn
    before LIST answers) it says "loading folders…" and offers nothing to choose until `offer`
    brings the list; `offer` also replaces a list shown from the cache with the server's."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="dialog.cancel"),
        Binding("down", "move(1)", "Next", id="dialog.next", show=False),
        Binding("up", "move(-1)", "Previous", id="dialog.previous", show=False),
    ]

    DEFAULT_CSS = (
        "FolderPicker {"
        + DIALOG_CSS
        + """
    & OptionList { height: auto; max-height: 16; margin-top: 1; }
    & #picker-loading { display: none; margin-top: 1; color: $text-muted; }
    &.-loading #picker-loading { display: block; }
    &.-loading OptionList { display: none; }
    """
        + "}"
    )

    def __init__(
        self, title: str, names: Sequence[str] | None, *, current: str | None = None
    ) -> None:
        """Args:
        title: What the folder is for ("Move 3 messages to").
        names: Folder names to offer (decoded, untrusted); None: not known yet (see `offer`).
        current: A name to highlight first.
        """
        super().__init__()
        self.picker_title = title
        self.names = list(names or ())
        self.waiting = names is None
        """The folder list is not known yet: nothing to choose, "loading folders…" shown (not
        `loading`: Textual's reactive of that name covers the widget with its indicator)."""
        self._current = current
        self._shown: list[str] = []
        self.set_class(self.waiting, "-loading")

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(
                safe_text(self.picker_title, invisible=True),
                classes="dialog-title",
                id="dialog-title",
            )
            yield Input(placeholder="type to filter", id="picker-filter")
            yield Static(Text("loading folders…", end=""), id="picker-loading")
            yield OptionList(id="picker-options")
            yield Static(Text("Enter: choose   Esc: cancel", end=""), classes="dialog-hint")

    def on_mount(self) -> None:
        self._fill("", keep=self._current)
        self.query_one(Input).focus()

    def offer(self, names: Sequence[str]) -> None:
        """The folder list (LIST answered while the picker was open): shown now with the filter
        typed meanwhile, the highlighted name (else `current`) kept highlighted."""
        options = self.query_one(OptionList)
        index = options.highlighted
        highlighted = self._shown[index] if index is not None and index < len(self._shown) else None
        self.names = list(names)
        self.waiting = False
        self.remove_class("-loading")
        self._fill(self.query_one(Input).value, keep=highlighted or self._current)

    def _fill(self, needle: str, *, keep: str | None = None) -> None:
        lowered = needle.casefold()
        shown = [n for n in self.names if lowered in n.casefold()] if lowered else list(self.names)
        # Prefix matches first: typing "in" should land on INBOX.
        shown.sort(key=lambda n: (not n.casefold().startswith(lowered), 0))
        self._shown = shown
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(Text(safe_line(n), no_wrap=True, end="")) for n in shown])
        if shown:
            options.highlighted = shown.index(keep) if keep in shown else 0

    @on(Input.Changed, "#picker-filter")
    def _filter(self, event: Input.Changed) -> None:
        event.stop()
        self._fill(event.value)

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        options = self.query_one(OptionList)
        index = options.highlighted
        if index is not None and 0 <= index < len(self._shown):
            self.dismiss(self._shown[index])

    @on(OptionList.OptionSelected, "#picker-options")
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if 0 <= event.option_index < len(self._shown):
            self.dismiss(self._shown[event.option_index])

    def action_move(self, step: int) -> None:
        options = self.query_one(OptionList)
        if not self._shown:
            return
        index = options.highlighted if options.highlighted is not None else -step
        options.highlighted = min(max(index + step, 0), len(self._shown) - 1)

    def action_cancel(self) -> None:
        self.dismiss(None)
