"""Search every folder of an account: one EXAMINE + UID SEARCH per folder, typed results.

The query bar sends a query that starts with `in:all` here (`split_scope`). The search runs on
the account's own connection, folder after folder, under its lock (the open folder is selected
again at the end), so it never needs more connections than the server allows. It is bounded:
at most `MAX_HITS` messages are fetched (newest first in each folder) and the rest counted.
Folders that cannot be selected (\\Noselect, \\NonExistent) are skipped; a folder the server
refuses is named in `failed` and the others still searched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from app.imap.errors import ImapBadError, ImapNoError
from app.imap.search import compile_query, parse_query
from app.models import MessageSummary

if TYPE_CHECKING:
    from app.account import Account

log = logging.getLogger(__name__)

#: The scope prefix of the query bar: `in:all from:olga`.
ALL_PREFIX = "in:all"
#: Most messages whose summaries are fetched, over all folders.
MAX_HITS = 500


@dataclass(frozen=True, slots=True)
class FolderHit:
    """One message found: the folder it is in (decoded name) and its summary there."""

    folder: str
    summary: MessageSummary

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

    @property
    def truncated(self) -> bool:
        return self.total > len(self.hits)


def split_scope(text: str) -> tuple[bool, str]:
    """(all folders?, the query without the scope prefix) for what the user typed."""
    stripped = text.strip()
    head, _, rest = stripped.partition(" ")
    if head.lower() == ALL_PREFIX:
        return True, rest.strip()
    return False, stripped


async def search_all_folders(
    account: Account, query_text: str, *, max_hits: int = MAX_HITS
) -> AllFoldersResult:
    """Search every selectable folder of `account` for `query_text`.

    Raises `QueryError` for a bad query before any command is sent.
    """
    criteria = compile_query(parse_query(query_text))
    result = AllFoldersResult(query_text)
    async with account.lock:
        client = account._require_client()
        # Listed anew: a folder made since the tree was loaded is searched too.
        folders = await client.list_folders()
        try:
            for folder in folders:
                if not folder.selectable:
                    continue
                try:
                    await client.select(folder, readonly=True)
                    uids = await client.search(criteria)
                    result.searched += 1
                    result.total += len(uids)
                    room = max_hits - len(result.hits)
                    if room <= 0 or not uids:
                        continue
                    newest = sorted(uids, reverse=True)[:room]
                    for summary in await client.fetch_summaries(newest):
                        result.hits.append(FolderHit(folder.name, summary))
                except (ImapNoError, ImapBadError) as exc:
                    # A folder the server refuses must not hide the others; a lost
                    # connection or a protocol error ends the search.
                    log.warning("search of %r failed: %s", folder.name, exc)
                    result.failed.append((folder.name, str(exc) or type(exc).__name__))
        finally:
            try:
                await account._ensure_selected()
            except Exception as exc:  # the next command reselects it; the results stay
                log.warning("re-selecting the open folder failed: %s", exc)
    return result
