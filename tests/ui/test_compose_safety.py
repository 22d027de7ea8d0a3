"""Compose and send never crash and never lose what the user wrote (issue 20 items 1, 5, 11, 17;
issue 13 items 2 and 7), driven with the pilot against the sandbox.

- a typo in To, Cc or Bcc: shown under that field, the message stays, nothing is sent;
- a non-ASCII local part: sent with SMTPUTF8 where offered, a clear refusal where not;
- a 4xx while the disk is full (a real full tmpfs): the compose screen stays with the error, and
  sending again once there is room queues it;
- a reply: the cursor on its own line below the quote (or above it, `reply_position = "top"`);
- q with mail in the outbox or a message being written asks first;
- markup in the From line is shown as written; bidi/invisible characters stay out of a reply.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rich.text import Text
from textual.screen import Screen
from textual.widgets import Input, Static, TextArea

from app.config.model import UiSettings
from app.main import TermailApp
from app.models import Identity
from app.screens.compose import AUTOSAVE_SECONDS, ComposeScreen
from app.smtp.outbox import Outbox
from tests.ui.test_app_sandbox import list_filled, wait_connected, wait_until
from tests.ui.test_compose_sandbox import compose_account, fetch_inbox, open_compose, type_text
from widgets.dialogs import ConfirmDialog
from widgets.message_list import MessageList

pytestmark = [pytest.mark.integration, pytest.mark.ui]

ScreenT = TypeVar("ScreenT", bound=Screen[Any])


def make_app(
    user: Any,
    data_dir: Path,
    *,
    name: str = "Zoë Tester",
    ui: UiSettings | None = None,
    identities: list[Identity] | None = None,
) -> TermailApp:
    account = compose_account(user, data_dir, name=name, identities=identities or ())
    return TermailApp([account], ui=ui)


@contextlib.asynccontextmanager
async def composing(app: TermailApp) -> AsyncIterator[tuple[Any, ComposeScreen]]:
    """`app` running (120x35), connected, and its compose screen open: the pilot and it."""
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        yield pilot, await open_compose(pilot, app)


async def shown(pilot: Any, app: TermailApp, kind: type[ScreenT]) -> ScreenT:
    """Until the screen on top is a `kind` (a dialog); it."""
    screen = await wait_until(pilot, lambda: isinstance(app.screen, kind) and app.screen)
    assert isinstance(screen, kind)
    return screen


def external_mail(sandbox: Any) -> list[bytes]:
    return [p.read_bytes() for p in sorted(sandbox.external_outbox.iterdir())]


def problem_text(screen: ComposeScreen, field_id: str) -> str:
    line = screen.query_one(f"#{field_id}-problem", Static)
    return str(line.content) if line.display else ""


# -- item 1: a typo in an address field ----------------------------------------------------------


@pytest.mark.parametrize(
    ("field_id", "typo", "words"),
    [
        ("to", "demo", "no @"),
        ("to", "foo@", "nothing after the @"),
        ("cc", "Name <broken", "'<' without a closing '>'"),
        ("bcc", "x@💩.la", "not a valid internationalised domain name"),
    ],
)
async def test_a_typo_is_shown_under_its_field_and_nothing_is_sent(
    sandbox: Any, mail_user: Any, tmp_path: Path, field_id: str, typo: str, words: str
) -> None:
    before = external_mail(sandbox)
    app = make_app(mail_user, tmp_path / "data")
    async with composing(app) as (pilot, screen):
        if field_id != "to":
            screen.query_one("#to", Input).value = "friend@example.com"
        screen.query_one(f"#{field_id}", Input).value = typo
        screen.query_one("#subject", Input).value = "Meeting notes"
        screen.query_one("#body", TextArea).text = "Every word of this must stay.\n"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: problem_text(screen, field_id))
        await pilot.pause(0.3)
        assert app.is_running and app.screen is screen  # no crash, no "Send?" question
        shown = problem_text(screen, field_id)
        assert typo in shown and words in shown
        for other in {"to", "cc", "bcc"} - {field_id}:
            assert problem_text(screen, other) == ""
        assert "Not sent" in str(screen.query_one("#compose-error", Static).content)
        assert screen.query_one("#subject", Input).value == "Meeting notes"
        assert screen.query_one("#body", TextArea).text == "Every word of this must stay.\n"
        assert app.focused is screen.query_one(f"#{field_id}", Input)
        await pilot.pause(0.1)
        await pilot.press("x")  # the cursor is at the end: the key adds, replaces nothing
        assert screen.query_one(f"#{field_id}", Input).value == typo + "x"
        # Fixed: the line goes away when the field is left.
        screen.query_one(f"#{field_id}", Input).value = "fixed@example.com"
        screen.query_one("#body", TextArea).focus()
        await wait_until(pilot, lambda: problem_text(screen, field_id) == "")
    assert external_mail(sandbox) == before


async def test_a_typo_is_shown_when_the_field_is_left(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    app = make_app(mail_user, tmp_path / "data")
    async with composing(app) as (pilot, screen):
        screen.query_one("#to", Input).focus()
        await type_text(pilot, "ann@example.com, demo")
        await pilot.press("tab")
        await wait_until(pilot, lambda: "demo" in problem_text(screen, "to"))
        assert "ann@example.com" not in problem_text(screen, "to")


# -- item 1: non-ASCII local parts and SMTPUTF8 --------------------------------------------------


@pytest.fixture
def smtputf8(sandbox: Any) -> Iterator[Any]:
    yield sandbox
    sandbox.offer_smtputf8(False)


async def send_to(pilot: Any, app: TermailApp, to: str, subject: str) -> ComposeScreen:
    screen = await open_compose(pilot, app)
    screen.query_one("#to", Input).value = to
    screen.query_one("#subject", Input).value = subject
    screen.query_one("#body", TextArea).text = "Grüße!\n"
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
    await pilot.press("y")
    return screen


async def test_utf8_local_part_goes_out_with_smtputf8(
    smtputf8: Any, mail_user: Any, tmp_path: Path
) -> None:
    smtputf8.offer_smtputf8(True)
    to = f"jörg-{mail_user.name}@bücher.example"
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        await send_to(pilot, app, f"Jörg <{to}>", "SMTPUTF8 works")
        await wait_until(pilot, lambda: app.screen is main, timeout=30)
    arrived = [m for m in external_mail(smtputf8) if b"SMTPUTF8 works" in m]
    assert len(arrived) == 1
    envelope_to = f"X-Sandbox-Envelope-To: jörg-{mail_user.name}@xn--bcher-kva.example"
    assert envelope_to.encode() in arrived[0]
    assert f"To: Jörg <jörg-{mail_user.name}@xn--bcher-kva.example>".encode() in arrived[0]


async def test_utf8_local_part_is_refused_clearly_without_smtputf8(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.offer_smtputf8(False)
    to = f"jörg-{mail_user.name}@example.com"
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await send_to(pilot, app, f"ann@example.com, {to}", "No SMTPUTF8 here")
        await wait_until(pilot, lambda: problem_text(screen, "to"), timeout=30)
        assert app.screen is screen
        assert to in problem_text(screen, "to") and "SMTPUTF8" in problem_text(screen, "to")
        assert "ann@example.com" not in problem_text(screen, "to")
        error = str(screen.query_one("#compose-error", Static).content)
        assert "SMTPUTF8" in error and to in error
        assert screen.query_one("#body", TextArea).text == "Grüße!\n"
    assert not [m for m in external_mail(sandbox) if b"No SMTPUTF8 here" in m]


# -- item 5: disk full while a 4xx sends the message to the outbox -------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs of our own (needs root); skipped where it cannot be mounted."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", str(mount)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode(errors='replace')}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path) -> Path:
    """Write until the file system says ENOSPC; returns the file to delete for room."""
    filler = folder / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * 65536)
            f.flush()
    with contextlib.suppress(OSError), (folder / "filler2").open("wb") as f:
        while True:  # the last blocks, byte by byte
            f.write(b"\0")
            f.flush()
    return filler


async def test_disk_full_on_a_4xx_keeps_the_compose_screen(
    sandbox: Any, mail_user: Any, small_tmpfs: Path
) -> None:
    target = f"later-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(451, recipient=target)
    data_dir = small_tmpfs / "data"
    app = make_app(mail_user, data_dir)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_connected(pilot, app)
            main = app.screen
            screen = await open_compose(pilot, app)
            screen.query_one("#to", Input).value = target
            screen.query_one("#subject", Input).value = "Written on a full disk"
            body = "Nothing of this may be lost.\n" * 20
            screen.query_one("#body", TextArea).text = body
            filler = fill(small_tmpfs)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            error = screen.query_one("#compose-error", Static)
            await wait_until(pilot, lambda: "No space left" in str(error.content), timeout=30)
            await pilot.pause(0.3)
            assert app.is_running and app.screen is screen
            assert "451" in str(error.content)
            assert screen.query_one("#subject", Input).value == "Written on a full disk"
            assert screen.query_one("#body", TextArea).text == body
            assert Outbox(data_dir).list() == []
            await pilot.pause(AUTOSAVE_SECONDS + 0.5)  # a failing autosave tick hides nothing
            assert "No space left" in str(error.content) and "451" in str(error.content)
            saving = str(screen.query_one("#compose-save-error", Static).content)
            assert "Autosave failed" in saving and "No space left" in saving
            # Room again: the same message, sent again, waits in the outbox.
            filler.unlink()
            (small_tmpfs / "filler2").unlink()
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: app.screen is main, timeout=30)
            assert list((data_dir / "drafts").glob("*.json")) == []  # queued: draft let go
            entries = Outbox(data_dir).list()
            assert len(entries) == 1 and entries[0].recipients == (target,)
            assert b"Nothing of this may be lost." in Outbox(data_dir).message(entries[0].id)
    finally:
        sandbox.clear_smtp_rules()


async def test_partly_sent_on_a_full_disk_keeps_the_message_for_the_others(
    sandbox: Any, mail_user: Any, small_tmpfs: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "p")
    later = f"later-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(451, recipient=later)
    data_dir = small_tmpfs / "data"
    app = make_app(mail_user, data_dir)
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_connected(pilot, app)
            screen = await open_compose(pilot, app)
            screen.query_one("#to", Input).value = f"Friend <{friend.address}>"
            screen.query_one("#cc", Input).value = later
            screen.query_one("#subject", Input).value = "Half delivered"
            screen.query_one("#body", TextArea).text = "For both of you.\n"
            fill(small_tmpfs)
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            error = screen.query_one("#compose-error", Static)
            await wait_until(pilot, lambda: "not reached" in str(error.content), timeout=30)
            assert app.screen is screen
            assert later in str(error.content) and "No space left" in str(error.content)
            assert screen.query_one("#to", Input).value == ""  # the friend has it
            assert screen.query_one("#cc", Input).value == later
            assert screen.query_one("#body", TextArea).text == "For both of you.\n"
    finally:
        sandbox.clear_smtp_rules()
    assert fetch_inbox(friend, "Half")


async def test_closing_on_a_full_disk_never_offers_leave_it_here(
    sandbox: Any, mail_user: Any, small_tmpfs: Path
) -> None:
    """ "Leave it here" promised a draft on disk that could not be written: the message was lost."""
    from widgets.dialogs import ChoiceDialog

    data_dir = small_tmpfs / "data"
    app = make_app(mail_user, data_dir)
    async with composing(app) as (pilot, screen):
        screen.query_one("#to", Input).value = "ann@example.com"
        screen.query_one("#body", TextArea).text = "Only on this screen.\n"
        fill(small_tmpfs)
        await pilot.press("escape")
        dialog = await shown(pilot, app, ChoiceDialog)
        assert "could not be saved on disk" in dialog.question
        assert [key for key, _ in dialog.choices] == ["p", "d"]
        await pilot.press("l")
        await pilot.pause(0.2)
        assert app.screen is dialog  # not a choice here
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#body", TextArea).text == "Only on this screen.\n"


# -- item 11: where the reply's cursor starts ----------------------------------------------------

ORIGINAL = (
    b"From: Ann Example <ann@example.org>\r\nTo: someone@localhost\r\nSubject: Lunch\r\n"
    b"Date: Thu, 26 Nov 2026 12:00:00 +0000\r\nMessage-ID: <lunch-1@example.org>\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nLunch at noon?\r\n"
)


async def reply_and_type(pilot: Any, app: TermailApp) -> list[str]:
    await wait_until(pilot, lambda: list_filled(app))
    app.screen.query_one(MessageList).focus()
    await pilot.press("r")
    screen: ComposeScreen = await wait_until(
        pilot,
        lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
    )
    body = screen.query_one("#body", TextArea)
    await wait_until(pilot, lambda: app.focused is body)
    await type_text(pilot, "Sounds good.")
    return body.text.split("\n")


async def test_reply_cursor_starts_below_the_quote(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, ORIGINAL)
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        lines = await reply_and_type(pilot, app)
    assert lines[0].endswith("Ann Example wrote:")
    assert lines[1] == "> Lunch at noon?"
    assert lines[2] == "" and lines[3] == "Sounds good."


async def test_reply_cursor_starts_above_with_reply_position_top(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, ORIGINAL)
    app = make_app(mail_user, tmp_path / "data", ui=UiSettings(reply_position="top"))
    async with app.run_test(size=(120, 35)) as pilot:
        lines = await reply_and_type(pilot, app)
    assert lines[0] == "Sounds good." and lines[1] == ""
    assert lines[2].endswith("Ann Example wrote:") and lines[3] == "> Lunch at noon?"


# -- item 17: quit asks first --------------------------------------------------------------------


async def test_quit_with_mail_in_the_outbox_asks(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    outbox = Outbox(data_dir)
    outbox.add(b"Subject: waiting\r\n\r\nx\r\n", mail_user.address, ["a@b.org"], "x")
    refused = outbox.add(b"Subject: no\r\n\r\nx\r\n", mail_user.address, ["c@d.org"], "x")
    outbox.mark_attempt(refused, "550 no such user", permanent=True)
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        app.screen.query_one(MessageList).focus()
        await pilot.press("q")
        dialog = await shown(pilot, app, ConfirmDialog)
        assert "1 message waits in the outbox" in str(dialog.question)
        assert "1 message was refused" in str(dialog.question)
        await pilot.press("q")  # again: one question, not two
        await pilot.pause(0.2)
        assert app.screen is dialog and len(app.screen_stack) == 3
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is main)
        assert app.is_running
        await pilot.press("q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)


async def test_quit_while_writing_asks_and_keeps_the_draft(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with composing(app) as (pilot, screen):
        screen.query_one("#subject", Input).value = "Half written"
        await pilot.press("ctrl+q")
        dialog = await shown(pilot, app, ConfirmDialog)
        assert "writing" in str(dialog.question)
        assert list((data_dir / "drafts").glob("*.json"))  # kept before the question
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.query_one("#subject", Input).value == "Half written"
        await pilot.press("ctrl+q")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)


async def test_quit_with_nothing_left_behind_does_not_ask(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        app.screen.query_one(MessageList).focus()
        await pilot.press("q")
        await wait_until(pilot, lambda: not app.is_running)


async def test_ctrl_c_asks_whether_to_quit_as_mutt_does(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """ctrl+c showed Textual's notice with its markup literally ("Press [b]q[/b] to quit the
    app"): now it asks "Quit termail?" (mutt's ^C), once however often it is pressed."""
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        main = app.screen
        app.screen.query_one(MessageList).focus()
        await pilot.press("ctrl+c")
        dialog = await shown(pilot, app, ConfirmDialog)
        assert str(dialog.question) == "Quit termail?"
        await pilot.press("ctrl+c")  # again: one question, not two
        await pilot.pause(0.2)
        assert app.screen is dialog
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is main)
        assert app.is_running
        await pilot.press("ctrl+c")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not app.is_running)


