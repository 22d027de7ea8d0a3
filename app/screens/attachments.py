"""Saving and opening attachments, the same flow for the client and `termail view FILE`.

Where the bytes come from is the caller's: the main screen fetches a part from the server
(`Account.save_attachment`), the file viewer decodes it from the file. What is asked and said
is here once: the save prompt (Tab completes, the name can be changed, ctrl+s saves them all),
the folder created on demand and remembered, the question before opening what may be a
program, and the private copy handed to xdg-open.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from app.state import recall, remember

__all__ = ["Asker", "SaveOne", "confirm_run", "open_with_xdg", "save_attachments", "save_folder"]

SaveOne = Callable[[Any, Path, str], Awaitable[Path]]
"""Write attachment `info` into `folder` as `name`; the path written."""


class Asker(Protocol):
    """The screen the flow runs on: it pushes the prompts and shows the toasts."""

    @property
    def app(self) -> Any: ...

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: Any = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None: ...


def save_folder() -> Path:
    """The folder used last (kept across runs), else ~/Downloads (created on demand)."""
    last = recall("attachments.folder")
    if isinstance(last, str) and last and Path(last).is_dir():
        return Path(last)
    return Path.home() / "Downloads"


async def save_attachments(
    screen: Asker,
    info: Any,
    every: Sequence[Any],
    save_one: SaveOne,
    report: Callable[[BaseException, str], None],
) -> None:
    """Ask where to save `info` (or, with ctrl+s, all of `every`); save; say what was saved.

    `report(exc, title)` shows a failure; the first failed attachment ends the round."""
    from app.paths import private_dir
    from widgets.safe import human_size
    from widgets.save_prompt import SavePrompt, short_path

    size = ("~" if info.size_is_estimate else "") + human_size(info.size)
    target = await screen.app.push_screen_wait(
        SavePrompt(info.filename, save_folder(), size=size, count=len(every))
    )
    if target is None:
        return
    folder = target.folder
    created = ""
    if target.create:
        try:
            private_dir(folder)
        except OSError as exc:
            report(exc, f"Cannot create {short_path(folder)}")
            return
        created = f"Created {short_path(folder)}; "
    chosen = [(info, target.name)] if target.name is not None else [(a, a.filename) for a in every]
    saved: list[Path] = []
    for item, name in chosen:
        try:
            saved.append(await save_one(item, folder, name))
        except Exception as exc:
            report(exc, f"Saving {item.filename} failed")
            break
    if not saved:
        return
    remember("attachments.folder", str(folder))
    if len(saved) == 1:
        what = f"saved {short_path(saved[0])}"
    else:
        what = f"saved {len(saved)} attachments into {short_path(folder)}"
    text = created + what
    screen.notify(text[:1].upper() + text[1:], markup=False)


async def confirm_run(screen: Asker, filename: str, reason: str) -> bool:
    """Ask before opening what may be a program (`reason`: why it looks like one)."""
    from widgets.dialogs import ConfirmDialog

    question = f"{filename} may be a program ({reason}): opening it could run it. Open it anyway?"
    answer: bool = await screen.app.push_screen_wait(ConfirmDialog(question, yes="Open"))
    return answer


async def open_with_xdg(
    screen: Asker,
    info: Any,
    save_one: SaveOne,
    report: Callable[[BaseException, str], None],
) -> Path | None:
    """Hand a private temporary copy to xdg-open, asking first when the name, type or first
    bytes look like a program; the copy's path once started, else None."""
    from app.actions.opened import new_open_folder
    from app.mime.attachments import executable_reason

    opener = shutil.which("xdg-open")
    if opener is None:
        screen.notify(
            "No xdg-open here: save the attachment instead (a)", severity="warning", markup=False
        )
        return None
    reason = executable_reason(info.filename, info.mime_type)
    if reason is not None and not await confirm_run(screen, info.filename, reason):
        return None
    try:
        folder = new_open_folder()
        path = await save_one(info, folder, info.filename)
    except Exception as exc:
        report(exc, "Opening the attachment failed")
        return None
    if reason is None:
        try:
            with open(path, "rb") as f:
                head = f.read(64)
        except OSError:
            head = b""
        reason = executable_reason("", None, head)
        if reason is not None and not await confirm_run(screen, info.filename, reason):
            shutil.rmtree(folder, ignore_errors=True)  # not opened: no copy kept
            return None
    await asyncio.create_subprocess_exec(
        opener,
        str(path),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    return path
