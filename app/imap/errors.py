"""Typed IMAP errors: the only exceptions the IMAP layer lets out.

Callers decide what to do by type: `ImapConnectionError` (and `ImapTimeout`) mean "the connection
is gone, try again later", and say whether the command that was running had been applied;
`ImapNoError`/`ImapBadError` carry the server's own words; the rest are permanent until the user
changes something (credentials, TLS settings) or the server behaves.
"""

from __future__ import annotations

from app.imap.parser import ResponseCode

__all__ = [
    "ImapAuthError",
    "ImapBadError",
    "ImapCancelled",
    "ImapConnectionError",
    "ImapError",
    "ImapLimitError",
    "ImapNoError",
    "ImapProtocolError",
    "ImapTimeout",
    "ImapTlsError",
    "ImapUidValidityChanged",
]


class ImapError(Exception):
    """Base of every error the IMAP layer raises."""

    retryable: bool = False


class _ServerSaid(ImapError):
    """A tagged NO or BAD: keeps the server's text and response code for the user."""

    def __init__(self, text: str, code: ResponseCode | None = None, command: str = "") -> None:
        self.text = text
        self.code = code
        self.command = command
        where = f"{command}: " if command else ""
        code_text = f"[{code.name}] " if code is not None else ""
        super().__init__(f"{where}{code_text}{text}")

    @property
    def code_name(self) -> str | None:
        """The response code's name ("TRYCREATE", "ALREADYEXISTS", ...) or None."""
        return self.code.name if self.code is not None else None


class ImapNoError(_ServerSaid):
    """The server refused the command (tagged NO)."""


class ImapBadError(_ServerSaid):
    """The server did not understand the command (tagged BAD): usually our bug or a limit."""


class ImapAuthError(_ServerSaid):
    """Login failed, or the server cannot be trusted with credentials (unexpected PREAUTH)."""


class ImapConnectionError(ImapError):
    """The connection is gone or unusable; retrying on a new connection may work.

    `applied` says what happened to the command that was running: False = it never reached the
    server (safe to repeat), None = unknown (it was sent but no answer came), True = it was done.
    """

    retryable = True

    def __init__(self, message: str, *, applied: bool | None = None) -> None:
        self.applied = applied
        super().__init__(message)

    def with_outcome(self, applied: bool | None, what: str) -> ImapConnectionError:
        """A copy naming the user action `what` and whether it reached the server."""
        if applied is False:
            note = f"{what} was not applied; it can be repeated safely"
        elif applied is None:
            note = f"{what} may or may not have been applied by the server; check before repeating"
        else:
            note = f"{what} was applied"
        err = type(self)(f"{self}; {note}", applied=applied)
        err.__cause__ = self
        return err


class ImapTimeout(ImapConnectionError, TimeoutError):
    """The server did not answer in time; the connection has been dropped (it would wedge)."""


class ImapLimitError(ImapConnectionError):
    """The server sent more than a client may hold for it (an endless stream of untagged
    responses, a gigantic literal, a command that never ends): the connection was dropped.

    A connection error, so the account reconnects with backoff as after any drop; the message
    says which bound was passed, so the user knows the server misbehaved.
    """


class ImapTlsError(ImapError):
    """TLS could not be set up as the account requires (no STARTTLS, bad certificate, ...)."""


class ImapProtocolError(ImapError):
    """The server sent something we cannot make sense of."""


class ImapCancelled(ImapError):
    """The caller cancelled a long transfer (`cancel` event set)."""


class ImapUidValidityChanged(ImapError):
    """After a reconnect the folder's UIDVALIDITY differs: every cached UID is void."""

    def __init__(self, folder: str, old: int | None, new: int | None) -> None:
        self.folder = folder
        self.old = old
        self.new = new
        super().__init__(f"UIDVALIDITY of {folder!r} changed from {old} to {new}; resync needed")
