"""One account at run time: the IMAP connection, the open folder, summaries and message loading.

UI-free (no Textual): the App calls these coroutines from workers and turns results into
messages. Every method that needs the selected mailbox takes the lock, so a folder switch in one
worker can never interleave with a fetch of another: IMAP state is per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.models import (
    Credentials,
    Flag,
    Folder,
    FolderRole,
    FolderStatus,
    MessageSummary,
    ServerSettings,
)

log = logging.getLogger(__name__)

#: Sort orders offered in the list, as IMAP SORT keys.
SORT_KEYS = {
    "date": "DATE",
    "arrival": "ARRIVAL",
    "from": "FROM",
    "subject": "SUBJECT",
    "size": "SIZE",
}


@dataclass
class OpenFolder:
    """What the list shows: the folder, its UIDs in display order, and the mailbox state."""

    folder: Folder
    uids: list[int]
    uidvalidity: int | None = None
    exists: int = 0
    query: str | None = None


@dataclass
class UndoAction:
    """How to take back the last delete or move: the UIDs now live in `dest` under new UIDs."""

    description: str
    source: str
    dest: str
    dest_uids: list[int] = field(default_factory=list)
    source_flags: dict[int, frozenset[str]] = field(default_factory=dict)


class SummaryCache:
    """Summaries by (folder, uidvalidity, uid), bounded: the list never holds a whole folder."""

    def __init__(self, limit: int = 20_000) -> None:
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

    def drop(self, folder: str, uids: Iterable[int]) -> None:
        gone = set(uids)
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
        data_dir: Path | None = None,
    ) -> None:
        self.name = name
        self.imap_settings = imap
        self.smtp_settings = smtp
        self._credentials = credentials
        self._smtp_credentials = smtp_credentials or credentials
        self.addresses = [a.lower() for a in addresses]
        self.display_name = display_name
        self.signature = signature
        self.folder_roles = folder_roles or {}
        self.data_dir = data_dir
        self.client: Any = None
        self.lock = asyncio.Lock()
        self.folders: list[Folder] = []
        self.statuses: dict[str, FolderStatus] = {}
        self.current: OpenFolder | None = None
        self.summaries = SummaryCache()
        self.sort = "date"
        self.reverse = True
        self.undo: UndoAction | None = None

    # -- connection ------------------------------------------------------------------------------
    async def connect(self) -> None:
        from app.imap.client import ImapClient

        creds = None if self.imap_settings.tunnel else self._credentials()
        self.client = await ImapClient.connect(self.imap_settings, creds)

    async def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                await self.client.close()
        self.client = None

    def smtp_credentials(self) -> Credentials | None:
        return self._smtp_credentials()

    # -- folders -----------------------------------------------------------------------------------
    async def load_folders(self) -> list[Folder]:
        async with self.lock:
            pairs = await self.client.list_with_status()
        folders: list[Folder] = []
        for folder, status in pairs:
            folders.append(self._with_role(folder))
            if status is not None:
                self.statuses[folder.name] = status
        self.folders = folders
        return folders

    def _with_role(self, folder: Folder) -> Folder:
        """Apply the config's role overrides for servers without SPECIAL-USE."""
        for role, name in self.folder_roles.items():
            if name == folder.name:
                from dataclasses import replace

                try:
                    return replace(folder, role=FolderRole(role))
                except ValueError:
                    return folder
        return folder

    def folder_by_role(self, role: FolderRole) -> Folder | None:
        for folder in self.folders:
            if folder.role is role:
                return folder
        return None

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
    async def open_folder(self, folder: Folder) -> OpenFolder:
        async with self.lock:
            info = await self.client.select(folder.name)
            uids = await self._uid_list()
        self.current = OpenFolder(
            folder, uids, getattr(info, "uidvalidity", None), getattr(info, "exists", len(uids))
        )
        return self.current

    async def _uid_list(self) -> list[int]:
        key = SORT_KEYS.get(self.sort, "DATE")
        sort = f"{'REVERSE ' if self.reverse else ''}{key}"
        uids: list[int] = await self.client.uid_list(sort=sort)
        return uids

    async def resort(self, sort: str, reverse: bool) -> list[int]:
        self.sort, self.reverse = sort, reverse
        if self.current is None:
            return []
        async with self.lock:
            await self._ensure_selected()
            uids = await self._uid_list()
        self.current.uids = uids
        return uids

    async def reload_uids(self) -> list[int]:
        """After IDLE news: the new UID list of the open folder, cursor kept by the caller."""
        if self.current is None:
            return []
        async with self.lock:
            await self._ensure_selected()
            await self.client.noop()  # lets the server tell this connection of the changes
            uids = await self._uid_list()
        gone = set(self.current.uids) - set(uids)
        self.summaries.drop(self.current.folder.name, gone)
        self.current.uids = uids
        return uids

    async def _ensure_selected(self) -> None:
        """Re-select the open folder only when the connection has another one selected."""
        if self.current is None:
            return
        selected = getattr(self.client, "_selected", None)
        name = self.current.folder.name
        if selected is not None:
            sel_name = selected[0].name if isinstance(selected[0], Folder) else selected[0]
            if sel_name == name and not selected[1]:
                return
        await self.client.select(name)

    async def summaries_for(self, uids: Sequence[int]) -> list[MessageSummary]:
        """Summaries of `uids` in the open folder: cached ones at once, the rest fetched."""
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
        if missing:
            async with self.lock:
                fetched: list[MessageSummary] = await self.client.fetch_summaries(missing)
            for summary in fetched:
                self.summaries.put(name, validity, summary)
            have.extend(fetched)
        return have

    # -- one message -----------------------------------------------------------------------------------
    async def load_message(self, uid: int, *, prefer_html: bool = False) -> Any:
        """Header, structure and only the text parts: never the whole message."""
        from app.mime.render import parts_to_fetch, render_from_parts

        found = await self.summaries_for([uid])
        summary = found[0] if found else None
        async with self.lock:
            await self._ensure_selected()
            header: bytes = await self.client.fetch_header(uid)
            structure = summary.bodystructure if summary else None
            parts: dict[str, bytes] = {}
            if structure is not None:
                for part in parts_to_fetch(structure, prefer_html=prefer_html):
                    parts[part.part_id] = await self.client.fetch_part(
                        uid, part.part_id, chunk_size=1 << 20
                    )
        if structure is None:
            from app.mime.render import render_message

            async with self.lock:
                raw: bytes = await self.client.fetch_raw(uid)
            return await asyncio.to_thread(render_message, raw, prefer_html=prefer_html)
        # Rendering is CPU work (HTML conversion can take seconds): keep it off the event loop.
        return await asyncio.to_thread(
            render_from_parts, header, structure, parts, prefer_html=prefer_html
        )

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
    ) -> Path:
        """Fetch one part in 64 KB chunks, decoding each into a new file inside `folder`."""
        from app.mime.attachments import PartWriter

        writer = PartWriter(folder, filename, encoding)
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

    # -- actions -------------------------------------------------------------------------------------------
    async def set_flag(self, uids: Sequence[int], flag: str, on: bool) -> None:
        async with self.lock:
            await self._ensure_selected()
            await self.client.store_flags(list(uids), [flag], "+" if on else "-")
        self._update_cached_flags(uids, flag, on)

    def _update_cached_flags(self, uids: Sequence[int], flag: str, on: bool) -> None:
        if self.current is None:
            return
        name, validity = self.current.folder.name, self.current.uidvalidity
        for uid in uids:
            summary = self.summaries.get(name, validity, uid)
            if summary is not None:
                summary.flags = (summary.flags | {flag}) if on else (summary.flags - {flag})

    async def move(self, uids: Sequence[int], dest: str, *, description: str = "move") -> None:
        if self.current is None or not uids:
            return
        source = self.current.folder.name
        async with self.lock:
            await self._ensure_selected()
            mapping = await self.client.move(list(uids), dest)
        self.undo = UndoAction(description, source, dest, sorted((mapping or {}).values()))
        self.summaries.drop(source, uids)
        self.current.uids = [u for u in self.current.uids if u not in set(uids)]

    async def copy(self, uids: Sequence[int], dest: str) -> None:
        async with self.lock:
            await self._ensure_selected()
            await self.client.copy(list(uids), dest)

    async def delete(self, uids: Sequence[int]) -> str:
        """To Trash where there is one; else \\Deleted and expunge. Returns what was done."""
        trash = self.folder_by_role(FolderRole.TRASH)
        if self.current is None:
            return ""
        if trash is not None and trash.name != self.current.folder.name:
            await self.move(uids, trash.name, description="delete")
            return f"moved to {trash.name}"
        async with self.lock:
            await self._ensure_selected()
            await self.client.store_flags(list(uids), [Flag.DELETED], "+")
            await self.client.expunge(list(uids))
        self.summaries.drop(self.current.folder.name, uids)
        self.current.uids = [u for u in self.current.uids if u not in set(uids)]
        return "deleted"

    async def undo_last(self) -> str | None:
        """Move the last moved or deleted messages back to where they were."""
        action, self.undo = self.undo, None
        if action is None:
            return None
        if not action.dest_uids:
            return f"cannot undo {action.description}: the server did not say the new UIDs"
        async with self.lock:
            await self.client.select(action.dest)
            await self.client.move(action.dest_uids, action.source)
            if self.current is not None:
                await self.client.select(self.current.folder.name)
        return f"undid {action.description}"

    async def expunge(self) -> None:
        async with self.lock:
            await self._ensure_selected()
            await self.client.expunge()

    async def search(self, query_text: str) -> list[int]:
        from app.imap.search import compile_query, parse_query

        criteria = compile_query(parse_query(query_text))
        async with self.lock:
            await self._ensure_selected()
            found: list[int] = await self.client.search(criteria)
        if self.current is None:
            return found
        order = {uid: i for i, uid in enumerate(self.current.uids)}
        return sorted(found, key=lambda u: order.get(u, -1))

    # -- folder management ------------------------------------------------------------------------------
    async def create_folder(self, name: str) -> None:
        async with self.lock:
            await self.client.create_folder(name)
            with contextlib.suppress(Exception):
                await self.client.subscribe(name)

    async def rename_folder(self, old: str, new: str) -> None:
        async with self.lock:
            await self.client.rename_folder(old, new)

    async def delete_folder(self, name: str) -> None:
        async with self.lock:
            if self.current is not None and self.current.folder.name == name:
                self.current = None
            await self.client.delete_folder(name)

    async def subscribe(self, name: str, on: bool) -> None:
        async with self.lock:
            if on:
                await self.client.subscribe(name)
            else:
                await self.client.unsubscribe(name)

    async def append(self, folder: str, data: bytes, flags: Sequence[str] = ()) -> int | None:
        async with self.lock:
            uid: int | None = await self.client.append(folder, data, flags=tuple(flags))
        return uid
