"""FolderTree: hierarchy, special-use order, counts, \\Noselect, selection, untrusted names."""

from __future__ import annotations

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
    app = TreeApp(folders, counts)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        tree = app.query_one(FolderTree)
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
    app = TreeApp(folders, counts)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        tree = app.query_one(FolderTree)
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
    app = TreeApp(folders, counts)
    async with app.run_test(size=(40, 20)) as pilot:
        await pilot.pause()
        tree = app.query_one(FolderTree)
        tree.update_counts("INBOX", FolderStatus(messages=121, unseen=4))
        await pilot.pause()
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
