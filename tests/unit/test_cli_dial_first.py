"""A cold start dials the server before the UI imports begin (issue 21).

The imports hold the GIL for ~0.3 s; when the connection's own imports and its dial ran beside
them, the greeting, the login and the first rows' FETCH came after Textual was ready and the
first frame waited on the server. Here the server is a listening socket on loopback (only the
TCP connect is looked at) and the UI import is replaced by a look at that socket: a connection
must be waiting in its queue when the import starts.
"""

from __future__ import annotations

import argparse
import select
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import app.cli.client as client
import app.config.accounts
from app.account import Account
from app.models import Credentials, ServerSettings, TlsMode


def test_the_server_is_dialled_before_the_ui_is_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    settings = ServerSettings("127.0.0.1", port, "u", TlsMode.NONE, allow_insecure=True)
    account = Account("cold", settings, lambda: Credentials("u", "p"), data_dir=tmp_path / "data")
    assert not account.has_cache_file()  # a cold start: the connect is started early
    monkeypatch.setattr(app.config.accounts, "accounts_from_config", lambda *a, **k: [account])
    dialled: list[bool] = []

    def import_ui() -> Any:
        waiting, _, _ = select.select([listener], [], [], 0)  # no wait: already, or not
        dialled.append(bool(waiting))
        return SimpleNamespace(run_client=lambda *a, **k: 0)

    monkeypatch.setattr(client, "_import_ui", import_ui)
    args = argparse.Namespace(log_protocol=None, config=tmp_path / "none.toml", account=None)
    try:
        assert client.client_main(args, config=object()) == 0
    finally:
        listener.close()
    assert dialled == [True]
