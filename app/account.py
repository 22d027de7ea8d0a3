"""One account at run time: the IMAP connection, the open folder, summaries and message loading.

UI-free (no Textual): the App calls these coroutines from workers and turns results into
messages. Every method that needs the selected mailbox takes the lock, so a folder switch in one
worker can never interleave with a fetch of another: IMAP state is per connection.

With a header cache (`app.store.cache.HeaderCache`, given or opened from `cache_path` / `data_dir`) a
folder opens in two steps: `open_folder_cached` answers from the cache alone (no server, so also
offline), then `open_folder` brings the cache up to date with `app.store.sync.resync` (QRESYNC or
CONDSTORE where offered) and answers the server's list. Summaries come from memory, then the
cache, then the server; the text parts of messages read are kept too, so cached messages can be
read without a connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from app import protolog
from app.models import (
    BodyPart,
    Credentials,
    Folder,
    FolderRole,
    FolderStatus,
    Identity,
    MessageSummary,
    ServerSettings,
    choose_identity,
)
from app.store.cache import HeaderCache
from app.store.sync import SyncResult, resync, warm_start
from app.uids import UidArray, ascending

if TYPE_CHECKING:
    from app.imap.engine import ServerAlert

#: Cached messages whose flags a refresh after news checks on a server without CONDSTORE
#: (the newest; the others at the next open of the folder).
LAZY_FLAGS = 500
#: Distinct server ALERTs one account shows in a session; a server sending new ones for ever
#: is cut off (the engine bounds them per connection, reconnections would not be).
MAX_ALERTS_SHOWN = 50

log = logging.getLogger(__name__)
T = TypeVar("T")

#: The cache file inside an account's `data_dir` when no `cache_path` is given.
CACHE_FILE_NAME = "headers.sqlite3"
#: Summaries fetched with the UID list when a folder is opened (first screen and the next one):
#: the list then finds them in memory instead of asking the server again.
FIRST_FETCH = 100
#: Rows `Account.open_folder_newest` fetches before drawing (a screen), and the far end's rows
#: fetched next, before the SORT (End pressed meanwhile).
NEWEST_FIRST = 50
NEWEST_FAR_END = 60
#: From this many messages a cold open asks the server's SORT on a connection of its own
#: (`Account._order_apart`): a fresh Dovecot took 28-57 s to sort 1,000,000 messages, and the
#: account's connection stays free meanwhile for the rows and messages the user opens.
SORT_APART_FROM = 10_000
#: INBOX before the folder list is known (RFC 3501: every server has it, by this name).
EARLY_INBOX = Folder("INBOX", "INBOX", "/", frozenset(), FolderRole.INBOX)


def _has_files(folder: Path, suffix: str = "") -> bool:
    """Whether `folder` holds a file not starting with a dot (ending with `suffix`); True
    when it cannot be read (the full check then says what is wrong)."""
    try:
        with os.scandir(folder) as entries:
            return any(not e.name.startswith(".") and e.name.endswith(suffix) for e in entries)
    except FileNotFoundError:
        return False
    except OSError:
        return True


def _quiet(task: asyncio.Future[Any]) -> None:
    """A failure nobody waited for (the app quit first) is not logged as never retrieved."""
    if not task.cancelled():
        task.exception()


#: Text parts up to this size are fetched whole, with the header, in the FETCH that opens a message.
INLINE_PART_BYTES = 256 * 1024

#: Sort orders offered in the list, as IMAP SORT keys ("thread-last-date" orders threads by
#: their newest message; its flat list is by date).
SORT_KEYS = {
    "date": "DATE",
    "arrival": "ARRIVAL",
    "from": "FROM",
    "to": "TO",
    "subject": "SUBJECT",
    "size": "SIZE",
    "thread-last-date": "DATE",
}
#: Folders whose sort keys (for sorting and threading without SORT / THREAD) stay in memory.
SORT_KEY_FOLDERS = 3
#: Sort keys fetched under one hold of the account's lock (the list's fetches wait no longer).
SORT_KEY_CHUNK = 5_000


def _offset(
    progress: Callable[[int, int], None] | None, done: int, total: int
) -> Callable[[int, int], None] | None:
    """`progress` for one chunk of a job of `total` items of which `done` came before."""
    if progress is None:
        return None
    report = progress
    return lambda n, _chunk_total: report(done + n, total)


@dataclass
class OpenFolder:
    """What the list shows: the folder, its UIDs in display order, and the mailbox state."""

    folder: Folder
    uids: Sequence[int]
    """In display order: the client's UidArray (4 bytes a UID) or the cache's list, shared with
    the mailbox state and the message list, so replaced, never changed in place."""
    uidvalidity: int | None = None
    exists: int = 0
    query: str | None = None
    cached: bool = False
    """True when the list comes from the header cache alone and is not checked with the server."""
    updated: list[MessageSummary] = field(default_factory=list)
    """Summaries held before whose flags the server changed meanwhile (to repaint their rows)."""
    ordered: bool = True
    """False when `uids` are by UID only, waiting for `Account.local_order` (no SORT on the
    server and the sort keys not fetched yet): the list is drawn at once, the order after."""
    provisional: bool = False
    """True for `Account.open_folder_newest`'s list: by UID, until `open_folder` gives the
    server's order."""


def _without(uids: Sequence[int], gone: Iterable[int]) -> Sequence[int]:
    """`uids` less `gone`, as a new sequence of the same compact kind (UidArray stays one)."""
    drop = set(gone)
    kept = [u for u in uids if u not in drop]
    if isinstance(uids, UidArray):
        return UidArray(kept)
    return kept


@dataclass
class UndoAction:
    """How to take back a delete or move: the messages now live in `dest` under `dest_uids`
    (from COPYUID); moving those back to `source` undoes it."""

    description: str
    source: str
    dest: str
    dest_uids: list[int] = field(default_factory=list)


class SummaryCache:
    """Summaries by (folder, uidvalidity, uid), bounded: the list never holds a whole folder."""

    def __init__(self, limit: int = 5_000) -> None:
        self.limit = limit
        self._items: OrderedDict[tuple[str, int | None, int], MessageSummary] = OrderedDict()

    def get(self, folder: str, uidvalidity: int | None, uid: int) -> MessageSummary | None:
        key = (folder, uidvalidity, uid)
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, folder: str, uidvalidity: int | None, summary: MessageSummary) -> None:
        key = (folder, uidvalidity, summary.uid)
        self._items[key] = summary
        self._items.move_to_end(key)
        while len(self._items) > self.limit:
            self._items.popitem(last=False)

    def held(self) -> list[tuple[str, MessageSummary]]:
        """(folder, summary) of everything held, oldest used first (address completion)."""
        return [(key[0], summary) for key, summary in self._items.items()]

    def drop(self, folder: str, uids: Iterable[int]) -> None:
        gone = set(uids)
        if not gone:
            return
        for key in [k for k in self._items if k[0] == folder and k[2] in gone]:
            del self._items[key]


