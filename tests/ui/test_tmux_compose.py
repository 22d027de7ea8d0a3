"""Compose in a real terminal (tmux, `termail demo`): a typo in To, then a reply (issue 20 items 1
and 11). Before: `m`, To `demo`, ctrl+s ended the app (InvalidAddressError, exit status 0), and
the reply's first words went in front of the attribution line."""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.ui.test_tmux_demo import TMUX, Tmux

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def type_slowly(tmux: Tmux, text: str) -> None:
    """One key at a time, as a person types (a burst reads as a paste to the terminal app)."""
    for ch in text:
        tmux.run("send-keys", "-t", "demo", "-l", ch)
        time.sleep(0.03)


def wait_for_list(tmux: Tmux) -> None:
    """Until the main screen's footer is back: a key sent while the compose screen is still
    going would land in it."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if "⏎ Open" in screen and "^s Send" not in screen:
            return
        time.sleep(0.2)
    raise AssertionError("the message list never came back:\n" + tmux.screen())


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_typo_in_to_then_reply_in_tmux(tmp_path: Path) -> None:
    termail = Path(sys.executable).parent / "termail"
    tmux = Tmux(f"termail-compose-{os.getpid()}")
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
        tmux.keys("m")
        tmux.wait_for("Subject")
        type_slowly(tmux, "demo")
        tmux.keys("Tab")
        time.sleep(0.3)
        tmux.keys("Tab")
        time.sleep(0.3)
        tmux.keys("Tab")
        time.sleep(0.3)
        type_slowly(tmux, "Plans")
        tmux.keys("C-s")
        screen = tmux.wait_for("fix the address in To")
        assert "not an address: demo — no @ and domain" in screen
        assert re.search(r"Subject\s+Plans", screen)
        assert "TERMAIL-EXITED" not in screen
        tmux.keys("Escape")
        tmux.wait_for("Close this message?")
        tmux.keys("d")
        tmux.wait_for("Message discarded")
        wait_for_list(tmux)
        # Reply to the newest message: the words typed go on their own line below the quote.
        tmux.keys("g")
        time.sleep(0.5)
        tmux.keys("r")
        tmux.wait_for("wrote:")
        time.sleep(0.5)
        type_slowly(tmux, "Sounds good.")
        screen = tmux.wait_for("Sounds good.")
        rows = [line.strip("▊▎ ") for line in screen.splitlines()]
        at = rows.index("Sounds good.")  # alone on its row, nothing glued in front or behind
        assert rows[at - 1] == "" and rows[at - 2].startswith(">")
        assert rows[at - 3].endswith("wrote:")
        tmux.keys("Escape")
        tmux.wait_for("Close this message?")
        tmux.keys("d")
        tmux.wait_for("Message discarded")
        wait_for_list(tmux)
        tmux.keys("q")
        tmux.wait_for("TERMAIL-EXITED 0", timeout=60)  # closing two IMAP sessions, under load
    finally:
        tmux.run("kill-server")
