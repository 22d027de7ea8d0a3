"""FolderTree: hierarchy, special-use order, counts, \\Noselect, selection, untrusted names."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from textual.app import App, ComposeResult

from app.models import Folder, FolderRole, FolderStatus
from tests.ui.apps import samples
from tests.ui.apps.screen import screen_text, terminal_bytes
from widgets.folder_tree import FolderTree

pytestmark = pytest.mark.ui


class TreeApp(App[None]):
    def __init__(self, folders: list[Folder], counts: dict[str, FolderStatus]) -> None:
        super().__init__()
        self.folders = folders
        self.counts = counts
        self.selected: list[Folder] = []
        self.quit_requested = False

    def compose(self) -> ComposeResult:
        yield FolderTree("Folders")

    def on_mount(self) -> None:
        tree = self.query_one(FolderTree)
        tree.set_folders(self.folders, self.counts)
        tree.focus()

    def on_folder_tree_folder_selected(self, event: FolderTree.FolderSelected) -> None:
        self.selected.append(event.folder)

    async def action_quit(self) -> None:
        self.quit_requested = True


@contextlib.asynccontextmanager
async def tree_app(
    folders: list[Folder], counts: dict[str, FolderStatus], size: tuple[int, int] = (40, 20)
) -> AsyncIterator[tuple[TreeApp, Any, FolderTree]]:
    """A TreeApp running, its first frame drawn: the app, the pilot and the tree."""
    app = TreeApp(folders, counts)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        yield app, pilot, app.query_one(FolderTree)


async def inbox_count(pilot: Any, tree: FolderTree, messages: int, unseen: int) -> None:
    """INBOX's count changed (as a refresh tells the tree), and the change drawn."""
    tree.update_counts("INBOX", FolderStatus(messages=messages, unseen=unseen))
    await pilot.pause()


async def test_a_new_count_of_the_same_width_is_drawn_without_a_layout() -> None:
    """A delivery a second changes INBOX's count: its line is drawn again, the screen is not
    laid out (issue 21); a count one digit longer lays the tree out (its width may change)."""
    folders, counts = samples.folders()
    async with tree_app(folders, counts) as (app, pilot, tree):
        await inbox_count(pilot, tree, 120, 4)
        layouts = tree._layout_updates
        await inbox_count(pilot, tree, 121, 5)
        assert tree._layout_updates == layouts
        assert _labels(app)[0].strip().startswith("INBOX 5/121")
        await inbox_count(pilot, tree, 1210, 5)
        assert tree._layout_updates == layouts + 1
        assert _labels(app)[0].strip().startswith("INBOX 5/1210")


def _labels(app: App[Any]) -> list[str]:
    return [line.rstrip() for line in screen_text(app).splitlines() if line.strip()]


async def test_roles_first_then_hierarchy_with_counts() -> None:
    folders, counts = samples.folders()
    app = TreeApp(folders, counts)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        lines = _labels(app)
        names = [line.strip() for line in lines]
        assert names[0].startswith("INBOX 3/120")
        assert names[1].startswith("Drafts 1")
        assert names[2].startswith("Sent Items (sent) 40")
        assert names[3].startswith("Archive 1900")
        assert names[4].startswith("Spam (junk) 12/12")
        assert names[5].startswith("Trash 7")
        rest = "\n".join(lines[6:])
        assert "▼ Lists" in rest and "python-dev 120/4500" in rest
        assert "▼ Projects" in rest and "termail 2/55" in rest and "website 9" in rest
        assert rest.index("Lists") < rest.index("Projects")


async def test_noselect_and_unlisted_parents_do_not_open() -> None:
    folders, counts = samples.folders()
    async with tree_app(folders, counts) as (app, pilot, tree):
        lists = tree._folder_nodes["Lists"]  # never listed: a virtual \Noselect parent
        assert lists.data is not None and not lists.data.selectable
        tree.move_cursor(lists)
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == []
        assert not lists.is_expanded  # Enter on a \Noselect folder only folds it
        tree.move_cursor(tree._folder_nodes["Projects/termail"])
        await pilot.press("enter")
        await pilot.pause()
        assert [f.name for f in app.selected] == ["Projects/termail"]
        assert tree.current_folder == "Projects/termail"


