"""The mail core runs from a script with no screen: importing it loads no UI module."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

CORE = [
    "app.models",
    "app.imap.client",
    "app.imap.mailbox",
    "app.imap.search",
    "app.mime.render",
    "app.mime.compose",
    "app.smtp",
    "app.store",
    "app.sync",
    "app.config",
    "app.outbox",
    "app.sending",
]


def test_core_imports_no_ui() -> None:
    code = (
        "import importlib, json, sys\n"
        f"for name in {CORE!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('textual', 'rich', 'widgets') or m.startswith('app.screens') or m == 'app.main')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert json.loads(out.stdout) == []
