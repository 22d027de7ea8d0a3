"""What the main screen's helpers may use of it, as a Protocol (issue 19).

`app/screens/tools.py`, `pattern_actions.py`, `image_actions.py`, `invite_actions.py` and the
modules of `app/screens/main/` take the screen as a `MainHost`: they never import `MainScreen`
(no import circle; a helper is tested, read and typed against this list alone). `MainScreen`
satisfies it; mypy checks that wherever a helper is called with the screen.

A helper that needs more of the screen adds the member here, with one line saying what it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from textual.app import App
    from textual.notifications import SeverityLevel

    from app.account import Account
    from app.models import Folder, FolderStatus
    from widgets.folder_tree import FolderTree
    from widgets.message_list import MessageList
    from widgets.message_view import MessageView
    from widgets.query_bar import QueryBar
    from widgets.status_bar import StatusBar

__all__ = ["MainHost", "QueryMode"]

QueryMode = Literal["search", "limit", "tag", "untag"]
"""What the query bar's next query is for (`/`, `l`, ctrl+t, ctrl+u)."""


class MainHost(Protocol):
    """The main screen as its helpers see it: state, widgets, and the shared steps."""

    account: Account
    ui: Any
    """The config's UiSettings (None: defaults)."""
    open_uid: int | None
    """The message shown in the viewer."""
    query_mode: QueryMode
    limit_text: str | None
    """The query the list is limited to (`l`)."""
    _search_uids: list[int] | None
    """The list shows these (a search or a limit) instead of the whole folder."""
    _folder_uids: Sequence[int]
    """The open folder's UIDs, in the list's order."""

    # -- Textual's side ------------------------------------------------------------------------
    @property
    def app(self) -> App[Any]: ...

    @property
    def display(self) -> bool:
        """False once the screen is closing or being removed (Textual's `DOMNode.display`)."""
        ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...

    def add_class(self, *class_names: str, update: bool = True) -> Any: ...

    def remove_class(self, *class_names: str, update: bool = True) -> Any: ...

    # -- the widgets ---------------------------------------------------------------------------
    @property
    def folder_tree(self) -> FolderTree: ...

    @property
    def message_list(self) -> MessageList: ...

    @property
    def viewer(self) -> MessageView: ...

    @property
    def status(self) -> StatusBar: ...

    @property
    def query_bar(self) -> QueryBar: ...

    # -- shared steps ----------------------------------------------------------------------------
    def _report(self, exc: BaseException, title: str) -> None:
        """An error as a toast (a dropped connection also reconnects)."""

    def _targets(self) -> list[int]:
        """The marked messages, else the one under the cursor."""
        ...

    def _in_viewer(self) -> bool:
        """The user is reading (the viewer is full screen or has the focus)."""
        ...

    def _current_folder(self) -> Folder | None: ...

    async def _run_op(self, op: Any, title: str, job: str | None = None) -> Any:
        """Run an `app.actions.operations` coroutine, asking its questions; None on error."""

    def _show_outcome(self, outcome: Any, *, quiet: bool = False) -> None:
        """Render an operation's `Outcome`: the list, the flags, one toast."""

    def _show_counts(self, name: str, status: FolderStatus | None) -> None: ...

    async def _save_one(self, uid: int, info: Any, folder: Path, name: str) -> Path:
        """Fetch and decode one attachment of message `uid` into `folder`/`name`."""
        ...

    async def _open_with_xdg(self, info: Any) -> None: ...

    async def _confirm_run(self, filename: str, reason: str) -> bool:
        """Ask before opening what may be a program."""
        ...
