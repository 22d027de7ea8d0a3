"""Keeping the open folder and the counts true: the IDLE watcher's loop on the open folder,
the refresh it triggers, and the STATUS rounds over the other folders (`app.actions.counts`)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from app.models import Folder, FolderStatus
from app.screens.main.arrange import arrange_list
from widgets.workers import screen_going

if TYPE_CHECKING:
    from app.screens.main.host import Host

#: Least time between two refreshes of the open folder: a delivery every 0.5 s (and another
#: client's flag changes between) cost one refresh a second, not one each (issue 21).
REFRESH_EVERY = 1.0

#: At most this many of a refresh's new messages are handed to the list with it (the newest;
#: after a long outage the rest are asked for as they scroll into view).
HELD_NEW = 500

#: The title of the one new-mail notice (updated in place, never stacked).
NEW_MAIL = "New mail"

__all__ = [
    "NEW_MAIL",
    "REFRESH_EVERY",
    "leave_watched",
    "notify_new_mail",
    "refresh_open_folder",
    "resume_watch",
    "show_counts",
    "start_idle",
    "stop_idle",
    "watch_counts",
]


def start_idle(screen: Host, folder: Folder) -> None:
    stop_idle(screen)
    screen._idle_task = asyncio.create_task(_idle_loop(screen, folder))
    screen._idle_folder = folder


def stop_idle(screen: Host) -> None:
    if screen._idle_task is not None:
        screen._idle_task.cancel()
        screen._idle_task = None
    screen._idle_folder = None


def resume_watch(screen: Host) -> None:
    current = screen.account.current
    if screen._idle_task is None and current is not None:
        start_idle(screen, current.folder)


def leave_watched(screen: Host, name: str | None) -> None:
    """Stop the IDLE watcher's connection when it has `name` open (it is renamed or deleted:
    Courier refuses that while a session has the folder selected)."""
    if name is not None and screen._idle_folder is not None and screen._idle_folder.name == name:
        stop_idle(screen)


async def _idle_loop(screen: Host, folder: Folder) -> None:
    """A second connection waits in IDLE on the open folder and tells us of changes."""
    try:
        from app.imap.idle import IdleWatcher
    except ImportError:
        return
    changed = asyncio.Event()
    expected: set[int] = set()  # UIDs the watcher saw arrive, until the list shows them
    # The watcher's connection dropped (the server is down or restarting), then came back.
    link = {"lost": False, "back": False}

    def on_change(event: object) -> None:
        if getattr(event, "kind", "") == "new":
            expected.update(getattr(event, "uids", ()))
        changed.set()

    def on_state(up: bool) -> None:
        if not up:
            link["lost"] = True
            if not screen_going(screen):  # not when the screen is going (quit) and its bar with it
                screen.status.set_offline(reason="the server does not answer")
        elif link["lost"]:
            link["lost"], link["back"] = False, True
            changed.set()  # back: reconnect the account's connection and refresh at once

    account = screen.account
    watcher = IdleWatcher(
        account.imap_settings,
        None if account.imap_settings.tunnel else account._credentials(),
        folder.name,
        on_change,
        on_alert=account.report_alert,
        on_state=on_state,
    )
    screen.idle_watcher = watcher
    watcher.start()
    try:
        # Mail that arrived between our SELECT and the watcher's: one refresh covers it.
        await watcher.connected.wait()
        await refresh_open_folder(screen, notify_new=True)
        retries = 0
        last = time.monotonic()
        while True:
            await changed.wait()
            if link["back"]:
                link["back"] = False
                if not await _reconnect_account(screen):
                    return  # connect_account took over (it restarts this watch)
            # Fold bursts of updates into one refresh, at most one a REFRESH_EVERY.
            await asyncio.sleep(max(0.2, last + REFRESH_EVERY - time.monotonic()))
            changed.clear()
            last = time.monotonic()
            await refresh_open_folder(screen, notify_new=True)
            # Our connection may see a delivery a moment after the watcher's does: ask
            # again (a few times, backing off) rather than lose the news until the next.
            missing = {uid for uid in expected if uid not in screen._folder_uids}
            expected.clear()
            if missing and retries < 3:
                retries += 1
                expected.update(missing)
                await asyncio.sleep(0.5 * retries)
                changed.set()
            else:
                retries = 0
    except asyncio.CancelledError:
        pass
    except Exception as exc:
        # A plain task: raised on, it was "Task exception was never retrieved" (after quit,
        # NoMatches on the gone status bar); while the screen is up the user is told.
        if not screen_going(screen):
            screen._report(exc, "Watching for new mail stopped")
    finally:
        with contextlib.suppress(BaseException):
            await watcher.stop()


async def _reconnect_account(screen: Host) -> bool:
    """The watcher is back, so the server answers: the account's own connection died with
    it. A new one now (not after the backoff), the open folder resynced on it, the list and
    the cursor kept. False when that failed and `connect_account` (backoff) took over."""
    account = screen.account
    screen.status.connection = "connecting"
    old, account.client = account.client, None
    if old is not None:
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(old.close(), 2.0)
    try:
        await account.connect()
    except Exception:
        screen.connect_account()
        return False
    current = account.current
    if current is not None:
        current.cached = True  # the new connection has not seen it: resync, no NOOP shortcut
    screen.status.connection = "connected"
    return True


async def refresh_open_folder(screen: Host, *, notify_new: bool = False) -> None:
    """The open folder brought up to date after IDLE news, drawn in one batch.

    The server is asked first (the news, then the open folder's STATUS), and only then is
    the screen touched, all at once in one `batch_update`: the list, the rows' summaries,
    the notice, the status bar and the tree cost one repaint of the screen, not one each
    (issue 21: ~80 ms of CPU per delivered message, most of it in repaints)."""
    previous = screen._folder_uids
    try:
        uids = await screen.account.reload_uids()
    except Exception as exc:
        screen._report(exc, "Refresh failed")
        return
    flags = screen.account.reloaded_flags
    told = screen.account.reloaded_new
    current = screen.account.current
    status: FolderStatus | None = None
    name = current.folder.name if current is not None else None
    if name is not None:
        with contextlib.suppress(Exception):
            status = await screen.account.refresh_status(name)
    if screen.account.current is not current:
        return  # another folder was opened while STATUS was asked: these UIDs are not its
    unchanged = uids is previous  # the same list back: no set over the whole folder
    if unchanged:
        new: list[int] = []
    elif told is not None:  # the account knows (no set over the whole folder per refresh)
        new = list(told)
    else:
        before = set(previous)
        new = [u for u in uids if u not in before]
    arrange = screen.threaded or (current is not None and not current.ordered)
    with screen.app.batch_update():
        screen._folder_uids = uids
        if flags:  # another client's flag changes: repaint those rows
            screen.message_list.refresh_uids(flags)
        if not arrange and screen._search_uids is None and not unchanged:
            ml = screen.message_list
            ml.set_uids(uids, keep_cursor=True, reset_summaries=False)
            if new:  # fetched with the news: drawn filled, never "loading…" then a fetch
                ml.update_summaries(screen.account.held_summaries(new[-HELD_NEW:]))
        if notify_new and new:
            notify_new_mail(screen, screen.status.folder, len(new))
        if name is not None:
            with contextlib.suppress(Exception):
                show_counts(screen, name, status)
    if arrange:
        with contextlib.suppress(Exception):
            await arrange_list(screen)
    from app.memory import collect_soon

    collect_soon()  # the cycles the refresh left, before they pile up (issue 21)


def show_counts(screen: Host, name: str, status: FolderStatus | None) -> None:
    """New counts of folder `name`: in the tree, and in the status bar if it is open."""
    if status is None:
        return
    screen.folder_tree.update_counts(name, status)
    current = screen.account.current
    if current is not None and current.folder.name == name:
        screen.status.set_counts(status.messages, status.unseen)


async def watch_counts(screen: Host) -> None:
    """Counts true without opening folders: after our own commands, and other folders'
    new mail on a timer (`app.actions.counts`, issue 14)."""
    from textual.css.query import NoMatches

    from app.actions.counts import CountsUpdate, FolderCounts

    def on_update(update: CountsUpdate) -> None:
        try:
            show_counts(screen, update.folder, update.status)
        except NoMatches:  # the screen is being taken down (quit): nothing to draw on
            return
        current = screen.account.current
        if update.new_mail and (current is None or current.folder.name != update.folder):
            notify_new_mail(screen, update.folder, update.new_mail)

    await FolderCounts(screen.account, interval=screen.counts_interval).run(on_update)


def notify_new_mail(screen: Host, folder: str, count: int) -> None:
    """One new-mail notice, updated in place: the counts since it appeared, by folder.

    A refresh a second under steady delivery would otherwise stack a toast each (seven seen
    over the viewer); the status bar and the tree keep the steady count."""
    from app.actions.operations import plural
    from app.mime.sanitize import clean_line

    notice = screen.new_mail_notice  # a widget of ours: Textual's toasts cannot be updated
    if not notice.shown:
        screen._new_mail_counts = {}
    counts = screen._new_mail_counts
    counts[folder] = counts.get(folder, 0) + count
    total = sum(counts.values())
    where = ", ".join(f"{clean_line(name)} {n:,}" for name, n in counts.items())
    text = f"{plural(total, 'new message')}: {where}" if len(counts) > 1 else ""
    text = text or f"{plural(total, 'new message')} in {clean_line(folder)}"
    notice.show(text, title=NEW_MAIL)
