"""The folder tree: the account's mailboxes as a hierarchy, special-use folders first.

Folder names come from the server and are untrusted: labels are built as `rich.text.Text` at
render time (never markup), and the counts are drawn from the STATUS figures the screen hands in.
\\Noselect folders (and path parts the server did not list) are shown dimmed and never open.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import ClassVar

from rich.style import Style
from rich.text import Text, TextType
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from app.models import Folder, FolderRole, FolderStatus
from widgets.safe import safe_line, theme_style

#: Top-level order of the special-use folders; everything else follows alphabetically.
ROLE_ORDER: tuple[FolderRole, ...] = (
    FolderRole.INBOX,
    FolderRole.DRAFTS,
    FolderRole.SENT,
    FolderRole.ARCHIVE,
    FolderRole.JUNK,
    FolderRole.TRASH,
    FolderRole.ALL,
    FolderRole.FLAGGED,
)


_TOGGLE = Style.from_meta({"toggle": True})
"""Meta Tree's click handler reads to expand or collapse instead of selecting."""


def _role_rank(folder: Folder) -> int:
    try:
        return ROLE_ORDER.index(_role_of(folder))
    except ValueError:
        return len(ROLE_ORDER)


def _role_of(folder: Folder) -> FolderRole:
    if folder.role is FolderRole.NONE and folder.name.upper() == "INBOX":
        return FolderRole.INBOX
    return folder.role