# -- issue 13 item 2: markup in the From line ----------------------------------------------------

HOSTILE_NAMES = [
    "[@click=app.screenshot('x.svg','/tmp/d')]Verify sender[/]",
    "[b red]x[/b]",
    "[@click=app.quit]quit[/]",
]


def plain(widget: Static) -> str:
    visual = widget.visual
    return str(getattr(visual, "plain", visual))


@pytest.mark.parametrize("name", HOSTILE_NAMES)
async def test_from_line_markup_is_shown_as_written(
    sandbox: Any, mail_user: Any, tmp_path: Path, name: str
) -> None:
    app = make_app(mail_user, tmp_path / "data", name=name)
    async with app.run_test(size=(140, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        await pilot.pause(0.2)
        sender = screen.query_one("#from", Static)
        assert isinstance(sender.content, Text)
        assert name in plain(sender)
        assert "@click" not in str(sender.content.spans)  # no live action
        await pilot.click("#from")
        await pilot.pause(0.2)
        assert app.is_running and app.screen is screen


async def test_from_choice_markup_is_shown_as_written(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    identities = [
        Identity(HOSTILE_NAMES[1], mail_user.address),
        Identity(HOSTILE_NAMES[0], f"other-{mail_user.name}@localhost"),
    ]
    app = make_app(mail_user, tmp_path / "data", identities=identities)
    async with app.run_test(size=(140, 35)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        await pilot.pause(0.3)
        from tests.ui.apps.screen import screen_text

        shown = screen_text(app)
        assert "[b red]x[/b]" in shown
        assert app.is_running and app.screen is screen


# -- issue 13 item 7: bidi and invisible characters stay out of a reply --------------------------

HOSTILE = (
    "From: \u202eevil\u202c Name <evil@example.org>\r\n"
    "To: someone@localhost\r\n"
    "Subject: pay \u202egpj.exe\u202c now\u200b\r\n"
    "Date: Thu, 26 Nov 2026 12:00:00 +0000\r\nMessage-ID: <bidi-1@example.org>\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n\r\n"
    "Open invoice\u202etxt.exe\u202c please\u2066 \u2060\ufeffnow\r\n"
).encode()
INVISIBLE = "\u202e\u202c\u2066\u200b\u2060\ufeff"


async def test_reply_carries_no_bidi_or_invisible_character(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, HOSTILE)
    friend = sandbox.add_user(mail_user.name + "b")
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 35)) as pilot:
        await wait_connected(pilot, app)
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        app.screen.query_one(MessageList).focus()
        await pilot.press("r")
        screen: ComposeScreen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        to = screen.query_one("#to", Input).value
        subject = screen.query_one("#subject", Input).value
        body = screen.query_one("#body", TextArea).text
        assert to == "evil Name <evil@example.org>"
        assert subject == "Re: pay gpj.exe now"
        assert "> Open invoicetxt.exe please now" in body
        assert not any(ch in to + subject + body for ch in INVISIBLE)
        screen.query_one("#to", Input).value = friend.address  # send it to someone we can read
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is main, timeout=30)
    arrived: list[bytes] = []
    for _ in range(50):
        arrived = fetch_inbox(friend, "gpj")
        if arrived:
            break
        await_time = 0.1
        import time

        time.sleep(await_time)
    assert len(arrived) == 1
    msg = email.message_from_bytes(arrived[0], policy=email.policy.default)
    text = str(msg["Subject"]) + msg.get_body().get_content()  # type: ignore[union-attr]
    assert not any(ch in text for ch in INVISIBLE)


# -- a key pressed twice fast in a question -----------------------------------------------------


async def test_y_twice_on_send_sends_once_and_keeps_the_screens(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Both answers reach the dialog before it is gone (keys typed fast): the second one must
    not pop the compose screen below it."""
    target = f"later-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(451, recipient=target)  # queued: the send ends at once
    app = make_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(120, 35)) as pilot:
            await wait_connected(pilot, app)
            main = app.screen
            screen = await open_compose(pilot, app)
            screen.query_one("#to", Input).value = target
            await pilot.press("ctrl+s")
            dialog = await shown(pilot, app, ConfirmDialog)
            for _ in range(3):
                dialog.action_answer(True)
            await wait_until(pilot, lambda: app.screen is main, timeout=30)
            await pilot.pause(0.3)
            assert app.is_running and app.screen is main and len(app.screen_stack) == 2
            assert len(Outbox(tmp_path / "data").list()) == 1
    finally:
        sandbox.clear_smtp_rules()


async def test_keys_typed_fast_into_the_draft_question_do_not_end_the_app(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """Seen in tmux: the "unsent draft found" question got "later@..." typed at it; each queued
    choice key dismissed it again, and the last one raised ScreenStackError."""
    from textual import events

    from widgets.dialogs import ChoiceDialog

    data_dir = tmp_path / "data"
    app = make_app(mail_user, data_dir)
    async with composing(app) as (pilot, screen):
        screen.query_one("#subject", Input).value = "Left behind"
        assert screen.keep_locally()
    app = make_app(mail_user, data_dir)
    async with app.run_test(size=(120, 35)) as pilot:
        dialog = await shown(pilot, app, ChoiceDialog)
        for ch in "lold":
            dialog.post_message(events.Key(ch, ch))
        await pilot.pause(0.5)
        assert app.is_running and not isinstance(app.screen, ChoiceDialog)
        assert list((data_dir / "drafts").glob("*.json"))  # "l": later, kept
