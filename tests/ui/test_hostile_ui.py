"""Hostile mail through the whole app: delivered to the sandbox, listed, opened, shown safely.

Each message goes through IMAP (ENVELOPE, BODYSTRUCTURE, part fetches), the MIME model and the
widgets. The app must keep running, no control character may reach the terminal's bytes, and
each message must be shown within a generous bound.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ui.test_app_sandbox import make_app, message_list, wait_until
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui]

HOSTILE = Path(__file__).parent.parent / "data" / "hostile"

#: Terminal output may hold SGR colours and cursor moves; anything else is a leak.
_ALLOWED_ESCAPES = re.compile(rb"\x1b\[[0-9;?]*[A-Za-z]")
_BAD = re.compile(
    rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]"
)


def generated() -> dict[str, bytes]:
    parts = "".join(f"--b\r\nContent-Type: text/plain\r\n\r\npart {i}\r\n" for i in range(10_000))
    nested = b"".join(
        f'Content-Type: multipart/mixed; boundary="n{i}"\r\n\r\n--n{i}\r\n'.encode()
        for i in range(1000)
    )
    addresses = ", ".join(f"user{i}@example.org" for i in range(100_000))
    return {
        "10000-parts": (
            "Subject: ten thousand parts\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + "--b--\r\n"
        ).encode(),
        "1000-nesting": b"Subject: deep\r\nMIME-Version: 1.0\r\n" + nested + b"core\r\n",
        "5mb-header": b"Subject: " + b"A" * (5 * 1024 * 1024) + b"\r\n\r\nbody\r\n",
        "100k-addresses": f"Subject: many recipients\r\nTo: {addresses}\r\n\r\nhi\r\n".encode(),
        "escapes-raw": b"Subject: \x1b]0;owned\x07\x1b[2J raw \xc2\x9b escapes\r\n\r\n\x1b[31mred\x1b[0m \xe2\x80\xae\r\n",
    }


def cases() -> list[tuple[str, bytes]]:
    found = [(p.name, p.read_bytes()) for p in sorted(HOSTILE.glob("*.eml"))]
    return found + sorted(generated().items())


def _terminal_bytes(app: Any) -> bytes:
    """What the app would write to a terminal for the current screen."""
    from rich.console import Console

    console = Console(
        force_terminal=True, color_system="truecolor", width=140, record=False, file=None
    )
    with console.capture() as capture:
        console.print(app.screen._compositor.render_update(full=True))
    return capture.get().encode("utf-8", "surrogateescape")


async def test_hostile_messages_in_the_app(sandbox: Any, mail_user: Any) -> None:
    all_cases = cases()
    for _, data in all_cases:
        sandbox.deliver(mail_user.name, data)
    app = make_app(mail_user)
    timings: dict[int, float] = {}
    shown: list[int] = []
    errors: list[str] = []
    async with app.run_test(size=(140, 40)) as pilot:
        ml = message_list(app)
        viewer = app.screen.query_one(MessageView)
        original_error = viewer.show_error

        def record_error(text: str) -> None:
            errors.append(text)
            original_error(text)

        viewer.show_error = record_error  # type: ignore[method-assign]
        await wait_until(pilot, lambda: ml.row_count == len(all_cases), timeout=60)
        ml.focus()
        await pilot.press("g")
        for row in range(len(all_cases)):
            uid = ml.cursor_uid
            assert uid is not None
            start = time.monotonic()
            before = viewer.rendered
            shown_before = len(shown)
            await pilot.press("enter")
            await wait_until(
                pilot,
                lambda before=before, n=shown_before: (
                    (viewer.rendered is not None and viewer.rendered is not before)
                    or len(errors) > n
                ),
                timeout=60,
            )
            await pilot.pause(0.1)
            timings[uid] = time.monotonic() - start
            assert app.is_running
            output = _terminal_bytes(app)
            leftover = _ALLOWED_ESCAPES.sub(b"", output)
            assert not _BAD.search(leftover), (
                f"control characters reached the terminal at row {row}"
            )
            assert b"\x1b]" not in output
            ml.focus()
            await pilot.press("j")
    assert max(timings.values()) < 60
    assert not errors, errors  # each one is shown, none ends in an error
