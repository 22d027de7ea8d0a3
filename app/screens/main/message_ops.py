"""Message actions over `app.actions.operations`: flag, delete, undo, move, copy, expunge.

The core decides (what is deleted, what can be undone, what must be asked); here the
questions are asked as dialogs and the typed `Outcome` is rendered: rows removed, flags
redrawn, one toast, the touched folders' counts.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from app.models import Flag
from app.screens.main.listing import open_folder, picker_names
from app.screens.main.watch import refresh_open_folder, show_counts
from widgets.dialogs import ConfirmDialog, FolderPicker
from widgets.workers import screen_going, work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = [
    "MessageActions",
    "ask_question",
    "pick_folder",
    "run_op",
    "set_flag",
    "show_outcome",
    "targets",
]


def targets(screen: Host) -> list[int]:
    """The marked messages, else the one under the cursor (a folded line: its whole thread)."""
    from app.screens import fold_actions

    return fold_actions.targets(screen)


async def _targets_and_folder(screen: Host, verb: str) -> tuple[list[int], str, str] | None:
    """`s` and `C`: what to act on and the folder chosen for it (offered first next time, as
    mutt does); None when there is nothing to act on or the picker was left."""
    from app.actions import operations as ops

    uids = targets(screen)
    if not uids:
        return None
    what = ops.plural(len(uids), "message")
    dest = await pick_folder(screen, f"{verb} {what} to", screen._last_dest)
    if not dest:
        return None
    screen._last_dest = dest
    return uids, what, dest


async def set_flag(screen: Host, uids: list[int], flag: str, on: bool) -> None:
    from app.actions import operations as ops

    try:
        outcome = await ops.flag(screen.account, uids, flag, on)
    except Exception as exc:
        screen._report(exc, "Changing flags failed")
        return
    show_outcome(screen, outcome)


async def ask_question(screen: Host, question: Any) -> bool:
    """Ask what an operation's `Outcome.question` calls for (y/n), as a dialog."""
    answer = await screen.app.push_screen_wait(
        ConfirmDialog(question.text, yes=question.yes, no=question.no, danger=question.danger)
    )
    return bool(answer)


async def run_op(screen: Host, op: Any, title: str, job: str | None = None) -> Any:
    """Run an `app.actions.operations` coroutine (asking its questions); errors are reported
    and give None."""
    from app.actions import operations as ops

    async def ask(question: Any) -> bool:
        return await ask_question(screen, question)

    try:
        if job is None:
            return await ops.run_asking(op, ask)
        with screen.status.job(job):
            return await ops.run_asking(op, ask)
    except Exception as exc:
        screen._report(exc, title)
        return None


def show_outcome(screen: Host, outcome: Any, *, quiet: bool = False) -> None:
    """Render what an operation did: the list, the flags, and one sentence of toast."""
    if screen_going(screen):
        return  # the screen is going (quit while the server was slow): nothing left to draw on
    if outcome.removed:
        _after_removal(screen, list(outcome.removed))
    if outcome.changed:
        ml = screen.message_list
        ml.update_summaries(s for s in (ml.summary(u) for u in outcome.changed) if s)
    if outcome.message and not (quiet and outcome.done):
        text = outcome.message + ("; u to undo" if outcome.undoable else "")
        screen.notify(text, severity="warning" if outcome.warning else "information", markup=False)


async def _after_op(screen: Host, outcome: Any) -> None:
    show_outcome(screen, outcome)
    if outcome.refresh:
        await refresh_open_folder(screen)
    for name in outcome.touched:  # the tree's counts of the other folders (Trash, the dest)
        with contextlib.suppress(Exception):  # a courtesy: the operation is done
            show_counts(screen, name, await screen.account.refresh_status(name))


def _after_removal(screen: Host, uids: list[int]) -> None:
    gone = set(uids)
    screen._folder_uids = [u for u in screen._folder_uids if u not in gone]
    if screen._search_uids is not None:
        screen._search_uids = [u for u in screen._search_uids if u not in gone]
    if screen._thread_rows is not None:
        rows = [(u, d) for u, d in zip(*screen._thread_rows, strict=True) if u not in gone]
        screen._thread_rows = ([u for u, _ in rows], [d for _, d in rows])
    screen.message_list.marked.difference_update(gone)
    screen.message_list.remove_uids(uids)


