"""How the main screen reports a failure: one toast, and a reconnect for a dropped connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["error_text", "is_connection_error", "is_fatal", "report"]


def report(screen: Host, exc: BaseException, title: str) -> None:
    from app.screens.protolog_actions import error_with_hint

    screen.notify(
        error_with_hint(exc, error_text(exc)), title=title, severity="error", markup=False
    )
    if is_connection_error(exc):
        screen.status.connection = "offline"
        screen.run_worker(_reconnect(screen), group="reconnect", exclusive=True)


async def _reconnect(screen: Host) -> None:
    """A dropped connection: reconnect with backoff and reopen the folder."""
    await screen.account.close()
    screen.connect_account()


def error_text(exc: BaseException) -> str:
    from app.mime.sanitize import clean_line

    text = str(exc) or type(exc).__name__
    return clean_line(text)[:500]


def is_connection_error(exc: BaseException) -> bool:
    try:
        from app.imap.errors import ImapConnectionError, ImapTimeout
    except ImportError:
        return isinstance(exc, (ConnectionError, TimeoutError))
    return isinstance(exc, (ImapConnectionError, ImapTimeout, ConnectionError, TimeoutError))


def is_fatal(exc: BaseException) -> bool:
    """Errors that retrying cannot fix: bad password, TLS refused, bad config."""
    try:
        from app.imap.errors import ImapAuthError, ImapTlsError
    except ImportError:
        return False
    return isinstance(exc, (ImapAuthError, ImapTlsError))