class Account:
    """The live state of one configured account."""

    def __init__(
        self,
        name: str,
        imap: ServerSettings,
        credentials: Callable[[], Credentials | None],
        *,
        smtp: ServerSettings | None = None,
        smtp_credentials: Callable[[], Credentials | None] | None = None,
        addresses: Sequence[str] = (),
        folder_roles: dict[str, str] | None = None,
        display_name: str = "",
        signature: str = "",
        identities: Sequence[Identity] = (),
        data_dir: Path | None = None,
        cache: HeaderCache | None = None,
        cache_path: Path | None = None,
    ) -> None:
        """`cache` is used as given (the caller closes it); else the cache file at `cache_path`,
        else `data_dir / CACHE_FILE_NAME`, is opened on first use. Neither: no cache.
        `identities` (from the configuration) default to one per address, the first with
        `display_name` and `signature`."""
        self.name = name
        self.imap_settings = imap
        self.smtp_settings = smtp
        self.protocol_log = protolog.ProtocolLog(name)
        """The IMAP and SMTP dialogue of every connection to this account's servers."""
        protolog.attach(self.protocol_log, imap, smtp)
        self._credentials = credentials
        self._smtp_credentials = smtp_credentials or credentials
        self.addresses = [a.lower() for a in addresses]
        self.display_name = display_name
        self.signature = signature
        self.identities: list[Identity] = list(identities) or [
            Identity(display_name, address, signature if i == 0 else "")
            for i, address in enumerate(addresses)
        ]
        self.folder_roles = folder_roles or {}
        self.send_delay: float | None = None
        """Seconds a sent message waits to be taken back (undo send); None: `[ui] send_delay`."""
        self.data_dir = data_dir
        self.client: Any = None
        self.lock = asyncio.Lock()
        self.folders: list[Folder] = []
        self.statuses: dict[str, FolderStatus] = {}
        self.current: OpenFolder | None = None
        self.summaries = SummaryCache()
        self.sort = "date"
        self.reverse = True
        self.undo_stack: list[UndoAction] = []
        """What `app.actions.operations.undo` can take back, newest last; entries whose messages are
        gone (expunged, moved away) are dropped, so undo never promises what it cannot do."""
        self.role_report: list[Any] = []
        """`app.imap.roles.RoleChoice` per role, from the last `load_folders` (config check)."""
        self._sort_keys: OrderedDict[tuple[str, int | None], dict[int, Any]] = OrderedDict()
        """SortKeys by UID of the last few folders opened (servers without SORT or THREAD)."""
        self._cache = cache
        self._own_cache = cache is None
        if cache_path is None and data_dir is not None:
            cache_path = Path(data_dir) / CACHE_FILE_NAME
        self.cache_path = cache_path if cache is None else cache.path
        self.first_fetch = FIRST_FETCH
        self._newest_fetched: tuple[str, int | None, list[MessageSummary]] | None = None
        """`open_folder_newest`'s summaries, for the cache once `open_folder` made its rows."""
        self._connecting: asyncio.Future[None] | None = None
        self._early_open: asyncio.Future[OpenFolder] | None = None
        """INBOX opened right after the start-up login (`connect_soon(open_inbox=True)`)."""
        self._early_preview: asyncio.Future[OpenFolder | None] | None = None
        """The start-up opening's newest rows (`_open_early_inbox`), until `_take_preview`."""
        self._alerts_seen: set[str] = set()
        self._changed_folders: set[str] = set()
        self._news_only = False
        """The last NOOP on the open folder told of new mail and nothing else."""
        self.reloaded_flags: list[int] = []
        self.reloaded_new: Sequence[int] | None = None
        """The UIDs the last `reload_uids` found new, None when it could not tell."""
        self._noop_events: list[Any] = []
        """UIDs whose flags the last `reload_uids` changed (another client's), for the list
        to repaint their rows: the summaries in memory change in place."""
        self.counts_changed = asyncio.Event()
        """Set when a command of ours changed a folder (`take_changed_folders` says which)."""
        self._alert_listener: Callable[[ServerAlert], None] | None = None
        self._pending_alerts: list[ServerAlert] = []
        self._flattened: set[tuple[str, int | None, int]] = set()
        """(folder, uidvalidity, uid) of messages whose BODYSTRUCTURE the server got wrong
        (see `load_message`), or decrypted ones: their parts are read from the whole message."""
        self._decrypted: dict[tuple[str, int | None, int], bytes] = {}
        """Decrypted messages (app/crypto), in memory only: their attachments are saved from
        here."""

    def identity_for(self, recipients: Sequence[str]) -> Identity | None:
        """The identity to answer a message sent to `recipients` from (None: no identity)."""
        return choose_identity(self.identities, recipients)

    @property
    def header_cache(self) -> HeaderCache | None:
        """The account's header cache, opened on first use; None when the account has none."""
        cache = self._cache
        if cache is not None and not (cache.closed and self._own_cache):
            return cache
        if not self._own_cache or self.cache_path is None:
            return None
        # Never raises: a damaged or unwritable file becomes an empty (or in-memory) cache.
        self._cache = HeaderCache.open(self.cache_path)
        return self._cache

    def has_cache_file(self) -> bool:
        """Whether a header cache is there to show from (a file test: nothing is opened)."""
        if self._cache is not None and not self._cache.closed:
            return True
        return self.cache_path is not None and self.cache_path.exists()

    def local_dir(self) -> Path:
        """Where the account's drafts and outbox live (as `app.smtp.sending` finds them)."""
        if self.data_dir is not None:
            return Path(self.data_dir)
        from app.paths import data_dir

        return data_dir() / str(self.name)

    def may_have_outbox(self) -> bool:
        """Whether the outbox may hold mail (a directory test: `app.smtp` is not imported,
        with its SMTP and gpg libraries, for an outbox that is empty, as it mostly is)."""
        return _has_files(self.local_dir() / "outbox" / "cur")

    def may_have_drafts(self) -> bool:
        """Whether an unsent draft may be on disk (a directory test, as `may_have_outbox`)."""
        return _has_files(self.local_dir() / "drafts", ".json")

    def close_cache(self) -> None:
        """Close the cache file when this account opened it (it reopens on the next use)."""
        if self._own_cache and self._cache is not None:
            self._cache.close()
            self._cache = None

    # -- connection ------------------------------------------------------------------------------
    async def connect(self) -> None:
        from app.imap.client import ImapClient

        creds = None if self.imap_settings.tunnel else self._credentials()
        self.client = await ImapClient.connect(
            self.imap_settings, creds, on_alert=self.report_alert, opening=self._opening_plan
        )
        self.client.on_changed = self._note_changed

    def _opening_plan(self) -> Any:
        """What the first screen opens (INBOX), asked with the login's follow-up round trip
        (`app.imap.client.OpenPlan`): cold, its SELECT and UID list in the list's order;
        cached, the SELECT with QRESYNC from the cached state, as `open_folder`'s resync
        asks it. None where INBOX is not opened first (a configured inbox role)."""
        from app.imap.client import OpenPlan

        if "inbox" in self.folder_roles:
            return None
        sort = self.sort_spec()
        cache = self.header_cache
        state = cache.mailbox_state("INBOX") if cache is not None else None
        if state is None:
            # Cold: the newest rows first (`open_folder_newest`), the server's SORT after.
            return OpenPlan("INBOX", sort=sort, by_uid=True)
        qresync = None
        if state.highestmodseq:
            qresync = (state.uidvalidity, state.highestmodseq, ascending(state.uids))
        return OpenPlan("INBOX", qresync=qresync, sort=None if state.sort == sort else sort)

    def _note_changed(self, name: str) -> None:
        if len(self._changed_folders) < 1000:
            self._changed_folders.add(name)
        self.counts_changed.set()

    def take_changed_folders(self) -> set[str]:
        """The folders our own commands changed since the last call (see `app.actions.counts`)."""
        out, self._changed_folders = self._changed_folders, set()
        return out

    async def status_many(self, names: Sequence[str | Folder]) -> dict[str, FolderStatus]:
        """Pipelined STATUS of `names` (one round trip) on the account's connection."""
        client = self._require_client()
        async with self.lock:
            found: dict[str, FolderStatus] = await client.status_many(names)
        return found

    def report_alert(self, alert: ServerAlert) -> None:
        """An ALERT from any of the account's connections: passed to the listener once per
        text for the session (RFC 3501 §7.1: the user MUST see it); held until one listens."""
        if alert.text in self._alerts_seen or len(self._alerts_seen) >= MAX_ALERTS_SHOWN:
            return
        self._alerts_seen.add(alert.text)
        if self._alert_listener is None:
            self._pending_alerts.append(alert)
        else:
            self._alert_listener(alert)

    def listen_alerts(self, listener: Callable[[ServerAlert], None] | None) -> None:
        """Who shows the ALERTs (the UI); those that came before are handed over now."""
        self._alert_listener = listener
        if listener is not None:
            pending, self._pending_alerts = self._pending_alerts, []
            for alert in pending:
                listener(alert)

    def connect_soon(self, *, open_inbox: bool = False) -> None:
        """Start `connect` now, in the background: at app start the TLS handshake and login
        then overlap the imports and the building of the screens. `connected` waits for this
        attempt. `open_inbox`: once logged in, INBOX is opened too (its SELECT and UID list
        ride with the login's follow-up, its first rows' FETCH right after), and the first
        `open_folder` of INBOX takes that answer instead of asking again (a cold start)."""
        if self.client is not None or self._connecting is not None:
            return
        task = asyncio.ensure_future(self._connect_early(open_inbox))
        # A failure nobody waits for (the app quit first) is not reported as never retrieved.
        task.add_done_callback(_quiet)
        self._connecting = task

    async def _connect_early(self, open_inbox: bool) -> None:
        await self.connect()
        if open_inbox and "inbox" not in self.folder_roles and self._early_open is None:
            preview: asyncio.Future[OpenFolder | None] = asyncio.get_running_loop().create_future()
            self._early_preview = preview
            opening = asyncio.ensure_future(self._open_early_inbox(preview))
            opening.add_done_callback(_quiet)
            self._early_open = opening

    async def _open_early_inbox(self, preview: asyncio.Future[OpenFolder | None]) -> OpenFolder:
        """Start-up's opening of INBOX: its newest rows first (no SORT waited for, into
        `preview`), then the server's order, which `open_folder` hands on."""
        try:
            shown = await self._open_folder_newest(EARLY_INBOX)
        except BaseException:
            if not preview.done():
                preview.set_result(None)
            raise
        if not preview.done():
            preview.set_result(shown)
        return await self._open_folder(EARLY_INBOX)

    async def connected(self) -> None:
        """Wait for the attempt `connect_soon` started (its error is raised here), else
        `connect` now: each call after a failure is a new attempt."""
        pending, self._connecting = self._connecting, None
        if pending is None:
            await self.connect()
        else:
            await pending

    def early_inbox(self) -> OpenFolder | None:
        """INBOX as the start-up opening got it from the server, when that is done already
        (the first screen then draws its rows in its first frame): the server's order, else
        its newest rows (`OpenFolder.provisional`); None when neither is there yet."""
        early = self._early_open
        if early is not None and early.done() and not early.cancelled() and not early.exception():
            return early.result()
        preview = self._early_preview
        if preview is None or not preview.done() or preview.cancelled():
            return None
        self._take_preview()  # shown: `open_folder_newest` is not asked for it again
        return preview.result()

    def _take_preview(self) -> asyncio.Future[OpenFolder | None] | None:
        """The start-up opening's newest rows, handed on once: shown (`early_inbox`), asked
        for (`open_folder_newest`), or passed by (`open_folder`, `close`), none is asked
        for again."""
        preview, self._early_preview = self._early_preview, None
        return preview

    async def close(self) -> None:
        opening, self._early_open = self._early_open, None
        self._take_preview()
        if opening is not None:
            opening.cancel()
        pending, self._connecting = self._connecting, None
        if pending is not None:
            pending.cancel()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await pending
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        self.client = None
        self.close_cache()

    def _require_client(self) -> Any:
        """The connected client, or the typed error the screen reports as "offline"."""
        if self.client is None:
            from app.imap.errors import ImapConnectionError

            raise ImapConnectionError("not connected to the server", applied=False)
        return self.client

    def smtp_credentials(self) -> Credentials | None:
        return self._smtp_credentials()

    # -- folders -----------------------------------------------------------------------------------
    async def load_folders(self) -> list[Folder]:
        from app.imap.roles import assign_roles

        async with self.lock:
            pairs = await self.client.list_with_status()
        listed: list[Folder] = []
        for folder, status in pairs:
            listed.append(folder)
            if status is not None:
                self.statuses[folder.name] = status
        namespace = getattr(self.client, "personal_namespace", None)
        folders, self.role_report = assign_roles(
            listed, self.folder_roles, namespace if isinstance(namespace, str) else None
        )
        self.folders = folders
        cache = self.header_cache
        if cache is not None:
            cache.save_folder_list(folders, self.statuses)
        return folders

    def cached_folders(self) -> tuple[list[Folder], dict[str, FolderStatus]] | None:
        """The folder tree and counts as the server last listed them (no server), or None.

        For the first screen, before LIST and STATUS answer; the account's own `folders` and
        `statuses` stay the server's (nothing acts on a folder only the cache knows)."""
        cache = self.header_cache
        return cache.folder_list() if cache is not None else None

    def folder_by_role(self, role: FolderRole) -> Folder | None:
        for folder in self.folders:
            if folder.role is role:
                return folder
        return None

    async def address_book(self) -> list[str]:
        """Completion candidates, most used first: recipients of Sent, then people seen.

        From the header cache (up to 20,000 newest messages of INBOX and of Sent) and the
        summaries in memory; read in a thread, no server command."""
        from app.store.addressbook import rank_addresses

        sent_folder = self.folder_by_role(FolderRole.SENT)
        sent_name = sent_folder.name if sent_folder is not None else "Sent"
        held = self.summaries.held()
        cache = self.header_cache

        def build() -> list[str]:
            received = [s.envelope for name, s in held if name != sent_name]
            sent = [s.envelope for name, s in held if name == sent_name]
            if cache is not None:
                received += cache.recent_envelopes("INBOX")
                sent += cache.recent_envelopes(sent_name)
            return rank_addresses(received, sent, own=self.addresses)

        return await asyncio.to_thread(build)

    def folder(self, name: str) -> Folder | None:
        for folder in self.folders:
            if folder.name == name:
                return folder
        return None

    async def refresh_status(self, name: str) -> FolderStatus:
        async with self.lock:
            status: FolderStatus = await self.client.status(name)
        self.statuses[name] = status
        return status

    # -- the open folder -----------------------------------------------------------------------------
    def sort_spec(self) -> str:
        """The IMAP SORT keys of the list's order ("REVERSE DATE")."""
        key = SORT_KEYS.get(self.sort, "DATE")
        return f"{'REVERSE ' if self.reverse else ''}{key}"

    def open_folder_cached(self, folder: Folder) -> OpenFolder | None:
        """The folder as the cache last saw it, without the server (so also offline), or None.

        None when nothing is cached or it was cached in another order. The summaries of the
        first screen are loaded into memory, so the list fills at once; `open_folder` then
        checks the list with the server.
        """
        cache = self.header_cache
        if cache is None:
            return None
        warm = warm_start(cache, folder.name, self.first_fetch)
        if warm is None or (warm.state.sort or None) != self.sort_spec():
            return None
        state = warm.state
        for summary in warm.summaries.values():
            self.summaries.put(folder.name, state.uidvalidity, summary)
        self.current = OpenFolder(folder, state.uids, state.uidvalidity, state.exists, cached=True)
        return self.current

    async def open_folder_newest(self, folder: Folder) -> OpenFolder | None:
        """The newest rows before the SORT (`_open_folder_newest`); INBOX's from the start-up
        opening when that is under way, not asked a second time."""
        preview = self._take_preview()
        if preview is not None and folder.name == EARLY_INBOX.name:
            return await preview
        return await self._open_folder_newest(folder)

    async def _open_folder_newest(self, folder: Folder) -> OpenFolder | None:
        """Before `open_folder`, where nothing is cached: the folder's UIDs by UID in the
        list's direction (newest first for a REVERSE sort) and the summaries of the first
        screen, with no SORT asked (issue 21: a fresh server took 7.9 s to sort 1,000,000
        messages). `open_folder` then gives the server's order, which the list takes keeping
        the cursor's message. None where it would gain nothing: the folder is cached (its
        list is drawn from the cache), the server has no SORT (`open_folder` lists by UID
        anyway), or the folder is empty.
        """
        cache = self.header_cache
        if cache is not None and cache.mailbox_state(folder.name) is not None:
            return None
        client = self.client
        if client is None or not client.has_capability("SORT"):
            return None  # offline (`open_folder` says so), or no SORT
        async with self.lock:
            info = await client.select(folder.name)
            # A screen only: a fresh Dovecot took 6.1 s for 160 summaries of a 1,000,000-
            # message folder (its cache file gone); the rest before the SORT (`open_folder`).
            # The UIDs and those rows in one round trip (`newest_screen`).
            uids, first = await client.newest_screen(
                self.sort_spec(), min(NEWEST_FIRST, self.first_fetch)
            )
            if not uids:
                return None
            validity = getattr(info, "uidvalidity", None)
        for summary in first:
            self.summaries.put(folder.name, validity, summary)
        self._newest_fetched = (folder.name, validity, first)
        self.current = OpenFolder(
            folder, uids, validity, getattr(info, "exists", len(uids)), provisional=True
        )
        return self.current

    async def _newest_rest(self, folder: Folder) -> None:
        """After `open_folder_newest`'s first screen, before the SORT (caller holds the lock):
        the next screen's summaries and the far end's, so a page down or End pressed while the
        server sorts shows rows, not "loading…" for as long as the SORT takes."""
        current, early = self.current, self._newest_fetched
        if current is None or not current.provisional or early is None:
            return
        if current.folder.name != folder.name or early[:2] != (folder.name, current.uidvalidity):
            return
        uids = current.uids
        wanted = list(uids[min(NEWEST_FIRST, self.first_fetch) : self.first_fetch])
        if len(uids) > self.first_fetch:
            wanted += uids[max(self.first_fetch, len(uids) - NEWEST_FAR_END) :]
        if not wanted:
            return
        more = await self._require_client().fetch_summaries(wanted)
        for summary in more:
            self.summaries.put(folder.name, current.uidvalidity, summary)
        early[2].extend(more)

    async def open_folder(self, folder: Folder) -> OpenFolder:
        early, self._early_open = self._early_open, None
        self._take_preview()
        if early is not None:
            if folder.name == EARLY_INBOX.name and not early.cancelled():
                opened = await early  # asked at start-up (`connect_soon`): its error too
                self.current = opened  # the server's list, over a cached one shown meanwhile
                return opened
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await early  # another folder first: INBOX's opening ends, then this one
        return await self._open_folder(folder)

    async def _open_folder(self, folder: Folder) -> OpenFolder:
        cache = self.header_cache
        if cache is None:

            async def listing() -> tuple[Any, Sequence[int]]:
                return await self._require_client().select(folder.name), await self._uid_list()

            info, uids = await self._listed(folder, listing)
            self.current = OpenFolder(
                folder, uids, getattr(info, "uidvalidity", None), getattr(info, "exists", len(uids))
            )
        else:
            result = await self._listed(
                folder, lambda: self._resync(cache, folder.name), first=self._newest_rest
            )
            updated = self._apply_sync(folder.name, result)
            early, self._newest_fetched = self._newest_fetched, None
            validity = result.uidvalidity
            if early is not None and validity is not None and early[:2] == (folder.name, validity):
                # The newest and the far end's rows fetched before the SORT: cached too, so
                # the next start draws them (End) without the server.
                cache.put_summaries(folder.name, validity, _complete(early[2]))
            self.current = OpenFolder(
                folder, result.uids, result.uidvalidity, result.exists, updated=updated
            )
        await self._in_local_order(self.current)
        return self.current

    async def _listed(
        self,
        folder: Folder,
        listing: Callable[[], Awaitable[T]],
        *,
        first: Callable[[Folder], Awaitable[None]] | None = None,
    ) -> T:
        """`listing` (SELECT and the UID list, or the resync) under the lock, after `first`.
        Where the folder's newest rows are shown and it is big (`_apart_check`), its SORT is
        asked on a second connection first with the lock let go meanwhile, and `listing` gets
        that answer without asking (`_adopt_order`); else all under one hold of the lock."""
        async with self.lock:
            if first is not None:
                await first(folder)
            seen = self._apart_check(folder)
            if seen is None:
                return await listing()
        order = await self._order_apart(folder)
        async with self.lock:
            if order is not None:
                await self._adopt_order(folder, order, seen)
            return await listing()

    def _apart_check(self, folder: Folder) -> Any:
        """When `folder`'s newest rows are shown (`open_folder_newest`) and it is big enough
        for a SORT to take a while: the connection's mailbox state to check the other
        connection's order against (`ImapClient.membership`); else None (caller holds the
        lock)."""
        current, client = self.current, self.client
        if current is None or not current.provisional or current.folder.name != folder.name:
            return None
        if client is None or self.imap_settings.tunnel or len(current.uids) < SORT_APART_FROM:
            return None
        return client.membership()

    async def _order_apart(self, folder: Folder) -> tuple[int | None, Any] | None:
        """`folder`'s UIDs in the list's order (UIDVALIDITY, UIDs), asked on a connection of
        its own (EXAMINE, UID SORT, LOGOUT), the lock not held: a page down, End or Enter
        meanwhile is answered on the account's connection instead of waiting behind the SORT.
        None where that connection cannot be had or its answer does not add up: the SORT is
        then asked on the account's connection, as without it."""
        from app.imap.client import ImapClient

        client = self.client
        if client is None:
            return None
        try:
            other = await ImapClient.connect(
                client.settings, client.credentials, retries=0, on_alert=self.report_alert
            )
        except Exception as exc:  # a connection limit, the server gone: the usual way
            log.info("no second connection for the SORT of %s: %s", folder.name, exc)
            return None
        try:
            info = await other.select(folder.name, readonly=True)
            order = await other.uid_list(self.sort_spec())
        except Exception as exc:
            log.info("the SORT of %s on a second connection failed: %s", folder.name, exc)
            return None
        finally:
            with contextlib.suppress(Exception):
                await other.close()
        if len(order) != info.exists:
            return None
        return info.uidvalidity, order

    async def _adopt_order(self, folder: Folder, order: tuple[int | None, Any], seen: Any) -> None:
        """The other connection's order taken for the next SELECT + UID SORT of `folder` here
        (`ImapClient.adopt_order`) once a NOOP told what changed meanwhile (caller holds the
        lock). Not taken: the resync asks the SORT here, as without a second connection."""
        current, client = self.current, self.client
        if current is None or not current.provisional or current.folder.name != folder.name:
            return
        if client is None:
            return
        validity, uids = order
        if validity != current.uidvalidity:
            return
        await client.noop()
        if not client.adopt_order(folder.name, self.sort_spec(), uids, validity, seen):
            log.info("the SORT of %s from a second connection is stale: asked again", folder.name)

    async def _resync(
        self, cache: HeaderCache, name: str, *, lazy_flags: int | None = None
    ) -> SyncResult:
        """`app.store.sync.resync` of `name` in the list's order; the caller holds the lock."""
        return await resync(
            self._require_client(),
            cache,
            name,
            sort=self.sort_spec(),
            new_limit=self.first_fetch,
            lazy_flags=lazy_flags,
        )

    def _apply_sync(self, name: str, result: SyncResult) -> list[MessageSummary]:
        """Bring the summaries in memory in line with a resync; returns those whose flags changed."""
        validity = result.uidvalidity
        self.summaries.drop(name, result.vanished)
        for summary in result.fetched:
            held = self.summaries.get(name, validity, summary.uid)
            if held is not None and held is not summary:
                # Already held (the newest rows drawn before the SORT): the list holds that
                # object, so it is brought up to date in place (a flag set meanwhile shows).
                for name_ in (
                    "flags",
                    "envelope",
                    "size",
                    "internaldate",
                    "bodystructure",
                    "modseq",
                ):
                    setattr(held, name_, getattr(summary, name_))
                continue
            self.summaries.put(name, validity, summary)
        updated: list[MessageSummary] = []
        for uid, flags in result.flag_changes.items():
            held = self.summaries.get(name, validity, uid)
            if held is not None and held.flags != flags:
                held.flags = frozenset(flags)
                updated.append(held)
        return updated

    async def _uid_list(self) -> Sequence[int]:
        uids: Sequence[int] = await self._require_client().uid_list(sort=self.sort_spec())
        return uids

    # -- sort and threads where the server has no SORT / THREAD -------------------------------------
    def server_has(self, capability: str) -> bool:
        """Whether the connected server offers `capability` (False while offline)."""
        client = self.client
        return client is not None and bool(client.has_capability(capability))

    def sorts_locally(self) -> bool:
        """True when the list's order must be computed here: connected, and no SORT."""
        return self.client is not None and not self.server_has("SORT")

    async def sort_keys(
        self,
        progress: Callable[[int, int], None] | None = None,
        *,
        references: bool = False,
    ) -> dict[int, Any]:
        """SortKeys (app.store.threads) of every message of the open folder, by UID.

        Fetched once per folder (INTERNALDATE, RFC822.SIZE and ENVELOPE, in pipelined
        windows, `progress(done, total)` as they come; with `references` also the References
        field, for threading) and kept for the last few folders; a later call fetches only
        what is missing (messages that arrived since).
        """
        from app.store.threads import REFERENCES_FIELD, add_references, sort_key_from

        current = self.current
        if current is None:
            return {}
        slot = (current.folder.name, current.uidvalidity)
        store = self._sort_keys.pop(slot, None)
        if store is None:
            store = {}
        self._sort_keys[slot] = store
        while len(self._sort_keys) > SORT_KEY_FOLDERS:
            self._sort_keys.popitem(last=False)
        client = self._require_client()
        # In chunks, each under the lock on its own: the list's own fetches (a page scrolled
        # to) get in between, and a second caller (an IDLE refresh) finds what is done.
        pending = [u for u in current.uids if u not in store]
        while pending:
            total, done = len(pending), 0
            for start in range(0, total, SORT_KEY_CHUNK):
                async with self.lock:
                    if self.current is not current:
                        return store
                    chunk = [u for u in pending[start : start + SORT_KEY_CHUNK] if u not in store]
                    if chunk:
                        await self._ensure_selected()
                        got = await client.fetch_sort_fields(chunk, _offset(progress, done, total))
                        await asyncio.to_thread(_build_keys, store, got, sort_key_from)
                        for uid in chunk:  # no answer (expunged meanwhile): a blank key
                            if uid not in store:
                                store[uid] = sort_key_from(uid, None, 0, None)
                done = min(total, start + SORT_KEY_CHUNK)
            pending = [u for u in current.uids if u not in store]  # arrived meanwhile
        if references:
            pending = [u for u in current.uids if u in store and not store[u].references_known]
            total, done = len(pending), 0
            for start in range(0, total, SORT_KEY_CHUNK):
                async with self.lock:
                    if self.current is not current:
                        return store
                    chunk = [
                        u
                        for u in pending[start : start + SORT_KEY_CHUNK]
                        if not store[u].references_known
                    ]
                    if chunk:
                        await self._ensure_selected()
                        headers = await client.fetch_header_fields(
                            chunk, REFERENCES_FIELD, _offset(progress, done, total)
                        )
                        for uid in chunk:
                            add_references(store[uid], headers.get(uid, b""))
                done = min(total, start + SORT_KEY_CHUNK)
        if len(store) > len(current.uids):  # messages gone since: forget their keys
            wanted = set(current.uids)
            for uid in [u for u in store if u not in wanted]:
                del store[uid]
        return store

    def _held_keys(self, current: OpenFolder) -> dict[int, Any] | None:
        return self._sort_keys.get((current.folder.name, current.uidvalidity))

    async def _known_order(self, current: OpenFolder) -> Sequence[int] | None:
        """The folder in the list's order from the sort keys held, or None when some are
        missing (more than a screen's worth: a few new ones are fetched here)."""
        store = self._held_keys(current)
        if store is None:
            return None
        missing = sum(1 for u in current.uids if u not in store)
        if missing > self.first_fetch:
            return None
        if missing:
            store = await self.sort_keys()
        return await self._sorted_here(current, store)

    async def _sorted_here(self, current: OpenFolder, store: dict[int, Any]) -> Sequence[int]:
        from app.store.threads import sort_uids

        uids = current.uids
        sort, reverse = self.sort, self.reverse
        keys = [store[u] for u in uids if u in store]  # here: the store may grow meanwhile

        def order() -> UidArray:
            ordered = sort_uids(keys, sort, reverse)
            if len(keys) < len(uids):  # no answer for some (a damaged message): at the end
                placed = set(ordered)
                ordered += [u for u in uids if u not in placed]
            return UidArray(ordered)

        return await asyncio.to_thread(order)

    async def local_order(
        self, progress: Callable[[int, int], None] | None = None
    ) -> Sequence[int] | None:
        """The open folder in the list's order computed here (RFC 5256 semantics), when the
        server has no SORT; None when the server sorts, or another folder was opened."""
        current = self.current
        if current is None or not self.sorts_locally():
            return None
        store = await self.sort_keys(progress)
        uids = await self._sorted_here(current, store)
        if self.current is not current:
            return None
        current.uids, current.ordered = uids, True
        return uids

    async def thread_view(
        self, progress: Callable[[int, int], None] | None = None
    ) -> tuple[list[int], list[int]]:
        """The open folder as threads: (UIDs in display order, depth of each).

        The server's THREAD=REFERENCES where offered, else JWZ threading here; replies in
        date order, threads ordered by the list's sort (of each thread's first message, or
        its newest for "thread-last-date"). The dates come from UID SORT, or the sort keys.
        """
        from app.store.threads import jwz_threads, ranks, sort_uids, thread_rows

        current = self.current
        if current is None:
            return [], []
        sort, reverse = self.sort, self.reverse
        client = self._require_client()
        store: dict[int, Any] | None = None
        roots: Sequence[Any]
        if self.server_has("THREAD=REFERENCES"):
            async with self.lock:
                await self._ensure_selected()
                roots = await client.thread("REFERENCES")
        else:
            store = await self.sort_keys(progress, references=True)
            keys = [store[u] for u in current.uids if u in store]
            roots = await asyncio.to_thread(jwz_threads, keys)
        if self.server_has("SORT"):
            async with self.lock:
                await self._ensure_selected()
                by_date = await client.sort("DATE")
                by_key = (
                    by_date if SORT_KEYS[sort] == "DATE" else await client.sort(SORT_KEYS[sort])
                )
            date_rank, key_rank = await asyncio.to_thread(lambda: (ranks(by_date), ranks(by_key)))
        else:
            if store is None:
                store = await self.sort_keys(progress)
            held = list(store.values())  # a copy: the store may grow while the thread works

            def rank_both() -> tuple[dict[int, int], dict[int, int]]:
                by_date = ranks(sort_uids(held, "date", False))
                if SORT_KEYS[sort] == "DATE":
                    return by_date, by_date
                return by_date, ranks(sort_uids(held, sort, False))

            date_rank, key_rank = await asyncio.to_thread(rank_both)
        # CPU work of seconds at 100,000 messages: off the event loop, as the rest.
        return await asyncio.to_thread(
            thread_rows,
            roots,
            date_rank,
            key_rank,
            last=sort == "thread-last-date",
            reverse=reverse,
        )

    async def resort(
        self, sort: str, reverse: bool, progress: Callable[[int, int], None] | None = None
    ) -> Sequence[int]:
        self.sort, self.reverse = sort, reverse
        if self.current is None:
            return []
        if self.sorts_locally():  # the same UIDs, ordered here (no server but for new keys)
            return await self.local_order(progress) or self.current.uids
        cache = self.header_cache
        uids: Sequence[int]
        async with self.lock:
            if cache is not None:
                # The new order is remembered, so the next warm start shows it.
                result = await self._resync(cache, self.current.folder.name)
                uids = result.uids
            else:
                await self._ensure_selected()
                uids = await self._uid_list()
        self.current.uids = uids
        return uids

    async def reload_uids(self) -> Sequence[int]:
        """After IDLE news: the new UID list of the open folder, cursor kept by the caller."""
        self.reloaded_flags = []
        self.reloaded_new = None
        if self.current is None:
            return []
        current = self.current
        cache = self.header_cache
        if cache is not None:
            async with self.lock:
                if await self._unchanged_since_select(current):
                    self.reloaded_new = []
                    return current.uids
                placed = await self._news_in_place(cache, current)
                if placed is not None:
                    return placed
                # QRESYNC / CONDSTORE: the changes only, not the whole list again; without
                # either, the flags of the newest messages only when just new mail came (the
                # server told of no flag change or expunge).
                lazy = LAZY_FLAGS if self._news_only else None
                result = await self._resync(cache, current.folder.name, lazy_flags=lazy)
            self.reloaded_flags = [s.uid for s in self._apply_sync(current.folder.name, result)]
            self.reloaded_new = None if result.full_reload else result.new_uids
            same = (
                self.sorts_locally()
                and current.ordered
                and current.uidvalidity == result.uidvalidity
                and not result.new_uids
                and not result.vanished
                and not result.full_reload
            )
            current.exists = result.exists
            current.uidvalidity, current.cached = result.uidvalidity, False
            if same:
                return current.uids  # the same messages: the order made here stands
            current.uids = result.uids
            return await self._in_local_order(current)
        async with self.lock:
            await self._ensure_selected()
            await self._require_client().noop()  # lets the server tell us of the changes
            uids = await self._uid_list()
        if self.sorts_locally() and current.ordered and set(uids) == set(current.uids):
            return current.uids  # the same messages: the order made here stands
        if uids != current.uids:  # one set of the old list, not two sets
            self.summaries.drop(current.folder.name, set(current.uids).difference(uids))
        current.uids = uids
        return await self._in_local_order(current)

    async def _in_local_order(self, current: OpenFolder) -> Sequence[int]:
        """`current.uids` put in the list's order here when the server cannot sort (and the
        keys are at hand); otherwise as they are, marked not ordered."""
        if self.sorts_locally():
            known = await self._known_order(current)
            if known is None:
                current.ordered = False
            else:
                current.uids, current.ordered = known, True
        return current.uids

    async def _news_in_place(self, cache: HeaderCache, current: OpenFolder) -> Sequence[int] | None:
        """The NOOP told only new mail that sorts on top and flag changes (`app.store.news`):
        applied without a resync (issue 21: ~80 ms of CPU per delivered message before).
        None when it told anything else; the caller holds the lock and resyncs then."""
        from app.store.news import TIED_MAX, changed_flags, on_top, told_changes

        events, self._noop_events = self._noop_events, []
        told = told_changes(events)
        client = self._require_client()
        state = getattr(client, "mailbox", None)
        validity = current.uidvalidity
        if (
            told is None
            or state is None
            or validity is None
            or state.uidvalidity != validity
            or current.cached
            or not current.ordered
            or self.sorts_locally()
        ):
            return None
        new, flags = told
        if state.exists != len(current.uids) + len(new):
            return None  # the counts do not add up: the resync finds out why
        name = current.folder.name
        order = current.uids
        fetched: list[MessageSummary] = []
        if new:
            fetched = [s for s in await client.fetch_summaries(new) if s.internaldate is not None]
            if len(fetched) != len(new):
                return None
            head = list(order[: TIED_MAX + 1])  # the top row, and those that may tie it
            held = {u: s for u in head if (s := self.summaries.get(name, validity, u))}
            if len(held) < len(head):
                missing = [u for u in head if u not in held]
                held.update(cache.get_summaries(name, validity, missing))
            listed = [held.get(u) for u in head]
            placed = on_top(order, listed, fetched, self.sort_spec())
            if placed is None:
                return None
            order = placed
        changes = changed_flags(flags, cache.get_summaries(name, validity, list(flags)))
        with cache.batch():
            if fetched:
                cache.put_summaries(name, validity, fetched)
            if changes:
                cache.update_flags(name, validity, changes)
            if new:
                cache.save_mailbox_state(
                    name,
                    uidvalidity=validity,
                    uidnext=state.uidnext,
                    highestmodseq=state.highestmodseq,
                    exists=state.exists,
                    uids=order,
                    sort=self.sort_spec(),
                )
        result = SyncResult(
            uids=order,
            new_uids=new,
            vanished=[],
            flag_changes=changes,
            full_reload=False,
            method="told",
            uidvalidity=validity,
            highestmodseq=state.highestmodseq,
            exists=state.exists,
            fetched=fetched,
        )
        self.reloaded_flags = [s.uid for s in self._apply_sync(name, result)]
        self.reloaded_new = new
        current.uids, current.exists = order, state.exists
        return order

    async def _unchanged_since_select(self, current: OpenFolder) -> bool:
        """True when a NOOP on the open folder reports nothing new (caller holds the lock).

        Since the SELECT of the last resync the server tells this connection of every change
        (EXISTS, EXPUNGE or VANISHED, FETCH of flags) as the NOOP's untagged answers, which the
        client folds into its mailbox state; none means the cache is still exact, and the
        resync (a SELECT, and sets of the whole UID list) can be skipped.
        """
        client = self._require_client()
        state = getattr(client, "mailbox", None)
        self._news_only = False
        if current.cached or state is None or not self._has_selected(client, current.folder.name):
            return False

        def mark(s: Any) -> tuple[Any, ...]:
            return (id(s), s.exists, s.highestmodseq, s.uidvalidity, s.uidnext)

        before = mark(state)
        events = await client.noop()
        self._noop_events = list(events)
        self._news_only = bool(events) and all(e.kind == "new" for e in events)
        after = getattr(client, "mailbox", None)
        return (
            not events
            and after is not None
            and mark(after) == before
            and after.exists == len(current.uids)
        )

    async def _ensure_selected(self) -> None:
        """Re-select the open folder only when the connection has another one selected."""
        if self.current is None:
            return
        client = self._require_client()
        name = self.current.folder.name
        if not self._has_selected(client, name):
            await client.select(name)

    @staticmethod
    def _has_selected(client: Any, name: str) -> bool:
        """Whether the connection has `name` selected read-write (not EXAMINEd)."""
        selected = getattr(client, "_selected", None)
        if selected is None:
            return False
        sel_name = selected[0].name if isinstance(selected[0], Folder) else selected[0]
        return bool(sel_name == name and not selected[1])

    def held_summaries(self, uids: Sequence[int]) -> list[MessageSummary]:
        """The summaries of `uids` in the open folder found in memory or the cache, at once
        (no server): what the list can show in its very first frame."""
        if self.current is None:
            return []
        name, validity = self.current.folder.name, self.current.uidvalidity
        have: list[MessageSummary] = []
        missing: list[int] = []
        for uid in uids:
            held = self.summaries.get(name, validity, uid)
            if held is None:
                missing.append(uid)
            else:
                have.append(held)
        cache = self.header_cache
        if missing and cache is not None and validity is not None:
            for summary in cache.get_summaries(name, validity, missing).values():
                self.summaries.put(name, validity, summary)
                have.append(summary)
        return have

    async def summaries_for(self, uids: Sequence[int]) -> list[MessageSummary]:
        """Summaries of `uids` in the open folder: from memory, the cache, then the server.

        Offline (never connected) only the cached ones come back.
        """
        if self.current is None:
            return []
        name, validity = self.current.folder.name, self.current.uidvalidity
        have: list[MessageSummary] = []
        missing: list[int] = []
        for uid in uids:
            cached = self.summaries.get(name, validity, uid)
            if cached is None:
                missing.append(uid)
            else:
                have.append(cached)
        cache = self.header_cache
        if missing and cache is not None and validity is not None:
            stored = cache.get_summaries(name, validity, missing)
            if stored:
                for summary in stored.values():
                    self.summaries.put(name, validity, summary)
                have.extend(stored.values())
                missing = [u for u in missing if u not in stored]
        if not missing or self.client is None:
            return have
        async with self.lock:
            now = self.current
            if now is None or now.folder.name != name or now.uidvalidity != validity:
                return have  # another folder was opened meanwhile: these UIDs mean nothing now
            await self._ensure_selected()
            fetched: list[MessageSummary] = await self.client.fetch_summaries(missing)
        for summary in fetched:
            self.summaries.put(name, validity, summary)
        if cache is not None and validity is not None and fetched:
            cache.put_summaries(name, validity, _complete(fetched))
        have.extend(fetched)
        return have

    # -- one message -----------------------------------------------------------------------------------
    async def load_message(self, uid: int, *, prefer_html: bool = False) -> Any:
        """Header, structure and only the text parts: never the whole message.

        Parts read before come from the cache (so a cached message shows offline); what is
        fetched is kept there, in the cache's size-bounded LRU.
        """
        from app.mime.render import render_from_parts

        got = await self._text_of(uid, prefer_html=prefer_html)
        if got is None:  # no BODYSTRUCTURE known: the whole message is the only way
            async with self.lock:
                await self._ensure_selected()
                raw: bytes = await self._require_client().fetch_raw(uid)
            return await self._render_whole(uid, raw, prefer_html=prefer_html)
        header, structure, parts = got
        if not structure.is_multipart and _says_multipart(header):
            # Courier gives a multipart message without MIME-Version one text/plain part: the
            # raw MIME would be shown and the attachments hidden. Parse the whole message here.
            whole = await self._whole_message(uid)
            if whole is not None:
                self._flattened.add(self._message_key(uid))
                return await self._render_whole(uid, whole, prefer_html=prefer_html)
        # Rendering is CPU work (HTML conversion can take seconds): keep it off the event loop.
        rendered = await asyncio.to_thread(
            render_from_parts, header, structure, parts, prefer_html=prefer_html
        )
        return await self._with_crypto(uid, header, structure, parts, rendered, prefer_html)

    # -- OpenPGP (app/crypto): verdicts, and decrypted messages kept in memory only ------------
    async def _render_whole(self, uid: int, raw: bytes, *, prefer_html: bool) -> Any:
        from app.crypto.view import render_protected_full

        rendered, decrypted = await asyncio.to_thread(
            render_protected_full, raw, prefer_html=prefer_html
        )
        self._keep_decrypted(uid, decrypted)
        return rendered

    async def _with_crypto(
        self,
        uid: int,
        header: bytes,
        structure: BodyPart,
        parts: dict[str, bytes],
        rendered: Any,
        prefer_html: bool,
    ) -> Any:
        """The signatures checked against the server's exact bytes of the signed part
        (BODY.PEEK[n.MIME] + BODY.PEEK[n]); an encrypted message decrypted (never cached)."""
        from app.crypto.reading import MAX_SIGNED_BYTES
        from app.crypto.view import needs_crypto, protected_from_parts

        if not needs_crypto(structure, parts):
            return rendered
        sizes = {node.part_id: node.size for node in structure.walk()}

        async def fetch(sections: Sequence[str]) -> dict[str, bytes]:
            client = self._require_client()
            # A part past MAX_SIGNED_BYTES (a 1 GB signed part) is not fetched: "not checked".
            sections = [s for s in sections if sizes.get(s, 0) <= MAX_SIGNED_BYTES]
            small = [
                s
                for s in sections
                if s.endswith(".MIME") or 0 < sizes.get(s, 0) <= INLINE_PART_BYTES
            ]
            async with self.lock:
                await self._ensure_selected()
                got: dict[str, bytes] = (
                    dict(await client.fetch_sections(uid, small)) if small else {}
                )
                for section in sections:
                    if section not in got:
                        got[section] = await client.fetch_part(uid, section, chunk_size=1 << 20)
            return got

        shown, decrypted = await protected_from_parts(
            header, structure, parts, rendered, fetch, prefer_html=prefer_html
        )
        self._keep_decrypted(uid, decrypted)
        return shown

    def decrypted_copy(self, uid: int) -> bytes | None:
        """The decrypted message `uid` of the open folder as shown (a reply quotes it), if it
        was decrypted here."""
        return self._decrypted.get(self._message_key(uid))

    def _keep_decrypted(self, uid: int, decrypted: bytes | None) -> None:
        """A decrypted message's parts are numbered by our own parse of it (its attachments are
        saved from memory); only the last few are kept, and never on disk."""
        key = self._message_key(uid)
        if decrypted is None:
            self._decrypted.pop(key, None)
            return
        self._decrypted[key] = decrypted
        self._flattened.add(key)
        while len(self._decrypted) > 8:
            self._decrypted.pop(next(iter(self._decrypted)))

    async def _whole_message(self, uid: int) -> bytes | None:
        """The whole message from the cache (kept as part "RAW"), else the server; None when
        neither has it (offline): the caller then shows what the server's parts give."""
        current, cache = self.current, self.header_cache
        keep = cache is not None and current is not None and current.uidvalidity is not None
        if keep:
            assert cache is not None and current is not None
            held = cache.get_body(current.folder.name, current.uidvalidity, uid, "RAW")
            if held is not None:
                return held
        try:
            async with self.lock:
                await self._ensure_selected()
                raw: bytes = await self._require_client().fetch_raw(uid)
        except Exception:
            log.info("whole message %s not fetched; shown as the server parts it", uid)
            return None
        if keep and self.current is current:
            assert cache is not None and current is not None and current.uidvalidity is not None
            cache.put_body(current.folder.name, current.uidvalidity, uid, "RAW", raw)
        return raw

    def _message_key(self, uid: int) -> tuple[str, int | None, int]:
        current = self.current
        if current is None:
            return ("", None, uid)
        return (current.folder.name, current.uidvalidity, uid)

    async def prefetch_message(self, uid: int, *, prefer_html: bool = False) -> bool:
        """Put the header and text parts of `uid` in the cache, so that opening it is instant.

        Called for the next message while the user reads one. Only small text parts are
        fetched (one FETCH); nothing happens without a cache or when a text part is big.
        Returns whether the message's text is now cached.
        """
        if self.header_cache is None or self.current is None:
            return False
        got = await self._text_of(uid, prefer_html=prefer_html, small_only=True)
        return got is not None

    async def _text_of(
        self, uid: int, *, prefer_html: bool, small_only: bool = False
    ) -> tuple[bytes, BodyPart, dict[str, bytes]] | None:
        """(header, BODYSTRUCTURE, text parts by part id) from the cache, else the server.

        None when the structure is unknown, or (`small_only`) when a text part is too big to
        fetch whole in one FETCH.
        """
        from app.mime.render import parts_to_fetch

        found = await self.summaries_for([uid])
        structure = found[0].bodystructure if found else None
        if structure is None:
            return None
        current = self.current
        cache = self.header_cache
        name = current.folder.name if current is not None else None
        validity = current.uidvalidity if current is not None else None
        keep = cache is not None and name is not None and validity is not None

        def cached(part_id: str) -> bytes | None:
            if not keep:
                return None
            assert cache is not None and name is not None
            return cache.get_body(name, validity, uid, part_id)

        header = cached("HEADER")
        parts: dict[str, bytes] = {}
        wanted = parts_to_fetch(structure, prefer_html=prefer_html)
        for part in wanted:
            data = cached(part.part_id)
            if data is not None:
                parts[part.part_id] = data
        missing = [part for part in wanted if part.part_id not in parts]
        # Small parts come with the header in one FETCH (one round trip); big ones in chunks.
        small = [p.part_id for p in missing if 0 < p.size <= INLINE_PART_BYTES]
        if small_only and len(small) < len(missing):
            return None
        fetched: dict[str, bytes] = {}
        if header is None or missing:
            client = self._require_client()
            sections = (["HEADER"] if header is None else []) + small
            async with self.lock:
                await self._ensure_selected()
                if sections:
                    fetched.update(await client.fetch_sections(uid, sections))
                    header = fetched.get("HEADER", header)
                for part in missing:
                    if part.part_id not in fetched:
                        data = await client.fetch_part(uid, part.part_id, chunk_size=1 << 20)
                        fetched[part.part_id] = data
                    parts[part.part_id] = fetched[part.part_id]
        assert header is not None
        if keep and fetched and self.current is current:
            assert cache is not None and name is not None and validity is not None
            for part_id, data in fetched.items():
                cache.put_body(name, validity, uid, part_id, data)
        return header, structure, parts

    async def fetch_raw(self, uid: int) -> bytes:
        async with self.lock:
            await self._ensure_selected()
            data: bytes = await self.client.fetch_raw(uid)
        return data

    async def save_attachment(
        self,
        uid: int,
        part_id: str,
        encoding: str,
        folder: Path,
        filename: str,
        progress: Callable[[int, int | None], None] | None = None,
        size_hint: int | None = None,
        *,
        text: bool = False,
    ) -> Path:
        """Fetch one part in 64 KB chunks, decoding each into a new file inside `folder`.

        `text` (a text/* or message/* part, see `is_text_type`) saves the wire's CRLF line
        ends as LF, so the file equals what the sender attached.
        """
        from app.mime.attachments import PartWriter

        if self._message_key(uid) in self._flattened:  # parts numbered by our own parse
            return await self._save_local_part(uid, part_id, folder, filename, progress, text=text)
        writer = PartWriter(folder, filename, encoding, text=text)
        try:
            async with self.lock:
                await self._ensure_selected()
                async for chunk in self.client.iter_part(
                    uid, part_id, progress=progress, size_hint=size_hint
                ):
                    writer.write(chunk)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close().unlink()  # no half-written file is left behind
            raise
        saved: Path = writer.close()
        return saved

    async def _save_local_part(
        self,
        uid: int,
        part_id: str,
        folder: Path,
        filename: str,
        progress: Callable[[int, int | None], None] | None,
        *,
        text: bool = False,
    ) -> Path:
        """Save part `part_id` of a message parsed here (its server structure is wrong)."""
        from app.mime.attachments import PartWriter

        data, encoding = await self._local_part(uid, part_id)
        writer = PartWriter(folder, filename, encoding, text=text)
        try:
            writer.write(data)
        except BaseException:
            with contextlib.suppress(Exception):
                writer.close().unlink()
            raise
        if progress is not None:
            progress(len(data), len(data))
        saved: Path = writer.close()
        return saved

    async def _local_part(self, uid: int, part_id: str) -> tuple[bytes, str]:
        """(encoded bytes, encoding) of a part of a message parsed here, from the whole one."""
        from app.mime.attachments import SaveError
        from app.mime.render import extract_part

        raw = self._decrypted.get(self._message_key(uid)) or await self._whole_message(uid)
        if raw is None:
            raw = await self.fetch_raw(uid)  # raises the connection error the user should see
        found = await asyncio.to_thread(extract_part, raw, part_id)
        if found is None:
            raise SaveError(f"the message has no part {part_id}")
        return found

    async def fetch_attachment(
        self,
        uid: int,
        part_id: str,
        encoding: str,
        *,
        text: bool = False,
        progress: Callable[[int, int | None], None] | None = None,
        size_hint: int | None = None,
    ) -> bytes:
        """One part fetched in 64 KB chunks and decoded exactly as `save_attachment` saves it."""
        from app.mime.attachments import StreamDecoder

        if self._message_key(uid) in self._flattened:  # parts numbered by our own parse
            data, local_encoding = await self._local_part(uid, part_id)
            decoder = StreamDecoder(local_encoding, text=text)
            return decoder.feed(data) + decoder.finish()
        decoder = StreamDecoder(encoding, text=text)
        out = bytearray()
        async with self.lock:
            await self._ensure_selected()
            async for chunk in self._require_client().iter_part(
                uid, part_id, progress=progress, size_hint=size_hint
            ):
                out += decoder.feed(chunk)
        out += decoder.finish()
        return bytes(out)

    async def forward_source(
        self, uid: int, progress: Callable[[int, int], None] | None = None
    ) -> tuple[bytes, list[Any] | None]:
        """What an inline forward is built from: (original, its attachments).

        The original here is the header block with the text part only, and the attachments
        (`app.mime.compose.Attachment`) are fetched part by part, each decoded as it is saved,
        so nothing is fetched twice. `progress(done, total)` counts encoded bytes. Without a
        known BODYSTRUCTURE the whole message is fetched and the attachments are None (the
        caller takes them from it).
        """
        from app.mime.attachments import is_text_type
        from app.mime.compose import Attachment, text_only_message
        from app.mime.render import attachments_from_structure, parts_to_fetch

        got = await self._text_of(uid, prefer_html=False)
        if got is None:
            return await self.fetch_raw(uid), None
        header, structure, parts = got
        if not structure.is_multipart and _says_multipart(header):  # see `load_message`
            whole = await self._whole_message(uid)
            if whole is not None:
                return whole, None
        nodes = [n for n in parts_to_fetch(structure) if n.part_id in parts]
        plain = [n for n in nodes if n.mime_type == "text/plain"]
        chosen = (plain or nodes)[0] if (plain or nodes) else None
        if chosen is None:
            original = text_only_message(header, "text/plain", {}, "7bit", b"")
        else:
            original = text_only_message(
                header, chosen.mime_type, chosen.params, chosen.encoding, parts[chosen.part_id]
            )
        infos = attachments_from_structure(structure)
        total = sum(info.encoded_size for info in infos)
        done_before = 0
        attachments: list[Any] = []
        for info in infos:

            def step(done: int, _total: int | None, base: int = done_before) -> None:
                if progress is not None:
                    progress(base + done, total)

            data = await self.fetch_attachment(
                uid,
                info.part_id,
                info.encoding,
                text=is_text_type(info.mime_type),
                progress=step,
                size_hint=info.encoded_size,
            )
            done_before += info.encoded_size
            attachments.append(Attachment(info.filename, data, info.mime_type))
        return original, attachments

    # -- actions -------------------------------------------------------------------------------------------
    async def set_flag(self, uids: Sequence[int], flag: str, on: bool) -> None:
        async with self.lock:
            await self._ensure_selected()
            await self._require_client().store_flags(list(uids), [flag], "+" if on else "-")
        self._update_cached_flags(uids, flag, on)

    def _update_cached_flags(self, uids: Sequence[int], flag: str, on: bool) -> None:
        if self.current is None:
            return
        name, validity = self.current.folder.name, self.current.uidvalidity
        new_flags: dict[int, frozenset[str]] = {}
        unknown: list[int] = []
        for uid in uids:
            summary = self.summaries.get(name, validity, uid)
            if summary is not None:
                summary.flags = (summary.flags | {flag}) if on else (summary.flags - {flag})
                new_flags[uid] = summary.flags
            else:
                unknown.append(uid)
        cache = self.header_cache
        if cache is None or validity is None:
            return
        for uid, stored in cache.get_summaries(name, validity, unknown).items():
            new_flags[uid] = (stored.flags | {flag}) if on else (stored.flags - {flag})
        if new_flags:
            cache.update_flags(name, validity, new_flags)

    def _forget(self, folder: str, uids: Sequence[int]) -> None:
        """Messages that left `folder` (moved, expunged): out of memory and the cache."""
        self.summaries.drop(folder, uids)
        cache = self.header_cache
        validity = self.current.uidvalidity if self.current is not None else None
        if cache is not None and validity is not None:
            cache.remove_uids(folder, validity, uids)

    # The primitives below do one server step each; what to do (Trash or for good, what to
    # ask, what undo may take back) is decided in `app.actions.operations`.
    def can(self, capability: str) -> bool:
        """Whether the server offers `capability` (False offline)."""
        client = self.client
        return bool(client is not None and client.has_capability(capability))

    @property
    def readonly(self) -> bool:
        """The open folder was opened read-only by the server (EXAMINE, or `[READ-ONLY]`)."""
        info = getattr(self.client, "selected_info", None)
        if info is None or self.current is None:
            return False
        return bool(info.name == self.current.folder.name and info.readonly)

    def _drop_from_list(self, uids: Iterable[int]) -> None:
        """UIDs that left the open folder: out of memory, the cache and the list."""
        if self.current is None:
            return
        gone = list(uids)
        self._forget(self.current.folder.name, gone)
        self.current.uids = _without(self.current.uids, gone)

    async def move(self, uids: Sequence[int], dest: str) -> dict[int, int] | None:
        """UID MOVE (or COPY + \\Deleted + EXPUNGE) of `uids` out of the open folder; the new
        UIDs by old one when the server says (COPYUID), else None."""
        if self.current is None or not uids:
            return None
        async with self.lock:
            await self._ensure_selected()
            mapping: dict[int, int] | None = await self._require_client().move(list(uids), dest)
        self._drop_from_list(uids)
        return mapping

    async def copy(self, uids: Sequence[int], dest: str) -> dict[int, int] | None:
        async with self.lock:
            await self._ensure_selected()
            mapping: dict[int, int] | None = await self._require_client().copy(list(uids), dest)
        return mapping

    async def deleted_uids(self) -> list[int]:
        """UIDs flagged \\Deleted in the open folder (UID SEARCH DELETED): what an EXPUNGE
        removes."""
        from app.imap.search import SearchCriteria

        async with self.lock:
            await self._ensure_selected()
            client = self._require_client()
            # A NOOP first: the server shows this session other clients' flag changes at a
            # sync point, and a SEARCH is not always one (Dovecot).
            await client.noop()
            found = await client.search(SearchCriteria(None, ["DELETED"]))
        return list(found)

    async def expunge(self, uids: Sequence[int] | None = None) -> list[int]:
        """EXPUNGE (UID EXPUNGE of `uids` where UIDPLUS allows); returns the UIDs now gone.

        What is gone is read from the server's list after, not guessed: a plain EXPUNGE can
        remove more than asked, and a server may refuse some."""
        if self.current is None:
            return []
        before = list(self.current.uids)
        async with self.lock:
            await self._ensure_selected()
            await self._require_client().expunge(None if uids is None else list(uids))
        after = set(await self.reload_uids())
        gone = [u for u in before if u not in after]
        self._drop_from_list(gone)
        return gone

    async def existing_uids(self, folder: str, uids: Sequence[int]) -> list[int]:
        """Those of `uids` still in `folder` (selected for the moment, then the open folder
        again on the next command)."""
        from app.imap.parser import format_sequence_set
        from app.imap.search import SearchCriteria

        if not uids:
            return []
        async with self.lock:
            client = self._require_client()
            await client.select(folder)
            found = await client.search(SearchCriteria(None, ["UID", format_sequence_set(uids)]))
        return sorted(set(found) & set(uids))

    def message_ids(self, uids: Sequence[int]) -> list[str] | None:
        """The Message-IDs of `uids` of the open folder from the summaries held, or None when
        one is unknown, empty or shared (then they cannot identify the messages)."""
        if self.current is None:
            return None
        name, validity = self.current.folder.name, self.current.uidvalidity
        ids: list[str] = []
        for uid in uids:
            summary = self.summaries.get(name, validity, uid)
            mid = summary.envelope.message_id if summary is not None else None
            if not mid or not mid.isascii() or any(c in mid for c in "\r\n\0"):
                return None
            ids.append(mid.strip())
        return ids if len(set(ids)) == len(ids) else None

    async def find_arrived(
        self, folder: str, since_uid: int, message_ids: Sequence[str]
    ) -> list[int]:
        """UIDs of `folder` from `since_uid` on whose Message-ID is one of `message_ids`: where
        a COPY without COPYUID (no UIDPLUS) put the messages. [] unless each is found once."""
        from app.imap.parser import quote
        from app.imap.search import SearchCriteria

        found: list[int] = []
        async with self.lock:
            client = self._require_client()
            await client.select(folder)
            for mid in message_ids:
                criteria = SearchCriteria(
                    None, ["UID", f"{since_uid}:*", "HEADER", "Message-ID", quote(mid)]
                )
                hits = [u for u in await client.search(criteria) if u >= since_uid]
                if len(hits) != 1:
                    return []
                found.append(hits[0])
        return found

    async def move_between(self, source: str, uids: Sequence[int], dest: str) -> None:
        """Move `uids` from `source` (not the open folder) to `dest`; the open folder is
        selected again after."""
        async with self.lock:
            client = self._require_client()
            await client.select(source)
            await client.move(list(uids), dest)
            if self.current is not None:
                await client.select(self.current.folder.name)

    async def search(self, query_text: str) -> list[int]:
        from app.imap.search import compile_query, parse_query

        criteria = compile_query(parse_query(query_text))
        async with self.lock:
            await self._ensure_selected()
            found: list[int] = await self.client.search(criteria)
        if self.current is None:
            return found
        # In the list's order: one pass over the folder, no index of it (100,000 entries).
        wanted = set(found)
        ordered = [u for u in self.current.uids if u in wanted]
        if len(ordered) < len(wanted):  # arrived since the list was read: first, as newest
            ordered = sorted(wanted.difference(ordered), reverse=True) + ordered
        return ordered

    # -- folder management ------------------------------------------------------------------------------
    async def _leave(self, name: str) -> None:
        """Unselect `name` when this connection has it selected: Courier refuses to RENAME or
        DELETE the selected folder, and Dovecot drops the connection when it is deleted.

        `ImapClient.unselect` sends UNSELECT, or without it EXAMINE INBOX then CLOSE: a CLOSE
        of a mailbox opened read-only never expunges (RFC 3501 6.4.2), so no \\Deleted message
        is lost on the way out (a CLOSE of the read-write selection would expunge them)."""
        client = self._require_client()
        selected = getattr(client, "_selected", None)
        if selected is None:
            return
        sel_name = selected[0].name if isinstance(selected[0], Folder) else selected[0]
        if sel_name == name:
            await client.unselect()

    async def create_folder(self, name: str) -> None:
        async with self.lock:
            client = self._require_client()
            await client.create_folder(name)
            with contextlib.suppress(Exception):
                await client.subscribe(name)

    async def rename_folder(self, old: str, new: str) -> None:
        known = self.folder(old)
        async with self.lock:
            await self._leave(old)
            await self._require_client().rename_folder(old, new)
            if self.current is not None and self.current.folder.name == old:
                self.current = None  # reopened under its new name by the caller
        cache = self.header_cache
        if cache is not None:
            delimiter = (known.delimiter if known is not None else None) or "/"
            for name in cache.mailboxes():  # the folder and its children: cached under old names
                if name == old or name.startswith(old + delimiter):
                    cache.drop_mailbox(name)

    async def delete_folder(self, name: str) -> None:
        async with self.lock:
            await self._leave(name)
            client = self._require_client()
            await client.delete_folder(name)
            if self.current is not None and self.current.folder.name == name:
                self.current = None
            # DELETE leaves the subscription (RFC 3501 6.3.4): a ghost the folder list would
            # show again (Dovecot lists a subscribed name with subfolders as a folder).
            with contextlib.suppress(Exception):
                await client.unsubscribe(name)
        cache = self.header_cache
        if cache is not None:
            cache.drop_mailbox(name)

    async def subscribe(self, name: str, on: bool) -> None:
        async with self.lock:
            client = self._require_client()
            if on:
                await client.subscribe(name)
            else:
                await client.unsubscribe(name)

    async def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> int | None:
        async with self.lock:
            uid: int | None = await self.client.append(folder, data, flags=tuple(flags))
        return uid


def _says_multipart(header: bytes) -> bool:
    """Whether a message's own header makes it multipart (with a boundary to split it by)."""
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    try:
        msg = BytesHeaderParser(policy=compat32).parsebytes(bytes(header))
        return msg.get_content_maintype() == "multipart" and bool(msg.get_param("boundary"))
    except Exception:
        return False


def _build_keys(store: dict[int, Any], answers: dict[int, Any], make: Callable[..., Any]) -> None:
    """SortKeys from `fetch_sort_fields` answers into `store` (run in a thread: CPU work)."""
    for uid, (internaldate, size, envelope) in answers.items():
        store[uid] = make(uid, internaldate, size, envelope)


def _complete(summaries: Sequence[MessageSummary]) -> list[MessageSummary]:
    """Leave out the placeholders the client makes for a FETCH it could not read (UID only):
    cached, they would stand in for the real summary for good."""
    return [
        s for s in summaries if s.bodystructure is not None or s.internaldate is not None or s.size
    ]
