"""Dovecot restarted on its own ports while another program briefly holds one.

Seen in a full `make test` on the shared machine: a fault test's restart got "Address already
in use" and every later sandbox test of the session failed (44 of them). The start now tries
again while the port is busy."""

from __future__ import annotations

import socket
import tempfile
import threading
from pathlib import Path

import pytest

from app.sandbox import Sandbox
from tests.conftest import _tmp_base

pytestmark = pytest.mark.integration


def test_restart_waits_for_a_busy_port() -> None:
    sandbox = Sandbox(Path(tempfile.mkdtemp(prefix="termail-restart-", dir=_tmp_base())))
    sandbox.start()
    try:
        sandbox.stop_dovecot()
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind(("127.0.0.1", sandbox.imap_port))
        holder.listen()
        threading.Timer(1.5, holder.close).start()
        sandbox.start_dovecot()  # before: SandboxError "Address already in use"
        assert b"Address already in use" in (sandbox.root / "log" / "dovecot.stderr").read_bytes()
        with socket.create_connection(("127.0.0.1", sandbox.imap_port), timeout=5) as conn:
            assert conn.recv(100).startswith(b"* OK")
    finally:
        sandbox.stop(remove=True)
