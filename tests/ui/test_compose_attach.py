"""Attaching in the compose screen (typed path with Tab completion, the file picker) and the
warning for a message over the server's SIZE, against the sandbox; the pure parts without it."""

from __future__ import annotations

import email
import email.policy
import os
import time
from pathlib import Path
from typing import Any

import pytest
from rich.text import Text
from textual.widgets import Static

from app.mime.compose import Attachment, Draft, Identity, build_message, message_bytes
from app.screens.compose import ComposeScreen
from app.smtp.sending import (
    SizeLimits,
    encoded_attachment_size,
    estimate_message_size,
    learn_size_limit,
)
from tests.ui.test_app_sandbox import wait_connected, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox, make_app, open_compose
from widgets.dialogs import ConfirmDialog
from widgets.file_picker import AttachTree, FilePicker, remember_folder
from widgets.path_input import (
    PathInput,
    PathPrompt,
    candidates_text,
    complete_path,
    unreadable_reason,
)

pytestmark = pytest.mark.ui
sandboxed = pytest.mark.integration

SANDBOX_SIZE = 33_554_432
"""aiosmtpd's default data_size_limit, which the sandbox's submission server announces."""


# -- completion and checks, no screen ------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in ("report-2023.pdf", "report-2024.pdf", "notes.txt", ".hidden-rc", ".history"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "photos").mkdir()
    (tmp_path / ".config").mkdir()
    return tmp_path


def test_tab_fills_the_longest_common_prefix_and_lists_the_matches(folder: Path) -> None:
    done = complete_path(f"{folder}/rep")
    assert done.text == f"{folder}/report-202"
    assert done.candidates == ["report-2023.pdf", "report-2024.pdf"]
    assert done.error is None


def test_a_single_match_is_completed_and_folders_end_with_a_slash(folder: Path) -> None:
    assert complete_path(f"{folder}/ph").text == f"{folder}/photos/"
    assert complete_path(f"{folder}/no").text == f"{folder}/notes.txt"
    listing = complete_path(f"{folder}/")
    assert listing.text == f"{folder}/"
    assert listing.candidates == ["notes.txt", "photos/", "report-2023.pdf", "report-2024.pdf"]


def test_hidden_entries_only_when_the_typed_part_starts_with_a_dot(folder: Path) -> None:
    assert not any(c.startswith(".") for c in complete_path(f"{folder}/").candidates)
    dotted = complete_path(f"{folder}/.")
    assert dotted.candidates == [".config/", ".hidden-rc", ".history"]
    assert dotted.text == f"{folder}/."
    assert complete_path(f"{folder}/.hi").text == f"{folder}/.hi"  # .hidden-rc, .history
    assert complete_path(f"{folder}/.c").text == f"{folder}/.config/"


def test_tilde_expands_and_relative_paths_start_at_cwd(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(folder))
    assert complete_path("~/rep").text == f"{folder}/report-202"
    assert complete_path("~").candidates == complete_path(f"{folder}/").candidates
    relative = complete_path("ph", cwd=folder)
    assert relative.text == "photos/"  # stays relative, as typed


def test_no_match_and_unreadable_folders_are_reported_not_raised(folder: Path) -> None:
    nothing = complete_path(f"{folder}/zzz")
    assert nothing.text == f"{folder}/zzz" and nothing.error == "no match"
    missing = complete_path(f"{folder}/nowhere/x")
    assert missing.error is not None and "cannot list" in missing.error
    assert complete_path("~no-such-user-here/x").error is not None


def test_candidate_names_are_shown_as_sanitized_text(tmp_path: Path) -> None:
    for name in ("[bold]x", "[@click=app.quit]y", "z\x1b[2Jz"):
        (tmp_path / name).write_bytes(b"")
    shown = candidates_text(complete_path(f"{tmp_path}/"))
    assert isinstance(shown, Text)
    assert "[bold]x" in shown.plain and "[@click=app.quit]y" in shown.plain
    assert "\x1b" not in shown.plain


