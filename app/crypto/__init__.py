"""OpenPGP (and S/MIME reading) with the user's own GnuPG: UI-free.

`engine` runs gpg (through python-gnupg) with a timeout and turns its status lines into typed
results; `reading` finds the signed and encrypted parts of a message and says what they hold;
`writing` builds RFC 3156 PGP/MIME messages to send.
"""

from collections.abc import Callable
from typing import Any

engine_setup: Callable[[Any], None] | None = None
"""What the UI does to the gpg engine once it is made (a terminal pinentry: the tty, and how
to suspend the App), set without importing the engine (python-gnupg and the MIME renderer
are not needed before a signed or encrypted message is shown); see `view.default_engine`."""


def set_engine_setup(setup: Callable[[Any], None] | None) -> None:
    """Apply `setup` to the default engine when it is made (now, if it is made already)."""
    global engine_setup
    engine_setup = setup
    import sys

    view = sys.modules.get("app.crypto.view")
    if view is not None and setup is not None:
        view.default_engine()
