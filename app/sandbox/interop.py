"""Cyrus IMAP, Courier-IMAP and Postfix on loopback, unpacked from Debian packages.

See docs/interop-recipe.md in ../shared: their packages conflict with dovecot-imapd, so they are
unpacked (apt-get download + dpkg -x) into a cached private root and run in mount namespaces
where that root lies over /usr and /etc. Needs root (for the namespaces) and overlayfs.
"""

from __future__ import annotations

from pathlib import Path

from app.sandbox.kinds import KindServer
from app.sandbox.server import SandboxError


def start_interop_kind(kind: str, root: Path) -> KindServer:
    raise SandboxError(f"the {kind} kind is not built yet")
