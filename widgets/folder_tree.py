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


def display_order(folders: Iterable[Folder]) -> list[Folder]:
    """INBOX and the special-use folders first (ROLE_ORDER), then the rest by path, any case:
    the order of the tree, for flat lists of folders (pickers)."""
    return sorted(
        folders,
        key=lambda f: (
            _role_rank(f),
            [part.casefold() for part in f.name.split(f.delimiter or "/")],
        ),
    )


def _role_of(folder: Folder) -> FolderRole:
    if folder.role is FolderRole.NONE and folder.name.upper() == "INBOX":
        return FolderRole.INBOX
    return folder.role


class FolderTree(Tree[Folder]):
    """Mailboxes of one account. Enter (or a click) on a selectable folder posts `FolderSelected`.

    Nodes are built lazily: the top level at once, a folder's children when it is expanded
    (Enter, Space, →/l, a click on the arrow, or `select_folder` revealing a folder), and they
    are dropped again when it is collapsed. The full hierarchy lives in a plain index, so
    thousands of folders cost nothing until they are looked at. Small trees (at most
    `auto_expand_limit` folders) start fully expanded, as a mutt user expects; bigger ones start
    with the top level only.
    """

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
        auto_expand_limit: int = 60,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
        disabled: bool = False,
    ) -> None:
        super().__init__(label, name=name, id=id, classes=classes, disabled=disabled)
        self.show_root = False
        self.auto_expand = False
        self.guide_depth = 3
        self.auto_expand_limit = auto_expand_limit
        """Trees of at most this many folders start fully expanded, bigger ones collapsed."""
        self._folders: dict[str, Folder] = {}
        """The listed folders by name."""
        self._entries: dict[str, Folder] = {}
        """The listed folders plus virtual \\Noselect parents for unlisted path parts."""
        self._child_names: dict[str | None, list[str]] = {}
        """Child names of each entry (None: the top level), in display order."""
        self._parent_of: dict[str, str | None] = {}
        """Parent name of each entry (None: top level; special-use folders are hoisted)."""
        self._folder_nodes: dict[str, TreeNode[Folder]] = {}
        """Nodes built now: the top level and the children of expanded nodes."""
        self._counts: dict[str, FolderStatus] = {}
        self._opened_names: set[str] = set()
        """Entries expanded by the user or by `select_folder`."""
        self._closed_names: set[str] = set()
        """Entries collapsed by the user (they stay so across `set_folders`)."""
        self._expand_by_default = False
        self._current: str | None = None
        self._label_styles: dict[tuple[str, bool], Style] = {}
        self._unseen_below: dict[str, int] | None = None
        """Unread messages in each entry's descendants; None until needed after a change."""

    # -- data in ------------------------------------------------------------------------------
    @property
    def current_folder(self) -> str | None:
        """Name of the folder shown as open (set by `select_folder` or a selection)."""
        return self._current

    @property
    def built_count(self) -> int:
        """How many folder nodes exist now (the others wait for their parent's expansion)."""
        return len(self._folder_nodes)

    def folder(self, name: str) -> Folder | None:
        """The listed folder called `name`."""
        return self._folders.get(name)

    @property
    def folders(self) -> list[Folder]:
        """The folders shown (the server's list, or the cached one before it answers)."""
        return list(self._folders.values())

    def node_for(self, name: str) -> TreeNode[Folder] | None:
        """The node of `name`, or None while it is not built (an ancestor is collapsed)."""
        return self._folder_nodes.get(name)

    def set_folders(self, folders: Iterable[Folder], counts: Mapping[str, FolderStatus]) -> None:
        """Show these folders (replacing the old ones), keeping cursor and expanded nodes.

        Args:
            folders: Folders as listed by the server (decoded names).
            counts: STATUS figures by folder name; missing ones show no counts.
        """
        cursor = self.cursor_node
        cursor_name = cursor.data.name if cursor is not None and cursor.data is not None else None
        self._folders = {f.name: f for f in folders}
        self._counts = dict(counts)
        self._unseen_below = None
        self._index()
        self._expand_by_default = len(self._entries) <= self.auto_expand_limit
        self._folder_nodes = {}
        self.clear()
        for name in self._child_names.get(None, []):
            self._build_node(self.root, name)
        if self._current is not None and self._current in self._entries:
            self._reveal(self._current)
        target = cursor_name if cursor_name in self._folder_nodes else self._current
        if target in self._folder_nodes:
            self.call_after_refresh(self._put_cursor, target)

    def update_counts(self, name: str, status: FolderStatus) -> None:
        """New STATUS figures for one folder; drawn now if its node (or an ancestor's) shows."""
        if self._counts.get(name) == status:
            return
        # Its node and the ancestors' (collapsed ones show the unread total below them).
        nodes = [self._folder_nodes.get(name)]
        parent = self._parent_of.get(name)
        while parent is not None:
            nodes.append(self._folder_nodes.get(parent))
            parent = self._parent_of.get(parent)
        shown = [node for node in nodes if node is not None]
        before = [self.get_label_width(node) for node in shown]
        self._counts[name] = status
        self._unseen_below = None
        for node in shown:
            node.refresh()
        if [self.get_label_width(node) for node in shown] != before:
            self._invalidate()  # wider or narrower: the tree's width is laid out again
        # Otherwise only those lines are drawn again: no layout of the screen for a new
        # count (issue 21: one a second under delivery).

    def select_folder(self, name: str) -> bool:
        """Show `name` as the open folder and put the cursor on it (posts nothing).

        Its ancestors are expanded (and built) so the cursor can reach it.
        Returns False when no such folder is listed.
        """
        previous = self._folder_nodes.get(self._current) if self._current else None
        self._current = name
        if previous is not None:
            previous.refresh()
        if name not in self._entries:
            return False
        self._reveal(name).refresh()
        self._put_cursor(name)  # in this frame (a warm start's first frame matches its splash)
        self.call_after_refresh(self._put_cursor, name)
        return True

    def _put_cursor(self, name: str) -> None:
        node = self._folder_nodes.get(name)
        if node is not None:
            if node.line < 0:  # not numbered yet (the tree numbers its lines when drawn)
                _ = self._tree_lines
            self.move_cursor(node)

    # -- the index ----------------------------------------------------------------------------
    def _index(self) -> None:
        """Parent and children of every entry; special-use folders go first, at the top."""
        folders = list(self._folders.values())
        entries: dict[str, Folder] = dict(self._folders)
        parents: dict[str, str | None] = {}
        children: dict[str | None, list[str]] = {None: []}
        top_roles = sorted(
            (f for f in folders if _role_of(f) is not FolderRole.NONE),
            key=lambda f: (_role_rank(f), f.name.casefold()),
        )
        for folder in top_roles:
            parents[folder.name] = None
            children[None].append(folder.name)

        def place(folder: Folder) -> None:
            # Iterative up the path: names from a server may be thousands of parts deep.
            pending: list[Folder] = []
            current: Folder | None = folder
            while current is not None and current.name not in parents:
                pending.append(current)
                parts = current.parts
                current = None
                if pending[-1].delimiter and len(parts) > 1:
                    delimiter = pending[-1].delimiter
                    parent_name = delimiter.join(parts[:-1])
                    current = entries.get(parent_name)
                    if current is None:
                        current = entries[parent_name] = Folder(
                            name=parent_name,
                            raw_name=parent_name,
                            delimiter=delimiter,
                            attributes=frozenset({"\\Noselect"}),
                        )
            for entry in reversed(pending):
                parts = entry.parts
                parent = (
                    entry.delimiter.join(parts[:-1]) if entry.delimiter and len(parts) > 1 else None
                )
                parents[entry.name] = parent
                children.setdefault(parent, []).append(entry.name)

        for folder in sorted(
            (f for f in folders if f.name not in parents),
            key=lambda f: [p.casefold() for p in f.parts],
        ):
            place(folder)
        for parent, names in children.items():
            if parent is not None:
                names.sort(key=lambda n: [p.casefold() for p in entries[n].parts])
        self._entries = entries
        self._parent_of = parents
        self._child_names = children

    def _should_open(self, name: str) -> bool:
        if name in self._closed_names:
            return False
        return name in self._opened_names or self._expand_by_default

    def _unseen_under(self, name: str) -> int:
        """Unread messages in the descendants of `name` (for a collapsed node's label)."""
        if self._unseen_below is None:
            totals: dict[str, int] = {}
            for entry, status in self._counts.items():
                if status.unseen <= 0 or entry not in self._entries:
                    continue
                parent = self._parent_of.get(entry)
                while parent is not None:
                    totals[parent] = totals.get(parent, 0) + status.unseen
                    parent = self._parent_of.get(parent)
            self._unseen_below = totals
        return self._unseen_below.get(name, 0)

    # -- building -----------------------------------------------------------------------------
    def _build_node(self, parent: TreeNode[Folder], name: str) -> TreeNode[Folder]:
        """Add the node of `name` under `parent`, with its children if it starts expanded."""
        has_children = bool(self._child_names.get(name))
        expand = has_children and self._should_open(name)
        node = parent.add(name, self._entries[name], expand=expand, allow_expand=has_children)
        self._folder_nodes[name] = node
        if expand:
            self._build_children(node)
        return node

    def _build_children(self, node: TreeNode[Folder]) -> None:
        """Make the children of a node being expanded (once: a collapse drops them again)."""
        folder = node.data
        if folder is None or node.children:
            return
        for child in self._child_names.get(folder.name, []):
            self._build_node(node, child)

    def _prune(self, node: TreeNode[Folder]) -> None:
        """Drop the nodes under a collapsed node; its expansion builds them again."""
        cursor = self.cursor_node
        stack = list(node.children)
        while stack:
            child = stack.pop()
            stack.extend(child.children)
            if child is cursor:
                self.move_cursor(node)
            if child.data is not None and self._folder_nodes.get(child.data.name) is child:
                del self._folder_nodes[child.data.name]
        node.remove_children()

    def _reveal(self, name: str) -> TreeNode[Folder]:
        """Build and expand the ancestors of `name` (top level first); returns its node."""
        chain: list[str] = []
        parent = self._parent_of.get(name)
        while parent is not None:
            chain.append(parent)
            parent = self._parent_of.get(parent)
        for ancestor in reversed(chain):
            self._expand_node(self._folder_nodes[ancestor])
        return self._folder_nodes[name]

    def _expand_node(self, node: TreeNode[Folder]) -> None:
        if not node.allow_expand:
            return
        if node.data is not None:
            self._opened_names.add(node.data.name)
            self._closed_names.discard(node.data.name)
        self._build_children(node)
        if not node.is_expanded:
            node.expand()

    def _collapse_node(self, node: TreeNode[Folder]) -> None:
        if node.data is not None:
            self._closed_names.add(node.data.name)
            self._opened_names.discard(node.data.name)
        if node.is_expanded:
            node.collapse()
        self._prune(node)

    def _toggle_node(self, node: TreeNode[Folder]) -> None:
        """Space and a click on the arrow land here: build or drop the children too."""
        if not node.allow_expand:
            return
        if node.is_expanded:
            self._collapse_node(node)
        else:
            self._expand_node(node)

    def _sync_node(self, node: TreeNode[Folder]) -> None:
        """An expansion or collapse made elsewhere (Textual's own code): catch up with it."""
        if node.data is None or self._folder_nodes.get(node.data.name) is not node:
            return
        if node.is_expanded and not node.children:
            self._expand_node(node)
        elif not node.is_expanded and node.children:
            self._collapse_node(node)

    def _on_tree_node_expanded(self, event: Tree.NodeExpanded[Folder]) -> None:
        self._sync_node(event.node)

    def _on_tree_node_collapsed(self, event: Tree.NodeCollapsed[Folder]) -> None:
        self._sync_node(event.node)

    def action_toggle_expand_all(self) -> None:
        """shift+space: expand every sibling at this level if all are collapsed, else collapse."""
        node = self.cursor_node
        if node is None or node.parent is None:
            return
        siblings = [s for s in node.parent.children if s.allow_expand]
        if all(not s.is_expanded for s in siblings):
            for sibling in siblings:
                self._expand_node(sibling)
        else:
            for sibling in siblings:
                self._collapse_node(sibling)

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
        if node.allow_expand:
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
        if folder.selectable and not folder.subscribed and role is not FolderRole.INBOX:
            # In words, not only by the style (themes and terminals may not show italic);
            # last, so a narrow pane cuts this before the counts.
            label.append(" (unsub)", style + get("folder-tree--unsubscribed"))
        if node.allow_expand and not node.is_expanded:
            below = self._unseen_under(folder.name)
            if below:
                # Unread mail hidden in collapsed subfolders.
                label.append(f" +{below}", style + get("folder-tree--unread"))
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
            self._toggle_node(event.node)
            return
        # Opening a folder shows its subfolders too (never folds them away).
        self._expand_node(event.node)
        previous = self._folder_nodes.get(self._current) if self._current else None
        self._current = folder.name
        if previous is not None:
            previous.refresh()
        event.node.refresh()
        self.post_message(self.FolderSelected(self, folder))

    def action_expand(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and not node.is_expanded:
            self._expand_node(node)
        elif node.is_expanded and node.children:
            self.move_cursor(node.children[0])  # → again steps into the subfolders

    def action_collapse(self) -> None:
        node = self.cursor_node
        if node is None:
            return
        if node.allow_expand and node.is_expanded:
            self._collapse_node(node)
        elif node.parent is not None and node.parent is not self.root:
            self.move_cursor(node.parent)
