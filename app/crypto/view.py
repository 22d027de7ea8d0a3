"""A rendered message with its OpenPGP verdicts: the renderer plus `reading`.

`render_protected` does it for a whole message (a local file, a message the server gave whole);
`protected_from_parts` for a message read part by part from the server, fetching the exact
sections a signature covers through the `fetch` it is given. Both never raise: gpg missing,
hanging or refusing is a verdict in the badge, and the rest of the message is shown.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence

from app import crypto
from app.crypto.engine import Engine
from app.crypto.reading import (
    MAX_NESTING,
    Examined,
    decrypted_message,
    examine,
    examine_inline,
    find_protected,
    inline_candidates,
    local_sections,
    wanted_sections,
    with_inline,
)
from app.mime.render import message_structure, render_from_parts, render_message
from app.mime.types import CryptoStatus, RenderedMessage
from app.models import BodyPart

_ENGINE: Engine | None = None
_ENGINE_LOCK = threading.Lock()
_SET_UP: tuple[int, int] | None = None
"""(engine, setup) last applied by `default_engine` (`app.crypto.engine_setup`)."""


def default_engine() -> Engine:
    """The user's gpg (`$TERMAIL_GPG`, else `gpg` on PATH; `$GNUPGHOME` as gpg reads it)."""
    global _ENGINE, _SET_UP
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = Engine(binary=os.environ.get("TERMAIL_GPG") or "gpg")
        setup = crypto.engine_setup
        if setup is not None and (id(_ENGINE), id(setup)) != _SET_UP:
            setup(_ENGINE)
            _SET_UP = (id(_ENGINE), id(setup))
        return _ENGINE


def set_default_engine(engine: Engine | None) -> None:
    """Use `engine` from now on (tests: a throwaway GNUPGHOME, a hanging gpg); None: default."""
    global _ENGINE
    with _ENGINE_LOCK:
        _ENGINE = engine


def needs_crypto(structure: BodyPart, parts: Mapping[str, bytes]) -> bool:
    """Whether a message has anything for gpg to look at (cheap; no gpg run)."""
    return bool(find_protected(structure) or inline_candidates(structure, parts))


_MARKERS = (b"multipart/signed", b"multipart/encrypted", b"-----BEGIN PGP ", b"pkcs7-")


def might_be_protected(raw: bytes) -> bool:
    """A quick look for the words a signed / encrypted message must hold."""
    lowered = bytes(raw[: 64 * 1024 * 1024]).lower()
    return any(marker.lower() in lowered for marker in _MARKERS)


def _froms(rendered: RenderedMessage) -> list[str]:
    return [a.email for a in rendered.from_addresses if a.email]


def _failed(rendered: RenderedMessage, exc: BaseException) -> RenderedMessage:
    rendered.crypto.append(
        CryptoStatus("warning", f"signature / encryption not checked ({type(exc).__name__})")
    )
    return rendered


def _finish(
    header: bytes,
    structure: BodyPart,
    parts: Mapping[str, bytes],
    rendered: RenderedMessage,
    found: Examined,
    inline: Examined,
    *,
    prefer_html: bool,
    engine: Engine,
    depth: int,
) -> tuple[RenderedMessage, bytes | None]:
    if found.decrypted is not None:
        synthetic = decrypted_message(header, found.decrypted)
        inner, _ = render_protected_full(
            synthetic,
            prefer_html=prefer_html,
            engine=engine,
            depth=depth + 1,
            whole_label="the whole decrypted message",
        )
        inner.crypto[:0] = found.statuses
        return inner, synthetic
    if inline.inline:
        tree, merged = with_inline(structure, parts, inline.inline)
        rendered = render_from_parts(header, tree, merged, prefer_html=prefer_html)
    rendered.crypto.extend(found.statuses + inline.statuses)
    return rendered, None


def render_protected_full(
    raw: bytes,
    *,
    prefer_html: bool = False,
    engine: Engine | None = None,
    depth: int = 0,
    whole_label: str = "the whole message",
) -> tuple[RenderedMessage, bytes | None]:
    """(rendered with verdicts, the decrypted message if it was encrypted) of a whole message."""
    engine = engine or default_engine()
    rendered = render_message(raw, prefer_html=prefer_html)
    if not might_be_protected(raw):
        return rendered, None
    try:
        header, structure, leaves = message_structure(raw)
        if depth > MAX_NESTING or not needs_crypto(structure, leaves):
            return rendered, None
        sections = local_sections(raw)
        froms = _froms(rendered)
        found = examine(structure, sections, engine, from_addresses=froms, whole_label=whole_label)
        inline = (
            Examined()
            if found.decrypted is not None
            else examine_inline(
                structure, leaves, engine, from_addresses=froms, whole_label=whole_label
            )
        )
        return _finish(
            header,
            structure,
            leaves,
            rendered,
            found,
            inline,
            prefer_html=prefer_html,
            engine=engine,
            depth=depth,
        )
    except Exception as exc:
        return _failed(rendered, exc), None


def render_protected(
    raw: bytes, *, prefer_html: bool = False, engine: Engine | None = None
) -> RenderedMessage:
    """`render_message` with the OpenPGP verdicts (and the decrypted content)."""
    return render_protected_full(raw, prefer_html=prefer_html, engine=engine)[0]


Fetch = Callable[[Sequence[str]], Awaitable[Mapping[str, bytes]]]


async def protected_from_parts(
    header: bytes,
    structure: BodyPart,
    parts: Mapping[str, bytes],
    rendered: RenderedMessage,
    fetch: Fetch,
    *,
    prefer_html: bool = False,
    engine: Engine | None = None,
) -> tuple[RenderedMessage, bytes | None]:
    """Verdicts for a message read part by part: `fetch(sections)` gives BODY.PEEK[section]
    of each (the exact server bytes). Returns the rendered message (the decrypted one when it
    was encrypted) and the decrypted message's bytes (to save its attachments from)."""
    import asyncio

    engine = engine or default_engine()
    try:
        wanted = wanted_sections(structure)
        sections: Mapping[str, bytes] = await fetch(wanted) if wanted else {}
        froms = _froms(rendered)

        def work() -> tuple[RenderedMessage, bytes | None]:
            found = examine(structure, sections, engine, from_addresses=froms)
            inline = (
                Examined()
                if found.decrypted is not None
                else examine_inline(structure, parts, engine, from_addresses=froms)
            )
            return _finish(
                header,
                structure,
                parts,
                rendered,
                found,
                inline,
                prefer_html=prefer_html,
                engine=engine,
                depth=0,
            )

        return await asyncio.to_thread(work)
    except Exception as exc:
        return _failed(rendered, exc), None
