"""`termail demo` in tmux: the sort menu, threads, a folder change and the menu again, as the
walk of issue 20 item 10 (threads kept through `o` and folder changes, `T` one press)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from tests.ui.test_tmux_demo import TMUX, Tmux

pytestmark = [pytest.mark.integration, pytest.mark.ui]

BRANCH = "└ "  # the thread line before a reply's subject (the folder tree draws "└─")


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_sort_menu_threads_and_folder_change_in_tmux(tmp_path: Path) -> None:
    termail = Path(sys.executable).parent / "termail"
    tmux = Tmux(f"termail-sort-{os.getpid()}")
    env_file = tmp_path / "env.sh"
    env_file.write_text(
        f"export TERMAIL_STATE_DIR={tmp_path}\nexport TEXTUAL_ANIMATIONS=none\n"
        f"export XDG_DATA_HOME={tmp_path}/data\n"
    )
    tmux.run(
        "new-session", "-d", "-s", "demo", "-x", "120", "-y", "35",
        f"bash -c '. {env_file}; {termail} demo; echo TERMAIL-EXITED $?; sleep 30'",
    )  # fmt: skip
    try:
        tmux.wait_for("Café opening")
        assert BRANCH not in tmux.screen()
        tmux.keys("T")
        tmux.wait_for("Threads on")
        screen = tmux.wait_for(BRANCH)
        tmux.keys("o")
        screen = tmux.wait_for("Sort threads by")
        assert "A to Z" in screen and "newest first" in screen
        tmux.keys("s")
        tmux.wait_for("Sorted by subject, A to Z")
        tmux.keys("g")
        screen = tmux.wait_for(BRANCH)  # still threads
        tmux.keys("T")  # one press: back to the flat list
        tmux.wait_for("Threads off")
        time.sleep(0.5)
        assert BRANCH not in tmux.screen()
        tmux.keys("T")
        tmux.wait_for(BRANCH)
        tmux.keys("c")
        tmux.wait_for("type to filter")
        tmux.keys("textual")
        time.sleep(0.3)
        tmux.keys("Enter")
        tmux.wait_for("Lists/textual │ 31")
        screen = tmux.wait_for(BRANCH)  # threads stayed on
        tmux.keys("o")
        tmux.wait_for("Sort threads by")
        tmux.keys("x")  # not a choice: nothing happens
        time.sleep(0.3)
        assert "Sort threads by" in tmux.screen()
        tmux.keys("r", "Enter")  # the order in use (subject), turned round
        tmux.wait_for("Sorted by subject, Z to A")
        tmux.keys("q")
        tmux.wait_for("TERMAIL-EXITED 0", timeout=20)
    finally:
        tmux.run("kill-server")
