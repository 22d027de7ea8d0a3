"""User-level operations: delete, move, copy, flag, undo, expunge and folder changes.

Each is a coroutine over an `Account` that decides what may be done and returns an `Outcome`:
what was done (a sentence for the user), which messages left the open folder, whether undo
can take it back, and, when something cannot be undone, the `Question` the caller must ask
first. Nothing that loses mail happens without a yes: the caller asks `outcome.question`, puts
the answer in `answers[question.key]` and calls again (`run_asking` does this loop).

The rules kept here, not in the screen:

- `d` moves to Trash; where nothing can be kept (in Trash itself, no Trash folder, a folder the
  server opened read-only) it asks before deleting for good, or refuses.
- undo only offers what it can take back: an entry needs the new UIDs (COPYUID), and entries
  whose messages left their folder since (expunged, moved on) are dropped or shrunk.
- without UIDPLUS an EXPUNGE removes every \\Deleted message of the folder, other clients'
  too: they are looked for first (UID SEARCH DELETED) and the user is asked; "no" copies and
  marks without expunging.

UI-free: no Textual, no Rich. Messages are plain `str`; the screen sanitizes what it shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from app.account import Account, UndoAction
from app.models import Flag, Folder, FolderRole

#: Undo entries kept (the oldest go first).
UNDO_DEPTH = 20

Answers = Mapping[str, bool]


def plural(count: int, word: str, many: str | None = None) -> str:
    """`1 message`, `2 messages`, `1,024 messages`."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


@dataclass(frozen=True)
class Question:
    """A yes/no question the caller must ask before the operation goes on."""

    key: str
    text: str
    yes: str = "Yes"
    no: str = "No"
    danger: bool = True
    """Yes destroys something (shown as such)."""


@dataclass
class Outcome:
    """What an operation did, or the question to ask before it does anything."""

    message: str = ""
    """A sentence for the user: what was done, or why nothing was."""
    done: bool = True
    """False when nothing changed (refused, cancelled, nothing to do, or a question)."""
    question: Question | None = None
    removed: list[int] = field(default_factory=list)
    """UIDs no longer in the open folder (to drop from the list)."""
    changed: list[int] = field(default_factory=list)
    """UIDs of the open folder whose flags changed (to repaint)."""
    undoable: bool = False
    """An undo entry was recorded: `undo` can take this back."""
    warning: bool = False
    refresh: bool = False
    """The open folder's list must be read again (messages came back into it)."""
    folders_changed: bool = False
    """The folder list was reloaded (`account.folders` is new): redraw the tree."""
    reopen: str | None = None
    """The folder to open next (a renamed open folder under its new name)."""
    closed: bool = False
    """The open folder is gone (deleted): open another."""
    folder: str | None = None
    """The folder acted on, by its name now (created, renamed): where the tree's cursor goes."""
    touched: list[str] = field(default_factory=list)
    """Other folders whose counts changed (a move's or copy's destination, undo's source):
    their counts in the tree are read again."""


def _ask(question: Question) -> Outcome:
    return Outcome(done=False, question=question)


def _nothing(message: str, *, warning: bool = False) -> Outcome:
    return Outcome(message=message, done=False, warning=warning)


async def run_asking(
    op: Callable[[Answers], Awaitable[Outcome]],
    ask: Callable[[Question], Awaitable[bool]],
) -> Outcome:
    """Call `op`, asking each question it returns, until it gives a result."""
    answers: dict[str, bool] = {}
    while True:
        outcome = await op(answers)
        if outcome.question is None:
            return outcome
        if outcome.question.key in answers:  # asked already: never loop
            return _nothing("Nothing done")
        answers[outcome.question.key] = await ask(outcome.question)


# -- undo bookkeeping ----------------------------------------------------------------------------
def _push_undo(account: Account, action: UndoAction) -> None:
    account.undo_stack.append(action)
    del account.undo_stack[:-UNDO_DEPTH]


def forget_undo(account: Account, folder: str, uids: Sequence[int] | None = None) -> None:
    """Messages left `folder` (expunged, moved on; all of them when `uids` is None): no undo
    entry may promise to bring them back from there any more."""
    gone = None if uids is None else set(uids)
    kept: list[UndoAction] = []
    for action in account.undo_stack:
        if action.dest == folder:
            action.dest_uids = (
                [] if gone is None else [u for u in action.dest_uids if u not in gone]
            )
            if not action.dest_uids:
                continue
        if gone is None and action.source == folder:
            continue  # the folder to go back to is gone
        kept.append(action)
    account.undo_stack[:] = kept


