"""Limit and tag by pattern (issue 15), in the search's query language (`app.imap.search`).

`l` limits the list to the messages matching a query (an empty query shows the whole folder
again): at once to the cached summaries that match (`app.actions.local_search`, offline too), then
to the server's SEARCH answer when it comes; `ctrl+t` marks every listed message that matches, `ctrl+u` unmarks them. The
marked messages are what the next action (`d`, `s`, `C`, `F`, …) applies to, as mutt's `;`.
The screen owns the query bar; these functions only say what its next query is for and act on it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from app.mime.sanitize import clean_line
from app.screens.host import QueryMode

if TYPE_CHECKING:
    from app.screens.host import MainHost

__all__ = ["Mode", "after_open", "open_bar", "run_pattern"]

log = logging.getLogger(__name__)

Mode = QueryMode

_PLACEHOLDERS: dict[Mode, str] = {
    "limit": "Limit to (empty: show all): from:olga subject:report is:unread",
    "tag": "Mark every listed message matching: subject:Re from:olga",
    "untag": "Unmark every listed message matching: subject:Re from:olga",
}


def open_bar(screen: MainHost, mode: Mode) -> None:
    """Open the query bar for `mode`, its placeholder saying what Enter will do."""
    from widgets.query_bar import PLACEHOLDER

    screen.query_mode = mode
    bar = screen.query_bar
    bar.input.placeholder = _PLACEHOLDERS.get(mode, PLACEHOLDER)
    # A limit in force is offered again for editing, as mutt's limit prompt does.
    limited = mode == "limit" and screen._search_uids is not None and screen.limit_text
    bar.open(screen.limit_text if limited else "")


def after_open(screen: Any) -> None:
    """The open folder was (re)opened on the server (connected at last, reconnected): a limit
    in force, made from the cache while offline, is asked of the server again."""
    pending = getattr(screen, "_pending_limit", None)
    screen._pending_limit = None
    current = screen.account.current
    if pending is None or current is None:
        return
    name, text = pending
    # Not after Esc or another search (they reset `limit_text`), nor in another folder.
    if name == current.folder.name and text == screen.limit_text:
        screen.run_pattern("limit", text)


async def run_pattern(screen: MainHost, mode: Mode, text: str) -> None:
    """Limit, mark or unmark by the query `text`; a bad query is shown under the bar."""
    from app.actions.operations import plural
    from app.imap.search import QueryError

    shown = clean_line(text, max_len=200)
    if mode == "limit":
        await _limit(screen, text, shown)
        return
    try:
        with screen.status.job("Searching"):
            found: list[int] = await screen.account.search(text)
    except QueryError as exc:
        screen.query_mode = mode  # the bar stays open for the fix: Enter does the same again
        screen.query_bar.show_error(exc.message, exc.position)
        return
    except Exception as exc:
        screen._report(exc, "Search failed")
        return
    ml = screen.message_list
    listed = set(ml.uids)
    hits = [u for u in found if u in listed]  # as mutt: only what the list shows
    before = len(ml.marked)
    if mode == "tag":
        ml.marked.update(hits)
        changed = len(ml.marked) - before
        verb = "Marked"
    else:
        ml.marked.difference_update(hits)
        changed = before - len(ml.marked)
        verb = "Unmarked"
    ml.refresh_uids(hits)
    ml.post_message(ml.MarksChanged(ml, len(ml.marked)))
    what = plural(changed, "message")
    screen.notify(f"{verb} {what} matching {shown}; {len(ml.marked)} marked in all", markup=False)
    ml.focus()


def _show_limit(screen: Any, uids: list[int], text: str) -> None:
    screen._search_uids = uids
    screen.limit_text = text
    screen.remove_class("-reading")
    screen.message_list.set_uids(uids, keep_cursor=True, reset_summaries=False)


async def _limit(screen: Any, text: str, shown: str) -> None:
    """`l`: the cache's answer at once (when it can answer), the server's over it."""
    from app.actions import local_search
    from app.imap.search import QueryError, parse_query

    try:
        parse_query(text)
    except QueryError as exc:
        screen.query_mode = "limit"  # the bar stays open for the fix
        screen.query_bar.show_error(exc.message, exc.position)
        return
    account = screen.account
    folder = account.current
    total = len(screen._folder_uids)
    local: tuple[list[int], int] | None = None
    try:
        local = await local_search.search_cached(account, text)
    except Exception as exc:  # the cache is a copy: the server still answers
        log.warning("limit from the cache failed: %s", exc)
    ml = screen.message_list
    if local is not None:
        uids, unknown = local
        _show_limit(screen, uids, text)
        cached = "from the cache" + (f", {unknown} not cached" if unknown else "")
        screen.status.message = (
            f"Limited to: {shown} ({len(uids)} of {total}, {cached}; asking the server…);"
            " Esc shows all"
        )
        ml.focus()
    screen._pending_limit = None
    if account.client is None:  # offline, or still connecting: the server's answer comes later
        # `after_open` asks the server once this folder is open there.
        screen._pending_limit = (folder.folder.name if folder else None, text)
        if local is None:
            screen.limit_text = text
            screen.status.message = (
                f"Limit to {shown}: waiting for the server (the cache holds no message text)"
            )
            return
    try:
        with screen.status.job("Searching"):
            found: list[int] = await account.search(text)
    except Exception as exc:
        if local is None or not _still(screen, folder, text):
            if local is None:
                screen._report(exc, "Search failed")
            return
        uids, unknown = local
        cached = "from the cache" + (f", {unknown} not cached" if unknown else "")
        screen.status.message = (
            f"Limited to: {shown} ({len(uids)} of {total}, {cached}: the server did not"
            " answer); Esc shows all"
        )
        return
    if local is not None and not _still(screen, folder, text):
        return  # Esc, another limit or another folder came first: the answer is stale
    if not _same_folder(account.current, folder):
        return
    _show_limit(screen, found, text)
    screen.status.message = f"Limited to: {shown} ({len(found)} of {total}); Esc shows all"
    ml.focus()


def _still(screen: Any, folder: Any, text: str) -> bool:
    """The list still shows the limit to `text` in `folder` (no Esc, no other folder)."""
    return (
        _same_folder(screen.account.current, folder)
        and screen._search_uids is not None
        and screen.limit_text == text
    )


def _same_folder(now: Any, then: Any) -> bool:
    if now is None or then is None:
        return now is then
    return bool(now.folder.name == then.folder.name and now.uidvalidity == then.uidvalidity)
