"""Search every folder of an account, or of every account: EXAMINE + UID SEARCH per folder.

The query bar sends a query that starts with `in:all` (every folder of this account) or
`in:all-accounts` (every folder of every configured account) here (`scope_of`). The folders are
searched in parallel on a small pool of extra connections (at most `MAX_EXTRA_CONNECTIONS` per
account, beside its own and its IDLE watcher's, so the server's per-user limit is never near:
Dovecot allows 10 from one address); a connection the server refuses only makes the pool
smaller, and with none at all the account's own connection searches folder after folder under
its lock (the open folder selected again at the end). `progress(done, total)` says how many
folders are done. It is bounded: at most `MAX_HITS` messages are fetched over all folders
(newest first in each) and the rest counted. Folders that cannot be selected (\\Noselect,
\\NonExistent) are skipped; a folder the server refuses is named in `failed` and the others
still searched.

MULTISEARCH (RFC 7377, one ESEARCH command over many mailboxes) is not used: none of the server
kinds the suite runs offers it (Dovecot 2.3, Cyrus 3.6, Courier 5.0, the Gmail-like and minimal
profiles; ../shared/docs/interop-recipe.md lists their capabilities), so such code could not be
tested against a real server; ESEARCH (RFC 4731) is used by each per-folder SEARCH where offered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.imap.errors import ImapBadError, ImapNoError
from app.imap.search import SearchCriteria, compile_query, parse_query
from app.models import Folder, MessageSummary

if TYPE_CHECKING:
    from app.account import Account

log = logging.getLogger(__name__)

#: The scope prefixes of the query bar: `in:all from:olga`, `in:all-accounts from:olga`.
ALL_PREFIX = "in:all"
ACCOUNTS_PREFIX = "in:all-accounts"
#: Extra connections per account a search of every folder opens (then closes).
MAX_EXTRA_CONNECTIONS = 3
#: Most messages whose summaries are fetched, over all folders.
MAX_HITS = 500


@dataclass(frozen=True, slots=True)
class FolderHit:
    """One message found: the folder it is in (decoded name) and its summary there."""

    folder: str
    summary: MessageSummary
    account: str = ""
    """The account's name (set for every hit; shown when several accounts were searched)."""

    @property
    def uid(self) -> int:
        return self.summary.uid


@dataclass(slots=True)
class AllFoldersResult:
    """What a search of every folder found; `total` counts also the hits not fetched."""

    query: str
    hits: list[FolderHit] = field(default_factory=list)
    total: int = 0
    searched: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    connections: int = 0
    """Extra connections the search used (0: the account's own, folder after folder)."""
    reserved: int = 0
    """Hits being fetched right now by the parallel searches (kept within `MAX_HITS`)."""

    @property
    def truncated(self) -> bool:
        return self.total > len(self.hits)


def scope_of(text: str) -> tuple[str, str]:
    """("folder" | "all" | "accounts", the query without the scope prefix)."""
    stripped = text.strip()
    head, _, rest = stripped.partition(" ")
    if head.lower() == ALL_PREFIX:
        return "all", rest.strip()
    if head.lower() == ACCOUNTS_PREFIX:
        return "accounts", rest.strip()
    return "folder", stripped


def split_scope(text: str) -> tuple[bool, str]:
    """(more than the open folder?, the query without the scope prefix)."""
    scope, rest = scope_of(text)
    return scope != "folder", rest


Progress = Callable[[int, int], None]


async def _connect_extra(account: Account) -> Any:
    from app.imap.client import ImapClient

    settings = account.imap_settings
    creds = None if settings.tunnel else account._credentials()
    return await ImapClient.connect(settings, creds, on_alert=account.report_alert)


