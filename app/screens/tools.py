"""The main screen's mutt/aerc tools: pipe, open through mailcap, bounce, archive.

Thin flows over the UI-free cores (`app.actions.pipe`, `app.actions.mailcap`, `app.smtp.bounce`, `app.actions.archive`):
each asks what it needs in a dialog, calls the core from the screen's worker and shows the
typed result. `MainScreen` binds the keys and calls these with itself, typed as the `MainHost`
of app/screens/host.py (no import of the screen: no circle).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual.app import SuspendNotSupported

from app.mime.attachments import executable_reason, is_text_type
from widgets.dialogs import ConfirmDialog, PromptDialog
from widgets.safe import decode_header_text, safe_line

if TYPE_CHECKING:
    from app.screens.host import MainHost

__all__ = ["archive", "bounce", "open_attachment", "pipe", "show_text_attachment"]

#: Types shown in the viewer as text when no mailcap entry says otherwise.
INLINE_TEXT_TYPES = frozenset(
    {
        "message/rfc822",
        "message/global",
        "message/delivery-status",
        "message/disposition-notification",
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/x-sh",
        "application/javascript",
        "application/pgp-signature",
        "application/pgp-keys",
        "application/ics",
        "application/mbox",
    }
)


def inline_text(mime_type: str) -> bool:
    """Can this attachment be read as text in the viewer?"""
    mime = mime_type.split(";", 1)[0].strip().lower()
    return mime.startswith("text/") or mime in INLINE_TEXT_TYPES or mime.endswith(("+json", "+xml"))


def _short(command: str) -> str:
    return safe_line(command, max_len=60)


# -- pipe ---------------------------------------------------------------------------------------


async def pipe(screen: MainHost) -> None:
    """`|`: ask for a command, pipe the chosen input to it, show or drop what it prints."""
    from app.actions import pipe as core
    from widgets.pipe_prompt import PipePrompt

    ml = screen.message_list
    marked = sorted(ml.marked)
    uid = screen.open_uid if screen._in_viewer() and screen.open_uid else ml.cursor_uid
    if uid is None and not marked:
        screen.status.show_message("No message to pipe", timeout=4)
        return
    sources: list[tuple[str, str]] = []
    if marked:
        sources.append(("marked", f"the {len(marked)} marked message(s), as one mbox"))
    if uid is not None:
        sources += [
            ("raw", "the raw message"),
            ("decoded", "the decoded message (headers, text, attachment list)"),
        ]
    part = None
    viewer = screen.viewer
    if uid is not None and uid == screen.open_uid and viewer.rendered is not None:
        part = viewer.highlighted_attachment
        if part is not None:
            sources.append(("part", f"the attachment {part.filename}"))
    choice = await screen.app.push_screen_wait(PipePrompt(sources, core.history()))
    if choice is None:
        return
    core.add_history(choice.command)
    screen.status.show_message(f"Fetching for {_short(choice.command)}…")
    try:
        if choice.source == "marked":
            data = core.mbox_stream([await screen.account.fetch_raw(u) for u in marked])
        elif choice.source == "part" and part is not None and uid is not None:
            data = await screen.account.fetch_attachment(
                uid, part.part_id, part.encoding, text=is_text_type(part.mime_type)
            )
        else:
            assert uid is not None
            raw = await screen.account.fetch_raw(uid)
            data = core.decoded_text(raw) if choice.source == "decoded" else raw
    except Exception as exc:
        screen.status.show_message("")
        screen._report(exc, "Cannot fetch what to pipe")
        return
    if choice.output == "terminal":
        screen.status.show_message("")
        try:
            with screen.app.suspend():
                code = core.run_interactive(choice.command, data)
        except SuspendNotSupported:
            result = await core.run_captured(choice.command, data)
            code = result.returncode
        _say_exit(screen, choice.command, code)
        return
    screen.status.show_message(f"Running {_short(choice.command)}…")
    try:
        result = await core.run_captured(choice.command, data)
    except OSError as exc:
        screen.status.show_message("")
        screen._report(exc, "Cannot run the command")
        return
    screen.status.show_message("")
    if choice.output == "discard":
        _say_exit(screen, choice.command, result.returncode)
        return
    status = "" if result.ok else f", exit status {result.returncode}"
    cut = ", cut at 2 MB" if result.truncated else ""
    text = result.text() or "(no output)\n"
    show_text(screen, text, f"Output of {choice.command}{status}{cut} (q: back)")
    if not result.ok:
        _say_exit(screen, choice.command, result.returncode)


def _say_exit(screen: MainHost, command: str, code: int) -> None:
    if code == 0:
        screen.notify(f"{_short(command)}: done", markup=False)
    elif code == 127:
        screen.notify(
            f"{_short(command)}: command not found (exit status 127)",
            severity="error",
            markup=False,
        )
    else:
        screen.notify(f"{_short(command)}: exit status {code}", severity="warning", markup=False)


def show_text(screen: MainHost, text: str, title: str) -> None:
    """Plain text in the viewer (sanitized there), the viewer shown and focused."""
    screen.add_class("-reading")
    screen.viewer.show_raw(text, title=title)
    screen.viewer.body.focus()


# -- attachments: mailcap, inline text, xdg-open --------------------------------------------------


async def show_text_attachment(screen: MainHost, uid: int, info: Any) -> None:
    """A text-like attachment read in the viewer (a message/rfc822 one rendered as a message)."""
    from app.mime.charsets import decode_bytes

    try:
        data = await screen.account.fetch_attachment(
            uid, info.part_id, info.encoding, text=is_text_type(info.mime_type)
        )
    except Exception as exc:
        screen._report(exc, "Cannot fetch the attachment")
        return
    mime = info.mime_type.split(";", 1)[0].strip().lower()
    if mime in ("message/rfc822", "message/global"):
        from app.mime.render import render_message
        from app.mime.textview import format_text_view

        text = format_text_view(render_message(data))
    else:
        text, _ = decode_bytes(data, None, guess=True)
    show_text(screen, text, f"{info.filename} ({mime}) (q: back)")


async def open_attachment(screen: MainHost, info: Any) -> None:
    """`o`: a mailcap view entry if one fits, else text in the viewer, else xdg-open."""
    from app.actions.mailcap import find_view, mailcap_filename, read_mailcaps

    uid = screen.open_uid
    if uid is None:
        return
    entries = await asyncio.to_thread(read_mailcaps)
    mime = info.mime_type.split(";", 1)[0].strip().lower() or "application/octet-stream"
    matching = [e for e in entries if e.matches(mime)]
    if not matching:
        if inline_text(mime):
            await show_text_attachment(screen, uid, info)
            return
        await screen._open_with_xdg(info)
        return
    # A private copy under a name of our own making (the sender's name never reaches the shell).
    reason = executable_reason(info.filename, info.mime_type)
    if reason is not None and not await screen._confirm_run(info.filename, reason):
        return
    from app.actions.opened import new_open_folder

    template = next((e.fields.get("nametemplate") for e in matching), None)
    name = mailcap_filename(info.filename, template)
    try:
        folder = new_open_folder()
        path = await screen._save_one(uid, info, folder, name)
    except Exception as exc:
        screen._report(exc, "Opening the attachment failed")
        return
    if reason is None:  # the content may be a program under a harmless name (as for xdg-open)
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError:
            head = b""
        reason = executable_reason("", None, head)
        if reason is not None and not await screen._confirm_run(info.filename, reason):
            shutil.rmtree(folder, ignore_errors=True)  # not opened: no copy kept
            return
    view = await asyncio.to_thread(find_view, mime, str(path), matching)
    if view is None:  # every test= failed
        shutil.rmtree(folder, ignore_errors=True)
        if inline_text(mime):
            await show_text_attachment(screen, uid, info)
        else:
            await screen._open_with_xdg(info)
        return
    stdin_path = path if view.stdin_file else None
    if view.copiousoutput:
        screen.status.show_message(f"Running {_short(view.command)}…")
        try:
            result = await _run_capture(view.command, stdin_path)
        except OSError as exc:
            screen.status.show_message("")
            screen._report(exc, "Cannot run the viewer")
            return
        screen.status.show_message("")
        code, output = result
        status = "" if code == 0 else f", exit status {code}"
        show_text(
            screen,
            output or "(no output)\n",
            f"{info.filename} through {view.command}{status} (q: back)",
        )
        return
    if view.needsterminal:
        try:
            with screen.app.suspend():
                _run_terminal(view.command, stdin_path)
        except SuspendNotSupported:
            await _run_capture(view.command, stdin_path)
        return
    await _run_detached(view.command, stdin_path)


def _stdin(path: Path | None) -> Any:
    return open(path, "rb") if path is not None else subprocess.DEVNULL


async def _run_capture(command: str, stdin_path: Path | None) -> tuple[int, str]:
    from app.actions.pipe import run_captured

    data = stdin_path.read_bytes() if stdin_path is not None else b""
    result = await run_captured(command, data)
    return result.returncode, result.text()


def _run_terminal(command: str, stdin_path: Path | None) -> None:
    stdin = _stdin(stdin_path) if stdin_path is not None else None
    try:
        subprocess.run(["/bin/sh", "-c", command], stdin=stdin, check=False)
    except OSError:
        pass
    finally:
        if stdin is not None:
            stdin.close()


async def _run_detached(command: str, stdin_path: Path | None) -> None:
    stdin = _stdin(stdin_path)
    try:
        await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            command,
            stdin=stdin,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if stdin_path is not None:
            with contextlib.suppress(Exception):
                stdin.close()


# -- bounce -------------------------------------------------------------------------------------


async def bounce(screen: MainHost) -> None:
    """`B`: ask for the addresses (asked again while one is wrong), confirm, send."""
    from app.mime.compose import ComposeError
    from app.smtp.bounce import bounce as send_bounce
    from app.smtp.bounce import parse_bounce_addresses

    uid = screen.open_uid if screen._in_viewer() and screen.open_uid else None
    uid = uid or screen.message_list.cursor_uid
    if uid is None:
        screen.status.show_message("No message to bounce", timeout=4)
        return
    typed = ""
    title = "Bounce the message to (addresses, comma-separated)"
    while True:
        answer = await screen.app.push_screen_wait(PromptDialog(title, typed))
        if not answer or not answer.strip():
            return
        typed = answer
        try:
            request = parse_bounce_addresses(answer)
        except ComposeError as exc:
            reason = str(exc)
            title = f"{reason[:1].upper()}{reason[1:]}. Bounce the message to"
            continue
        break
    listing = ", ".join(request.shown)
    summary = screen.message_list.summary(uid)
    subject = decode_header_text(summary.envelope.subject) if summary is not None else ""
    what = f"“{safe_line(subject, max_len=60)}”" if subject else "this message"
    ok = await screen.app.push_screen_wait(
        ConfirmDialog(f"Bounce {what} to {listing}?", yes="Bounce", danger=False)
    )
    if not ok:
        return
    try:
        raw = await screen.account.fetch_raw(uid)
    except Exception as exc:
        screen._report(exc, "Cannot fetch the message")
        return
    screen.status.show_message("Bouncing…")
    outcome = await send_bounce(screen.account, raw, request)
    screen.status.show_message("")
    from app.screens.protolog_actions import with_log_hint

    line = with_log_hint(safe_line(outcome.message, max_len=500))
    if outcome.sent:
        screen.notify(line, markup=False)
    else:
        screen.notify(line, severity="warning" if outcome.queued else "error", markup=False)


# -- archive ------------------------------------------------------------------------------------


async def archive(screen: MainHost) -> None:
    """`y`: the marked messages (or the one under the cursor) to the Archive folder."""
    from app.actions.archive import archive_base, archive_plan
    from app.mime.headers import parse_date

    uids = screen._targets()
    if not uids:
        screen.status.show_message("No message to archive", timeout=4)
        return
    account = screen.account
    base, delimiter, exists = archive_base(account.folders)
    current = screen._current_folder()
    sep = delimiter or "/"
    if current is not None and (current.name == base or current.name.startswith(base + sep)):
        screen.status.show_message(f"Already in {safe_line(base)}", timeout=4)
        return
    granularity = str(getattr(screen.ui, "archive", "flat") or "flat")
    dates = {}
    for uid in uids:
        summary = screen.message_list.summary(uid)
        when = None
        if summary is not None:
            when = parse_date(summary.envelope.date) or summary.internaldate
        dates[uid] = when
    plan = archive_plan(dates, base, delimiter, granularity)
    from app.actions import operations as ops

    moved = 0
    undoable = True
    for folder, group in plan.items():
        if account.folder(folder) is None:
            made = await screen._run_op(
                lambda _answers, name=folder: ops.create_folder(account, name),
                f"Cannot create {folder}",
            )
            if made is None:
                return
            screen.folder_tree.set_folders(account.folders, account.statuses)
        outcome = await screen._run_op(
            lambda answers, uids=group, name=folder: ops.move(
                account, uids, name, answers, kind="archive"
            ),
            "Archiving failed",
            f"Archiving {ops.plural(len(group), 'message')}",
        )
        if outcome is None:
            return
        if not outcome.done:
            screen._show_outcome(outcome)  # refused (read-only) or not asked through
            return
        screen._show_outcome(outcome, quiet=True)
        moved += len(outcome.removed)
        undoable = undoable and outcome.undoable
        with contextlib.suppress(Exception):  # counts are a courtesy: the move is done
            screen._show_counts(folder, await account.refresh_status(folder))
    if current is not None:
        with contextlib.suppress(Exception):
            screen._show_counts(current.name, await account.refresh_status(current.name))
    names = ", ".join(plan)
    if not undoable:
        undo = "; cannot be undone (the server did not say where it put them)"
    elif len(plan) == 1:
        undo = "; u to undo"
    else:
        undo = "; u takes them back one folder at a time"
    what = ops.plural(moved, "message")
    screen.notify(safe_line(f"Archived {what} to {names}{undo}", max_len=300), markup=False)