def _rename_in_undo(account: Account, old: str, new: str, delimiter: str) -> None:
    def renamed(name: str) -> str:
        if name == old:
            return new
        if name.startswith(old + delimiter):
            return new + name[len(old) :]
        return name

    for action in account.undo_stack:
        action.source, action.dest = renamed(action.source), renamed(action.dest)


def can_undo(account: Account) -> bool:
    return bool(account.undo_stack)


# -- messages ------------------------------------------------------------------------------------
def _open_name(account: Account) -> str | None:
    return account.current.folder.name if account.current is not None else None


async def _others_deleted(account: Account, uids: Sequence[int]) -> list[int]:
    """Messages other than `uids` flagged \\Deleted, when a plain EXPUNGE would take them too
    (no UIDPLUS); [] when UID EXPUNGE removes exactly ours."""
    if account.can("UIDPLUS"):
        return []
    ours = set(uids)
    return [u for u in await account.deleted_uids() if u not in ours]


def _others_question(count: int, folder: str, dest: str | None = None) -> Question:
    instead = f"copy to {dest} and mark deleted here" if dest else "mark deleted only"
    return Question(
        "expunge_others",
        f"{plural(count, 'other message')} in {folder} {'is' if count == 1 else 'are'} "
        "marked deleted, and this server can only expunge them together with these. "
        f"Expunge them too? (No: {instead}; $ expunges later)",
        yes="Expunge all",
        no="Mark only",
    )


async def move(
    account: Account,
    uids: Sequence[int],
    dest: str,
    answers: Answers | None = None,
    *,
    kind: str = "move",
) -> Outcome:
    """Move `uids` out of the open folder to `dest`; undoable when the server says the new
    UIDs. `kind="delete"` words the result as a delete to Trash."""
    answers = answers or {}
    source = _open_name(account)
    if source is None or not uids:
        return _nothing("No message selected")
    what = plural(len(uids), "message")
    if dest == source:
        return _nothing(f"{what.capitalize()} already in {dest}")
    if account.readonly:
        verb = "deleted" if kind == "delete" else "moved (C copies)"
        return _nothing(f"{source} is read-only on the server: nothing {verb}", warning=True)
    if not account.can("MOVE"):
        others = await _others_deleted(account, uids)
        if others:
            choice = answers.get("expunge_others")
            if choice is None:
                return _ask(_others_question(len(others), source, dest))
            if not choice:
                await account.copy(uids, dest)
                await account.set_flag(uids, Flag.DELETED, True)
                return Outcome(
                    message=f"Copied {what} to {dest} and marked {'it' if len(uids) == 1 else 'them'} "
                    f"deleted in {source} (not expunged: $ expunges)",
                    changed=list(uids),
                )
    # Without UIDPLUS no COPYUID says where the messages went: note the destination's UIDNEXT
    # and find them after by Message-ID among the UIDs from there on (exact, or no undo).
    ids = None if account.can("UIDPLUS") else account.message_ids(uids)
    uidnext = (await account.refresh_status(dest)).uidnext if ids else None
    mapping = await account.move(uids, dest)
    forget_undo(account, source, uids)
    new_uids = sorted((mapping or {}).values())
    if not mapping and ids and uidnext:
        new_uids = sorted(await account.find_arrived(dest, uidnext, ids))
    undoable = len(new_uids) == len(set(uids))
    if undoable:
        _push_undo(account, UndoAction(kind, source, dest, new_uids))
    done = f"Deleted {what} (moved to {dest})" if kind == "delete" else f"Moved {what} to {dest}"
    message = done
    if not undoable:
        message += "; cannot be undone (the server did not say where it put them)"
    return Outcome(message=message, removed=list(uids), undoable=undoable, touched=[dest])


async def copy(account: Account, uids: Sequence[int], dest: str) -> Outcome:
    if _open_name(account) is None or not uids:
        return _nothing("No message selected")
    await account.copy(uids, dest)
    return Outcome(message=f"Copied {plural(len(uids), 'message')} to {dest}", touched=[dest])


async def flag(account: Account, uids: Sequence[int], name: str, on: bool) -> Outcome:
    """Set or clear a flag (\\Flagged, \\Seen, …) on `uids` of the open folder."""
    if _open_name(account) is None or not uids:
        return _nothing("No message selected")
    await account.set_flag(uids, name, on)
    if len(uids) < 2:  # one message: its row says it
        return Outcome(changed=list(uids))
    what = plural(len(uids), "message")
    words = {
        (Flag.FLAGGED, True): f"Flagged {what}",
        (Flag.FLAGGED, False): f"Unflagged {what}",
        (Flag.SEEN, True): f"Marked {what} read",
        (Flag.SEEN, False): f"Marked {what} unread",
    }
    return Outcome(changed=list(uids), message=words.get((name, on), f"Changed {what}"))


