"""`1`–`9` and `0` in the viewer: open link N of the message shown, or pick it from a list.

Opening always asks first with the whole address (as `app.mime.links.display_url` shows it:
sanitized, a confusable international name as punycode, the shown text when it differs), then
runs the browser command (`app.actions.browser`) with the URL as one argument, no shell. A
mailto: link opens compose instead (nothing is sent until the user sends it). Other schemes
(javascript:, file:, data:, ftp:, ...) are only shown. Nothing is fetched here, ever.

Functions take the screen (MainScreen or FileViewerScreen): `screen.viewer` (a MessageView),
`screen.app`, and for mailto `screen.account` when there is one.
"""

from __future__ import annotations

import asyncio
from typing import Any
from weakref import WeakSet

from app.mime.links import Link, display_url
from app.mime.sanitize import clean_line
from widgets.dialogs import ConfirmDialog
from widgets.link_list import LinkListScreen

__all__ = ["open_link"]

_BUSY: WeakSet[Any] = WeakSet()


def _say(screen: Any, text: str, *, severity: str = "information") -> None:
    screen.notify(clean_line(text, max_len=900), title="Links", severity=severity, markup=False)


async def open_link(screen: Any, number: int | None) -> None:
    """Link `number` of the message shown (None: choose from the list), after a yes."""
    if screen in _BUSY:
        return  # a question about a link is on the screen already
    _BUSY.add(screen)
    try:
        await _open_link(screen, number)
    finally:
        _BUSY.discard(screen)


async def _open_link(screen: Any, number: int | None) -> None:
    viewer = screen.viewer
    rendered = viewer.rendered
    if rendered is None or getattr(viewer, "raw_mode", False):
        _say(screen, "Open a message first: its links are numbered in the text ([1], [2], …).")
        return
    links: list[Link] = list(rendered.link_list)
    if not links:
        _say(screen, "This message has no links.")
        return
    if number is None:
        number = await screen.app.push_screen_wait(LinkListScreen(links))
        if number is None:
            return
    if not 0 < number <= len(links):
        count = len(links)
        _say(
            screen,
            f"No link [{number}]: this message has {count} link{'s' if count != 1 else ''} "
            "(0 lists them).",
            severity="warning",
        )
        return
    link = links[number - 1]
    shown, warnings = display_url(link.target)
    if not link.openable:
        _say(screen, f"[{number}] {shown}: {link.why_not()}", severity="warning")
        return
    assert link.wire is not None
    if link.scheme == "mailto":
        await _mailto(screen, link, shown)
        return
    from app.actions.browser import browser_command, graphical

    ui = getattr(screen.app, "ui", None) or getattr(screen, "ui", None)
    configured = getattr(ui, "browser", "") or ""
    try:
        command = browser_command(link.wire, configured)
    except ValueError as exc:
        _say(screen, f"{exc}. The address is {shown}", severity="error")
        return
    if command.source == "xdg-open" and not graphical():
        _say(
            screen,
            f"No graphical session to open a browser in (set [ui] browser or $BROWSER). "
            f"The address is: {shown}",
            severity="warning",
        )
        return
    lines = [f"Open link [{number}] with {command.source} ({command.argv[0]})?", "", shown]
    if link.text:
        lines += ["", f"The message shows it as: {link.text}"]
    lines += [f"⚠ {warning}" for warning in warnings]
    if not await screen.app.push_screen_wait(
        ConfirmDialog("\n".join(lines), yes="Open", no="Cancel", danger=False)
    ):
        _say(screen, "Not opened.")
        return
    if command.in_terminal:
        from app.actions.browser import run_in_terminal

        with screen.app.suspend():
            code = run_in_terminal(command)
        if code:
            _say(screen, f"{command.argv[0]} ended with status {code}", severity="warning")
        return
    from app.actions.browser import launch

    problem = await asyncio.to_thread(launch, command)
    if problem is not None:
        _say(screen, f"{problem}. The address is {shown}", severity="error")
        return
    _say(screen, f"Opened with {command.argv[0]}: {shown}")


async def _mailto(screen: Any, link: Link, shown: str) -> None:
    """A mailto: link: compose to it (prefilled as RFC 6068 says), after a yes."""
    from app.mime.lists import parse_mailto, unsubscribe_draft

    assert link.wire is not None
    mailto = parse_mailto(link.wire)
    if mailto is None or not mailto.to:
        _say(screen, f"{shown}: not an address termail can write to.", severity="warning")
        return
    account = getattr(screen, "account", None)
    if account is None:
        _say(screen, f"Write to {', '.join(mailto.to)}: this viewer has no account to send from.")
        return
    lines = [f"Write a message to {', '.join(mailto.to)}?", "", shown]
    if link.text:
        lines += ["", f"The message shows it as: {link.text}"]
    if not await screen.app.push_screen_wait(
        ConfirmDialog("\n".join(lines), yes="Write", no="Cancel", danger=False)
    ):
        return
    from app.screens.compose import open_compose
    from app.screens.invite_actions import _identity

    draft = unsubscribe_draft(mailto, _identity(screen))
    if not mailto.subject:
        draft.subject = ""
    await open_compose(screen, account, "new", None, None, prepared=draft)
