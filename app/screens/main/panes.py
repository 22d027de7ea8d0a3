"""Pane sizes: the folder tree's columns and the list's share of the rest (the viewer: what is
left), within what the terminal allows, remembered across runs (`app.state`).

Sizes live on the screen, not in the splitters: the screen knows the bounds, what is shown
(zoom, narrow, folders hidden) and where sizes are remembered, beside the theme.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from app.state import recall, remember

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = [
    "FOLDERS_MIN",
    "LIST_MIN",
    "VIEWER_MIN",
    "PaneActions",
    "apply_pane_sizes",
    "apply_width",
    "drag_folders",
    "drag_viewer",
    "load_pane_sizes",
    "remember_panes",
    "set_reading",
]

FOLDERS_MIN = 12
LIST_MIN = 20
VIEWER_MIN = 20


def pane_defaults(screen: Host) -> tuple[int, float]:
    """The config's sizes (or the built-in ones): folder columns, list percent."""
    ui = screen.ui
    if ui is None:
        return 28, 50.0
    folders = int(getattr(ui, "folder_pane_width", 28))
    share = max(10, min(90, int(getattr(ui, "message_list_height", 50))))
    return folders, float(share)


def load_pane_sizes(screen: Host) -> None:
    """The config's sizes, unless the user resized the panes since (then the remembered ones).

    The remembered sizes carry the config's values they were made under: a config edited
    afterwards wins again.
    """
    folders, share = pane_defaults(screen)
    remembered = recall("panes")
    if isinstance(remembered, dict) and remembered.get("config") == [folders, share]:
        width = remembered.get("folders")
        if isinstance(width, int) and not isinstance(width, bool):
            folders = width
        value = remembered.get("list")
        if isinstance(value, int | float) and not isinstance(value, bool):
            share = float(value)
    screen.folder_width = max(FOLDERS_MIN, min(500, folders))
    screen.list_share = max(10.0, min(90.0, share))
    apply_pane_sizes(screen)


def remember_panes(screen: Host) -> None:
    with contextlib.suppress(OSError, TypeError, ValueError):
        remember(
            "panes",
            {
                "folders": screen.folder_width,
                "list": screen.list_share,
                "config": list(pane_defaults(screen)),
            },
        )


