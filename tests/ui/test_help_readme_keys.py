"""README's keys table and `?` say the same of the keys issue 17 added: `P`/`F12` the
protocol log, `1`–`9`/`0` links, `u` undo send first, compose's `ctrl+g` OpenPGP."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.ui.test_app_sandbox import list_filled, wait_until
from tests.ui.test_compose_sandbox import make_app, open_compose
from widgets.help_screen import collect_bindings

pytestmark = [pytest.mark.integration, pytest.mark.ui]

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_keys() -> dict[str, str]:
    """Each key cell of README's keys table (its backquoted keys joined by spaces, with a
    "compose: " prefix kept) to the action cell beside it."""
    table: dict[str, str] = {}
    for line in README.read_text().splitlines():
        if not line.startswith("| ") or "`" not in line:
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        for key_cell, action in zip(cells[::2], cells[1::2], strict=False):
            if key_cell:
                table[key_cell] = action
    return table


def help_rows(screen: Any) -> dict[str, str]:
    """`?`'s rows on `screen`: keys ("P, f12") to description."""
    return {keys: text for _, rows in collect_bindings(screen) for keys, text in rows}


async def test_readme_and_help_agree_on_issue_17_keys(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, b"Subject: hi\r\nFrom: x@y.z\r\n\r\nhttps://example.org/\r\n")
    readme = readme_keys()
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(150, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        rows = help_rows(app.screen)
        # P and F12: one row in `?`, one in README, both saying what it is and F12 in compose.
        log_keys = next(k for k, d in rows.items() if d.startswith("Protocol log"))
        assert set(log_keys.split(", ")) == {"P", "f12"}
        assert "IMAP and SMTP dialogue" in rows[log_keys] and "F12 only" in rows[log_keys]
        assert "IMAP and SMTP dialogue" in readme["`P` `F12`"]
        assert "in compose `F12` only" in readme["`P` `F12`"]
        # 1–9 and 0.
        assert rows["1"].startswith("Open link 1–9 (asks first, full address shown)")
        links = readme["`1`–`9`"]
        assert "open link N of the message (asks first, the full address shown)" in links
        assert rows["0"] == "Links of the message" and "links" in readme["`0`"]
        assert not any(k in rows for k in "23456789")  # one line for the nine, as README
        # u: a send counting down first, then the newest delete or move, in both.
        undo = rows["u"]
        assert "a send counting down first" in undo and "newest delete or move" in undo
        assert "a send counting down first" in readme["`d` `u`"]
        assert "newest delete or move" in readme["`d` `u`"]
        # ctrl+g in compose: the same four states in the same order.
        compose = await open_compose(pilot, app)
        crows = help_rows(compose)
        states = "off, sign, sign + encrypt, encrypt"
        assert crows["^g"].startswith("OpenPGP: " + states)  # ctrl+g, as Textual draws it
        assert readme["compose: `ctrl+g`"].startswith("OpenPGP: " + states)
        assert "f12" in next(k for k, d in crows.items() if d.startswith("Protocol log"))
        assert "P" not in crows  # typed as text in compose: F12 only, as both say
