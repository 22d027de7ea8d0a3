"""The compose screen: addresses, subject, body, attachments; send, postpone, never lose text.

Every change is saved to the local draft store within a few seconds (and on every field change),
so a crash or a kill loses at most the last few seconds of typing. Sending goes through
`app.smtp.submit`; a temporary failure puts the message in the outbox, a permanent one keeps the draft
open with the server's reason.

Attachments come from a typed path with Tab completion (ctrl+t) or a file picker (ctrl+f). The
server's SIZE limit is learned once per account (an EHLO in a worker when compose opens, or from
the last send) so a message too large is flagged while it is written, not at send.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import (
    Input,
    Label,
    ListItem,
    ListView,
    ProgressBar,
    Select,
    Static,
    TextArea,
)

from app.account import Account
from app.models import Identity
from app.screens import pgp_actions
from app.screens.protolog_actions import log_worthy
from widgets.address_input import AddressInput
from widgets.dialogs import ChoiceDialog, ConfirmDialog
from widgets.file_picker import FilePicker, remember_folder, start_folder
from widgets.footer import Footer
from widgets.path_input import PathPrompt, unreadable_reason
from widgets.safe import safe_line, safe_text
from widgets.workers import work

AUTOSAVE_SECONDS = 3.0


class AddressSuggester(Suggester):
    """Completes the last address of a comma-separated list from addresses already seen.

    `known` holds "Name <address>" strings, most used first. A candidate whose name or address
    starts with what was typed (any case) is offered; what is typed is kept as typed, so the
    grey completion shown after the cursor is exactly what accepting it (→) adds.
    """

    def __init__(self, known: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.known = known

    async def get_suggestion(self, value: str) -> str | None:
        head, comma, last = value.rpartition(",")
        typed = last.lstrip()
        if len(typed) < 2:
            return None
        prefix = value[: len(value) - len(typed)]
        needle = typed.lower()
        for candidate in self.known:
            if candidate.lower().startswith(needle):
                return prefix + typed + safe_line(candidate[len(typed) :])  # drawn grey
            _, _, address = candidate.rpartition("<")
            address = address.rstrip(">")
            if address.lower().startswith(needle):
                return prefix + typed + safe_line(address[len(typed) :])
        return None


class ComposeScreen(Screen[None]):
    """Write one message."""

    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="compose.send", priority=True),
        Binding("ctrl+d", "postpone", "Postpone", id="compose.postpone", priority=True),
        Binding("ctrl+o", "editor", "$EDITOR", id="compose.editor", priority=True),
        Binding("ctrl+t", "attach", "Attach path", id="compose.attach", priority=True),
        Binding("ctrl+f", "pick_files", "Pick files", id="compose.pick", priority=True),
        Binding("ctrl+r", "remove_attachment", "Remove att.", id="compose.detach", priority=True),
        Binding(
            "ctrl+g",
            "pgp",
            "OpenPGP",
            id="compose.pgp",
            priority=True,
            tooltip="off, sign, sign + encrypt, encrypt (each press the next)",
        ),
        Binding("escape", "close", "Close", id="compose.close"),
    ]

    DEFAULT_CSS = """
    ComposeScreen { layout: vertical; }
    ComposeScreen .row { height: 1; margin-bottom: 0; }
    ComposeScreen .row Label { width: 10; padding: 0 1 0 0; text-align: right; color: $text-muted; }
    ComposeScreen .row Input {
        width: 1fr; height: 1; border: none; padding: 0 1; background: $boost;
        &:focus { background: $primary 20%; border: none; }
    }
    ComposeScreen .row #from { width: 1fr; height: 1; padding: 0 1; }
    ComposeScreen .row Select { width: 1fr; height: 1; }
    ComposeScreen .row Select > SelectCurrent { border: none; height: 1; padding: 0 1; }
    ComposeScreen .row Select:focus > SelectCurrent { border: none; background: $primary 20%; }
    ComposeScreen #body { margin-top: 1; }
    ComposeScreen #body { height: 1fr; }
    ComposeScreen #attachments { height: auto; max-height: 6; border-top: solid $primary; }
    ComposeScreen #compose-status { height: 1; color: $text-muted; }
    ComposeScreen #compose-busy { display: none; height: 1; padding: 0 1; }
    ComposeScreen #compose-error { height: auto; color: $error; }
    ComposeScreen #compose-save-error { height: auto; color: $error; }
    ComposeScreen #compose-size { height: auto; color: $warning; text-style: bold; }
    ComposeScreen .field-problem { height: auto; color: $error; padding: 0 0 0 10; display: none; }
    """

    ADDRESS_FIELDS = (("to", "To"), ("cc", "Cc"), ("bcc", "Bcc"))

    def __init__(
        self,
        account: Account,
        draft: Any,
        *,
        draft_id: str | None = None,
        original_uid: int | None = None,
        original_folder: str | None = None,
        mode: str = "new",
        known_addresses: list[str] | None = None,
        draft_store: Any = None,
        cursor_line: int | None = None,
    ) -> None:
        super().__init__()
        self.cursor_line = cursor_line
        """The body line the cursor starts on (a reply: below or above the quote)."""
        self.account = account
        self.draft = draft
        self.draft_id = draft_id or _new_draft_id()
        self.original_uid = original_uid
        self.original_folder = original_folder
        self.mode = mode
        self.known_addresses = known_addresses or []
        self.draft_store = draft_store
        self._resumed = draft_id is not None
        self._initial: dict[str, Any] = {}
        self._dirty = False
        self._sent = False
        self._attachment_sizes: list[int] = []
        self.size_limit: int | None = None
        """The server's SIZE in bytes once learned (None: unknown or no limit)."""
        self.estimated_size = 0
        """The message's estimated submitted size, attachments base64-encoded."""
        self.pgp_auto = False
        """Encrypt if every recipient has a key (the identity's `pgp_encrypt_if_possible`)."""
        if not self._resumed and not (draft.pgp_sign or draft.pgp_encrypt):
            pgp_actions.apply_defaults(self)

    def compose(self) -> ComposeResult:
        d = self.draft
        with Vertical():
            with Horizontal(classes="row"):
                yield Label("From")
                yield self._from_field()
            for field_id, label, value in (
                ("to", "To", ", ".join(d.to)),
                ("cc", "Cc", ", ".join(d.cc)),
                ("bcc", "Bcc", ", ".join(d.bcc)),
                ("subject", "Subject", d.subject),
            ):
                with Horizontal(classes="row"):
                    yield Label(label)
                    if field_id == "subject":
                        yield Input(value, id=field_id)
                    else:  # a list of the matching known addresses under the field
                        yield AddressInput(value, id=field_id, known=self.known_addresses)
                if field_id != "subject":
                    yield Static("", id=f"{field_id}-problem", classes="field-problem")
            with Horizontal(classes="row"):  # app/screens/pgp_actions.py
                yield Label("OpenPGP")
                yield Static(pgp_actions.label(self), id="pgp")
            yield TextArea(d.body, id="body", soft_wrap=True, show_line_numbers=False)
            yield ListView(
                *[self._attachment_item(item) for item in d.attachments], id="attachments"
            )
            yield Static("", id="compose-size")
            yield Static("", id="compose-error")
            yield Static("", id="compose-save-error")
            yield Static("", id="compose-status")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="compose-busy")
        yield Footer()

    def _from_field(self) -> Widget:
        """The sender: a choice among the account's identities, or just the one there is."""
        from app.mime.compose import format_address  # shown decoded (formataddr would encode)

        # Text, never a markup str: a name like "[@click=app.quit]x[/]" (from a draft on the
        # server, or the config) must show as written, not become a link or raise MarkupError.
        identities = self.account.identities
        if len(identities) < 2:
            sender = self.draft.from_
            shown = safe_text(format_address(sender.name, sender.address), single_line=True)
            return Static(shown, id="from")
        options: list[tuple[Text, int]] = [
            (safe_text(format_address(identity.name, identity.address), single_line=True), i)
            for i, identity in enumerate(identities)
        ]
        current = _identity_index(identities, self.draft.from_.address)
        return Select(options, value=current, allow_blank=False, id="from")

    def on_mount(self) -> None:
        self.query_one("#attachments", ListView).display = bool(self.draft.attachments)
        self._measure_attachments()
        body = self.query_one("#body", TextArea)
        if self.cursor_line is not None:
            line = max(0, min(self.cursor_line, body.document.line_count - 1))
            body.cursor_location = (line, 0)
        (self.query_one("#to", Input) if not self.draft.to else body).focus()
        self.set_interval(AUTOSAVE_SECONDS, self._autosave)
        # What the screen opened with: closing it unchanged keeps nothing (mutt: "Aborted
        # unmodified message"). A draft resumed from disk is saved already.
        self._initial = self._collect().to_dict()
        self._learn_size_limit()
        self._load_addresses()

    @work(exclusive=True, group="compose-addresses", exit_on_error=False)
    async def _load_addresses(self) -> None:
        """Completion from everyone in the cached INBOX and Sent, read in a thread."""
        book = await self.account.address_book()
        if book:
            self.known_addresses[:] = book  # the address fields hold this very list

    @on(Select.Changed, "#from")
    def _identity_chosen(self, event: Select.Changed) -> None:
        """Send as another identity: its address, and its signature in place of the old one."""
        from app.mime.compose import Identity as Sender

        identities = self.account.identities
        if not isinstance(event.value, int) or not 0 <= event.value < len(identities):
            return
        new = identities[event.value]
        old_index = _identity_index(identities, self.draft.from_.address)
        old = identities[old_index] if old_index is not None else None
        self.draft.from_ = Sender(new.name, new.address)
        body = self.query_one("#body", TextArea)
        swapped = _swap_signature(body.text, old.signature if old else "", new.signature)
        if swapped != body.text:
            body.text = swapped
        pgp_actions.apply_defaults(self)  # the new identity's OpenPGP defaults
        pgp_actions.refresh(self)
        self._dirty = True

    def action_pgp(self) -> None:
        pgp_actions.cycle(self)

    # -- draft state -------------------------------------------------------------------------------
    def _collect(self) -> Any:
        from app.mime.compose import split_addresses

        d = self.draft
        d.to = split_addresses(self.query_one("#to", Input).value)
        d.cc = split_addresses(self.query_one("#cc", Input).value)
        d.bcc = split_addresses(self.query_one("#bcc", Input).value)
        d.subject = self.query_one("#subject", Input).value
        d.body = self.query_one("#body", TextArea).text
        return d

    @on(Input.Changed)
    def _changed(self) -> None:
        self._dirty = True

    @on(TextArea.Changed)
    def _body_changed(self) -> None:
        self._dirty = True
        self._check_size()

    @on(Input.Blurred)
    def _field_left(self, event: Input.Blurred) -> None:
        if event.input.id in ("to", "cc", "bcc"):
            self.check_addresses(event.input.id)
        self._autosave()

    def check_addresses(self, field_id: str, also: dict[str, str] | None = None) -> bool:
        """Show under an address field what is wrong with each entry; True when all is well.

        `also` adds problems found later (the server refusing an address) by entry.
        """
        from textual.css.query import NoMatches

        from app.mime.compose import address_problems

        try:
            typed = self.query_one(f"#{field_id}", Input).value
            line = self.query_one(f"#{field_id}-problem", Static)
        except NoMatches:  # the screen is closing (a blur as it goes): nothing to show
            return True
        problems = [("not an address", entry, why) for entry, why in address_problems(typed)]
        problems += [("not sent to", entry, why) for entry, why in (also or {}).items()]
        if not problems:
            line.update("")
            line.display = False
            return True
        text = Text(no_wrap=False, end="")
        for i, (what, entry, why) in enumerate(problems):
            if i:
                text.append("\n")
            text.append(f"↑ {what}: ")
            text.append_text(safe_text(entry, single_line=True, style="bold"))
            text.append(" — ")
            text.append_text(safe_text(why, single_line=True))
        line.update(text)
        line.display = True
        return False

    def _autosave(self, force: bool = False) -> None:
        if self.draft_store is None or self._sent or not (self._dirty or force):
            return
        self._dirty = False
        if not force and not self._resumed and self._initial and self.unchanged():
            return  # nothing written yet: nothing to keep after a crash either
        failed = self._save_now()
        if failed:
            self._save_error(f"Autosave failed: {failed}")
        else:
            self._status("Draft saved")

    def _save_now(self) -> str | None:
        """Write the local draft now; why it failed, or None (saved, or no store to save to)."""
        if self.draft_store is None or self._sent:
            return None
        try:
            self.draft_store.save(self.draft_id, self._collect())
        except Exception as exc:
            self._dirty = True  # try again at the next tick
            return str(exc)
        self._dirty = False
        self._save_error("")
        return None

    def _status(self, text: str) -> None:
        self.query_one("#compose-status", Static).update(safe_text(text))

    def _save_error(self, text: str) -> None:
        """Its own line, so a failing autosave tick never hides why a send failed."""
        self.query_one("#compose-save-error", Static).update(safe_text(text))

    def _error(self, text: str) -> None:
        self.query_one("#compose-error", Static).update(safe_text(text))

    # -- attachments -------------------------------------------------------------------------------
    @staticmethod
    def _attachment_size(item: Any) -> int | None:
        """The raw size of a draft attachment; None for a file gone from the disk."""
        if isinstance(item, Path):
            try:
                return item.stat().st_size
            except OSError:
                return None
        return int(item.size)  # held in memory, e.g. forwarded

    def _attachment_item(self, item: Any) -> ListItem:
        """One row of the list: the (untrusted) file name as Text, and its size."""
        size = self._attachment_size(item)
        name = item.name if isinstance(item, Path) else item.filename
        detail = f"  ({_human(size)})" if size is not None else "  (missing!)"
        label = Text.assemble("📎 ", safe_line(name), detail, no_wrap=True, end="")
        return ListItem(Label(label))

    def _measure_attachments(self) -> None:
        """Sizes read again (a file may have grown on disk), then the SIZE check."""
        sizes = [self._attachment_size(item) for item in self.draft.attachments]
        self._attachment_sizes = [size for size in sizes if size is not None]
        self._check_size()

    def attach_path(self, path: Path) -> str | None:
        """Add a file to the draft; returns why not (unreadable, already attached) or None."""
        reason = unreadable_reason(path)
        if reason is not None:
            return f"Cannot attach {path.name}: {reason}"
        if path in self.draft.attachments:
            return f"{path.name} is attached already"
        self.draft.attachments.append(path)
        remember_folder(path.parent)
        view = self.query_one("#attachments", ListView)
        view.append(self._attachment_item(path))
        view.display = True
        view.index = len(self.draft.attachments) - 1
        self._dirty = True
        self._error("")
        self._measure_attachments()
        self._autosave()
        return None

    @work(group="compose-dialog")
    async def action_attach(self) -> None:
        """Ask for a path (Tab completes); the prompt itself refuses unreadable files."""
        default = str(start_folder()).rstrip("/") + "/"
        path = await self.app.push_screen_wait(PathPrompt("Attach file (path)", default))
        if path is None:
            return
        refused = self.attach_path(path)
        if refused:
            self._error(refused)

    def action_pick_files(self) -> None:
        """Browse for files; each Enter attaches one, the picker stays open until Esc."""
        self.app.push_screen(FilePicker(on_pick=self.attach_path))

    def action_remove_attachment(self) -> None:
        view = self.query_one("#attachments", ListView)
        index = view.index
        if index is None or not 0 <= index < len(self.draft.attachments):
            if self.draft.attachments:
                self._error("Highlight an attachment in the list first (Tab to it).")
            return
        del self.draft.attachments[index]
        view.pop(index)  # keeps a highlighted row for the next ctrl+r
        view.display = bool(self.draft.attachments)
        self._dirty = True
        self._measure_attachments()
        self._autosave()

    # -- the server's SIZE -------------------------------------------------------------------------
    @work(exclusive=True, group="compose-size", exit_on_error=False)
    async def _learn_size_limit(self) -> None:
        """Learn the account's SIZE once (remembered per account); silent when offline."""
        from app.smtp.sending import SIZE_LIMITS, learn_size_limit
        from app.smtp.submit import SmtpError

        if SIZE_LIMITS.known(self.account):
            self.size_limit = SIZE_LIMITS.get(self.account)
            self._check_size()
            return
        try:
            limit = await learn_size_limit(self.account)
        except (SmtpError, OSError):
            return  # sending will tell; the next compose asks again
        self.size_limit = limit
        self._check_size()

    def _check_size(self) -> None:
        """Show the warning as soon as body + encoded attachments exceed the server's SIZE."""
        from app.smtp.sending import SIZE_LIMITS, estimate_message_size

        if SIZE_LIMITS.known(self.account):  # a send may have taught a newer figure
            self.size_limit = SIZE_LIMITS.get(self.account)
        body = self.query_one("#body", TextArea).text
        self.estimated_size = estimate_message_size(body, self._attachment_sizes)
        warning = self.size_warning()
        field = self.query_one("#compose-size", Static)
        field.update(Text(warning or "", end=""))
        field.display = warning is not None

    def size_warning(self) -> str | None:
        """The over-SIZE warning naming both sizes, or None when within the limit (or unknown)."""
        limit = self.size_limit
        if limit is None or self.estimated_size <= limit:
            return None
        return (
            f"Too large for the server: about {_human(self.estimated_size)} "
            f"({self.estimated_size:,} bytes) with attachments encoded; the server takes at most "
            f"{_human(limit)} ({limit:,} bytes)."
        )

    # -- external editor ---------------------------------------------------------------------------
    def action_editor(self) -> None:
        editor = (
            getattr(self.app, "editor_command", None)
            or os.environ.get("VISUAL")
            or os.environ.get("EDITOR")
            or "vi"
        )
        body = self.query_one("#body", TextArea)
        fd, name = tempfile.mkstemp(prefix="termail-", suffix=".txt")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body.text)
        import subprocess

        from textual.app import SuspendNotSupported

        try:
            try:
                with self.app.suspend():
                    subprocess.run([*shlex.split(editor), name], check=False)
            except SuspendNotSupported:
                # Headless (tests, no terminal): a non-interactive editor still works.
                subprocess.run([*shlex.split(editor), name], check=False, stdin=subprocess.DEVNULL)
            body.text = Path(name).read_text(encoding="utf-8", errors="replace")
            self._dirty = True
            self._autosave()
        finally:
            with contextlib.suppress(OSError):
                os.unlink(name)

    # -- send / postpone / close --------------------------------------------------------------------
    @work(exclusive=True, group="compose-send", exit_on_error=False)
    async def action_send(self) -> None:
        """Check, ask, send. Whatever goes wrong, the message stays on the screen (and on disk)."""
        try:
            await self._send()
        except Exception as exc:  # a bug must not take the message with it
            self.query_one("#compose-busy", ProgressBar).display = False
            where = " (F12: the protocol log)" if log_worthy(exc) else ""
            self._not_sent(f"Not sent: {type(exc).__name__}: {exc}.{where}")

    def _not_sent(self, text: str, status: str = "Not sent: the message stays here") -> None:
        """Say why, and keep the message: on the screen, and on disk where there is room."""
        failed = self._save_now()
        if failed:
            text += f" It could not be saved on disk either ({failed}): keep this screen open."
        self._error(text)
        self._status(status)

    async def _send(self) -> None:
        from app.mime.compose import detect_forgotten_attachment, envelope_recipients

        draft = self._collect()
        self._error("")
        valid = [self.check_addresses(field_id) for field_id, _ in self.ADDRESS_FIELDS]
        if not all(valid):
            bad = [
                label for (_, label), ok in zip(self.ADDRESS_FIELDS, valid, strict=True) if not ok
            ]
            self._focus_end(self.ADDRESS_FIELDS[valid.index(False)][0])
            self._error(f"Not sent: fix the address in {' and '.join(bad)} (marked above).")
            return
        recipients = envelope_recipients(draft)
        if not recipients:
            self._error("No recipient: fill in To, Cc or Bcc.")
            self._focus_end("to")
            return
        self._measure_attachments()  # a file may have changed on disk since it was listed
        too_large = self.size_warning()
        if too_large is not None:
            self._error(f"Not sent. {too_large} Remove an attachment (ctrl+r).")
            return
        note = await pgp_actions.decide_auto(self, draft)
        question = f"Send to {len(recipients)} recipient(s)?"
        if draft.pgp_sign or draft.pgp_encrypt:
            how = " and ".join(
                w for w, on in (("signed", draft.pgp_sign), ("encrypted", draft.pgp_encrypt)) if on
            )
            question = f"Send to {len(recipients)} recipient(s), {how} (OpenPGP)?"
        elif note:
            question = f"Send to {len(recipients)} recipient(s) ({note})?"
        if detect_forgotten_attachment(draft):
            question = "The text mentions an attachment but nothing is attached. Send anyway?"
        if not await self.app.push_screen_wait(ConfirmDialog(question)):
            return
        from app.screens.undo_send_actions import hold_from_compose

        if hold_from_compose(self, draft):  # undo send: held in the outbox for send_delay
            return
        self._status(f"Sending (about {_human(self.estimated_size)})…")
        from app.smtp.sending import NotQueuedError, SendOutcome, send_draft
        from app.smtp.submit import SmtpUtf8Unsupported

        busy = self.query_one("#compose-busy", ProgressBar)
        busy.display = True  # SMTP gives no count: a moving bar says it is not stuck
        try:
            outcome: SendOutcome = await send_draft(
                self.account,
                draft,
                original_uid=self.original_uid,
                original_folder=self.original_folder,
                mode=self.mode,
            )
        finally:
            busy.display = False
        if outcome.sent and outcome.unreached:
            # Sent to some; the rest could neither be sent nor queued: keep it here for them.
            self._keep_only(outcome.unreached)
            self._not_sent(
                outcome.message + " The address fields now hold only those not reached: "
                "send again (ctrl+s) once there is room, or postpone (ctrl+d)."
                " (F12: the protocol log)",
                "Partly sent: the message is kept for the others",
            )
            return
        if outcome.sent or outcome.queued:
            self._sent = True
            if self.draft_store is not None:
                with contextlib.suppress(Exception):
                    self.draft_store.discard(self.draft_id)
            from app.screens.protolog_actions import with_log_hint

            self.app.notify(with_log_hint(safe_line(outcome.message)), markup=False)
            self.dismiss()
            return
        if isinstance(outcome.error, SmtpUtf8Unsupported):
            self._mark_refused(
                outcome.error.addresses, "this server cannot send to it (no SMTPUTF8)"
            )
        hint = " Or postpone it (ctrl+d)." if isinstance(outcome.error, NotQueuedError) else ""
        self._not_sent(outcome.message + hint + " (F12: the protocol log)")

    def _focus_end(self, field_id: str) -> None:
        """Focus a field with the cursor at its end: Input selects all on focus, and the next
        key would replace every address in it, the good ones too."""
        field = self.query_one(f"#{field_id}", Input)
        field.focus()
        self.call_after_refresh(field.action_end)

    def _entries(self, field_id: str) -> list[tuple[str, str | None]]:
        """(entry as typed, its normalized address or None) of one address field."""
        from app.mime.compose import ComposeError, split_address, split_addresses

        out: list[tuple[str, str | None]] = []
        for entry in split_addresses(self.query_one(f"#{field_id}", Input).value):
            try:
                out.append((entry, split_address(entry)[1].lower()))
            except ComposeError:
                out.append((entry, None))
        return out

    def _mark_refused(self, addresses: list[str], why: str) -> None:
        """Show a server's refusal of these addresses under the fields that hold them."""
        wanted = {a.lower() for a in addresses}
        first = None
        for field_id, _ in self.ADDRESS_FIELDS:
            found = {e: why for e, a in self._entries(field_id) if a in wanted}
            if not self.check_addresses(field_id, also=found) and first is None:
                first = field_id
        if first is not None:
            self._focus_end(first)

    def _keep_only(self, addresses: tuple[str, ...]) -> None:
        """Narrow To/Cc/Bcc to the entries for these addresses (the ones still to send to)."""
        wanted = {a.lower() for a in addresses}
        for field_id, _ in self.ADDRESS_FIELDS:
            kept = [e for e, a in self._entries(field_id) if a in wanted]
            self.query_one(f"#{field_id}", Input).value = ", ".join(kept)
        self._collect()

    @work(exclusive=True, group="compose-send")
    async def action_postpone(self) -> None:
        await self._postpone()

    async def _postpone(self) -> None:
        from app.smtp.sending import DraftWouldBeReadable, postpone

        draft = self._collect()
        try:
            try:
                await postpone(self.account, draft)
            except DraftWouldBeReadable as exc:  # encrypt, and no key of the sender's
                if not await pgp_actions.store_readable(self, str(exc)):
                    self._status("Not postponed: the message stays here")
                    return
                await postpone(self.account, draft, readable_ok=True)
        except Exception as exc:
            failed = self._local_save_problem()
            kept = "The local draft is kept." if failed is None else f"{failed}: keep this open."
            where = " (F12: the protocol log)" if log_worthy(exc) else ""
            self._error(f"Could not save to Drafts on the server: {exc}. {kept}{where}")
            self._status("Not postponed: the message stays here")
            return
        self._sent = True
        if self.draft_store is not None:
            with contextlib.suppress(Exception):
                self.draft_store.discard(self.draft_id)
        self.app.notify("Draft saved to Drafts", markup=False)
        self.dismiss()

    def _local_save_problem(self) -> str | None:
        """Save the local draft now; None when it is on disk, else why it is not (in words)."""
        if self.draft_store is None:
            return "There is no local draft store"
        failed = self._save_now()
        if failed is None:
            return None
        self._save_error(f"Autosave failed: {failed}")
        return f"It could not be saved on disk ({failed})"

    def has_unsent_text(self) -> bool:
        """Something written here is neither sent, queued, postponed nor discarded."""
        return not self._sent and not self.unchanged()

    def keep_locally(self) -> bool:
        """Save to the local draft store now (the app may quit); False when it could not."""
        if self.draft_store is None:
            return False
        failed = self._save_now()
        if failed:
            self._save_error(f"Autosave failed: {failed}")
        return failed is None

    def unchanged(self) -> bool:
        """Nothing written since the screen opened (a reply's quote alone is not writing)."""
        current: dict[str, Any] = self._collect().to_dict()
        return current == self._initial

    @work(exclusive=True, group="compose-dialog")
    async def action_close(self) -> None:
        """Unchanged: close, keeping nothing. Else ask: postpone, leave here, or discard."""
        if self.unchanged():
            if not self._resumed:
                self._discard_local()
            self._sent = True
            if isinstance(self.draft.meta.get("drafts_uid"), int):
                said = "Draft not changed: it stays in Drafts"
            elif self._resumed:
                said = "Draft not changed: it stays saved here, termail offers it next time"
            else:
                said = "Message not changed: nothing kept"
            self.app.notify(said, markup=False)
            self.dismiss()
            return
        failed = self._local_save_problem()
        if failed is None:
            question = "Close this message?"
            choices = [("p", "Postpone to Drafts"), ("l", "Leave it here"), ("d", "Discard")]
        else:  # "leave it here" would be a false promise: it is on this screen only
            question = (
                f"Close this message? {failed}, so it cannot be left here: postpone it to the "
                "server's Drafts or discard it (Esc: keep writing)."
            )
            choices = [("p", "Postpone to Drafts"), ("d", "Discard")]
        choice = await self.app.push_screen_wait(ChoiceDialog(question, choices))
        if choice == "p":
            await self._postpone()
        elif choice == "l":
            self.app.notify("The draft stays saved here: termail offers it next time", markup=False)
            self.dismiss()
        elif choice == "d":
            self._discard_local()
            self._sent = True
            self.app.notify("Message discarded", markup=False)
            self.dismiss()

    def _discard_local(self) -> None:
        if self.draft_store is not None:
            with contextlib.suppress(Exception):
                self.draft_store.discard(self.draft_id)


