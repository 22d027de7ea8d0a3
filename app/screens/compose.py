"""The compose screen: addresses, subject, body, attachments; send, postpone, never lose text.

Every change is saved to the local draft store within a few seconds (and on every field change),
so a crash or a kill loses at most the last few seconds of typing. Sending goes through
`app.smtp`; a temporary failure puts the message in the outbox, a permanent one keeps the draft
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
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.suggester import Suggester
from textual.widget import Widget
from textual.widgets import (
    Footer,
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
from widgets.dialogs import ChoiceDialog, ConfirmDialog
from widgets.file_picker import FilePicker, remember_folder, start_folder
from widgets.path_input import PathPrompt, unreadable_reason
from widgets.safe import safe_line, safe_text

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
                return prefix + typed + candidate[len(typed) :]
            _, _, address = candidate.rpartition("<")
            address = address.rstrip(">")
            if address.lower().startswith(needle):
                return prefix + typed + address[len(typed) :]
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
    ComposeScreen #compose-size { height: auto; color: $warning; text-style: bold; }
    """

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
    ) -> None:
        super().__init__()
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

    def compose(self) -> ComposeResult:
        suggester = AddressSuggester(self.known_addresses)
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
                    yield Input(
                        value,
                        id=field_id,
                        suggester=suggester if field_id != "subject" else None,
                    )
            yield TextArea(d.body, id="body", soft_wrap=True, show_line_numbers=False)
            yield ListView(
                *[self._attachment_item(item) for item in d.attachments], id="attachments"
            )
            yield Static("", id="compose-size")
            yield Static("", id="compose-error")
            yield Static("", id="compose-status")
            yield ProgressBar(total=None, show_eta=False, show_percentage=False, id="compose-busy")
        yield Footer()

    def _from_field(self) -> Widget:
        """The sender: a choice among the account's identities, or just the one there is."""
        from app.mime.compose import format_address  # shown decoded (formataddr would encode)

        identities = self.account.identities
        if len(identities) < 2:
            sender = self.draft.from_
            return Static(safe_line(format_address(sender.name, sender.address)), id="from")
        options = [
            (safe_line(format_address(identity.name, identity.address)), i)
            for i, identity in enumerate(identities)
        ]
        current = _identity_index(identities, self.draft.from_.address)
        return Select(options, value=current, allow_blank=False, id="from")

    def on_mount(self) -> None:
        self.query_one("#attachments", ListView).display = bool(self.draft.attachments)
        self._measure_attachments()
        (self.query_one("#to", Input) if not self.draft.to else self.query_one("#body")).focus()
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
            self.known_addresses[:] = book  # the suggester holds this very list

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
        self._dirty = True

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
    def _field_left(self) -> None:
        self._autosave()

    def _autosave(self, force: bool = False) -> None:
        if self.draft_store is None or self._sent or not (self._dirty or force):
            return
        self._dirty = False
        if not force and not self._resumed and self._initial and self.unchanged():
            return  # nothing written yet: nothing to keep after a crash either
        try:
            self.draft_store.save(self.draft_id, self._collect())
            self._status("Draft saved")
        except Exception as exc:
            self._error(f"Autosave failed: {exc}")

    def _status(self, text: str) -> None:
        self.query_one("#compose-status", Static).update(safe_text(text))

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
        from app.sending import SIZE_LIMITS, learn_size_limit
        from app.smtp import SmtpError

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
        from app.sending import SIZE_LIMITS, estimate_message_size

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
    @work(exclusive=True, group="compose-send")
    async def action_send(self) -> None:
        from app.mime.compose import detect_forgotten_attachment, envelope_recipients

        draft = self._collect()
        self._error("")
        recipients = envelope_recipients(draft)
        if not recipients:
            self._error("No recipient: fill in To, Cc or Bcc.")
            return
        bad = [r for r in recipients if not _looks_like_address(r)]
        if bad:
            self._error("Not an address: " + ", ".join(bad))
            return
        self._measure_attachments()  # a file may have changed on disk since it was listed
        too_large = self.size_warning()
        if too_large is not None:
            self._error(f"Not sent. {too_large} Remove an attachment (ctrl+r).")
            return
        question = f"Send to {len(recipients)} recipient(s)?"
        if detect_forgotten_attachment(draft):
            question = "The text mentions an attachment but nothing is attached. Send anyway?"
        if not await self.app.push_screen_wait(ConfirmDialog(question)):
            return
        self._status(f"Sending (about {_human(self.estimated_size)})…")
        from app.sending import SendOutcome, send_draft

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
        if outcome.sent or outcome.queued:
            self._sent = True
            if self.draft_store is not None:
                with contextlib.suppress(Exception):
                    self.draft_store.discard(self.draft_id)
            self.app.notify(outcome.message, markup=False)
            self.dismiss()
            return
        self._error(outcome.message)
        self._status("Not sent: the draft is kept")

    @work(exclusive=True, group="compose-send")
    async def action_postpone(self) -> None:
        await self._postpone()

    async def _postpone(self) -> None:
        from app.sending import postpone

        draft = self._collect()
        try:
            await postpone(self.account, draft)
        except Exception as exc:
            self._error(f"Could not save to Drafts on the server: {exc}. The local draft is kept.")
            self._autosave(force=True)
            return
        self._sent = True
        if self.draft_store is not None:
            with contextlib.suppress(Exception):
                self.draft_store.discard(self.draft_id)
        self.app.notify("Draft saved to Drafts", markup=False)
        self.dismiss()

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
            self.app.notify("Message not changed: nothing kept", markup=False)
            self.dismiss()
            return
        self._autosave(force=True)
        choice = await self.app.push_screen_wait(
            ChoiceDialog(
                "Close this message?",
                [("p", "Postpone to Drafts"), ("l", "Leave it here"), ("d", "Discard")],
            )
        )
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


