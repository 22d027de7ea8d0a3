"""Screen-side glue of the protocol log: opening it, and the hint toasts carry.

Functions taking the App (or a screen), so MainScreen, the compose screen and the App keep
one-line edits: `open_protocol_log` pushes `widgets.protocol_log.ProtocolLogScreen` for an
account (scrolled to its newest error when one came since the log was last looked at), and
`with_log_hint` appends the key that shows it to a toast's text.
"""

from __future__ import annotations

from typing import Any

__all__ = ["LOG_HINT", "error_with_hint", "log_worthy", "open_protocol_log", "with_log_hint"]

#: What a send result or an IMAP error toast ends with.
LOG_HINT = "P: show in log"


def with_log_hint(text: str) -> str:
    """`text` with the protocol log's key after it ("… · P: show in log")."""
    return f"{text} · {LOG_HINT}" if text else LOG_HINT


def error_with_hint(exc: BaseException, text: str) -> str:
    """An error toast's text, with the hint when the error came from a server (IMAP, SMTP,
    the network): the log then holds the exchange that failed."""
    return with_log_hint(text) if log_worthy(exc) else text


def log_worthy(exc: BaseException) -> bool:
    """True when `exc` came from a server or the network (IMAP, SMTP, a socket), so the
    protocol log holds the exchange that failed; False for a file or a program of ours."""
    import sys

    from app.imap.errors import ImapError

    if isinstance(exc, _LOCAL):
        return False
    if isinstance(exc, ImapError | OSError | TimeoutError):
        return True
    # An SmtpError exists only once app.smtp.submit is imported (a send): not imported for
    # an IMAP error at start-up (it brings aiosmtplib and the MIME composer).
    submit = sys.modules.get("app.smtp.submit")
    return submit is not None and isinstance(exc, submit.SmtpError)


#: OSErrors that come from files and programs, never from a server.
_LOCAL = (
    FileNotFoundError,
    FileExistsError,
    PermissionError,
    IsADirectoryError,
    NotADirectoryError,
    ChildProcessError,
)


def open_protocol_log(app: Any, account: Any) -> None:
    """Show `account`'s protocol log; says so when there is none (no account yet)."""
    from widgets.protocol_log import ProtocolLogScreen

    log = getattr(account, "protocol_log", None)
    if log is None:
        app.notify("No protocol log here: no account is open", markup=False)
        return
    if isinstance(app.screen, ProtocolLogScreen):
        return
    fresh_error = log.last_error is not None and log.last_error != log.error_seen
    app.push_screen(ProtocolLogScreen(log, account=account.name, show_error=fresh_error))