def _identity_index(identities: list[Identity], address: str) -> int | None:
    """Which configured identity sends from `address` (case-insensitive), if any."""
    lowered = address.strip().lower()
    return next((i for i, x in enumerate(identities) if x.address.lower() == lowered), None)


def _swap_signature(body: str, old: str, new: str) -> str:
    """`body` with the last "-- " block holding `old` replaced by `new` (or `new` appended)."""
    marker = "\n-- \n"
    if old:
        at = body.rfind(marker + old)
        if at >= 0:
            tail = body[at + len(marker) + len(old) :]
            return body[:at] + (marker + new if new else "") + tail
    if new and marker not in body:
        return body + marker + new
    return body


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


async def open_compose(
    screen: Any,
    account: Account,
    mode: str,
    original: bytes | None,
    uid: int | None,
    *,
    attachments: list[Any] | None = None,
    list_address: str | None = None,
    prepared: Any = None,
) -> None:
    """Build the draft for `mode` (new, reply, reply_all, list_reply, forward,
    forward_attached, edit_new) and show the compose screen. A forward keeps `attachments`
    (fetched part by part), or without them the ones inside `original`; forward_attached
    attaches `original` as message/rfc822; list_reply goes to `list_address` (List-Post);
    edit_new is any message as a new draft. `prepared` is a draft built by the caller (an
    unsubscribe mail), shown as it is, without a signature."""
    from app.mime import compose

    # An encrypted original is quoted decrypted, and the answer is encrypted too (mutt's
    # crypt_replyencrypt): app/screens/pgp_actions.py.
    original, was_encrypted = pgp_actions.readable_original(account, original, uid, mode)
    if was_encrypted:
        attachments = None  # the decrypted message's own, not the encrypted part
    # Answer from the identity the original was sent to (mutt's reverse_name), with its signature.
    position = str(getattr(getattr(screen.app, "ui", None), "reply_position", "bottom"))
    chosen = account.identity_for(compose.recipients_of(original) if original else [])
    identity = compose.Identity(chosen.name, chosen.address) if chosen else compose.Identity("", "")
    signature = chosen.signature if chosen else account.signature
    if prepared is not None:
        draft = prepared
    elif mode == "list_reply" and original is not None and list_address:
        from app.mime.lists import list_reply_draft

        draft = list_reply_draft(original, identity, list_address)
        mode = "reply"  # sets \Answered on the original like any reply
    elif mode == "new" or original is None:
        draft = compose.Draft(from_=identity)
    elif mode == "draft":
        # A draft postponed encrypted (to you): decrypted here, its sign/encrypt marks kept.
        original, marks = await pgp_actions.readable_draft(screen, original)
        if original is None:
            return
        draft = compose.draft_from_message(original)  # keeps the From it was written with
        draft.pgp_sign, draft.pgp_encrypt = marks or (draft.pgp_sign, draft.pgp_encrypt)
        draft.meta["drafts_uid"] = uid  # sending or postponing replaces the server copy
    elif mode == "edit_new":
        draft = compose.edit_as_new(original, identity, own_addresses=account.addresses)
        mode, uid = "new", None  # a new message: nothing is flagged or replaced on send
    elif mode in ("reply", "reply_all"):
        draft = compose.reply(
            original,
            identity,
            reply_all=mode == "reply_all",
            own_addresses=account.addresses,
            position=position,
        )
    elif mode == "forward_attached":
        draft = compose.forward(original, identity, as_attachment=True)
        mode = "forward"  # sets $Forwarded on the original like any forward
    else:
        draft = compose.forward(
            original, identity, include_attachments=True, attachments=attachments
        )
    cursor_line = None
    if mode in ("reply", "reply_all"):
        cursor_line = compose.reply_cursor_line(draft.body, position)
    if signature and mode != "draft" and prepared is None and "\n-- \n" not in draft.body:
        draft.body = draft.body + "\n-- \n" + signature
    store = _draft_store(account)
    folder = account.current.folder.name if account.current else None
    await asyncio.sleep(0)
    compose_screen = ComposeScreen(
        account,
        draft,
        original_uid=uid,
        original_folder=folder,
        mode=mode,
        known_addresses=_known_addresses(account),
        draft_store=store,
        cursor_line=cursor_line,
    )
    if was_encrypted:
        draft.pgp_encrypt = True
    screen.app.push_screen(compose_screen)