def test_the_prefix_covers_matches_past_the_listing_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import widgets.path_input as path_input

    monkeypatch.setattr(path_input, "MAX_CANDIDATES", 3)
    for i in range(10):
        (tmp_path / f"img-00{i}.png").write_bytes(b"")
    (tmp_path / "img-1.png").write_bytes(b"")
    done = complete_path(f"{tmp_path}/im")
    assert done.text == f"{tmp_path}/img-"  # not "img-00", though the first listed may say so
    assert len(done.candidates) == 3 and done.total == 11
    assert "and 8 more" in candidates_text(done, limit=3).plain


def test_unreadable_reasons(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    (tmp_path / "ok.txt").write_bytes(b"fine")
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    assert unreadable_reason(tmp_path / "ok.txt") is None
    assert unreadable_reason(tmp_path) == "it is a folder"
    assert "not a regular file" in (unreadable_reason(fifo) or "")
    assert unreadable_reason(tmp_path / "missing") == "no such file"
    assert unreadable_reason(tmp_path / "dangling") == "no such file"


# -- the size estimate and the remembered limit ----------------------------------------------------


@pytest.mark.parametrize(
    "body,sizes",
    [
        ("Hello\n", []),
        ("Grüße, schöne Welt = ünïcödé\n" * 300, [0, 1, 2, 3]),
        ("x" * 2000 + "\n", [57, 76 * 3, 100_000]),
        ("short", [1_000_000, 3]),
    ],
)
def test_the_estimate_is_on_the_safe_side_and_close(body: str, sizes: list[int]) -> None:
    draft = Draft(
        Identity("Zoë", "zoe@example.org"),
        to=["bob@example.org"],
        subject="size",
        body=body,
        attachments=[Attachment(f"f{i}.bin", os.urandom(n)) for i, n in enumerate(sizes)],
    )
    actual = len(message_bytes(build_message(draft, message_id_domain="example.org")))
    estimate = estimate_message_size(body, sizes)
    assert actual <= estimate <= actual * 1.02 + 4096


def test_base64_size_is_about_four_thirds() -> None:
    assert encoded_attachment_size(0) == 0
    assert encoded_attachment_size(57) == 76 + 2
    assert 1.36 < encoded_attachment_size(3_000_000) / 3_000_000 < 1.37  # 4/3 and CRLFs


async def test_the_limit_is_probed_once_then_remembered() -> None:
    from app.models import ServerSettings, TlsMode

    class FakeAccount:
        name = "probe-once"
        smtp_settings = ServerSettings("smtp.example.org", 587, "me", TlsMode.STARTTLS)

    calls: list[ServerSettings] = []

    async def prober(settings: ServerSettings, credentials: object) -> int | None:
        calls.append(settings)
        return 1000

    limits = SizeLimits()
    account = FakeAccount()
    assert not limits.known(account)
    assert await learn_size_limit(account, limits=limits, prober=prober) == 1000
    assert await learn_size_limit(account, limits=limits, prober=prober) == 1000
    assert len(calls) == 1
    limits.remember(account, None)  # the server no longer announces one
    assert limits.known(account) and limits.get(account) is None


async def test_a_send_teaches_the_limit(tmp_path: Path) -> None:
    """No probe needed after a send: its EHLO answer (or a refusal's figure) is remembered."""
    from app.models import Credentials, ServerSettings, TlsMode
    from app.smtp.outbox import Outbox
    from app.smtp.sending import SIZE_LIMITS, send_draft
    from app.smtp.submit import MessageTooLarge, SendResult

    class FakeAccount:
        name = f"taught-{os.getpid()}-{time.monotonic_ns()}"
        smtp_settings = ServerSettings("smtp.example.org", 587, "me", TlsMode.STARTTLS)
        data_dir = tmp_path

        def smtp_credentials(self) -> Credentials:
            return Credentials("me", password="pw")

        def folder_by_role(self, role: object) -> None:
            return None

    account = FakeAccount()
    draft = Draft(Identity("Me", "me@example.org"), to=["you@example.org"], body="hi\n")

    async def accepted(data: bytes, *args: object) -> SendResult:
        return SendResult(accepted=["you@example.org"], size_limit=5_000_000)

    async def too_large(data: bytes, *args: object) -> SendResult:
        raise MessageTooLarge("too large", None, size=len(data), limit=10)

    outbox = Outbox(tmp_path / "outbox")
    assert not SIZE_LIMITS.known(account)
    outcome = await send_draft(account, draft, outbox=outbox, sender=accepted)
    assert outcome.sent and SIZE_LIMITS.get(account) == 5_000_000
    outcome = await send_draft(account, draft, outbox=outbox, sender=too_large)
    assert not outcome.sent and not outcome.queued and SIZE_LIMITS.get(account) == 10
    SIZE_LIMITS.forget(account)


async def test_file_picker_keys_hidden_files_parent_folder_and_safe_names(tmp_path: Path) -> None:
    from textual.app import App

    inner = tmp_path / "inner"
    inner.mkdir()
    (inner / ".dotfile").write_bytes(b"hidden")
    (inner / "bad\x1b[2Jname.txt").write_bytes(b"shown safely")
    (inner / "[@click=app.quit]q.txt").write_bytes(b"not an action")
    os.mkfifo(inner / "fifo")
    attached: list[Path] = []

    def on_pick(path: Path) -> str | None:
        attached.append(path)
        return None

    results: list[list[Path]] = []

    class PickerApp(App[None]):
        def on_mount(self) -> None:
            self.push_screen(FilePicker(inner, on_pick=on_pick), results.append)

    app = PickerApp()
    async with app.run_test(size=(120, 30)) as pilot:
        picker = await wait_until(pilot, lambda: isinstance(app.screen, FilePicker) and app.screen)
        tree = picker.query_one(AttachTree)
        await wait_until(pilot, lambda: len(tree.root.children) == 3)
        labels = {str(node.label) for node in tree.root.children}
        assert "[@click=app.quit]q.txt" in labels  # literal, never markup
        assert not any("\x1b" in label for label in labels)  # the ESC is replaced
        await pilot.press("full_stop")  # show hidden files
        await wait_until(pilot, lambda: len(tree.root.children) == 4)
        assert ".dotfile" in {str(node.label) for node in tree.root.children}
        for node in tree.root.children:
            if node.data and node.data.path.name in ("fifo", ".dotfile"):
                tree.move_cursor(node, animate=False)
                await pilot.pause()
                await pilot.press("enter")
        await wait_until(pilot, lambda: attached == [inner / ".dotfile"])
        await wait_until(pilot, lambda: "fifo" in _static_text(picker, "#picker-error"))
        assert "not a regular file" in _static_text(picker, "#picker-error")
        assert ".dotfile" in _static_text(picker, "#picker-status")
        await pilot.press("backspace")  # up to the parent folder
        await wait_until(pilot, lambda: Path(tree.path) == tmp_path)
        await wait_until(
            pilot, lambda: "inner/" in {str(n.label) + "/" for n in tree.root.children}
        )
        await pilot.press("escape")
        await wait_until(pilot, lambda: results)
    assert results == [[inner / ".dotfile"]]


# -- the compose screen against the sandbox -------------------------------------------------------


def _static_text(screen: Any, selector: str) -> str:
    content = screen.query_one(selector, Static).render()
    return content.plain if isinstance(content, Text) else str(content)


@sandboxed
async def test_tab_completion_in_the_attach_prompt(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    (files / "notes-a.txt").write_bytes(b"first")
    (files / "notes-b.txt").write_bytes(b"second")
    (files / "sub").mkdir()
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        await pilot.press("ctrl+t")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PathPrompt) and app.screen)
        field = prompt.query_one(PathInput)
        field.value = f"{files}/no"
        field.cursor_position = len(field.value)
        await pilot.press("tab")
        await wait_until(pilot, lambda: field.value == f"{files}/notes-")
        assert app.focused is field  # Tab completed instead of moving the focus
        shown = _static_text(prompt, "#path-candidates")
        assert "notes-a.txt" in shown and "notes-b.txt" in shown
        await pilot.press("b", "tab")
        await wait_until(pilot, lambda: field.value == f"{files}/notes-b.txt")
        # Enter on a folder is refused with the reason; the prompt stays.
        field.value = f"{files}/su"
        await pilot.press("tab")
        await wait_until(pilot, lambda: field.value == f"{files}/sub/")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "it is a folder" in _static_text(prompt, "#path-error"))
        assert app.screen is prompt
        field.value = f"{files}/notes-b.txt"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.draft.attachments == [files / "notes-b.txt"]
        assert "notes-b.txt" in str(
            screen.query_one("#attachments").children[0].query_one("Label").render()
        )