class FolderTree(Tree[Folder]):
    """Mailboxes of one account. Enter (or a click) on a selectable folder posts `FolderSelected`."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", id="folders.down", show=False),
        Binding("k", "cursor_up", "Up", id="folders.up", show=False),
        Binding("l,right", "expand", "Expand", id="folders.expand", show=False),
        Binding("h,left", "collapse", "Collapse", id="folders.collapse", show=False),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "folder-tree--noselect",
        "folder-tree--role",
        "folder-tree--unread",
        "folder-tree--count",
        "folder-tree--current",
        "folder-tree--unsubscribed",
    }

    DEFAULT_CSS = """
    FolderTree {
        background: $surface;
        color: $foreground;
        & > .folder-tree--noselect { color: $foreground-disabled; }
        & > .folder-tree--role { color: $foreground-muted; text-style: italic; }
        & > .folder-tree--unread { color: $text-accent; text-style: bold; }
        & > .folder-tree--count { color: $foreground-muted; }
        & > .folder-tree--current { text-style: bold underline; }
        & > .folder-tree--unsubscribed { color: $foreground-muted; text-style: italic; }
        & > .tree--cursor { color: $block-cursor-blurred-foreground; }
        &:focus > .tree--cursor { color: $block-cursor-foreground; }
    }
    """

    class FolderSelected(Message):
        """A selectable folder was chosen. Handle with `on_folder_tree_folder_selected`."""

        def __init__(self, tree: FolderTree, folder: Folder) -> None:
            super().__init__()
            self.tree = tree
            self.folder = folder

        @property
        def control(self) -> FolderTree:
            return self.tree

    def __init__(
        self,
        label: TextType = "Folders",
        *,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(label, name=name, id=id, classes=classes, disabled=disabled)
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 3
        self._folders: dict[str, Folder] = {}
        self._folder_nodes: dict[str, TreeNode[Folder]] = {}
        self._counts: dict[str, FolderStatus] = {}
        self._collapsed: set[str] = set()
        self._current: str | None = None
        self._label_styles: dict[tuple[str, bool], Style] = {}

    # -- data in ------------------------------------------------------------------------------
    @property
    def current_folder(self) -> str | None:
        """Name of the folder shown as open (set by `select_folder` or a selection)."""
        return self._current

    def folder(self, name: str) -> Folder | None:
        """The listed folder called `name`."""
        return self._folders.get(name)

    def set_folders(self, folders: Iterable[Folder], counts: Mapping[str, FolderStatus]) -> None:
        """Show these folders (replacing the old ones), keeping cursor and collapsed nodes.

        Args:
            folders: Folders as listed by the server (decoded names).
            counts: STATUS figures by folder name; missing ones show no counts.
        """
        cursor = self.cursor_node
        cursor_name = cursor.data.name if cursor is not None and cursor.data is not None else None
        for name, node in self._folder_nodes.items():
            if node.allow_expand and not node.is_expanded:
                self._collapsed.add(name)
            else:
                self._collapsed.discard(name)
        self._folders = {f.name: f for f in folders}
        self._counts = dict(counts)
        self._folder_nodes = {}
        self.clear()
        self._build_nodes()
        for name, node in self._folder_nodes.items():
            if node.children and name not in self._collapsed:
                node.expand()
        target = cursor_name if cursor_name in self._folder_nodes else self._current
        if target in self._folder_nodes:
            self.call_after_refresh(self._put_cursor, target)

    def update_counts(self, name: str, status: FolderStatus) -> None:
        """New STATUS figures for one folder."""
        self._counts[name] = status
        node = self._folder_nodes.get(name)
        if node is not None:
            node.refresh()
            self._invalidate()

    def select_folder(self, name: str) -> bool:
        """Show `name` as the open folder and put the cursor on it (posts nothing).

        Returns False when no such folder is listed.
        """
        previous = self._folder_nodes.get(self._current) if self._current else None
        self._current = name
        if previous is not None:
            previous.refresh()
        node = self._folder_nodes.get(name)
        if node is None:
            return False
        parent = node.parent
        while parent is not None:
            parent.expand()
            parent = parent.parent
        node.refresh()
        self.call_after_refresh(self._put_cursor, name)
        return True

    def _put_cursor(self, name: str) -> None:
        node = self._folder_nodes.get(name)
        if node is not None:
            self.move_cursor(node)

    # -- building -----------------------------------------------------------------------------
    def _build_nodes(self) -> None:
        """Attach every folder under its parent path; special-use folders go to the top."""
        folders = list(self._folders.values())
        top_roles = sorted(
            (f for f in folders if _role_of(f) is not FolderRole.NONE),
            key=lambda f: (_role_rank(f), f.name.casefold()),
        )
        hoisted = {f.name for f in top_roles}
        for folder in top_roles:
            self._folder_nodes[folder.name] = self.root.add(folder.name, folder, expand=False)
        rest = sorted(
            (f for f in folders if f.name not in hoisted),
            key=lambda f: [p.casefold() for p in f.parts],
        )
        for folder in rest:
            self._attach_folder(folder)

    def _attach_folder(self, folder: Folder) -> TreeNode[Folder]:
        existing = self._folder_nodes.get(folder.name)
        if existing is not None:
            return existing
        parts = folder.parts
        delimiter = folder.delimiter
        parent = self.root
        if delimiter and len(parts) > 1:
            parent_name = delimiter.join(parts[:-1])
            parent_folder = self._folders.get(parent_name) or Folder(
                name=parent_name,
                raw_name=parent_name,
                delimiter=delimiter,
                attributes=frozenset({"\\Noselect"}),
            )
            parent = self._attach_folder(parent_folder)
        node = parent.add(folder.name, folder, expand=False)
        self._folder_nodes[folder.name] = node
        return node

    # -- rendering ----------------------------------------------------------------------------
    def process_label(self, label: TextType) -> Text:
        """Labels are never markup: a folder called `[b]x` shows as typed."""
        if isinstance(label, str):
            return Text(safe_line(label), no_wrap=True, end="")
        return label

    def render_label(self, node: TreeNode[Folder], base_style: Style, style: Style) -> Text:
        folder = node.data
        if folder is None:
            return super().render_label(node, base_style, style)
        get = self._component
        parts = folder.parts
        shown = parts[-1] if parts else folder.name
        label = Text(no_wrap=True, end="")
        if node.allow_expand and node.children:
            icon = self.ICON_NODE_EXPANDED if node.is_expanded else self.ICON_NODE
            label.append(icon, base_style + _TOGGLE)
        elif node.parent is self.root:
            label.append("  ", base_style)  # line up with the expandable top-level folders
        name_style = style
        status = self._counts.get(folder.name)
        if not folder.selectable:
            name_style = name_style + get("folder-tree--noselect")
        elif not folder.subscribed:
            name_style = name_style + get("folder-tree--unsubscribed")
        if status is not None and status.unseen > 0 and folder.selectable:
            name_style = name_style + Style(bold=True)
        if folder.name == self._current:
            name_style = name_style + get("folder-tree--current")
        label.append(safe_line(shown), name_style)
        role = _role_of(folder)
        if role is not FolderRole.NONE and shown.casefold() != role.value:
            label.append(f" ({role.value})", style + get("folder-tree--role"))
        if status is not None and folder.selectable:
            label.append(" ", style)
            if status.unseen:
                label.append(f"{status.unseen}", style + get("folder-tree--unread"))
                label.append(f"/{status.messages}", style + get("folder-tree--count"))
            else:
                label.append(f"{status.messages}", style + get("folder-tree--count"))
        return label

    def _component(self, name: str) -> Style:
        key = (name, self.has_focus)
        style = self._label_styles.get(key)
        if style is None:
            style = self._label_styles[key] = theme_style(self, name)
        return style

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._label_styles.clear()
        for node in self._folder_nodes.values():
            node._updates += 1

    # -- selection ----------------------------------------------------------------------------
    def _on_tree_node_selected(self, event: Tree.NodeSelected[Folder]) -> None:
        event.stop()
        folder = event.node.data
        if folder is None:
            return
        if not folder.selectable:
            event.node.toggle()
            return
        previous = self._folder_nodes.get(self._current) if self._current else None
        self._current = folder.name
        if previous is not None:
            previous.refresh()
        event.node.refresh()
        self.post_message(self.FolderSelected(self, folder))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is not None and node.children:
            node.expand()

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.children and node.is_expanded:
            node.collapse()
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
