"""Folder names as the user sees them, and as the server wants them (NAMESPACE, RFC 2342).

Courier and Debian's Cyrus keep every folder under the personal prefix `INBOX.` with `.` between
levels: a CREATE of `Zeta` is refused ("Invalid mailbox name", "Permission denied"), and the
tree would show `INBOX.Lists.python-dev`. termail shows such names without the prefix and with
`/` between levels (`Lists/python-dev`), and turns what the user types back into the server's
form (`INBOX.Lists.python-dev`). Names outside the personal namespace (other users', shared
folders) and INBOX itself are shown as the server sends them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.imap.errors import ImapError

#: The separator shown between levels of a personal folder's name.
SHOWN_DELIMITER = "/"


@dataclass
class Namespace:
    """The personal namespace (`prefix`, `delimiter`) and the names seen in the last LIST."""

    prefix: str = ""
    delimiter: str | None = SHOWN_DELIMITER
    _server: dict[str, str] = field(default_factory=dict)
    """Shown name -> server name of every folder listed, for an exact way back."""

    def shown(self, name: str, delimiter: str | None) -> tuple[str, str | None]:
        """(name, delimiter) to show for the server's decoded `name` and its LIST delimiter."""
        if name.upper() == "INBOX":
            return "INBOX", delimiter
        rest = name
        if self.prefix and name.startswith(self.prefix) and len(name) > len(self.prefix):
            rest = name[len(self.prefix) :]
        elif self.prefix:
            return name, delimiter  # outside the personal namespace: as the server says
        if delimiter and delimiter != SHOWN_DELIMITER:
            if SHOWN_DELIMITER in rest:  # "/" inside a level: only the server's form is exact
                return (name, delimiter) if rest is name else (rest, delimiter)
            rest = rest.replace(delimiter, SHOWN_DELIMITER)
            delimiter = SHOWN_DELIMITER
        return rest, delimiter

    def remember(self, shown: str, server: str) -> None:
        self._server[shown] = server

    def forget_all(self) -> None:
        self._server.clear()

    def check_new(self, shown: str) -> None:
        """Refuse a new folder name the server would read differently from what the user
        meant: its separator ("." on Courier) inside a level would make a subfolder."""
        if shown.upper() == "INBOX" or shown in self._server:
            return
        if self.prefix and shown.startswith(self.prefix):
            return  # typed in the server's own form, levels and all
        delimiter = self.delimiter
        if delimiter and delimiter != SHOWN_DELIMITER and delimiter in shown:
            nested = shown.replace(delimiter, SHOWN_DELIMITER)
            raise FolderNameError(
                f"{delimiter!r} separates folder levels on this server, so a name cannot "
                f"hold it; for a subfolder type {nested}"
            )

    def server(self, shown: str) -> str:
        """The server's (decoded) name for a name the user sees or typed."""
        known = self._server.get(shown)
        if known is not None:
            return known
        if shown.upper() == "INBOX":
            return shown
        if self.prefix and shown.startswith(self.prefix):
            return shown  # typed in the server's own form
        rest = shown
        if self.delimiter and self.delimiter != SHOWN_DELIMITER:
            rest = rest.replace(SHOWN_DELIMITER, self.delimiter)
        return self.prefix + rest


class FolderNameError(ImapError):
    """A folder name the server cannot hold as the user typed it (nothing was sent)."""