async def pick_folder(screen: Host, title: str, current: str | None = None) -> str | None:
    """A folder chosen by name, in the tree's order; `current` is highlighted first. Before
    LIST answers: the cached list, else "loading folders…" until it does (`show_folders`)."""
    result: str | None = await screen.app.push_screen_wait(
        FolderPicker(title, picker_names(screen), current=current)
    )
    return result


class MessageActions:
    """`F` `N` flags, `d` delete, `u` undo, `s` move, `C` copy, `$` expunge, `c` open a folder."""

    _last_dest: str | None  # the screen's state these keys write (MainScreen.__init__)

    @work(group="action")
    async def action_toggle_flag(self: Host) -> None:
        from app.screens import fold_actions

        uids = targets(self)
        await set_flag(self, uids, Flag.FLAGGED, fold_actions.flag_on(self, uids))

    @work(group="action")
    async def action_toggle_unread(self: Host) -> None:
        from app.screens import fold_actions

        uids = targets(self)
        await set_flag(self, uids, Flag.SEEN, fold_actions.unread_on(self, uids))

    @work(group="action")
    async def action_delete(self: Host) -> None:
        from app.actions import operations as ops

        uids = [u for u in targets(self) if u not in self._leaving]
        if not uids:
            return
        self._leaving.update(uids)
        try:
            outcome = await run_op(
                self,
                lambda answers: ops.delete(self.account, uids, answers),
                "Delete failed",
                f"Deleting {ops.plural(len(uids), 'message')}",
            )
        finally:
            self._leaving.difference_update(uids)
        if outcome is not None:
            await _after_op(self, outcome)

    @work(group="action")
    async def action_undo(self: Host) -> None:
        from app.actions import operations as ops
        from app.screens import undo_send_actions

        # A send counting down is the newest action: u takes it back first.
        if undo_send_actions.undo_send(self):
            return

        outcome = await run_op(self, lambda _answers: ops.undo(self.account), "Undo failed")
        if outcome is not None:
            await _after_op(self, outcome)

    @work(group="action")
    async def action_move(self: Host) -> None:
        from app.actions import operations as ops

        chosen = await _targets_and_folder(self, "Move")
        if chosen is None:
            return
        uids, what, dest = chosen
        uids = [u for u in uids if u not in self._leaving]
        if not uids:
            return
        self._leaving.update(uids)
        try:
            outcome = await run_op(
                self,
                lambda answers: ops.move(self.account, uids, dest, answers),
                "Move failed",
                f"Moving {what}",
            )
        finally:
            self._leaving.difference_update(uids)
        if outcome is not None:
            await _after_op(self, outcome)

    @work(group="action")
    async def action_copy(self: Host) -> None:
        from app.actions import operations as ops

        chosen = await _targets_and_folder(self, "Copy")
        if chosen is None:
            return
        uids, what, dest = chosen
        outcome = await run_op(
            self,
            lambda _answers: ops.copy(self.account, uids, dest),
            "Copy failed",
            f"Copying {what}",
        )
        if outcome is not None:
            await _after_op(self, outcome)

    @work(group="action")
    async def action_expunge(self: Host) -> None:
        from app.actions import operations as ops

        outcome = await run_op(
            self, lambda answers: ops.expunge(self.account, answers), "Expunge failed"
        )
        if outcome is not None:
            await _after_op(self, outcome)

    @work(group="action")
    async def action_change_folder(self: Host) -> None:
        current = self.account.current
        dest = await pick_folder(self, "Open folder", current.folder.name if current else None)
        # Before LIST answers, a folder of the cached tree (opened as the tree would).
        folder = (self.account.folder(dest) or self.folder_tree.folder(dest)) if dest else None
        if folder is not None:
            self.folder_tree.select_folder(folder.name)
            await open_folder(self, folder)
