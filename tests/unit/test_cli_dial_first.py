"""A cold start has the IMAP stack imported before the UI imports begin (issue 21).

The UI imports hold the GIL for ~0.3 s; when the connection's own imports (the engine, the
parser's patterns) ran beside them, the dial, the login and the first rows' FETCH came after
Textual was ready and the first frame waited on the server. Run in a fresh interpreter (in
this one another test may have imported the IMAP modules already). The server is a listening
socket on loopback (only the TCP connect is looked at) and the UI import is replaced by a look
at what is imported and, while it "imports", at that socket: the connection is dialled.
"""

from __future__ import annotations

import json
import subprocess
import sys

_CHILD = """
import argparse, json, select, socket, sys, tempfile
from pathlib import Path
from types import SimpleNamespace
import app.cli.client as client
import app.config.accounts
from app.account import Account
from app.models import Credentials, ServerSettings, TlsMode
before = "app.imap.client" in sys.modules
listener = socket.create_server(("127.0.0.1", 0))
settings = ServerSettings("127.0.0.1", listener.getsockname()[1], "u", TlsMode.NONE,
                          allow_insecure=True)
data = Path(tempfile.mkdtemp())
account = Account("cold", settings, lambda: Credentials("u", "p"), data_dir=data / "d")
app.config.accounts.accounts_from_config = lambda *a, **k: [account]
seen = []
def import_ui():
    imported = hasattr(sys.modules.get("app.imap.client"), "ImapClient")
    waiting, _, _ = select.select([listener], [], [], 30)  # dialled while the UI imports
    seen.append({"imported": imported, "dialled": bool(waiting)})
    return SimpleNamespace(run_client=lambda *a, **k: 0)
client._import_ui = import_ui
args = argparse.Namespace(log_protocol=None, config=data / "none.toml", account=None)
code = client.client_main(args, config=object())
print(json.dumps({"before": before, "cold": not account.has_cache_file(), "code": code,
                  "seen": seen}))
"""


def test_the_imap_stack_is_imported_before_the_ui_and_dialled_beside_it() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD], capture_output=True, text=True, timeout=60, check=True
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["before"] is False  # not imported by the CLI's own modules: the test means it
    assert got["cold"] is True  # no cache file: the start-up connect is started early
    assert got["code"] == 0
    assert got["seen"] == [{"imported": True, "dialled": True}]
