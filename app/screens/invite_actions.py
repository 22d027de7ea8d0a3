"""The main screen's invitation and mailing-list actions (issue 18), kept out of main.py.

Each function takes the `MainScreen`, asks what must be asked (a dialog; Esc always cancels),
calls the core (`app.actions.invites`, `app.mime.lists`, `app.actions.unsubscribe`) and reports in one toast.
They run inside the screen's workers.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any
from weakref import WeakSet

from app.mime.calendar import ANSWER_WORDS
from app.mime.sanitize import clean_line
from widgets.dialogs import ConfirmDialog, PromptDialog

__all__ = ["answer_invitation", "list_reply", "load_invitation", "unsubscribe"]


def _say(screen: Any, text: str, *, severity: str = "information", title: str = "") -> None:
    screen.notify(clean_line(text, max_len=600), title=title, severity=severity, markup=False)


_BUSY: WeakSet[Any] = WeakSet()
"""Screens with an answer, list reply or unsubscribe under way: a second key press waits for
it instead of starting (or cancelling) one while a mail or a request is in flight."""


def _start(screen: Any) -> bool:
    if screen in _BUSY:
        _say(screen, "The previous answer or request is still under way.", severity="warning")
        return False
    _BUSY.add(screen)
    return True


async def load_invitation(screen: Any, uid: int) -> None:
    """Read the calendar part of the message just shown (if any) into the viewer's card."""
    from app.actions.invites import load_invitation as load

    summary = screen.message_list.summary(uid)
    structure = getattr(summary, "bodystructure", None) if summary is not None else None
    if structure is None:
        return
    try:
        invitation = await load(screen.account, uid, structure)
    except Exception as exc:
        from app.screens.protolog_actions import error_with_hint

        text = error_with_hint(exc, f"The invitation could not be read: {exc}")
        _say(screen, text, severity="warning")
        return
    if screen.open_uid == uid and invitation is not None:
        screen.viewer.show_invitation(invitation)


async def answer_invitation(screen: Any, partstat: str) -> None:
    """See `_answer_invitation`; one at a time per screen."""
    if not _start(screen):
        return
    try:
        await _answer_invitation(screen, partstat)
    finally:
        _BUSY.discard(screen)


async def _answer_invitation(screen: Any, partstat: str) -> None:
    """Accept / tentative / decline the invitation shown: ask (with an optional comment),
    then send the iTIP REPLY to the organizer through the normal send path."""
    from app.actions.invites import answer_draft, answer_identity, send_answer

    viewer = screen.viewer
    rendered = viewer.rendered
    invitation = viewer.invitation
    if rendered is None:
        _say(screen, "Open an invitation first.", severity="warning")
        return
    if invitation is None:
        from app.mime.calendar import calendar_part

        summary = screen.message_list.summary(screen.open_uid) if screen.open_uid else None
        structure = getattr(summary, "bodystructure", None)
        if structure is not None and calendar_part(structure) is not None:
            _say(screen, "The invitation is still being read; try again in a moment.")
        else:
            _say(screen, "This message holds no invitation.", severity="warning")
        return
    if not invitation.answerable:
        if invitation.headline == "Cancelled event":
            reason = "The event was cancelled: there is nothing to answer."
        elif not invitation.parsed:
            reason = "The calendar could not be read fully, so it cannot be answered."
        elif invitation.method != "REQUEST":
            method = invitation.method or "none"
            reason = f"This calendar asks for no answer (METHOD: {method})."
        else:
            reason = "The invitation names no organizer to answer."
        _say(screen, reason, severity="warning")
        return
    identity, invited = answer_identity(screen.account, invitation)
    if not identity.address:
        _say(screen, "No address of yours to answer from.", severity="warning")
        return
    assert invitation.organizer is not None
    word = ANSWER_WORDS[partstat]
    question = (
        f"{word}: {invitation.title or '(no title)'}\n"
        f"The answer goes to {invitation.organizer.label}, from {identity.address}."
    )
    if not invited:
        question += "\nThis address is not on the attendee list."
    question += "\nA comment for the organizer (optional). Enter sends, Esc cancels."
    comment = await screen.app.push_screen_wait(
        PromptDialog(question, allow_empty=True, placeholder="comment (optional)")
    )
    if comment is None:
        _say(screen, "Not answered; nothing was sent.")
        return
    try:
        draft = answer_draft(
            invitation,
            partstat,
            identity=identity,
            comment=comment,
            subject=rendered.subject,
            message_id=rendered.message_id,
        )
    except ValueError as exc:
        _say(screen, str(exc), severity="warning")
        return
    folder = screen.account.current.folder.name if screen.account.current else None
    with screen.status.job("Sending the answer"):
        outcome = await send_answer(
            screen.account, draft, original_uid=screen.open_uid, original_folder=folder
        )
    severity = "information" if outcome.sent else "warning" if outcome.queued else "error"
    text = f"{word} sent to {invitation.organizer.address}." if outcome.sent else outcome.message
    if outcome.sent and outcome.warnings:
        text += " (" + "; ".join(outcome.warnings) + ")"
    # A send result, as compose's: the SMTP dialogue that led to it is in the log.
    _say(screen, _hinted(text), severity=severity)


