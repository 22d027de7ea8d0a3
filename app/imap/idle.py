"""The IDLE watcher: one connection of its own that waits in IDLE (NOOP polling where the server
has no IDLE) on one folder and hands each untagged change to a callback.

Kept apart from `app.imap.mailbox` (the selected folder's state) because it opens an
`ImapClient`, which itself folds responses into a `MailboxState`: one way only.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from app.imap.errors import ImapAuthError, ImapError, ImapTlsError
from app.imap.mailbox import IDLE_REISSUE_SECONDS, MailboxEvent, OnChange

if TYPE_CHECKING:
    from app.imap.client import ImapClient
    from app.imap.engine import ServerAlert
    from app.models import Credentials, ServerSettings

__all__ = ["IdleWatcher"]

log = logging.getLogger(__name__)


class IdleWatcher:
    """Watches one folder on a connection of its own and reports changes through `on_change`.

    Runs until `stop()`: connects (retrying with backoff; bad credentials or TLS end it, see
    `error`), selects the folder read-only, then IDLEs (or polls with NOOP every
    `poll_interval` s where IDLE is missing). New messages are reported with their UIDs.

    It never loads the folder's UID list (at 100,000 messages that would be 400 KB held, and
    8 MB of ints and sets on every change): EXISTS, EXPUNGE, VANISHED and FETCH say that
    something changed, the UIDs above the last UIDNEXT are the new mail, and after a
    reconnect UIDVALIDITY, UIDNEXT and the message count tell what happened meanwhile (an
    expunge is then reported without its UIDs; the account reloads the list anyway).
    """

    def __init__(
        self,
        settings: ServerSettings,
        credentials: Credentials | None,
        folder: str,
        on_change: OnChange,
        *,
        reissue: float = IDLE_REISSUE_SECONDS,
        poll_interval: float = 60.0,
        backoff: tuple[float, ...] = (0.25, 0.5, 1.0),
        use_idle: bool = True,
        callback_timeout: float = 30.0,
        on_alert: Callable[[ServerAlert], None] | None = None,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_alert = on_alert
        self.on_state = on_state
        """Told True when the watch is up (again) and False when its connection is lost: the
        only connection that hears of a dead server while the user does nothing."""
        self.credentials = credentials
        self.folder = folder
        self.on_change = on_change
        self.reissue = reissue
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.use_idle = use_idle
        self.callback_timeout = callback_timeout
        self.error: ImapError | None = None
        self.connected = asyncio.Event()
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._client: ImapClient | None = None
        self._known: tuple[int | None, int | None, int] | None = None
        """(UIDVALIDITY, UIDNEXT, message count) when last seen, to compare after a reconnect."""

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._close_client()

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def _close_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 5.0)

    async def _emit(self, events: Iterable[MailboxEvent]) -> None:
        for event in events:
            try:
                result = self.on_change(event)
                if inspect.isawaitable(result):
                    await asyncio.wait_for(result, self.callback_timeout)
            except Exception:  # the UI's problem (or slowness) must not stop the watch
                log.exception("on_change failed for %s", event)

    async def _run(self) -> None:
        from app.imap.client import ImapClient

        attempt = 0
        while True:
            try:
                client = await ImapClient.connect(
                    self.settings, self.credentials, retries=0, on_alert=self.on_alert
                )
                self._client = client
                await client.select(self.folder, readonly=True)
                await self._emit(await self._after_reconnect(client))
                self.connected.set()
                self._tell_state(True)
                attempt = 0
                await self._watch(client)
            except (ImapAuthError, ImapTlsError) as exc:
                self.error = exc  # the user must act; retrying would only repeat it
                log.warning("IDLE watcher for %s stopped: %s", self.folder, exc)
                await self._close_client()
                return
            except ImapError as exc:
                self.error = exc
                log.info("IDLE watcher for %s lost its connection: %s", self.folder, exc)
            if self.connected.is_set():  # it was up: the server went away
                self._tell_state(False)
            self.connected.clear()
            await self._close_client()
            # Capped low: a restarted server is noticed within a couple of seconds.
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            self.reconnects += 1
            await asyncio.sleep(delay)

    def _tell_state(self, up: bool) -> None:
        if self.on_state is not None:
            try:
                self.on_state(up)
            except Exception:  # the UI's problem must not stop the watch
                log.exception("on_state failed")

    async def _after_reconnect(self, client: ImapClient) -> list[MailboxEvent]:
        """What changed while we were away, judged from UIDVALIDITY, UIDNEXT and the count;
        the new UIDs are asked for (UIDs only grow, so they lie from the old UIDNEXT on)."""
        state = client.mailbox
        if state is None:
            return []
        previous = self._known
        self._remember(client)
        if previous is None:
            return []
        old_validity, old_next, old_exists = previous
        if old_validity != state.uidvalidity:
            return [MailboxEvent("resync", self.folder, (), {}, state.exists)]
        new: tuple[int, ...] = ()
        if old_next is None or state.uidnext is None:
            if state.exists != old_exists:  # no UIDNEXT to go by: say "reload"
                return [MailboxEvent("resync", self.folder, (), {}, state.exists)]
            return []
        if state.uidnext > old_next:
            new = tuple(await client.uids_from(old_next))
        events = []
        if new:
            events.append(MailboxEvent("new", self.folder, new, {}, state.exists))
        if state.exists < old_exists + len(new):
            events.append(MailboxEvent("expunged", self.folder, (), {}, state.exists))
        return events

    def _remember(self, client: ImapClient) -> None:
        state = client.mailbox
        if state is not None:
            self._known = (state.uidvalidity, state.uidnext, state.exists)

    async def _watch(self, client: ImapClient) -> None:
        idle = self.use_idle and client.has_capability("IDLE")
        while True:
            if idle:
                events = await client.idle(self.reissue)
            else:
                await asyncio.sleep(self.poll_interval)
                events = await client.noop()
            self._remember(client)
            await self._emit(events)