def _looks_like_address(text: str) -> bool:
    from email.utils import parseaddr

    _, addr = parseaddr(text)
    local, _, domain = addr.rpartition("@")
    return bool(local) and bool(domain) and " " not in addr


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
) -> None:
    """Build the draft for `mode` (new, reply, reply_all, forward, forward_attached) and show
    the compose screen. A forward keeps `attachments` (fetched part by part), or without them
    the ones inside `original`; forward_attached attaches `original` as message/rfc822."""
    from app.mime import compose

    # Answer from the identity the original was sent to (mutt's reverse_name), with its signature.
    chosen = account.identity_for(compose.recipients_of(original) if original else [])
    identity = compose.Identity(chosen.name, chosen.address) if chosen else compose.Identity("", "")
    signature = chosen.signature if chosen else account.signature
    if mode == "new" or original is None:
        draft = compose.Draft(from_=identity)
    elif mode == "draft":
        draft = compose.draft_from_message(original)  # keeps the From it was written with
        draft.meta["drafts_uid"] = uid  # sending or postponing replaces the server copy
    elif mode in ("reply", "reply_all"):
        draft = compose.reply(
            original, identity, reply_all=mode == "reply_all", own_addresses=account.addresses
        )
    elif mode == "forward_attached":
        draft = compose.forward(original, identity, as_attachment=True)
        mode = "forward"  # sets $Forwarded on the original like any forward
    else:
        draft = compose.forward(
            original, identity, include_attachments=True, attachments=attachments
        )
    if signature and mode != "draft" and "\n-- \n" not in draft.body:
        draft.body = draft.body + "\n-- \n" + signature
    store = _draft_store(account)
    folder = account.current.folder.name if account.current else None
    await asyncio.sleep(0)
    screen.app.push_screen(
        ComposeScreen(
            account,
            draft,
            original_uid=uid,
            original_folder=folder,
            mode=mode,
            known_addresses=_known_addresses(account),
            draft_store=store,
        )
    )


def _new_draft_id() -> str:
    from app.outbox import DraftStore

    return DraftStore.new_id()


def _draft_store(account: Account) -> Any:
    from app.outbox import DraftStore, DraftStoreError

    base = account.data_dir or _default_data_dir() / account.name
    try:
        return DraftStore(base)
    except DraftStoreError:
        return None


async def offer_unfinished_drafts(screen: Any, account: Account) -> None:
    """After a crash: offer each draft found on disk, newest first, to finish or discard."""
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
        draft = store.load(info.draft_id)
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
    from app.addressbook import rank_addresses

    held = account.summaries.held()
    return rank_addresses((s.envelope for _, s in held), (), own=account.addresses)
