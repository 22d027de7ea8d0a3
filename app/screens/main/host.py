"""The screen as the modules of `app/screens/main/` see it: `MainHost` (what every helper of
`app/screens/` may use) plus the state and the workers only this package touches.

The mixins' methods take `self: Host` and the functions `screen: Host`, so no module here
imports `MainScreen` (mypy checks that `MainScreen` is a `Host` wherever one is called).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from app.screens.host import MainHost, QueryMode

if TYPE_CHECKING:
    from textual.geometry import Size
    from textual.timer import Timer
    from textual.widget import Widget
    from textual.worker import Worker

    from app.account import OpenFolder
    from app.actions.search_all import FolderHit
    from app.models import Folder
    from widgets.notice import Notice

__all__ = ["Host"]


class Host(MainHost, Protocol):
    """`MainHost`, and the screen's own state and workers."""

    mark_read_delay: float
    prefer_html: bool
    threaded: bool
    """Threads shown (`T`); stays on from folder to folder and through `o`."""
    folder_width: int
    """Preferred columns of the folder tree (narrower when the terminal is)."""
    list_share: float
    """Percent of the width right of the folder tree given to the list (the rest: viewer)."""
    counts_interval: float
    idle_watcher: Any
    _unanswered: set[int]
    _idle_task: asyncio.Task[None] | None
    _idle_folder: Folder | None
    _new_mail_counts: dict[str, int]
    _last_dest: str | None
    _thread_rows: tuple[list[int], list[int]] | None
    _arranging: bool
    _arrange_again: bool
    _headers_wanted: int
    _headers_done: int
    _answering: int | None
    _composed: bool
    _leaving: set[int]
    _early_shown: OpenFolder | None

    @property
    def new_mail_notice(self) -> Notice:
        """The one new-mail notice, updated in place (`watch.notify_new_mail`)."""
        ...

    # -- Textual's side ------------------------------------------------------------------------
    @property
    def size(self) -> Size: ...

    @property
    def is_mounted(self) -> bool: ...

    @property
    def is_attached(self) -> bool: ...

    @property
    def focused(self) -> Widget | None: ...

    def has_class(self, *class_names: str) -> bool: ...

    def toggle_class(self, *class_names: str) -> Any: ...

    def set_class(self, add: bool, *class_names: str, update: bool = True) -> Any: ...

    def call_after_refresh(self, callback: Any, *args: Any, **kwargs: Any) -> bool: ...

    def set_timer(
        self, delay: float, callback: Any = None, *, name: str | None = None
    ) -> Timer: ...

    def run_worker(
        self,
        work: Any,
        name: str | None = "",
        group: str = "default",
        description: str = "",
        exit_on_error: bool = True,
        start: bool = True,
        exclusive: bool = False,
        thread: bool = False,
    ) -> Worker[Any]: ...

    # -- the workers and actions one module starts for another ---------------------------------
    def connect_account(self, shown: OpenFolder | None = None) -> Worker[None]: ...

    def resume_drafts(self) -> Worker[None]: ...

    def open_folder(self, folder: Folder) -> Worker[None]: ...

    def load_message(self, uid: int, *, html_switch: bool = False) -> Worker[None]: ...

    def prefetch_message(self, uid: int) -> Worker[None]: ...

    def load_invitation(self, uid: int) -> Worker[None]: ...

    def run_pattern(self, mode: QueryMode, text: str) -> Worker[None]: ...

    def run_search(self, text: str) -> Worker[None]: ...

    def open_hit(self, hit: FolderHit) -> Worker[None]: ...

    def _open_compose(self, uid: int | None, mode: str) -> Worker[None]: ...

    def _refresh_compose_counts(self) -> Worker[None]: ...

    def action_clear_search(self) -> None: ...
