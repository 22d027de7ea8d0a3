"""Issue 20 (h4 part): the command palette's mail actions, focus after search, next/previous
message in the viewer, next unread across folders, H on an HTML-only message, the raw view,
\\Answered after a reply, the outbox rows. Each driven through the app against the sandbox."""

from __future__ import annotations

from typing import Any

import pytest

from app.sandbox.demo import load_demo
from tests.ui.test_app_sandbox import (
    imap,
    list_filled,
    make_app,
    message_list,
    wait_until,
)
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui]


async def _type(pilot: Any, text: str) -> None:
    for ch in text:
        await pilot.press({" ": "space", "/": "slash", ":": "colon"}.get(ch, ch))


def _palette_hits(app: Any) -> list[str]:
    from textual.command import CommandList

    found = app.screen.query(CommandList)
    if not found:
        return []
    commands = found.first()
    return [str(commands.get_option_at_index(i).prompt) for i in range(commands.option_count)]


# -- 6: the command palette ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "wanted"),
    [("forw", "Forward"), ("Delete", "Delete"), ("sort", "Sort"), ("raw", "Raw source")],
)
async def test_palette_lists_the_mail_actions(
    sandbox: Any, mail_user: Any, query: str, wanted: str
) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await pilot.press("ctrl+p")
        await _type(pilot, query)
        hits = await wait_until(pilot, lambda: _palette_hits(app))
        assert any(wanted in hit for hit in hits), hits
        # The key is shown with it.
        assert any("key:" in hit for hit in hits if wanted in hit), hits


async def test_palette_command_runs_on_the_screen_below(sandbox: Any, mail_user: Any) -> None:
    from app.screens.main import MainScreen

    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(120, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        screen = app.screen
        assert isinstance(screen, MainScreen)
        ml = message_list(app)
        ml.focus()
        await pilot.press("g")
        uid = ml.cursor_uid
        assert uid is not None and not ml.summary(uid).flagged
        await pilot.press("ctrl+p")
        await _type(pilot, "Flag")
        await wait_until(pilot, lambda: any("Flag" in h for h in _palette_hits(app)))
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_until(pilot, lambda: ml.summary(uid) is not None and ml.summary(uid).flagged)


# -- 9: focus after search -----------------------------------------------------------------------


@pytest.mark.parametrize("query", ["", "(from:x", "subject:nosuchthingatall"])
async def test_escape_from_search_returns_to_the_list(
    sandbox: Any, mail_user: Any, query: str
) -> None:
    load_demo(sandbox, mail_user.name)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("g")
        await pilot.press("slash")
        await _type(pilot, query)
        if query:
            await pilot.press("enter")
            status = app.screen.query_one("#status")
            await wait_until(
                pilot,
                lambda: (
                    app.screen.query_one("#query").has_class("-error")
                    or "match" in str(status.message)
                ),
            )
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert ml.has_focus, app.screen.focused
        before = ml.cursor_row
        await pilot.press("j")
        await pilot.pause(0.1)
        assert ml.cursor_row == min(before + 1, ml.row_count - 1) and ml.cursor_row != before


# -- 13: \Answered shown after a reply -----------------------------------------------------------


def _row_text(ml: Any, uid: int) -> str:
    row = list(ml.uids).index(uid)
    strip = ml.render_line(row - int(ml.scroll_offset.y))
    return "".join(segment.text for segment in strip)


async def test_reply_shows_answered_in_the_list(
    sandbox: Any, mail_user: Any, tmp_path: Any
) -> None:
    from app.screens.compose import ComposeScreen
    from tests.ui.test_compose_sandbox import make_app as make_compose_app
    from widgets.dialogs import ConfirmDialog

    friend = sandbox.add_user(mail_user.name + "r")
    sandbox.deliver(
        mail_user.name,
        f"Subject: ping\r\nFrom: {friend.address}\r\nMessage-ID: <p1@x>\r\n\r\nhi\r\n".encode(),
    )
    app = make_compose_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        main = app.screen
        ml = message_list(app)
        ml.focus()
        await pilot.press("g")
        uid = ml.cursor_uid
        assert uid is not None and _row_text(ml, uid)[3] == " "
        await pilot.press("r")
        await wait_until(pilot, lambda: isinstance(app.screen, ComposeScreen))
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is main, timeout=30)
        conn = imap(mail_user)
        conn.select("INBOX")
        _, data = conn.uid("FETCH", str(uid), "(FLAGS)")
        conn.logout()
        assert b"\\Answered" in data[0]  # the server has it: the list must show it too
        await wait_until(pilot, lambda: _row_text(ml, uid)[3] == "r")


# -- 12: the outbox rows ---------------------------------------------------------------------------


async def test_outbox_row_has_the_subject_and_the_code_once_and_leaves_when_sent(
    sandbox: Any, mail_user: Any, tmp_path: Any
) -> None:
    from textual.widgets import OptionList

    from app.screens.outbox import OutboxScreen
    from tests.ui.test_compose_sandbox import make_app as make_compose_app
    from tests.ui.test_compose_sandbox import open_compose
    from widgets.dialogs import ConfirmDialog

    target = f"later-{mail_user.name}@example.com"
    sandbox.force_smtp_reply(451, recipient=target, times=1)
    app = make_compose_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(140, 40)) as pilot:
            await wait_until(
                pilot, lambda: app.screen.query_one("#status").connection == "connected"
            )
            main = app.screen
            screen = await open_compose(pilot, app)
            screen.query_one("#to").value = target
            screen.query_one("#subject").value = "Grüße, later"
            screen.query_one("#body").text = "Queued.\n"
            await pilot.press("ctrl+s")
            await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
            await pilot.press("y")
            await wait_until(pilot, lambda: app.screen is main, timeout=30)
            await pilot.press("O")
            outbox = await wait_until(
                pilot, lambda: isinstance(app.screen, OutboxScreen) and app.screen
            )
            options = outbox.query_one(OptionList)
            text = str(options.get_option_at_index(0).prompt)
            assert "Grüße, later" in text, text
            assert "451" in text and "451 451" not in text, text
            await pilot.press("r")  # the rule was for one try: this one is taken
            await wait_until(pilot, lambda: outbox.outbox.list() == [], timeout=30)
            await wait_until(pilot, lambda: "empty" in str(options.get_option_at_index(0).prompt))
            assert options.option_count == 1
    finally:
        sandbox.clear_smtp_rules()