def _trash_for(account: Account) -> Folder | None:
    trash = account.folder_by_role(FolderRole.TRASH)
    return trash if trash is not None and trash.selectable else None


async def delete(account: Account, uids: Sequence[int], answers: Answers | None = None) -> Outcome:
    """To Trash where there is one and this is not it; else for good, after a question."""
    answers = answers or {}
    source = _open_name(account)
    if source is None or not uids:
        return _nothing("No message selected")
    what = plural(len(uids), "message")
    if account.readonly:
        return _nothing(f"{source} is read-only on the server: nothing deleted", warning=True)
    if not account.folders:
        # `d` pressed before the folder list came (start-up): no Trash known yet is not "no
        # Trash", and offering to delete for good then was a false question.
        try:
            await account.load_folders()
        except Exception:
            return _nothing(
                "The folder list has not come yet, so the Trash is not known: nothing deleted",
                warning=True,
            )
    trash = _trash_for(account)
    if trash is not None and trash.name != source:
        return await move(account, uids, trash.name, answers, kind="delete")
    why = f"this is {source}" if trash is not None else "there is no Trash folder"
    choice = answers.get("permanent")
    if choice is None:
        return _ask(
            Question(
                "permanent",
                f"Delete {what} permanently? ({why}; this cannot be undone)",
                yes="Delete",
            )
        )
    if not choice:
        return _nothing("Nothing deleted")
    others = await _others_deleted(account, uids)
    expunge_all = True
    if others:
        choice = answers.get("expunge_others")
        if choice is None:
            return _ask(_others_question(len(others), source))
        expunge_all = choice
    await account.set_flag(uids, Flag.DELETED, True)
    if not expunge_all:
        return Outcome(
            message=f"Marked {what} deleted in {source} (not expunged: $ expunges)",
            changed=list(uids),
        )
    gone = await account.expunge(uids)
    forget_undo(account, source, gone)
    missing = len(set(uids) - set(gone))
    message = f"Deleted {what} permanently"
    if missing:
        message += f" ({plural(missing, 'message')} still there: the server kept them)"
    return Outcome(message=message, removed=gone, refresh=bool(set(gone) - set(uids)))


async def expunge(account: Account, answers: Answers | None = None) -> Outcome:
    """Remove for good the messages flagged \\Deleted in the open folder, after a question."""
    answers = answers or {}
    source = _open_name(account)
    if source is None:
        return _nothing("No folder is open")
    if account.readonly:
        return _nothing(f"{source} is read-only on the server: nothing expunged", warning=True)
    marked = await account.deleted_uids()
    if not marked:
        return _nothing(f"Nothing to expunge: no message in {source} is marked deleted")
    what = plural(len(marked), "message")
    choice = answers.get("expunge")
    if choice is None:
        return _ask(
            Question(
                "expunge",
                f"Expunge {what} marked deleted in {source}? This cannot be undone.",
                yes="Expunge",
            )
        )
    if not choice:
        return _nothing("Nothing expunged")
    gone = await account.expunge()
    forget_undo(account, source, gone)
    return Outcome(message=f"Expunged {plural(len(gone), 'message')} from {source}", removed=gone)


async def undo(account: Account) -> Outcome:
    """Take back the newest delete or move whose messages are still where it put them."""
    if not account.undo_stack:
        return _nothing("Nothing to undo")
    from app.imap.errors import ImapConnectionError, ImapTimeout

    action = account.undo_stack.pop()
    try:
        present = await account.existing_uids(action.dest, action.dest_uids)
        if not present:
            return _nothing(
                f"Cannot undo the {action.description}: "
                f"the messages are no longer in {action.dest}",
                warning=True,
            )
        await account.move_between(action.dest, present, action.source)
    except (ImapConnectionError, ImapTimeout, ConnectionError, TimeoutError):
        # Offline or cut off: nothing was taken back, so the next `u` may try again. (A
        # refusal, such as a folder gone, drops the entry: it would fail the same way again.)
        account.undo_stack.append(action)
        raise
    what = plural(len(present), "message")
    message = f"Undid {action.description}: {what} back in {action.source}"
    lost = len(action.dest_uids) - len(present)
    if lost:
        message += f" ({plural(lost, 'message')} no longer in {action.dest})"
    return Outcome(
        message=message,
        refresh=action.source == _open_name(account),
        touched=[action.dest, action.source],
    )


