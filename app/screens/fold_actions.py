"""Folded threads on the main screen (issue 15): actions on a folded line act on its thread,
and the status bar shows a pending two-key sequence (`z` waiting for `a`, `M` or `R`).

Functions taking the screen (typed `Any`, as app/screens/tools.py does); the message list keeps
the folds (`MessageList.thread_uids`), this module says what an action applies to.
"""

from __future__ import annotations

from typing import Any

from app.models import Flag

__all__ = ["show_pending", "targets", "unread_on"]


def targets(screen: Any) -> list[int]:
    """What `d` `s` `C` `F` `N` `y` act on: the marked messages; else the message under the
    cursor, with every message of its thread when its line is a folded thread."""
    ml = screen.message_list
    marked = sorted(ml.marked)
    if marked:
        return marked
    uid = ml.cursor_uid
    if uid is None:
        return []
    return list(ml.thread_uids(uid))


def unread_on(screen: Any, uids: list[int]) -> bool:
    """`N`: True to mark `uids` read. A folded thread with any unread message is marked read
    as a whole (its line shows ●), else unread; otherwise the first message decides, as before."""
    ml = screen.message_list
    if not uids:
        return False
    if not ml.marked and ml.is_folded_line(ml.cursor_uid):
        held = [ml.summary(u) for u in uids]
        return any(s is not None and Flag.SEEN not in s.flags for s in held)
    first = ml.summary(uids[0])
    return first is not None and Flag.SEEN not in first.flags


def flag_on(screen: Any, uids: list[int]) -> bool:
    """`F`: True to flag `uids`. A folded thread with any message unflagged is flagged whole."""
    ml = screen.message_list
    if not ml.marked and ml.is_folded_line(ml.cursor_uid):
        held = [ml.summary(u) for u in uids]
        return any(s is None or Flag.FLAGGED not in s.flags for s in held)
    first = ml.summary(uids[0]) if uids else None
    return first is None or Flag.FLAGGED not in first.flags


def show_pending(screen: Any, prefix: str | None, note: str = "") -> None:
    """The status bar while a prefix key waits (`z-`), and after (what it said before given
    back, or for a key that is none of the sequence's, a note that goes after a few seconds)."""
    status = screen.status
    if prefix is not None:
        ml = screen.message_list
        table = ml.KEY_SEQUENCES.get(prefix, {})
        keys = "  ".join(f"{prefix}{k} {_short(desc)}" for k, (_, desc) in table.items())
        before = str(status.message)
        # A note of ours (`z x: …`) or an earlier prompt is not given back: only real messages.
        noted = before.startswith(f"{prefix}-") or before == getattr(screen, "_prefix_note", "")
        screen._before_prefix = "" if noted else before
        status.show_message(f"{prefix}-  {keys}  (any other key cancels)")
        return
    before = getattr(screen, "_before_prefix", "")
    screen._before_prefix = ""
    if note:
        screen._prefix_note = note
        status.show_message(note, timeout=4)
    else:
        status.show_message(before)


def _short(description: str) -> str:
    """ "Fold all threads" -> "fold all": what fits in the status bar."""
    words = description.lower().split()
    return " ".join(w for w in words if w not in ("thread", "threads"))
