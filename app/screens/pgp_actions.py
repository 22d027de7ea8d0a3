"""The compose screen's OpenPGP toggle (issue 16): sign / encrypt per message.

`ctrl+g` cycles off → sign → sign + encrypt → encrypt → off; the "OpenPGP" header row says
which. The starting state comes from the identity (`pgp_sign`, `pgp_key`,
`pgp_encrypt_if_possible` in the config); "encrypt if possible" is decided at send time from
the recipients' keys (one keyring listing, in a thread). A refusal (a recipient without a key,
no secret key) comes back from the send as a `CryptoError` and the message stays on screen.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text

from widgets.safe import safe_text

_CYCLE = ((False, False), (True, False), (True, True), (False, True))


def identity_of(account: Any, address: str) -> Any:
    """The configured identity (app.models.Identity) sending as `address`, if any."""
    wanted = address.strip().lower()
    for identity in getattr(account, "identities", ()) or ():
        if str(getattr(identity, "address", "")).lower() == wanted:
            return identity
    return None


def apply_defaults(screen: Any) -> None:
    """The identity's defaults for a new message (a resumed draft keeps its own)."""
    draft = screen.draft
    identity = identity_of(screen.account, draft.from_.address)
    screen.pgp_auto = bool(identity and identity.pgp_encrypt_if_possible)
    if identity is None:
        return
    draft.pgp_sign = bool(identity.pgp_sign)
    draft.pgp_key = str(identity.pgp_key or "")


def label(screen: Any) -> Text:
    draft = screen.draft
    parts = []
    if draft.pgp_sign:
        key = f" as {draft.pgp_key}" if draft.pgp_key else ""
        parts.append(f"sign{key}")
    if draft.pgp_encrypt:
        parts.append("encrypt (to every recipient and you)")
    elif getattr(screen, "pgp_auto", False):
        parts.append("encrypt if every recipient has a key")
    text = " + ".join(parts) if parts else "off"
    out = safe_text(text, single_line=True)
    out.append("   (ctrl+g: change)", style="dim")
    return out


def refresh(screen: Any) -> None:
    from textual.widgets import Static

    screen.query_one("#pgp", Static).update(label(screen))


def cycle(screen: Any) -> None:
    """ctrl+g: the next of off, sign, sign + encrypt, encrypt."""
    draft = screen.draft
    now = (bool(draft.pgp_sign), bool(draft.pgp_encrypt))
    index = _CYCLE.index(now) if now in _CYCLE else 0
    draft.pgp_sign, draft.pgp_encrypt = _CYCLE[(index + 1) % len(_CYCLE)]
    screen.pgp_auto = False  # chosen by hand from now on
    screen._dirty = True
    refresh(screen)


async def decide_auto(screen: Any, draft: Any) -> str | None:
    """Before sending: with "encrypt if possible", encrypt when every recipient (and the
    sender) has a usable key. Returns a note for the status line, or None."""
    if draft.pgp_encrypt or not getattr(screen, "pgp_auto", False):
        return None
    from app.crypto.view import default_engine
    from app.crypto.writing import missing_keys
    from app.mime.compose import envelope_recipients, split_address

    addresses = [split_address(a)[1] for a in envelope_recipients(draft)]
    addresses.append(split_address(draft.from_.address)[1])
    _found, missing = await asyncio.to_thread(missing_keys, default_engine(), addresses)
    if missing:
        return f"not encrypted: no key for {', '.join(missing[:3])}"
    draft.pgp_encrypt = True
    refresh(screen)
    return "encrypted: every recipient has a key"


def readable_original(
    account: Any, original: bytes | None, uid: int | None, mode: str
) -> tuple[bytes | None, bool]:
    """(the original to quote, whether it was encrypted): a message decrypted in the viewer
    is answered from its decrypted copy, never from the ciphertext."""
    if original is None or uid is None or mode in ("draft", "forward_attached"):
        return original, False
    getter = getattr(account, "decrypted_copy", None)
    plain = getter(uid) if getter is not None else None
    if plain is None:
        return original, False
    return plain, True


def install_terminal_pinentry(app: Any) -> None:
    """Let the gpg engine hand the terminal to a terminal pinentry (pinentry-curses/tty): a
    gpg run that must ask for a passphrase runs with the App suspended, as $EDITOR does."""
    import os
    import sys

    from app import crypto

    def setup(engine: Any) -> None:
        try:
            if sys.stdin.isatty():
                engine.tty = os.ttyname(sys.stdin.fileno())
        except (OSError, ValueError):
            pass
        engine.suspend = lambda op: run_suspended(app, op)

    # Applied when the engine is first made (a signed or encrypted message): gpg is not
    # imported for the first screen.
    crypto.set_engine_setup(setup)


def run_suspended(app: Any, op: Any) -> Any:
    """`op()` with the App suspended (from a worker thread: on the App's thread, blocking it
    while pinentry asks, like $EDITOR). Raises SuspendNotSupported where there is no
    terminal (headless): the engine then says the key needs a passphrase."""

    def suspended() -> Any:
        with app.suspend():
            return op()

    import threading

    if getattr(app, "_thread_id", None) == threading.get_ident():
        return suspended()  # already on the App's thread
    return app.call_from_thread(suspended)


async def store_readable(screen: Any, why: str) -> bool:
    """Postponing a draft marked encrypt without a key of yours: ask before it is stored
    readable on the server."""
    from widgets.dialogs import ConfirmDialog

    question = (
        f"This message is marked encrypt, but there is {why}. "
        "Store the draft READABLE on the server's Drafts?"
    )
    return bool(await screen.app.push_screen_wait(ConfirmDialog(question, yes="Store readable")))


async def readable_draft(
    screen: Any, original: bytes
) -> tuple[bytes | None, tuple[bool, bool] | None]:
    """(the draft to resume, its (sign, encrypt) marks when it was stored encrypted); None
    (said in a toast) when an encrypted draft cannot be decrypted here."""
    from app.crypto.engine import CryptoError
    from app.crypto.view import default_engine
    from app.crypto.writing import unseal_draft

    try:
        opened = await asyncio.to_thread(unseal_draft, original, default_engine())
    except CryptoError as exc:
        screen.app.notify(f"Cannot resume the draft: {exc}", severity="error", markup=False)
        return None, None
    if opened is None:
        return original, None
    plain, sign, encrypt = opened
    return plain, (sign, encrypt)
