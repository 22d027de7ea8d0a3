"""The first screen imports only what it draws (issue 21): each module kept out here is start-up
time (Textual's ~0.2 s is the floor) and resident memory (PIL and gpg were ~5.5 MB of it).

Run in a fresh interpreter: the `termail` command's path (the CLI's client module, the App,
the main screen), then the App itself headless on an account whose server cannot be reached,
up to its first screen (the error shown), so the imports its start-up does at run time (on
mount, the themes, the pinentry, the image set-up) are counted too.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

#: Not needed before a message is opened, written, searched, sent, or a tool run.
HEAVY = [
    "PIL",
    "rich_pixels",
    "textual_image",
    "gnupg",
    "html2text",
    "aiosmtplib",
    "aiohttp",
    "textual_serve",
    "zipfile",
    "app.crypto.engine",
    "app.crypto.view",
    "app.mime.render",
    "app.mime.html",
    "app.mime.compose",
    "app.mime.calendar",
    "zoneinfo",
    "app.smtp.submit",
    "app.smtp.sending",
    "app.cli.serve",
    "app.cli.demo",
    "app.screens.compose",
    "app.screens.viewer",
    "app.screens.outbox",
    "app.screens.search_results",
    "widgets.image_view",
    "textual.widgets._text_area",
    "textual.widgets._data_table",
    # 110 kB, resident all day for a rare path (issue 21, RSS): themes read from a zipped install.
    "importlib.resources",
]

_CHILD = """
import asyncio, json, os, sys, tempfile
from pathlib import Path
import app.cli.client, app.main, app.screens.main
static = sorted(m for m in {heavy!r} if m in sys.modules)
from app.account import Account
from app.main import TermailApp, prepare_images
from app.models import Credentials, ServerSettings, TlsMode
data = Path(tempfile.mkdtemp())
os.environ["XDG_STATE_HOME"] = str(data / "state")
settings = ServerSettings("127.0.0.1", 1, "u", TlsMode.NONE, allow_insecure=True)
account = Account("nowhere", settings, lambda: Credentials("u", "p"), data_dir=data)
shown = []
async def main():
    prepare_images()
    app = TermailApp([account])
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(100):
            await pilot.pause(0.05)
            status = str(app.screen.query_one("#status-line").render())
            if "offline" in status or "Cannot connect" in status or app._notifications:
                shown.append(status)
                break
asyncio.run(main())
print(json.dumps({{"static": static, "run": sorted(m for m in {heavy!r} if m in sys.modules),
                  "shown": bool(shown)}}))
"""


def test_the_first_screen_leaves_the_heavy_modules_out() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD.format(heavy=HEAVY)],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
        env={"PATH": "/usr/bin:/bin", "TERM": "xterm-256color", "HOME": "/nonexistent"},
        timeout=120,
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["static"] == [], "imported by the first screen's modules"
    assert got["shown"], "the first screen (the connection error) was not reached"
    assert got["run"] == [], "imported while the first screen started"