def _hinted(text: str) -> str:
    """`text` cut to what a toast shows, then the protocol log's hint (never cut off)."""
    from app.screens.protolog_actions import with_log_hint

    return with_log_hint(clean_line(text, max_len=560))


def _identity(screen: Any) -> Any:
    from app.mime.compose import Identity

    rendered = screen.viewer.rendered
    recipients = [a.email for a in [*rendered.to_addresses, *rendered.cc_addresses] if a.email]
    chosen = screen.account.identity_for(recipients)
    if chosen is not None:
        return Identity(chosen.name, chosen.address)
    own = list(getattr(screen.account, "addresses", []) or [])
    return Identity("", own[0] if own else "")


async def list_reply(screen: Any) -> None:
    """See `_list_reply`; one at a time per screen."""
    if not _start(screen):
        return
    try:
        await _list_reply(screen)
    finally:
        _BUSY.discard(screen)


async def _list_reply(screen: Any) -> None:
    """Reply to the list (List-Post) of the message shown."""
    from app.screens.compose import open_compose

    ml = screen.viewer.mailing_list
    uid = screen.open_uid
    if ml is None or uid is None:
        _say(screen, "This message did not come through a mailing list.", severity="warning")
        return
    address = ml.post_address
    if not address:
        if ml.post_closed:
            _say(screen, "The list takes no posts (List-Post: NO).", severity="warning")
        else:
            _say(screen, "The list names no address to post to (no List-Post).", severity="warning")
        return
    try:
        original = await screen.account.fetch_raw(uid)
    except Exception as exc:
        screen._report(exc, "Cannot load the original")
        return
    await open_compose(screen, screen.account, "list_reply", original, uid, list_address=address)


def _log_one_click(account: Any, target: str, result: Any) -> bool:
    """The one-click request and its answer as two lines of the account's protocol log (an
    HTTP exchange the IMAP and SMTP taps do not see), so its toast can say "show in log".
    False when the account keeps no log."""
    log = getattr(account, "protocol_log", None)
    if log is None:
        return False
    conn = log.new_connection("https" if target.lower().startswith("https:") else "http")
    log.add(conn, "C", f"POST {target} (List-Unsubscribe=One-Click, RFC 8058)")
    answer = f"{result.status} {result.message}" if result.status else result.message
    log.add(conn, "S" if result.status else "-", answer, error=not result.ok)
    return True


def _graphical() -> bool:
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


async def unsubscribe(screen: Any) -> None:
    """See `_unsubscribe`; one at a time per screen."""
    if not _start(screen):
        return
    try:
        await _unsubscribe(screen)
    finally:
        _BUSY.discard(screen)


async def _unsubscribe(screen: Any) -> None:
    """Leave the list of the message shown: one-click POST (RFC 8058) after a yes, a mailto:
    mail prefilled in compose (sent when the user sends it), or a web page opened after a yes."""
    from app.actions.unsubscribe import one_click
    from app.mime.lists import unsubscribe_draft, unsubscribe_plan
    from app.screens.compose import open_compose

    ml = screen.viewer.mailing_list
    if ml is None:
        _say(screen, "This message did not come through a mailing list.", severity="warning")
        return
    plan = unsubscribe_plan(ml)
    name = ml.label
    if plan.kind == "none":
        _say(
            screen, f"{name} gives no way to unsubscribe (no List-Unsubscribe).", severity="warning"
        )
        return
    if plan.kind == "mailto":
        assert plan.mailto is not None
        draft = unsubscribe_draft(plan.mailto, _identity(screen))
        await open_compose(screen, screen.account, "new", None, None, prepared=draft)
        _say(screen, f"The unsubscribe mail to {plan.mailto.to[0]}: ctrl+s sends it, Esc drops it.")
        return
    if plan.kind == "post":
        question = (
            f"Unsubscribe from {name}?\n\nThis sends one web request (RFC 8058 one-click POST)"
            f" to:\n{plan.target}"
        )
        if not await screen.app.push_screen_wait(ConfirmDialog(question, yes="Unsubscribe")):
            _say(screen, "Not unsubscribed; nothing was sent.")
            return
        with screen.status.job("Unsubscribing"):
            result = await asyncio.to_thread(one_click, plan.target)
        logged = _log_one_click(screen.account, plan.target, result)
        text = _hinted(result.message) if logged else result.message
        _say(screen, text, severity="information" if result.ok else "error")
        return
    # A web page: termail does not fetch it (it would need cookies, scripts, forms).
    if not _graphical():
        _say(
            screen,
            f"{name} unsubscribes on a web page; open it in a browser: {plan.target}",
            severity="warning",
            title="Unsubscribe",
        )
        return
    question = (
        f"Unsubscribing from {name} takes a web page:\n{plan.target}\n\nOpen it in the browser?"
    )
    if not await screen.app.push_screen_wait(ConfirmDialog(question, yes="Open", danger=False)):
        _say(screen, "Not opened.")
        return
    import webbrowser

    opened = await asyncio.to_thread(webbrowser.open, plan.target)
    if not opened:
        _say(
            screen, f"No browser could be started; the address is {plan.target}", severity="warning"
        )
