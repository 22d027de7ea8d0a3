"""Limit and tag by pattern (issue 15), in the search's query language (`app.imap.search`).

`l` limits the list to the messages matching a query (a server SEARCH; an empty query shows the
whole folder again); `ctrl+t` marks every listed message that matches, `ctrl+u` unmarks them. The
marked messages are what the next action (`d`, `s`, `C`, `F`, …) applies to, as mutt's `;`.
The screen owns the query bar; these functions only say what its next query is for and act on it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from app.mime.sanitize import clean_line
from app.screens.host import QueryMode

if TYPE_CHECKING:
    from app.screens.host import MainHost

__all__ = ["Mode", "open_bar", "run_pattern"]

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


async def run_pattern(screen: MainHost, mode: Mode, text: str) -> None:
    """Limit, mark or unmark by the query `text`; a bad query is shown under the bar."""
    from app.actions.operations import plural
    from app.imap.search import QueryError

    shown = clean_line(text, max_len=200)
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
    if mode == "limit":
        total = len(screen._folder_uids)
        screen._search_uids = found
        screen.limit_text = text
        screen.remove_class("-reading")
        ml.set_uids(found, keep_cursor=True, reset_summaries=False)
        screen.status.message = f"Limited to: {shown} ({len(found)} of {total}); Esc shows all"
        ml.focus()
        return
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
