"""Mailing-list headers: List-Id (RFC 2919), List-Post / List-Unsubscribe (RFC 2369) and
one-click unsubscription (List-Unsubscribe-Post, RFC 8058). No UI, no network.

`mailing_list` reads the headers of a message into a `MailingList`; `unsubscribe_plan` picks
how to leave it (a one-click POST, a mail, or a web page to open); `parse_mailto` reads a
mailto: URI (RFC 6068) into the address, subject and body a compose prefill needs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from app.mime.headers import angle_targets
from app.mime.sanitize import clean_line

__all__ = [
    "MailingList",
    "Mailto",
    "UnsubscribePlan",
    "list_reply_draft",
    "mailing_list",
    "parse_mailto",
    "unsubscribe_draft",
    "unsubscribe_plan",
]

_ID = re.compile(r"<([^<>\s]{1,255})>")


@dataclass(frozen=True, slots=True)
class Mailto:
    """A mailto: URI read: where, and the subject/body it asks for."""

    to: tuple[str, ...]
    subject: str = ""
    body: str = ""
    cc: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class MailingList:
    """The list a message came through, as its headers say."""

    list_id: str = ""
    """The identifier inside `<...>` of List-Id ("dev.lists.example.org")."""
    name: str = ""
    """The phrase before it ("Developers"), "" when none."""
    post: tuple[str, ...] = ()
    """List-Post's mailto: URIs."""
    post_closed: bool = False
    """List-Post: NO (an announcement list: nobody may post)."""
    unsubscribe: tuple[str, ...] = ()
    """List-Unsubscribe's URIs in the sender's order (mailto:, https:, ...)."""
    one_click: bool = False
    """List-Unsubscribe-Post: List-Unsubscribe=One-Click (RFC 8058)."""
    help: tuple[str, ...] = ()
    archive: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """How the viewer names the list."""
        if self.name and self.list_id:
            return f"{self.name} <{self.list_id}>"
        return self.list_id or self.name or (self.post_address or "a mailing list")

    @property
    def post_address(self) -> str:
        """The address list replies go to ("" when posting is closed or unknown)."""
        for uri in self.post:
            mailto = parse_mailto(uri)
            if mailto is not None and mailto.to:
                return mailto.to[0]
        return ""


@dataclass(frozen=True, slots=True)
class UnsubscribePlan:
    """How to leave a list. `kind`: "post" (RFC 8058 one-click, an HTTPS POST), "mailto" (a
    mail, through compose), "browser" (a web page the user opens), "none"."""

    kind: Literal["post", "mailto", "browser", "none"]
    target: str = ""
    mailto: Mailto | None = None


def _header(headers: Iterable[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers:
        if str(key).strip().lower() == lowered:
            return str(value)
    return None


def mailing_list(headers: Iterable[tuple[str, str]]) -> MailingList | None:
    """The list named by a message's headers, None when it names none."""
    items = list(headers)
    list_id = _header(items, "List-Id")
    post_raw = _header(items, "List-Post")
    unsub_raw = _header(items, "List-Unsubscribe")
    if list_id is None and post_raw is None and unsub_raw is None:
        return None
    ident = name = ""
    if list_id is not None:
        m = _ID.search(list_id)
        if m:
            ident = clean_line(m.group(1), max_len=255)
            name = clean_line(list_id[: m.start()].strip().strip('"'), max_len=200)
        else:
            name = clean_line(list_id.strip(), max_len=200)
    post = tuple(t for t in angle_targets(post_raw) if t.lower().startswith("mailto:"))
    closed = post_raw is not None and post_raw.strip().upper().startswith("NO")
    post_header = _header(items, "List-Unsubscribe-Post") or ""
    one_click = re.sub(r"\s+", "", post_header).lower() == "list-unsubscribe=one-click"
    return MailingList(
        list_id=ident,
        name=name,
        post=post,
        post_closed=closed,
        unsubscribe=tuple(angle_targets(unsub_raw)),
        one_click=one_click,
        help=tuple(angle_targets(_header(items, "List-Help"))),
        archive=tuple(angle_targets(_header(items, "List-Archive"))),
    )


def parse_mailto(uri: str) -> Mailto | None:
    """A mailto: URI (RFC 6068) read; None when it is not one or names no address."""
    if not uri.lower().startswith("mailto:"):
        return None
    rest = uri[7:]
    path, _, query = rest.partition("?")
    to = [unquote(a).strip() for a in path.split(",") if a.strip()]
    subject = body = ""
    cc: list[str] = []
    for pair in query.split("&") if query else []:
        key, _, value = pair.partition("=")
        key = key.lower()
        value = unquote(value)
        if key == "to":
            to.extend(a.strip() for a in value.split(",") if a.strip())
        elif key == "cc":
            cc.extend(a.strip() for a in value.split(",") if a.strip())
        elif key == "subject":
            subject = clean_line(value, max_len=500)
        elif key == "body":
            body = value.replace("\r\n", "\n")[:10_000]
        # bcc, in-reply-to and the rest are ignored: a list may not add hidden recipients
    to = [clean_line(a, max_len=320) for a in to if "@" in a and not re.search(r"[\s<>]", a)]
    if not to:
        return None
    return Mailto(tuple(to), subject, body, tuple(clean_line(a, max_len=320) for a in cc))


def _is_web(uri: str) -> bool:
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme.lower() in ("https", "http") and bool(parts.hostname)


def unsubscribe_plan(ml: MailingList) -> UnsubscribePlan:
    """How to unsubscribe: one-click POST when the list offers it (RFC 8058 needs HTTPS), else
    the mailto: address, else a web page to open; "none" when the message offers no way."""
    web = [u for u in ml.unsubscribe if _is_web(u)]
    if ml.one_click:
        for uri in web:
            if uri.lower().startswith("https:") or _loopback_http(uri):
                return UnsubscribePlan("post", uri)
    for uri in ml.unsubscribe:
        mailto = parse_mailto(uri)
        if mailto is not None:
            return UnsubscribePlan("mailto", uri, mailto)
    if web:
        return UnsubscribePlan("browser", web[0])
    return UnsubscribePlan("none")


def _loopback_http(uri: str) -> bool:
    """Plain http is accepted for one-click only on this machine (a local test server)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return False
    return parts.scheme.lower() == "http" and parts.hostname in ("127.0.0.1", "::1", "localhost")


def list_reply_draft(original: bytes, identity: Any, post_address: str) -> Any:
    """A reply to the list (List-Post): the usual reply's subject, threading and quote, sent to
    the list address only (not to the author, not to the other recipients)."""
    from app.mime.compose import reply

    draft = reply(original, identity)
    draft.to = [post_address]
    draft.cc = []
    return draft


def unsubscribe_draft(mailto: Mailto, identity: Any) -> Any:
    """The unsubscribe mail a mailto: URI asks for, ready for the user to check and send."""
    from app.mime.compose import Draft

    return Draft(
        from_=identity,
        to=list(mailto.to),
        cc=list(mailto.cc),
        subject=mailto.subject or "unsubscribe",
        body=mailto.body,
    )
