"""Folder management over `app.actions.operations`: create (`A`), rename (`E`), delete (`X`),
(un)subscribe (`S`), and ctrl+l refresh. Each acts on the folder under the tree's cursor while
the tree has the focus, else on the open folder."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from app.models import Folder
from app.screens.main.listing import INBOX, open_folder, show_folders
from app.screens.main.message_ops import ask_question, run_op, show_outcome
from app.screens.main.watch import leave_watched, refresh_open_folder, resume_watch
from widgets.dialogs import PromptDialog
from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["FolderActions", "current_folder", "folder_target"]


def current_folder(screen: Host) -> Folder | None:
    current = screen.account.current
    if current is None:
        return None
    return screen.account.folder(current.folder.name) or current.folder


def folder_target(screen: Host) -> Folder | str | None:
    """The folder E/X/S act on: the one under the tree's cursor while the tree has the
    focus (a path part the server did not list comes back as its name), else the open
    folder."""
    tree = screen.folder_tree
    node = tree.cursor_node if tree.has_focus else None
    if node is not None and node.data is not None:
        listed = screen.account.folder(node.data.name)
        return listed if listed is not None else node.data.name
    return current_folder(screen)


async def _after_folder_op(screen: Host, outcome: Any) -> None:
    show_outcome(screen, outcome)
    if outcome.folders_changed:
        show_folders(screen)
        if outcome.folder and screen.folder_tree.has_focus:
            screen.call_after_refresh(_tree_cursor_to, screen, outcome.folder)
    target = screen.account.folder(outcome.reopen) if outcome.reopen else None
    if target is None and not outcome.closed:
        resume_watch(screen)  # the open folder stays open: watch it again if stopped
    if target is None and outcome.closed:
        screen.message_list.set_uids([], keep_cursor=False)
        screen._folder_uids = []
        target = screen.account.folder("INBOX") or INBOX
    if target is not None:
        screen.folder_tree.select_folder(target.name)
        await open_folder(screen, target)


def _tree_cursor_to(screen: Host, name: str) -> None:
    node = screen.folder_tree.node_for(name)
    if node is not None:
        screen.folder_tree.move_cursor(node)


async def _reload_folders_quietly(screen: Host) -> None:
    """After a failed folder change: the tree as the server lists it now, and the watcher
    back on the open folder if `leave_watched` stopped it."""
    resume_watch(screen)
    with contextlib.suppress(Exception):
        await screen.account.load_folders()
        show_folders(screen)


class FolderActions:
    """`A` create, `E` rename, `X` delete, `S` (un)subscribe, ctrl+l refresh."""

    @work(group="folders")
    async def action_create_folder(self: Host) -> None:
        from app.actions import operations as ops

        name = await self.app.push_screen_wait(PromptDialog("New folder name", ""))
        if not name:
            return
        outcome = await run_op(
            self, lambda _answers: ops.create_folder(self.account, name), f"Cannot create {name}"
        )
        if outcome is not None:
            await _after_folder_op(self, outcome)

    @work(group="folders")
    async def action_rename_folder(self: Host) -> None:
        from app.actions import operations as ops

        folder = folder_target(self)
        if folder is None:
            return
        name = folder if isinstance(folder, str) else folder.name
        new = await self.app.push_screen_wait(PromptDialog(f"Rename {name} to", name))
        if not new or new == name:
            return
        leave_watched(self, name)
        outcome = await run_op(
            self,
            lambda _answers: ops.rename_folder(self.account, folder, new),
            f"Cannot rename {name}",
        )
        if outcome is None:
            await _reload_folders_quietly(self)
            return
        await _after_folder_op(self, outcome)

    @work(group="folders")
    async def action_delete_folder(self: Host) -> None:
        from app.actions import operations as ops

        folder = folder_target(self)
        if folder is None:
            return
        name = folder if isinstance(folder, str) else folder.name

        async def ask(question: Any) -> bool:
            answer = await ask_question(self, question)
            if answer:
                leave_watched(self, name)
            return answer

        try:
            outcome = await ops.run_asking(
                lambda answers: ops.delete_folder(self.account, folder, answers), ask
            )
        except Exception as exc:
            self._report(exc, f"Cannot delete {name}")
            await _reload_folders_quietly(self)
            return
        await _after_folder_op(self, outcome)

    @work(group="folders")
    async def action_toggle_subscribe(self: Host) -> None:
        from app.actions import operations as ops

        folder = folder_target(self)
        if folder is None:
            return
        outcome = await run_op(
            self,
            lambda _answers: ops.set_subscribed(self.account, folder),
            "Subscription change failed",
        )
        if outcome is not None:
            await _after_folder_op(self, outcome)

    @work(group="folder")
    async def action_refresh(self: Host) -> None:
        await refresh_open_folder(self)