@sandboxed
async def test_picker_attaches_two_files_that_arrive_byte_identical(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    from app.smtp.sending import SIZE_LIMITS

    friend = sandbox.add_user(mail_user.name + "p")
    files = tmp_path / "pick"
    files.mkdir()
    first = files / "[b]Überblick.bin"  # markup-like and non-ASCII: shown literally
    second = files / "data.bin"
    payloads = {first.name: os.urandom(40_000), second.name: os.urandom(7_777)}
    first.write_bytes(payloads[first.name])
    second.write_bytes(payloads[second.name])
    os.mkfifo(files / "pipe")
    remember_folder(files)  # the picker opens at the folder used last
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        screen.query_one("#to").value = friend.address
        screen.query_one("#subject").value = "Picked files"
        screen.query_one("#body").text = "Two files attached.\n"
        await pilot.press("ctrl+f")
        picker = await wait_until(pilot, lambda: isinstance(app.screen, FilePicker) and app.screen)
        tree = picker.query_one(AttachTree)
        await wait_until(pilot, lambda: len(tree.root.children) == 3)
        nodes = {node.data.path.name: node for node in tree.root.children if node.data}
        labels = [str(node.label) for node in tree.root.children]
        assert first.name in labels  # the literal name, not markup

        async def choose(name: str) -> None:
            tree.focus()
            tree.move_cursor(nodes[name], animate=False)
            await pilot.pause()
            await pilot.press("enter")

        await choose(first.name)
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 1)
        await choose("pipe")
        await wait_until(
            pilot, lambda: "not a regular file" in _static_text(picker, "#picker-error")
        )
        await choose(second.name)
        await wait_until(pilot, lambda: len(screen.draft.attachments) == 2)
        await choose(second.name)  # twice: refused, not attached again
        await wait_until(pilot, lambda: "already" in _static_text(picker, "#picker-error"))
        assert "data.bin" in _static_text(picker, "#picker-status")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert screen.draft.attachments == [first, second]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
        # The send taught the app the server's limit (it was probed already, and agrees).
        assert SIZE_LIMITS.get(screen.account) == SANDBOX_SIZE
    arrived: list[bytes] = []
    for _ in range(50):
        arrived = fetch_inbox(friend, "Picked")
        if arrived:
            break
        time.sleep(0.1)
    assert len(arrived) == 1
    msg = email.message_from_bytes(arrived[0], policy=email.policy.default)
    got = {part.get_filename(): part.get_payload(decode=True) for part in msg.iter_attachments()}
    assert got == payloads