def folders_fit(cells: int, width: int) -> int:
    """`cells` within what a `width`-column screen allows the folder tree."""
    upper = max(FOLDERS_MIN, min(width // 2, width - LIST_MIN - 2))
    return max(FOLDERS_MIN, min(upper, cells))


def apply_width(screen: Host, width: int) -> None:
    screen.set_class(width < 100, "-narrow")
    apply_pane_sizes(screen)
    focus_shown_pane(screen)


def set_reading(screen: Host, on: bool) -> None:
    """The `-reading` class on or off. Only a narrow screen has rules on it (the viewer
    instead of the list), so on a wide one the styles are not worked out again: that is a
    pass over every widget of the screen, ~50 ms under load, between Enter and the message
    (issue 21). `-narrow` coming later restyles with the class as it is then."""
    update = screen.has_class("-narrow")
    if on:
        screen.add_class("-reading", update=update)
    else:
        screen.remove_class("-reading", update=update)


def focus_shown_pane(screen: Host) -> None:
    """Keep the focus on a pane that is on screen.

    While the viewer fills the screen (`v`, or reading on a narrow terminal) the list is
    hidden: the viewer's body takes the focus, so `j` `k` scroll the message. Otherwise the
    focus must not stay nowhere or in a hidden pane: the list gets it. Textual gives a
    screen that comes back from a dialog its AUTO_FOCUS (the list) even when it is hidden,
    so this runs on every resume too.
    """
    if not screen.is_mounted:
        return
    narrow, reading = screen.has_class("-narrow"), screen.has_class("-reading")
    if screen.has_class("-zoom") or (narrow and reading):
        if not screen.viewer.has_focus_within:
            screen.viewer.focus(scroll_visible=False)
        return
    hidden = (narrow and screen.viewer.has_focus_within) or (
        screen.has_class("-no-folders") and screen.folder_tree.has_focus
    )
    if screen.focused is None or hidden:
        screen.message_list.focus(scroll_visible=False)


def apply_pane_sizes(screen: Host) -> None:
    """Put the preferred sizes on the panes, within what this terminal's width allows.

    The list gets whole columns (its share of what is right of the folder tree) and the
    viewer the rest, so no column is lost to rounding; recomputed on every resize.
    """
    if not screen.is_mounted:
        return
    width = screen.size.width or screen.app.size.width
    folders = folders_fit(screen.folder_width, width)
    screen.folder_tree.styles.width = folders
    if screen.has_class("-narrow"):
        screen.message_list.styles.width = "1fr"  # alone beside the tree
        return
    right = width - (0 if screen.has_class("-no-folders") else folders + 1) - 1
    cells = round(right * screen.list_share / 100)
    if right >= LIST_MIN + VIEWER_MIN:
        cells = max(LIST_MIN, min(right - VIEWER_MIN, cells))
    screen.message_list.styles.width = max(1, cells)
    screen.viewer.styles.width = "1fr"


def set_folder_width(screen: Host, cells: int) -> None:
    screen.folder_width = folders_fit(cells, screen.size.width)
    apply_pane_sizes(screen)


def set_list_share(screen: Host, share: float) -> None:
    screen.list_share = round(max(10.0, min(90.0, share)), 1)
    apply_pane_sizes(screen)


def drag_folders(screen: Host, x: int) -> None:
    """The folders | list splitter dragged to column `x`."""
    set_folder_width(screen, x - screen.folder_tree.region.x)


def drag_viewer(screen: Host, x: int) -> None:
    """The list | viewer splitter dragged to column `x`."""
    listed, viewer = screen.message_list.region, screen.viewer.region
    right = listed.width + viewer.width
    if right > 0:
        set_list_share(screen, (x - listed.x) * 100 / right)


class PaneActions:
    """The keys of the panes: `v` zoom, ctrl+b folders, `>` `<` sizes, `=` defaults."""

    FOLDERS_MIN = FOLDERS_MIN
    LIST_MIN = LIST_MIN
    VIEWER_MIN = VIEWER_MIN

    def action_toggle_viewer(self: Host) -> None:
        self.toggle_class("-zoom")
        if not self.has_class("-zoom") and self.viewer.has_focus_within:
            self.message_list.focus(scroll_visible=False)  # back to the list, as mutt's pager
        focus_shown_pane(self)

    def action_toggle_folders(self: Host) -> None:
        self.toggle_class("-no-folders")
        apply_pane_sizes(self)
        focus_shown_pane(self)

    def action_resize_pane(self: Host, direction: int) -> None:
        """`>` widens the focused pane, `<` narrows it, by moving the nearest splitter."""
        zoom, narrow = self.has_class("-zoom"), self.has_class("-narrow")
        folders_shown = not zoom and not self.has_class("-no-folders")
        list_shown = not zoom and not (narrow and self.has_class("-reading"))
        viewer_shown = not narrow or self.has_class("-reading")
        between = list_shown and viewer_shown  # the list | viewer splitter is there
        share_step = 5.0 * direction
        folder_step = 2 * direction
        if self.folder_tree.has_focus:
            if folders_shown:
                set_folder_width(self, self.folder_width + folder_step)
        elif self.viewer.has_focus_within:
            if between:
                set_list_share(self, self.list_share - share_step)
            elif folders_shown:
                set_folder_width(self, self.folder_width - folder_step)
        elif between:
            set_list_share(self, self.list_share + share_step)
        elif folders_shown:
            set_folder_width(self, self.folder_width - folder_step)
        remember_panes(self)

    def action_reset_panes(self: Host) -> None:
        """Back to the config's pane sizes (and forget the remembered ones)."""
        self.folder_width, self.list_share = pane_defaults(self)
        apply_pane_sizes(self)
        remember_panes(self)
