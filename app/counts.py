"""Folder counts kept true without opening the folders (issue 14 item 9).

Two sources of change, both answered with a pipelined STATUS on the account's connection:

* our own commands: every copy, move, append (a sent copy, a postponed draft), expunge and
  flag change tells the account which folders it touched (`ImapClient.on_changed`); those are
  asked for again a moment later, so the tree shows the destination's new count at once;
* everybody else's: every `interval` seconds the subscribed folders are asked for, at most
  `batch` of them a round (round robin over the rest), which is one round trip however many
  folders there are; a folder whose UIDNEXT and message count grew got new mail.

The open folder is watched by IDLE already; it is included all the same (a STATUS is cheap).
Nothing here imports the UI: the screen passes `on_update` and draws what it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from app.models import Folder, FolderRole, FolderStatus

__all__ = ["CountsUpdate", "FolderCounts"]

log = logging.getLogger(__name__)

#: Folders whose new mail is ours (a sent copy, a moved or deleted message), never "new mail".
_OWN_ROLES = frozenset({FolderRole.SENT, FolderRole.DRAFTS, FolderRole.TRASH, FolderRole.JUNK})


@dataclass(frozen=True, slots=True)
class CountsUpdate:
    """New counts of one folder; `new_mail` > 0 when others delivered mail there (not after
    our own command, and never for Sent, Drafts, Trash or Junk)."""

    folder: str
    status: FolderStatus
    new_mail: int = 0


class FolderCounts:
    """Runs until cancelled: `run(on_update)`; see the module docstring."""

    def __init__(
        self,
        account: Any,
        *,
        interval: float = 120.0,
        batch: int = 50,
        settle: float = 0.3,
    ) -> None:
        self.account = account
        self.interval = interval
        self.batch = batch
        self.settle = settle
        self._cursor = 0

    def _polled(self) -> list[Folder]:
        """The next `batch` subscribed, selectable folders, round robin."""
        folders: Sequence[Folder] = [
            f
            for f in getattr(self.account, "folders", ())
            if f.subscribed and getattr(f, "selectable", True)
        ]
        if len(folders) <= self.batch:
            return list(folders)
        start = self._cursor % len(folders)
        picked = [folders[(start + i) % len(folders)] for i in range(self.batch)]
        self._cursor = (start + self.batch) % len(folders)
        return picked

    async def run(self, on_update: Callable[[CountsUpdate], None]) -> None:
        account = self.account
        event: asyncio.Event = account.counts_changed
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), self.interval)
            ours = event.is_set()
            if ours:
                await asyncio.sleep(self.settle)  # a move touches two folders: one round
                event.clear()
            touched = account.take_changed_folders()
            names: list[str | Folder] = (
                [account.folder(n) or n for n in touched] if ours else list(self._polled())
            )
            if not names or account.client is None:
                continue
            try:
                found = await account.status_many(names)
            except Exception as exc:  # offline, or the server refused: the next round retries
                log.info("counts not refreshed: %s", exc)
                continue
            for name, status in found.items():
                old = account.statuses.get(name)
                account.statuses[name] = status
                new_mail = 0
                folder = account.folder(name)
                role = folder.role if folder is not None else FolderRole.NONE
                if (
                    not ours
                    and old is not None
                    and role not in _OWN_ROLES
                    and old.uidvalidity == status.uidvalidity
                    and old.uidnext is not None
                    and status.uidnext is not None
                    and status.uidnext > old.uidnext
                    and status.messages > old.messages
                ):
                    new_mail = min(status.uidnext - old.uidnext, status.messages - old.messages)
                if old != status:
                    on_update(CountsUpdate(name, status, new_mail))
