"""Folder counts kept true without opening the folders (issue 14 item 9).

Two sources of change, both answered with a pipelined STATUS on the account's connection:

* our own commands: every copy, move, append (a sent copy, a postponed draft), expunge and
  flag change tells the account which folders it touched (`ImapClient.on_changed`); those are
  asked for again a moment later, so the tree shows the destination's new count at once;
* everybody else's: where the server offers NOTIFY (RFC 5465) and IDLE, a connection of its
  own sits in ``NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange))`` and IDLE,
  and each ``* STATUS`` the server pushes marks that folder to be asked for (`NotifyWatcher`);
  elsewhere (and every 15 minutes even with NOTIFY) the subscribed folders are asked for every
  `interval` seconds, at most `batch` of them a round (round robin over the rest), which is
  one round trip however many folders there are. A folder whose UIDNEXT and message count
  grew got new mail.

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

from app.imap.errors import ImapAuthError, ImapError, ImapTlsError
from app.models import Credentials, Folder, FolderRole, FolderStatus, ServerSettings

__all__ = ["CountsUpdate", "FolderCounts", "NotifyWatcher"]

log = logging.getLogger(__name__)

#: STATUS items as FolderStatus fields.
_FIELDS = {
    "MESSAGES": "messages",
    "UNSEEN": "unseen",
    "UIDNEXT": "uidnext",
    "UIDVALIDITY": "uidvalidity",
    "HIGHESTMODSEQ": "highestmodseq",
}

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
        use_notify: bool = True,
        notify_interval: float = 900.0,
    ) -> None:
        self.account = account
        self.interval = interval
        self.batch = batch
        self.settle = settle
        self.use_notify = use_notify
        self.notify_interval = notify_interval
        self.notify: NotifyWatcher | None = None
        self.startup_poll = 1.0
        self._cursor = 0
        self._external: set[str] = set()
        self._wake = asyncio.Event()

    def mark_external(self, name: str, counts: dict[str, int] | None = None) -> None:
        """Another client changed `name` (a NOTIFY push): ask for its counts soon, unless the
        pushed figures are those already known (the burst a server sends as NOTIFY starts)."""
        known = self.account.statuses.get(name)
        if counts and known is not None:
            same = all(
                getattr(known, _FIELDS[key]) == value
                for key, value in counts.items()
                if key in _FIELDS
            )
            if same:
                return
        if len(self._external) < 1000:
            self._external.add(name)
        self._wake.set()

    def _start_notify(self) -> None:
        account = self.account
        settings: ServerSettings | None = getattr(account, "imap_settings", None)
        if not self.use_notify or settings is None or self.notify is not None:
            return
        creds_fn = getattr(account, "_credentials", None)
        if settings.tunnel or creds_fn is None:
            return
        self.notify = NotifyWatcher(
            settings, creds_fn, self.mark_external, on_alert=getattr(account, "report_alert", None)
        )
        self.notify.start()

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
        try:
            await self._run(on_update)
        finally:
            if self.notify is not None:
                self.notify.cancel()  # no await: this runs as the app closes

    async def _run(self, on_update: Callable[[CountsUpdate], None]) -> None:
        account = self.account
        event: asyncio.Event = account.counts_changed
        # Not before the folder tree is there: the start (TLS, login, the first screen and
        # the tree) comes first, a third connection after it.
        while account.client is None or not account.folders:
            await asyncio.sleep(self.startup_poll)
        self._start_notify()
        while True:
            notifying = self.notify is not None and self.notify.active
            interval = self.notify_interval if notifying else self.interval
            waiters = [
                asyncio.ensure_future(event.wait()),
                asyncio.ensure_future(self._wake.wait()),
            ]
            try:
                await asyncio.wait(waiters, timeout=interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            ours = event.is_set()
            external = self._wake.is_set()
            if ours or external:
                await asyncio.sleep(self.settle)  # a move touches two folders: one round
                event.clear()
                self._wake.clear()
            touched = account.take_changed_folders()
            names: list[str | Folder]
            if ours or external:
                pushed, self._external = self._external, set()
                names = [account.folder(n) or n for n in touched | pushed]
            else:
                names = list(self._polled())
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
                # What others changed is news; a folder we changed ourselves is not.
                if (
                    name not in touched
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


class NotifyWatcher:
    """A connection of its own in NOTIFY (RFC 5465) + IDLE: `on_folder(name)` for each folder
    the server says changed. Reconnects with backoff; `active` while NOTIFY is set; ends for
    good (`unsupported`) when the server lacks NOTIFY or IDLE or refuses the NOTIFY command,
    and on bad credentials or TLS (the main connection reports those)."""

    EVENTS = "(personal (MessageNew MessageExpunge FlagChange))"

    def __init__(
        self,
        settings: ServerSettings,
        credentials: Callable[[], Credentials | None],
        on_folder: Callable[[str, dict[str, int]], None],
        *,
        on_alert: Callable[[Any], None] | None = None,
        reissue: float = 28 * 60,
        backoff: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0),
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.on_folder = on_folder
        self.on_alert = on_alert
        self.reissue = reissue
        self.backoff = backoff
        self.active = False
        self.unsupported = False
        self.pushes = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    def cancel(self) -> None:
        """Stop at once (the connection is aborted, not logged out)."""
        if self._task is not None:
            self._task.cancel()
        self.active = False

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.active = False

    async def _run(self) -> None:
        from app.imap.engine import Connection

        attempt = 0
        while True:
            conn: Connection | None = None
            try:
                conn = await Connection.open(
                    self.settings, self.credentials(), on_alert=self.on_alert
                )
                if not (conn.has_capability("NOTIFY") and conn.has_capability("IDLE")):
                    self.unsupported = True
                    return
                resp = await conn.execute("NOTIFY", "SET", "STATUS", self.EVENTS)
                if not resp.ok:
                    log.info("NOTIFY refused (%s); counts are polled instead", resp.text)
                    self.unsupported = True
                    return
                self.active = True
                attempt = 0
                await self._watch(conn)
            except (ImapAuthError, ImapTlsError):
                self.unsupported = True
                return
            except ImapError as exc:
                log.info("NOTIFY connection lost: %s", exc)
            finally:
                self.active = False
                if conn is not None:
                    # Aborted, no LOGOUT round trip and no wait: this runs as the app closes.
                    transport = conn.protocol.transport
                    conn.protocol.mark_dead("closed by the client")
                    if transport is not None:
                        transport.abort()
            await asyncio.sleep(self.backoff[min(attempt, len(self.backoff) - 1)])
            attempt += 1

    async def _watch(self, conn: Any) -> None:
        from app.imap import parser

        while True:
            # What came between two IDLEs (right after NOTIFY, or after DONE) is unsolicited.
            early = conn.take_unsolicited()
            await conn.idle_start()
            pushed = [*early, *await conn.idle_wait(0.0 if early else self.reissue)]
            if pushed:
                pushed += await conn.idle_wait(0.3)
            resp = await conn.idle_done()
            for raw in [*pushed, *resp.untagged]:
                try:
                    data = parser.parse_untagged(raw, utf8=conn.utf8)
                except parser.ParseError:
                    continue
                if isinstance(data, parser.StatusData):
                    self.pushes += 1
                    self.on_folder(data.name, data.counts)
