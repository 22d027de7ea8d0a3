"""The start screen kept for the next start's splash (`app.splash`, issue 21).

The frame is taken from Textual's compositor, as `App._display` would write a full update, when
the screen is in the start state (the first account's INBOX as the server listed it, the top of
the list, the cursor on the first row and the list focused, no search or limit, nothing over it:
no dialog, viewer, toast or progress bar, the rows and the folder tree drawn). It is drawn as a
cached start draws it: the status line says "connecting" and "N messages (from the cache)"
(whatever it says now), which is what the next start shows until the server answers.

No timer runs on its own: each frame Textual writes (`SplashDriver.write`) asks for a check
`DELAY` seconds later, at most one pending, so the snapshot follows the start state (new mail at
the top) at most every few seconds, and never while the screen is elsewhere. Quitting from the
start state takes one last look. The file is written only when the frame or the cache's state
changed.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app import splash

if TYPE_CHECKING:
    from textual.app import App

log = logging.getLogger(__name__)

DELAY = 3.0
"""Seconds after a frame before the start state is looked at (also the least between two),
once this run has kept a snapshot; before, at the next turn of the event loop."""
_QUIET = 0.5
"""Frames written this soon after a look are its own repaint of the status line: ignored."""


class SnapshotWriter:
    """Keeps `<cache>/splash/<config+account>.frame` equal to the start screen."""

    def __init__(self, app: App[Any], config_path: Path, config_bytes: bytes) -> None:
        self.app = app
        self.config_path = config_path
        self.config_bytes = config_bytes
        self._timer: Any = None
        self._quiet_until = 0.0
        self._last: splash.Snapshot | None = None

    # -- when ---------------------------------------------------------------------------------
    def frame_written(self) -> None:
        """Textual wrote to the terminal: look again in `DELAY` seconds (one look pending).

        Until this run has kept one, the look comes at once: a user pressing End as soon as
        the list shows leaves the start state within a frame or two of it being drawn.
        """
        if self._timer is not None or time.monotonic() < self._quiet_until:
            return
        try:
            if self._last is None:
                self._timer = True
                self.app.call_later(self.look)
            else:
                self._timer = self.app.set_timer(DELAY, self.look)
        except Exception:  # not running (yet / any more)
            self._timer = None

    def look(self) -> None:
        """`take`, never raising: the splash is not a reason for the app to fail."""
        self._timer = None
        try:
            self.take()
        except Exception as exc:  # never a reason for the app to fail
            log.debug("splash snapshot: %s", exc)

    # -- what ---------------------------------------------------------------------------------
    def start_screen(self) -> Any:
        """The main screen when it shows the start state, else None (and why, at debug level)."""
        screen: Any = None
        try:
            screen = self.app.screen
            why = _not_start(self.app, screen)
        except Exception as exc:  # no screen (quitting), a widget not mounted
            why = f"no screen: {exc}"
        if why is not None:
            log.debug("splash snapshot: not the start state: %s", why)
            return None
        return screen

    def take(self) -> bool:
        """Write the snapshot when the start state is shown and differs from the one kept."""
        screen = self.start_screen()
        if screen is None:
            return False
        cache_file = screen.account.cache_path
        if cache_file is None:
            return False
        fingerprint = splash.cache_fingerprint(cache_file)
        if fingerprint is None:
            return False
        frame = self._render(screen)
        width, height = screen.size
        snapshot = splash.Snapshot(
            width,
            height,
            splash.config_key(self.config_bytes, screen.account.name),
            fingerprint,
            str(Path(cache_file).absolute()),
            frame,
        )
        if snapshot == self._last:
            return False
        if not splash.valid_frame(frame):
            log.debug("splash snapshot: the frame holds sequences a splash may not paint")
            return False
        splash.save(splash.snapshot_path(self.config_path, screen.account.name), snapshot)
        self._last = snapshot
        return True

    def _render(self, screen: Any) -> str:
        """The full frame as terminal text, with the status line of a cached start."""
        from textual.widgets import Static

        from app.actions.operations import plural

        status = screen.status
        line = status.query_one("#status-line", Static)
        shown = (status.connection, status.message, status._message_error)
        status._message_error = False
        status.set_reactive(type(status).connection, "connecting")
        status.set_reactive(
            type(status).message, f"{plural(len(screen._folder_uids), 'message')} (from the cache)"
        )
        try:
            line.update(status._line())
            return _frame_text(self.app, screen)
        finally:
            status.set_reactive(type(status).connection, shown[0])
            status.set_reactive(type(status).message, shown[1])
            status._message_error = shown[2]
            line.update(status._line())
            self._quiet_until = time.monotonic() + _QUIET


def _not_start(app: Any, screen: Any) -> str | None:
    """Why `screen` is not the start state; None when it is."""
    accounts = getattr(app, "accounts", None)
    if not accounts or getattr(screen, "account", None) is not accounts[0]:
        return "not the first account's main screen"
    if app.screen_stack[2:] or len(app._notifications) or screen.new_mail_notice.shown:
        return "something over it (a screen, a toast, the new-mail notice)"
    current: Any = screen.account.current
    # The cached list (a warm start before the server answers) is the very screen a splash
    # stands for; a user pressing End at once never leaves the server's list at the top.
    if current is None or current.query is not None or not current.ordered:
        return "the list is not INBOX's (cached or the server's) yet"
    if current.folder.name.upper() != "INBOX" or not current.uids:
        return "not INBOX, or empty"
    if screen._search_uids is not None or screen.limit_text or screen.open_uid is not None:
        return "a search, a limit or a message shown"
    if getattr(screen, "threaded", False):
        return "threads (the cached start draws them after arranging)"
    listing = screen.message_list
    if screen.focused is not listing or listing.cursor_row != 0 or listing.scroll_offset.y:
        return "the cursor is not on the first row of the focused list"
    if any(listing.summary(uid) is None for uid in listing.uids[: listing.size.height]):
        return "rows still loading"
    if not screen.folder_tree.built_count:
        return "the folder tree is not drawn yet"  # a cold start lists it after INBOX
    status = screen.status
    connection_ok = status.connection == "connected" or (
        current.cached and status.connection == "connecting"
    )
    if not connection_ok or status.progress_visible:
        return f"the status bar: {status.connection!r}, progress shown: {status.progress_visible}"
    return None


def _frame_text(app: App[Any], screen: Any) -> str:
    """Every row of the screen, each placed with a cursor position, as Textual renders them."""
    compositor = screen._compositor
    dirty = set(compositor._dirty_regions)
    try:
        update = compositor.render_full_update()
    finally:
        compositor._dirty_regions.update(dirty)  # still to be drawn on the terminal
    console = app.console
    rows = [
        f"\x1b[{y + 1};1H" + "".join(strip.render(console) for strip in line)
        for y, line in enumerate(update.strips)
    ]
    return "".join(rows) + "\x1b[0m"


def install(app: App[Any], config_path: Path, config_bytes: bytes) -> SnapshotWriter | None:
    """Follow the start screen of `app` when its driver reports frames (a real terminal)."""
    from app.screens.splash_driver import SplashDriver

    driver = getattr(app, "_driver", None)
    if not isinstance(driver, SplashDriver):
        return None
    writer = SnapshotWriter(app, config_path, config_bytes)
    driver._on_frame = writer.frame_written
    return writer