# -- 18: next / previous message from the viewer, next unread across folders ----------------------


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
async def test_J_and_K_open_the_next_and_previous_message_from_the_viewer(
    sandbox: Any, mail_user: Any, size: Any
) -> None:
    for n in range(3):
        sandbox.deliver(
            mail_user.name,
            f"Subject: number {n}\r\nFrom: a@b.c\r\nDate: Mon, {n + 1} Jun 2026 10:00:00 +0000"
            f"\r\n\r\nbody {n}\r\n".encode(),
        )
    app = make_app(mail_user)
    async with app.run_test(size=size) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("g", "enter")
        viewer = app.screen.query_one(MessageView)
        await wait_until(pilot, lambda: viewer.rendered is not None)
        first = viewer.rendered.subject
        viewer.body.focus()  # reading: the viewer has the focus
        await pilot.press("J")
        await wait_until(pilot, lambda: viewer.rendered and viewer.rendered.subject != first)
        second = viewer.rendered.subject
        assert ml.cursor_row == 1 and viewer.body.has_focus
        await pilot.press("J")
        await wait_until(pilot, lambda: viewer.rendered and viewer.rendered.subject != second)
        await pilot.press("J")  # the last one: says so, stays
        await pilot.pause(0.3)
        assert ml.cursor_row == 2
        await pilot.press("K", "K")
        await wait_until(pilot, lambda: viewer.rendered and viewer.rendered.subject == first)
        assert ml.cursor_row == 0


async def test_ctrl_n_opens_the_next_folder_with_unread_mail(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, b"Subject: read one\r\nFrom: a@b.c\r\n\r\nx\r\n", flags="S")
    sandbox.deliver(mail_user.name, b"Subject: old list\r\nFrom: l@b.c\r\n\r\nx\r\n", "Lists", "S")
    sandbox.deliver(mail_user.name, b"Subject: fresh list\r\nFrom: l@b.c\r\n\r\ny\r\n", "Lists")
    sandbox.deliver(mail_user.name, b"Subject: junk\r\nFrom: j@b.c\r\n\r\nz\r\n", "Trash")
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        await wait_until(pilot, lambda: app.screen.account.folder("Lists") is not None)
        await pilot.press("ctrl+n")
        viewer = app.screen.query_one(MessageView)
        await wait_until(
            pilot, lambda: viewer.rendered is not None and viewer.rendered.subject == "fresh list"
        )
        assert app.screen.account.current.folder.name == "Lists"
        # Now nothing is unread outside Trash: it says so and stays.
        await wait_until(
            pilot,
            lambda: (s := message_list(app).summary(message_list(app).cursor_uid)) and s.seen,
        )
        await pilot.press("ctrl+n")
        await pilot.pause(1.0)
        assert app.screen.account.current.folder.name == "Lists"
        assert viewer.rendered.subject == "fresh list"


# -- 15 (viewer parts): H on an HTML-only message, the raw view --------------------------------


def _notices(app: Any) -> list[str]:
    return [str(n.message) for n in app._notifications]


HTML_ONLY = (
    b"Subject: only html\r\nFrom: h@b.c\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n<p>Hello <b>there</b></p>\r\n"
)


async def test_H_on_an_html_only_message_says_so(sandbox: Any, mail_user: Any) -> None:
    sandbox.deliver(mail_user.name, HTML_ONLY)
    app = make_app(mail_user)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("g", "enter")
        viewer = app.screen.query_one(MessageView)
        await wait_until(pilot, lambda: viewer.rendered is not None)
        await pilot.press("H")  # to HTML: it is HTML already, there is nothing else
        await wait_until(
            pilot, lambda: any("Only an HTML part: shown as text" in n for n in _notices(app))
        )
        assert not any("text part" in n for n in _notices(app))  # no promise of a text part
        assert "Hello" in viewer.body.text


async def test_raw_view_shows_the_headers_once_wrapped_and_V_goes_back(
    sandbox: Any, mail_user: Any
) -> None:
    long_line = " ".join(f"word{n}" for n in range(60))
    sandbox.deliver(
        mail_user.name,
        f"Subject: raw me\r\nFrom: r@b.c\r\nX-Long: {long_line}\r\n\r\n{long_line}\r\n".encode(),
    )
    app = make_app(mail_user)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: list_filled(app))
        ml = message_list(app)
        ml.focus()
        await pilot.press("g", "enter")
        viewer = app.screen.query_one(MessageView)
        await wait_until(pilot, lambda: viewer.rendered is not None)
        await pilot.press("V")
        await wait_until(pilot, lambda: viewer.raw_mode and "X-Long" in viewer.body.text)
        await pilot.pause(0.1)
        box = viewer.query_one("#mv-header-box")
        assert box.region.height == 0  # the rendered header block is not shown above the source
        body = viewer.body
        assert body.wrap
        lines = body.text.count("\n") + 1
        assert body.row_count > lines  # the long lines wrap instead of being cut
        await pilot.press("V")
        await wait_until(pilot, lambda: not viewer.raw_mode)
        assert viewer.rendered is not None and "X-Long" not in viewer.body.text
        assert box.region.height > 0