def _new_draft_id() -> str:
    from app.smtp.outbox import DraftStore

    return DraftStore.new_id()


def _draft_store(account: Account) -> Any:
    from app.smtp.outbox import DraftStore, DraftStoreError

    base = account.data_dir or _default_data_dir() / account.name
    try:
        return DraftStore(base)
    except DraftStoreError:
        return None


async def offer_unfinished_drafts(screen: Any, account: Account) -> None:
    """After a crash: offer each draft found on disk, newest first, to finish or discard."""
    from app.smtp.outbox import DraftStoreError

    store = _draft_store(account)
    if store is None:
        return
    for info in store.list_unfinished():
        subject = info.subject or "(no subject)"
        to = ", ".join(info.to) or "nobody yet"
        choice = await screen.app.push_screen_wait(
            ChoiceDialog(
                f"An unsent draft was found: {subject!r} to {to}. Open it to finish it?",
                [("o", "Open it"), ("d", "Discard it"), ("l", "Later")],
            )
        )
        if choice == "d":
            with contextlib.suppress(Exception):
                store.discard(info.draft_id)
            continue
        if choice != "o":
            continue  # kept: offered again next time
        try:
            draft = store.load(info.draft_id)
        except DraftStoreError as exc:  # gone or damaged since it was listed: say so, go on
            screen.app.notify(safe_line(f"Cannot open the draft: {exc}"), markup=False)
            continue
        await screen.app.push_screen_wait(
            ComposeScreen(
                account,
                draft,
                draft_id=info.draft_id,
                known_addresses=_known_addresses(account),
                draft_store=store,
            )
        )
        return


def _default_data_dir() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir("termail"))


def _known_addresses(account: Account) -> list[str]:
    """Addresses seen in the headers in memory, for the first key presses; the fuller address
    book (the cache's INBOX and Sent) replaces it once read (`ComposeScreen._load_addresses`)."""
    from app.store.addressbook import rank_addresses

    held = account.summaries.held()
    return rank_addresses((s.envelope for _, s in held), (), own=account.addresses)
