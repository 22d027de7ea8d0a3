"""Which error toasts say "P: show in log": those from a server or the network, not those
from a file or a program of ours (the protocol log holds nothing of them)."""

from __future__ import annotations

import socket
import ssl

import pytest

from app.imap.errors import ImapConnectionError, ImapNoError
from app.screens.protolog_actions import LOG_HINT, error_with_hint, log_worthy, with_log_hint
from app.smtp.submit import SmtpError


@pytest.mark.parametrize(
    "exc",
    [
        ImapNoError("no such folder"),
        ImapConnectionError("connection lost"),
        SmtpError("5.7.1 refused", 554),
        ConnectionResetError(104, "reset"),
        socket.gaierror(-2, "Name or service not known"),
        ssl.SSLCertVerificationError("certificate verify failed"),
        TimeoutError(),
    ],
)
def test_server_and_network_errors_point_at_the_log(exc: BaseException) -> None:
    assert log_worthy(exc)
    assert error_with_hint(exc, "Cannot open INBOX") == f"Cannot open INBOX · {LOG_HINT}"


@pytest.mark.parametrize(
    "exc",
    [
        FileNotFoundError(2, "No such file", "/usr/bin/nope"),
        PermissionError(13, "Permission denied"),
        FileExistsError(17, "exists"),
        IsADirectoryError(21, "is a directory"),
        ValueError("bad query"),
        RuntimeError("bug"),
    ],
)
def test_local_errors_do_not(exc: BaseException) -> None:
    assert not log_worthy(exc)
    assert error_with_hint(exc, "Cannot run the command") == "Cannot run the command"


def test_hint_alone_when_there_is_no_text() -> None:
    assert with_log_hint("") == LOG_HINT