async def test_click_selects_and_select_folder_posts_nothing() -> None:
    folders, counts = samples.folders()
    async with tree_app(folders, counts) as (app, pilot, tree):
        assert tree.select_folder("Trash")
        assert not tree.select_folder("Nope")
        await pilot.pause()
        assert app.selected == []
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.name == "Trash"
        await pilot.click(FolderTree, offset=(4, 1))  # Drafts
        await pilot.pause()
        assert [f.name for f in app.selected] == ["Drafts"]
        await pilot.press("j", "enter")
        await pilot.pause()
        assert [f.name for f in app.selected] == ["Drafts", "Sent Items"]


async def test_update_counts_and_rebuild_keep_state() -> None:
    folders, counts = samples.folders()
    async with tree_app(folders, counts) as (app, pilot, tree):
        await inbox_count(pilot, tree, 121, 4)
        assert _labels(app)[0].strip().startswith("INBOX 4/121")
        tree._folder_nodes["Projects"].collapse()
        tree.select_folder("Archive")
        await pilot.pause()
        tree.set_folders([*folders, Folder("Projects/new", "Projects/new", "/")], counts)
        await pilot.pause()
        text = screen_text(app)
        assert "termail" not in text  # Projects stayed collapsed
        assert tree.cursor_node is not None and tree.cursor_node.data is not None
        assert tree.cursor_node.data.name == "Archive"


async def test_inbox_children_and_dot_delimiter() -> None:
    folders = [
        Folder("INBOX", "INBOX", "."),
        Folder("INBOX.Sent", "INBOX.Sent", ".", role=FolderRole.SENT),
        Folder("INBOX.work", "INBOX.work", "."),
        Folder("INBOX.work.2026", "INBOX.work.2026", "."),
    ]
    app = TreeApp(folders, {})
    async with app.run_test(size=(40, 10)) as pilot:
        await pilot.pause()
        names = [line.strip() for line in _labels(app)]
        assert names[0] == "▼ INBOX"
        assert names[1] == "└─ ▼ work"
        assert names[2].endswith("└─ 2026")
        assert names[3] == "Sent"  # a role folder is hoisted to the top level, no guide


