"""The selected mailbox's state, kept true by folding untagged responses, and an IDLE watcher.

Servers report changes whenever they like: `* n EXISTS` and `* n EXPUNGE` may arrive in the
middle of a FETCH, `* VANISHED` replaces EXPUNGE once QRESYNC is on, and `* n FETCH (FLAGS ...)`
tells of another client's flag change. `MailboxState.apply` folds each of them into the UID list
(sequence order, which is ascending UID order) and turns it into a `MailboxEvent` for the UI.

`IdleWatcher` keeps a connection of its own on one folder: IDLE where offered (re-issued before
the 29 minutes after which servers may drop an idle client), NOOP polling where not, reconnecting
with backoff, and calling `on_change(event)` for new mail, expunges and flag changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.imap import parser
from app.imap.errors import ImapAuthError, ImapError, ImapTlsError

if TYPE_CHECKING:
    from app.imap.client import ImapClient
    from app.models import Credentials, ServerSettings

__all__ = ["IdleWatcher", "MailboxEvent", "MailboxState"]

log = logging.getLogger(__name__)

#: Servers may log out a client idle for 30 minutes (RFC 3501 5.4); re-issue IDLE before that.
IDLE_REISSUE_SECONDS = 28 * 60


@dataclass(frozen=True, slots=True)
class MailboxEvent:
    """Something changed in a folder.

    kind: "new" (uids of new messages, empty when not yet known), "expunged" (uids removed),
    "flags" (`flags` maps uid to its new flag set), or "resync" (UIDVALIDITY changed or the
    state could not be followed: reload the folder).
    """

    kind: str
    folder: str
    uids: tuple[int, ...] = ()
    flags: dict[int, frozenset[str]] = field(default_factory=dict)
    exists: int = 0


@dataclass(slots=True)
class MailboxState:
    """What we know of the selected mailbox; `uids` is in sequence order (seq n = uids[n-1]).

    `uids` is None until a UID list was fetched; until then EXPUNGE only changes `exists`.
    `unknown_new` counts messages announced by EXISTS whose UIDs are not fetched yet (they are
    the last ones in sequence order).
    """

    name: str
    uidvalidity: int | None = None
    exists: int = 0
    recent: int = 0
    uidnext: int | None = None
    highestmodseq: int | None = None
    uids: list[int] | None = None
    unknown_new: int = 0
    events: list[MailboxEvent] = field(default_factory=list)

    def set_uids(self, uids: Iterable[int]) -> None:
        """A complete UID list (any order) from UID SEARCH ALL or similar."""
        self.uids = sorted(set(uids))
        self.exists = len(self.uids)
        self.unknown_new = 0

    def add_new_uids(self, uids: Iterable[int]) -> tuple[int, ...]:
        """UIDs fetched after EXISTS grew: append those not yet known, return them."""
        if self.uids is None:
            return ()
        known = set(self.uids)
        last = self.uids[-1] if self.uids else 0
        fresh = sorted(u for u in set(uids) if u not in known and u > last)
        self.uids.extend(fresh)
        self.unknown_new = max(0, self.exists - len(self.uids))
        if fresh and self.uidnext is not None and fresh[-1] >= self.uidnext:
            self.uidnext = fresh[-1] + 1
        return tuple(fresh)

    @property
    def last_uid(self) -> int:
        return self.uids[-1] if self.uids else 0

    def take_events(self) -> list[MailboxEvent]:
        out = self.events
        self.events = []
        return out

    def _emit(
        self, kind: str, uids: Iterable[int] = (), flags: dict[int, frozenset[str]] | None = None
    ) -> None:
        self.events.append(MailboxEvent(kind, self.name, tuple(uids), flags or {}, self.exists))

    def apply(self, data: parser.Untagged) -> None:
        """Fold one parsed untagged response; events land in `events`."""
        if isinstance(data, parser.NumberData):
            if data.kind == "EXISTS":
                self._exists(data.number)
            elif data.kind == "EXPUNGE":
                self._expunge(data.number)
            elif data.kind == "RECENT":
                self.recent = data.number
        elif isinstance(data, parser.VanishedData):
            self._vanished(data.uids, data.earlier)
        elif isinstance(data, parser.FetchData):
            self._fetch(data)
        elif isinstance(data, parser.StatusResponse) and data.code is not None:
            self._code(data.code)

    def _exists(self, n: int) -> None:
        if n > self.exists:
            grown = n - self.exists
            self.exists = n
            if self.uids is not None:
                self.unknown_new = n - len(self.uids)
            self._emit("new")
            log.debug("%s: %d new", self.name, grown)
        elif n < self.exists:
            # Only EXPUNGE may shrink a mailbox; a smaller EXISTS means we lost track.
            self.exists = n
            if self.uids is not None and len(self.uids) != n:
                self.uids = None
                self._emit("resync")

    def _expunge(self, seq: int) -> None:
        if seq < 1:
            return
        self.exists = max(0, self.exists - 1)
        if self.uids is None:
            self._emit("expunged")
            return
        if seq <= len(self.uids):
            uid = self.uids.pop(seq - 1)
            self._emit("expunged", (uid,))
        elif self.unknown_new:
            self.unknown_new -= 1

    def _vanished(self, uids: list[int], earlier: bool) -> None:
        if self.uids is None:
            if not earlier:
                self.exists = max(0, self.exists - len(uids))
            self._emit("expunged", uids)
            return
        gone = set(uids)
        before = len(self.uids)
        kept = [u for u in self.uids if u not in gone]
        removed = before - len(kept)
        if not removed:
            return
        removed_uids = [u for u in self.uids if u in gone]
        self.uids = kept
        if not earlier:
            self.exists = max(0, self.exists - removed)
        else:
            self.exists = len(kept) + self.unknown_new
        self._emit("expunged", removed_uids)

    def _fetch(self, data: parser.FetchData) -> None:
        if data.modseq is not None and (
            self.highestmodseq is None or data.modseq > self.highestmodseq
        ):
            self.highestmodseq = data.modseq
        if data.flags is None:
            return
        uid = data.uid
        if uid is None and self.uids is not None and 1 <= data.seq <= len(self.uids):
            uid = self.uids[data.seq - 1]
        if uid is None:
            return
        self._emit("flags", (uid,), {uid: data.flags})

    def _code(self, code: parser.ResponseCode) -> None:
        value = code.value
        if not isinstance(value, int):
            return
        if code.name == "UIDNEXT":
            self.uidnext = value
        elif code.name == "HIGHESTMODSEQ":
            self.highestmodseq = value
        elif code.name == "UIDVALIDITY":
            if self.uidvalidity is not None and value != self.uidvalidity:
                self.uids = None
                self._emit("resync")
            self.uidvalidity = value


OnChange = Callable[[MailboxEvent], Awaitable[None] | None]


class IdleWatcher:
    """Watches one folder on a connection of its own and reports changes through `on_change`.

    Runs until `stop()`: connects (retrying with backoff; bad credentials or TLS end it, see
    `error`), selects the folder read-only, learns its UIDs, then IDLEs (or polls with NOOP every
    `poll_interval` s where IDLE is missing). New messages are reported with their UIDs.
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
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 15.0, 60.0),
        use_idle: bool = True,
        callback_timeout: float = 30.0,
    ) -> None:
        self.settings = settings
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
        self._known: tuple[int | None, list[int]] | None = None

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
                client = await ImapClient.connect(self.settings, self.credentials, retries=0)
                self._client = client
                await client.select(self.folder, readonly=True)
                await client.uid_list()
                await self._emit(self._after_reconnect(client))
                self.connected.set()
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
            self.connected.clear()
            await self._close_client()
            delay = self.backoff[min(attempt, len(self.backoff) - 1)]
            attempt += 1
            self.reconnects += 1
            await asyncio.sleep(delay)

    def _after_reconnect(self, client: ImapClient) -> list[MailboxEvent]:
        """What changed while we were away, judged from the UID lists."""
        state = client.mailbox
        if state is None or state.uids is None:
            return []
        previous, self._known = self._known, (state.uidvalidity, list(state.uids))
        if previous is None:
            return []
        old_validity, old_uids = previous
        if old_validity != state.uidvalidity:
            return [MailboxEvent("resync", self.folder, (), {}, state.exists)]
        old, new = set(old_uids), set(state.uids)
        events = []
        if new - old:
            events.append(
                MailboxEvent("new", self.folder, tuple(sorted(new - old)), {}, state.exists)
            )
        if old - new:
            events.append(
                MailboxEvent("expunged", self.folder, tuple(sorted(old - new)), {}, state.exists)
            )
        return events

    async def _watch(self, client: ImapClient) -> None:
        idle = self.use_idle and client.has_capability("IDLE")
        while True:
            if idle:
                events = await client.idle(self.reissue)
            else:
                await asyncio.sleep(self.poll_interval)
                events = await client.noop()
            state = client.mailbox
            if state is not None and state.uids is not None:
                self._known = (state.uidvalidity, list(state.uids))
            await self._emit(events)
