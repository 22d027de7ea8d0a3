"""Links in the viewer (issue 17): a deceptive HTML link shows its real target, `1` asks with
the full address and then runs the browser command with exactly the URL as one argument; `0`
lists the links; a javascript: link is shown, never opened."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from app.main import ViewerApp
from widgets.dialogs import ConfirmDialog
from widgets.link_list import LinkListScreen
from widgets.message_view import MessageView

pytestmark = [pytest.mark.ui]

TARGET = "https://evil.example/login?next=%2Fhome&x='$(id)';echo"


def _message() -> bytes:
    html = (
        f'<p>Dear customer, <a href="{TARGET.replace("&", "&amp;")}">log in to your bank</a>.</p>'
        '<p><a href="javascript:alert(1)">Run</a></p>'
    )
    return (
        b"From: Bank <bank@example.org>\r\nTo: you@example.org\r\nSubject: Account\r\n"
        b"Content-Type: text/html; charset=utf-8\r\n\r\n" + html.encode()
    )


async def _until(pilot: Any, check: Any, timeout: float = 10.0) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        value = check()
        if value:
            return value
        await pilot.pause(0.05)
    raise AssertionError("condition not reached in time")


def _fake_browser(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "argv.json"
    script = tmp_path / "fake-browser"
    script.write_text(
        "#!/usr/bin/env python3\nimport json, sys\n"
        f"open({str(out)!r}, 'w').write(json.dumps(sys.argv[1:]))\n"
    )
    script.chmod(0o755)
    return script, out


def _notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_deceptive_link_shows_target_and_opens_only_after_asking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, out = _fake_browser(tmp_path)
    monkeypatch.setenv("BROWSER", str(script))
    app = ViewerApp(_message(), "bank.eml")
    async with app.run_test(size=(120, 36)) as pilot:
        view = await _until(pilot, lambda: app.screen.query(MessageView).first(None))
        await _until(pilot, lambda: view.rendered is not None)
        text = view.body.text
        # The text that differs from its target is shown with the real target beside it.
        assert "log in to your bank [1: https://evil.example/" in text
        assert "Run [2: javascript: link, not opened]" in text
        await pilot.press("1")
        dialog = await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen)
        assert TARGET in dialog.question  # the whole address, before anything runs
        assert "log in to your bank" in dialog.question
        assert not out.exists()
        await pilot.press("escape")  # no
        await _until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await pilot.pause(0.3)
        assert not out.exists()
        await pilot.press("1")
        await _until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await _until(pilot, out.exists)
        argv = await _until(pilot, lambda: out.read_text() and json.loads(out.read_text()))
        assert argv == [TARGET]  # one argument, exactly the URL, no shell in between
        # The javascript: link is listed but not offered.
        out.unlink()
        await pilot.press("2")
        await _until(pilot, lambda: any("never opened" in n for n in _notices(app)))
        assert not isinstance(app.screen, ConfirmDialog)
        await pilot.press("7")
        await _until(pilot, lambda: any("No link [7]" in n for n in _notices(app)))
        await pilot.press("0")
        listing = await _until(pilot, lambda: isinstance(app.screen, LinkListScreen) and app.screen)
        assert len(listing.links) == 2
        await pilot.press("escape")
        await _until(pilot, lambda: not isinstance(app.screen, LinkListScreen))
        await pilot.pause(0.2)
        assert not out.exists()