async def test_hostile_folder_names_are_literal() -> None:
    folders, counts = samples.folders()
    app = TreeApp(folders, counts)
    async with app.run_test(size=(50, 20)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "[@click=app.quit]evil[b]" in text
        stream = terminal_bytes(app)
        assert "\x1b[2J" not in stream and "\u202e" not in stream
        row = next(i for i, line in enumerate(text.splitlines()) if "evil" in line)
        await pilot.click(FolderTree, offset=(8, row))
        await pilot.pause()
        assert not app.quit_requested
        assert [f.name for f in app.selected] == [samples.HOSTILE_FOLDER]


# -- lazy expansion ----------------------------------------------------------------------------
def big_tree(groups: int = 30, subs: int = 10, leaves: int = 10) -> list[Folder]:
    """`groups` top folders, each with `subs` children of `leaves` leaves (3,330 by default)."""
    folders = [
        Folder("INBOX", "INBOX", "/", role=FolderRole.INBOX),
        Folder("Sent", "Sent", "/", role=FolderRole.SENT),
        Folder("Trash", "Trash", "/", role=FolderRole.TRASH),
    ]
    for g in range(groups):
        top = f"g{g:02d}"
        folders.append(Folder(top, top, "/"))
        for s in range(subs):
            sub = f"{top}/s{s:02d}"
            folders.append(Folder(sub, sub, "/"))
            folders.extend(Folder(f"{sub}/l{n:02d}", f"{sub}/l{n:02d}", "/") for n in range(leaves))
    return folders


async def test_big_tree_builds_only_the_top_level() -> None:
    folders = big_tree()
    assert len(folders) == 3 + 30 * (1 + 10 * 11)
    async with tree_app(folders, {}) as (app, pilot, tree):
        assert tree.built_count == 33
        assert all(node.parent is tree.root for node in tree._folder_nodes.values())
        assert len(tree._tree_nodes) == 33 + 1  # and the root: nothing hidden was made
        names = [line.strip() for line in _labels(app)]
        assert names[:4] == ["INBOX", "Sent", "Trash", "▶ g00"]
        assert tree.node_for("g00/s00") is None and tree.folder("g00/s00/l00") is not None


async def test_expanding_builds_children_and_collapsing_drops_them() -> None:
    async with tree_app(big_tree(), {}) as (app, pilot, tree):
        g00 = tree._folder_nodes["g00"]
        tree.move_cursor(g00)
        await pilot.press("space")  # Textual's toggle key
        await pilot.pause()
        assert g00.is_expanded and tree.built_count == 33 + 10
        assert "├─ ▶ s00" in screen_text(app)
        await pilot.press("space")
        await pilot.pause()
        assert not g00.is_expanded and tree.built_count == 33
        assert tree.node_for("g00/s00") is None
        await pilot.press("l")  # → / l expand, again steps into the children
        await pilot.pause()
        assert g00.is_expanded and tree.built_count == 43
        await pilot.press("l")
        await pilot.pause()
        assert tree.cursor_node is tree.node_for("g00/s00")
        await pilot.press("right")
        await pilot.pause()
        assert tree.built_count == 53
        await pilot.press("h", "h")  # collapse s00, then up to g00
        await pilot.pause()
        assert tree.built_count == 43 and tree.cursor_node is g00
        await pilot.press("left")
        await pilot.pause()
        assert tree.built_count == 33 and not g00.is_expanded
        await pilot.press("enter")  # Enter opens the folder and shows its subfolders
        await pilot.pause()
        assert [f.name for f in app.selected] == ["g00"] and g00.is_expanded


async def test_click_on_the_arrow_expands_and_collapses() -> None:
    async with tree_app(big_tree(groups=3, subs=3, leaves=3), {}) as (app, pilot, tree):
        # 3 groups x (1 + 3 x 4) = 39 + 3 role folders: a small tree starts expanded.
        assert tree.node_for("g01/s00/l00") is not None
        tree.auto_expand_limit = 10
        tree.set_folders(big_tree(groups=3, subs=3, leaves=3), {})
        await pilot.pause()
        row = next(i for i, line in enumerate(screen_text(app).splitlines()) if "g01" in line)
        await pilot.click(FolderTree, offset=(0, row))  # the ▶
        await pilot.pause()
        assert tree._folder_nodes["g01"].is_expanded and tree.node_for("g01/s02") is not None
        assert app.selected == []  # the arrow folds, it does not open the folder
        await pilot.click(FolderTree, offset=(0, row))
        await pilot.pause()
        assert not tree._folder_nodes["g01"].is_expanded and tree.node_for("g01/s02") is None


async def test_select_folder_reveals_a_deep_folder_and_expansions_survive_reload() -> None:
    folders = big_tree()
    async with tree_app(folders, {}) as (app, pilot, tree):
        assert tree.select_folder("g17/s04/l09")
        await pilot.pause()
        assert tree.cursor_node is tree.node_for("g17/s04/l09")
        assert tree.built_count == 33 + 10 + 10  # g17's children, then s04's
        assert app.selected == []
        assert "l09" in screen_text(app)  # scrolled into view
        tree._collapse_node(tree._folder_nodes["g17/s04"])
        tree._expand_node(tree._folder_nodes["g03"])
        tree.set_folders(folders, {})  # a reload (after CREATE, say) keeps what was open
        await pilot.pause()
        assert tree.node_for("g03/s00") is not None
        assert tree.node_for("g17/s04") is not None  # the open folder's path stays shown
        assert tree.node_for("g17/s04/l09") is not None
        assert tree.built_count == 33 + 10 + 10 + 10


async def test_counts_of_unbuilt_folders_show_on_collapsed_parents() -> None:
    async with tree_app(big_tree(), {"g02/s01/l05": FolderStatus(messages=9, unseen=4)}) as (
        app,
        pilot,
        tree,
    ):
        line = next(line for line in _labels(app) if "g02" in line)
        assert line.strip() == "▶ g02 +4"  # unread hidden below a collapsed folder
        tree.update_counts("g02/s01/l05", FolderStatus(messages=10, unseen=5))  # unbuilt
        tree.update_counts("g05/s00", FolderStatus(messages=3, unseen=1))
        await pilot.pause()
        lines = [line.strip() for line in _labels(app)]
        assert "▶ g02 +5" in lines and "▶ g05 +1" in lines
        tree.select_folder("g02/s01/l05")
        await pilot.pause()
        lines = [line.strip() for line in _labels(app)]
        assert "▼ g02" in lines  # expanded: the figure moves down to the folders
        assert any(line.endswith("l05 5/10") for line in lines)
        tree.update_counts("g02/s01/l05", FolderStatus(messages=11, unseen=0))
        await pilot.pause()
        assert any(line.endswith("l05 11") for line in _labels(app))
        assert not any("+" in line for line in _labels(app) if "g02" in line)


async def test_shift_space_expands_all_siblings_lazily() -> None:
    async with tree_app(big_tree(groups=5), {}) as (app, pilot, tree):
        tree.move_cursor(tree._folder_nodes["g00"])
        await pilot.press("shift+space")
        await pilot.pause()
        assert all(tree._folder_nodes[f"g{g:02d}"].is_expanded for g in range(5))
        assert tree.built_count == 8 + 5 * 10
        await pilot.press("shift+space")
        await pilot.pause()
        assert tree.built_count == 8


# -- against the sandbox -----------------------------------------------------------------------
@pytest.mark.integration
async def test_sandbox_with_thousands_of_folders_builds_lazily(
    sandbox: Any, mail_user: Any
) -> None:
    from tests.ui.test_app_sandbox import make_app, wait_connected, wait_until, wait_watching
    from widgets.dialogs import FolderPicker

    # 20 top folders x (1 + 10 x (1 + 14)) = 3,020 folders, made in the Maildir directly.
    for g in range(20):
        for s in range(10):
            for n in range(14):
                sandbox.ensure_maildir(mail_user.name, f"p{g:02d}/s{s:02d}/l{n:02d}")
    target = "p07/s03/l11"
    sandbox.deliver(mail_user.name, b"Subject: deep\r\nFrom: a@b.c\r\n\r\nx\r\n", mailbox=target)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_connected(pilot, app)
        screen: Any = app.screen
        tree: FolderTree = screen.folder_tree
        await wait_until(pilot, lambda: tree.folder(target) is not None, timeout=60)
        await pilot.pause()
        top = tree._child_names[None]
        assert 20 < len(top) < 30  # INBOX, the special-use folders, p00..p19
        assert tree.built_count == len(top)
        assert len(tree._tree_nodes) == len(top) + 1  # nothing below the top level exists
        assert len(tree._entries) >= 3020

        # `c`, the change-folder picker, reveals the folder: only its ancestors' children.
        await pilot.press("c")
        await wait_until(pilot, lambda: isinstance(app.screen, FolderPicker))
        app.screen.query_one("Input").value = target
        await pilot.pause()
        await pilot.press("enter")
        await wait_until(
            pilot,
            lambda: screen.account.current and screen.account.current.folder.name == target,
        )
        await pilot.pause()
        assert tree.cursor_node is tree.node_for(target)
        assert tree.built_count == len(top) + 10 + 14
        assert tree.node_for("p07/s04/l00") is None and tree.node_for("p08/s00") is None

        # Counts of a built node follow the server (STATUS after IDLE news).
        await wait_watching(pilot, app)
        sandbox.deliver(
            mail_user.name, b"Subject: more\r\nFrom: a@b.c\r\n\r\ny\r\n", mailbox=target
        )
        await wait_until(pilot, lambda: "─ l11 2/2 " in screen_text(app), timeout=30)

        # Keys on a collapsed top folder: its children appear, and go again.
        tree.focus()
        tree.move_cursor(tree.node_for("p02"))
        await pilot.press("space")
        await pilot.pause()
        assert tree.node_for("p02/s09") is not None
        assert tree.built_count == len(top) + 10 + 14 + 10
        await pilot.press("space")
        await pilot.pause()
        assert tree.node_for("p02/s09") is None