async def _search_folder(
    client: Any,
    folder: Folder,
    criteria: SearchCriteria,
    result: AllFoldersResult,
    max_hits: int,
    account_name: str,
) -> None:
    """EXAMINE + SEARCH one folder on `client`, and fetch its newest hits while room is left.
    A folder the server refuses is named in `failed`; a lost connection raises."""
    try:
        await client.select(folder, readonly=True)
        uids = await client.search(criteria)
    except (ImapNoError, ImapBadError) as exc:
        log.warning("search of %r failed: %s", folder.name, exc)
        result.failed.append((folder.name, str(exc) or type(exc).__name__))
        return
    result.searched += 1
    result.total += len(uids)
    room = max_hits - len(result.hits) - result.reserved
    if room <= 0 or not uids:
        return
    newest = sorted(uids, reverse=True)[:room]
    result.reserved += len(newest)
    try:
        summaries = await client.fetch_summaries(newest)
    finally:
        result.reserved -= len(newest)
    for summary in summaries[: max(0, max_hits - len(result.hits))]:
        result.hits.append(FolderHit(folder.name, summary, account_name))


async def search_all_folders(
    account: Account,
    query_text: str,
    *,
    max_hits: int = MAX_HITS,
    connections: int = MAX_EXTRA_CONNECTIONS,
    progress: Progress | None = None,
) -> AllFoldersResult:
    """Search every selectable folder of `account` for `query_text`.

    Raises `QueryError` for a bad query before any command is sent.
    """
    criteria = compile_query(parse_query(query_text))
    result = AllFoldersResult(query_text)
    clients: list[Any] = []
    try:
        for _ in range(max(0, connections)):
            try:
                clients.append(await _connect_extra(account))
            except Exception as exc:  # the server's limit, or offline: a smaller pool
                log.info("extra search connection refused: %s", exc)
                break
        if not clients:
            return await _search_sequential(account, criteria, result, max_hits, progress)
        result.connections = len(clients)
        # Listed anew: a folder made since the tree was loaded is searched too.
        folders = [f for f in await clients[0].list_folders() if f.selectable]
        queue: asyncio.Queue[Folder] = asyncio.Queue()
        for folder in folders:
            queue.put_nowait(folder)
        done = 0
        if progress is not None:
            progress(0, len(folders))

        async def worker(client: Any) -> None:
            nonlocal done
            while True:
                try:
                    folder = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                await _search_folder(client, folder, criteria, result, max_hits, account.name)
                done += 1
                if progress is not None:
                    progress(done, len(folders))

        await asyncio.gather(*(worker(c) for c in clients[: max(1, len(folders))]))
    finally:
        for client in clients:
            with contextlib.suppress(Exception):
                await client.close()
    return result


async def _search_sequential(
    account: Account,
    criteria: SearchCriteria,
    result: AllFoldersResult,
    max_hits: int,
    progress: Progress | None,
) -> AllFoldersResult:
    """No extra connection: the account's own, folder after folder, under its lock."""
    async with account.lock:
        client = account._require_client()
        folders = [f for f in await client.list_folders() if f.selectable]
        try:
            for i, folder in enumerate(folders):
                if progress is not None:
                    progress(i, len(folders))
                await _search_folder(client, folder, criteria, result, max_hits, account.name)
            if progress is not None:
                progress(len(folders), len(folders))
        finally:
            try:
                await account._ensure_selected()
            except Exception as exc:  # the next command reselects it; the results stay
                log.warning("re-selecting the open folder failed: %s", exc)
    return result


async def search_accounts(
    accounts: Sequence[Account],
    query_text: str,
    *,
    max_hits: int = MAX_HITS,
    progress: Callable[[str, int, int], None] | None = None,
) -> AllFoldersResult:
    """Every folder of every account, account after account (each with its own pool); an
    account that cannot be reached is named in `failed` as `account: (all folders)`."""
    parse_query(query_text)  # a bad query raises before any connection
    merged = AllFoldersResult(query_text)
    for account in accounts:
        room = max_hits - len(merged.hits)

        def step(done: int, total: int, name: str = account.name) -> None:
            if progress is not None:
                progress(name, done, total)

        try:
            one = await search_all_folders(
                account, query_text, max_hits=max(0, room), progress=step
            )
        except Exception as exc:
            log.warning("search of account %r failed: %s", account.name, exc)
            merged.failed.append((f"{account.name}: (all folders)", str(exc) or type(exc).__name__))
            continue
        merged.hits.extend(one.hits)
        merged.total += one.total
        merged.searched += one.searched
        merged.connections += one.connections
        merged.failed.extend((f"{account.name}: {name}", why) for name, why in one.failed)
    return merged