@sandboxed
async def test_size_warning_while_composing_and_send_refused(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    friend = sandbox.add_user(mail_user.name + "s")
    big = tmp_path / "huge.iso"
    with open(big, "wb") as f:
        f.truncate(25 * 1024 * 1024)  # sparse: 25 MiB raw, about 33.8 MiB encoded
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_connected(pilot, app)
        screen = await open_compose(pilot, app)
        await wait_until(pilot, lambda: screen.size_limit == SANDBOX_SIZE)
        size_line = screen.query_one("#compose-size", Static)
        assert not size_line.display
        screen.query_one("#to").value = friend.address
        screen.query_one("#subject").value = "Too big"
        await pilot.press("ctrl+t")
        prompt = await wait_until(pilot, lambda: isinstance(app.screen, PathPrompt) and app.screen)
        prompt.query_one(PathInput).value = str(big)
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen and size_line.display)
        warning = _static_text(screen, "#compose-size")
        assert "33,554,432 bytes" in warning  # the server's figure
        assert f"{screen.estimated_size:,} bytes" in warning  # and the message's
        assert screen.estimated_size > SANDBOX_SIZE
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: "Not sent" in _static_text(screen, "#compose-error"))
        assert "33,554,432" in _static_text(screen, "#compose-error")
        assert app.screen is screen  # refused at once: no confirmation, nothing sent
        screen.query_one("#attachments").focus()
        await pilot.press("ctrl+r")
        await wait_until(pilot, lambda: not screen.draft.attachments and not size_line.display)
    assert fetch_inbox(friend, "big") == []
