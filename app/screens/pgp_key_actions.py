"""`ctrl+k` in the viewer (issue 16): fetch the key of a signer the keyring does not know.

Nothing is fetched unless the user says yes to the question naming the key and what will run:
the user's own gpg with its own config (`gpg --recv-keys KEY` from gpg.conf's keyserver, then
`gpg --locate-keys FROM-ADDRESS` with its auto-key-locate), bounded by the engine's timeout, in
a thread. When the key came, the message is loaded again: the badge says what gpg says now.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from app.screens.host import MainHost
from widgets.dialogs import ConfirmDialog

__all__ = ["fetch_key", "fetch_question"]


def fetch_question(key: str) -> str:
    return (
        f"Fetch key {key} with your gpg "
        "(gpg --recv-keys / --locate-keys, your gpg.conf's keyserver)?"
    )


async def fetch_key(screen: MainHost | Any, reload: Callable[[Any], object]) -> None:
    """Ask, then fetch the first unknown signer key of the message shown; `reload(uid)`
    shows the message again (verified anew) when the key came. `screen`: the main screen
    (its `open_uid`), or the file viewer (`termail view`, no uid)."""
    from app.crypto.view import default_engine

    rendered = screen.viewer.rendered
    uid = getattr(screen, "open_uid", None)
    if rendered is None or (hasattr(screen, "open_uid") and uid is None):
        screen.notify("No message open", markup=False, timeout=3)
        return
    missing = [status.missing_key for status in rendered.crypto if status.missing_key]
    if not missing:
        screen.notify(
            "No signature by an unknown key in this message: nothing to fetch",
            markup=False,
            timeout=4,
        )
        return
    key = missing[0]
    if not await screen.app.push_screen_wait(
        ConfirmDialog(fetch_question(key), yes="Fetch", danger=False)
    ):
        return
    senders = [a.email for a in rendered.from_addresses if a.email]
    engine = default_engine()
    screen.notify(f"Fetching key {key}…", markup=False, timeout=3)
    result = await asyncio.to_thread(engine.fetch_key, key, senders[0] if senders else "")
    screen.notify(result.message, severity="information" if result.ok else "error", markup=False)
    if result.ok and getattr(screen, "open_uid", None) == uid:
        reload(uid)