# -- folders -------------------------------------------------------------------------------------
def _listed(account: Account, folder: Folder | str) -> Folder | None:
    """The folder as the server listed it last (never a stale copy held elsewhere)."""
    name = folder if isinstance(folder, str) else folder.name
    return account.folder(name)


def _children(account: Account, folder: Folder) -> list[Folder]:
    prefix = folder.name + (folder.delimiter or "/")
    return [f for f in account.folders if f.name.startswith(prefix)]


async def create_folder(account: Account, name: str) -> Outcome:
    name = name.strip()
    if not name:
        return _nothing("No folder name given")
    if account.folder(name) is not None:
        return _nothing(f"{name} exists already", warning=True)
    await account.create_folder(name)
    await account.load_folders()
    return Outcome(message=f"Created {name}", folders_changed=True, folder=name)


async def rename_folder(account: Account, folder: Folder | str, new: str) -> Outcome:
    listed = _listed(account, folder)
    old = folder if isinstance(folder, str) else folder.name
    new = new.strip()
    if listed is None:
        return _nothing(f"{old} is not a folder on the server", warning=True)
    if not new or new == old:
        return _nothing("Not renamed")
    if old.upper() == "INBOX":
        return _nothing("INBOX cannot be renamed", warning=True)
    if account.folder(new) is not None:
        return _nothing(f"{new} exists already: {old} not renamed", warning=True)
    was_open = _open_name(account) == old
    await account.rename_folder(old, new)
    _rename_in_undo(account, old, new, listed.delimiter or "/")
    if listed.subscribed:  # RENAME leaves subscriptions alone (RFC 3501 6.3.5): carry it over
        with contextlib.suppress(Exception):
            await account.subscribe(new, True)
            await account.subscribe(old, False)
    await account.load_folders()
    return Outcome(
        message=f"Renamed {old} to {new}",
        folders_changed=True,
        reopen=new if was_open and account.folder(new) is not None else None,
        closed=was_open,
        folder=new,
    )


async def delete_folder(
    account: Account, folder: Folder | str, answers: Answers | None = None
) -> Outcome:
    """Delete a folder and its messages, after a question naming how many."""
    answers = answers or {}
    listed = _listed(account, folder)
    name = folder if isinstance(folder, str) else folder.name
    if listed is None:
        return _nothing(f"{name} is not a folder on the server", warning=True)
    if name.upper() == "INBOX":
        return _nothing("INBOX cannot be deleted", warning=True)
    choice = answers.get("delete_folder")
    if choice is None:
        status = account.statuses.get(name)
        if not listed.selectable:
            contents = "(it holds no messages)"
        elif status is not None:
            contents = f"and its {plural(status.messages, 'message')}"
        else:
            contents = "and all its messages"
        children = _children(account, listed)
        stay = "stays" if len(children) == 1 else "stay"
        extra = f" Its {plural(len(children), 'subfolder')} {stay}." if children else ""
        role = "" if listed.role is FolderRole.NONE else f" (your {listed.role.value} folder)"
        return _ask(
            Question(
                "delete_folder",
                f"Delete the folder {name}{role} {contents}? This cannot be undone.{extra}",
                yes="Delete",
            )
        )
    if not choice:
        return _nothing(f"{name} not deleted")
    was_open = _open_name(account) == name
    await account.delete_folder(name)
    forget_undo(account, name)
    await account.load_folders()
    still = account.folder(name)
    if still is not None and (not still.selectable or _children(account, still)):
        # The name stays as the parent of its subfolders (Dovecot's Maildir++ lists it so)
        return Outcome(
            message=f"Deleted the folder {name}; the server keeps its name for its subfolders",
            folders_changed=True,
            closed=was_open,
        )
    if still is not None:
        return Outcome(
            message=f"The server still lists {name} after deleting it",
            warning=True,
            folders_changed=True,
            closed=was_open,
        )
    return Outcome(message=f"Deleted the folder {name}", folders_changed=True, closed=was_open)


async def set_subscribed(account: Account, folder: Folder | str, on: bool | None = None) -> Outcome:
    """Subscribe (or unsubscribe; None: the opposite of what the server lists now)."""
    listed = _listed(account, folder)
    name = folder if isinstance(folder, str) else folder.name
    if listed is None:
        return _nothing(f"{name} is not a folder on the server", warning=True)
    want = (not listed.subscribed) if on is None else on
    await account.subscribe(name, want)
    await account.load_folders()
    now = account.folder(name)
    if now is not None and now.subscribed != want:
        return Outcome(
            message=f"The server did not change the subscription of {name}",
            warning=True,
            folders_changed=True,
        )
    text = f"Subscribed to {name}" if want else f"Unsubscribed from {name}"
    return Outcome(message=text, folders_changed=True)
