"""Invitations and mailing lists against the sandbox, driven as a user would (issue 18).

The invitation's organizer, the list's post and unsubscribe addresses are sandbox users of
their own, so a REPLY, a list reply or an unsubscribe mail is checked where it arrives.
"""

from __future__ import annotations

import email
import email.policy
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import icalendar
import pytest
from textual.geometry import Region

from app.main import TermailApp
from app.sandbox.demo import invitation_message, list_message
from app.screens.compose import ComposeScreen
from tests.ui.test_app_sandbox import imap, list_filled, wait_until
from tests.ui.test_compose_sandbox import fetch_inbox, make_app
from widgets.dialogs import ConfirmDialog, PromptDialog
from widgets.invitation_view import InvitationCard, ListLine
from widgets.message_view import MessageView

pytestmark = [pytest.mark.integration, pytest.mark.ui]


def shown(widget: Any) -> str:
    """What a widget draws on the screen, as plain text lines."""
    region = Region(0, 0, widget.size.width, widget.size.height)
    return "\n".join(strip.text.rstrip() for strip in widget.render_lines(region))


async def open_first(pilot: Any, app: TermailApp) -> MessageView:
    await wait_until(pilot, lambda: list_filled(app))
    await pilot.press("g", "enter")
    viewer = app.screen.query_one(MessageView)
    await wait_until(pilot, lambda: viewer.rendered is not None)
    return viewer


def arrived(user: Any, word: str, count: int = 1) -> list[bytes]:
    found: list[bytes] = []
    for _ in range(100):
        found = fetch_inbox(user, word)
        if len(found) >= count:
            break
        time.sleep(0.1)
    return found


async def test_invitation_shown_and_accepted(
    sandbox: Any, mail_user: Any, tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setenv("TZ", "Europe/Berlin")
    organizer = sandbox.add_user(mail_user.name + "o")
    invite = invitation_message(organizer=organizer.address, attendee=mail_user.address)
    sandbox.deliver(mail_user.name, invite.as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(260, 50)) as pilot:
        await open_first(pilot, app)
        card = app.screen.query_one(InvitationCard)
        await wait_until(pilot, lambda: card.invitation is not None)
        text = shown(card)
        assert "Invitation: Weekly termail sync" in text
        # The organizer plans in New York; the user reads Berlin time, New York named.
        assert "Tue 01 Dec 2026 16:00–16:30 CET (10:00 America/New_York)" in text
        assert "weekly on Tuesday, 10 times" in text
        assert "Video call" in text
        assert f"Friend <{organizer.address}>" in text
        assert f"Demo User <{mail_user.address}> — not answered" in text
        assert "Mei Tanaka <mei@example.jp> — tentative" in text
        assert "Status of the release, open issues, next steps." in text
        assert "Y accept · M tentative · D decline" in text

        # Decline, then Esc at the question: nothing is sent.
        await pilot.press("D")
        await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, PromptDialog))

        await pilot.press("Y")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, PromptDialog) and app.screen
        )
        assert "Accepted: Weekly termail sync" in dialog.prompt_title
        dialog.query_one("Input").value = "Happy to join"
        await pilot.press("enter")
        await wait_until(pilot, lambda: not isinstance(app.screen, PromptDialog))
        await wait_until(
            pilot, lambda: any("Accepted sent" in str(n.message) for n in app._notifications)
        )
    replies = arrived(organizer, "Accepted")
    assert len(replies) == 1
    msg = email.message_from_bytes(replies[0], policy=email.policy.default)
    assert str(msg["Subject"]) == "Accepted: Weekly termail sync"
    calendars = [p for p in msg.walk() if p.get_content_type() == "text/calendar"]
    assert len(calendars) == 1 and calendars[0].get_param("method") == "REPLY"
    payload = calendars[0].get_payload(decode=True)
    assert isinstance(payload, bytes)
    cal = icalendar.Calendar.from_ical(payload)
    event = cal.walk("VEVENT")[0]
    assert str(cal["METHOD"]) == "REPLY"
    assert str(event["UID"]) == "weekly-sync-2026@demo.example"
    assert int(event["SEQUENCE"]) == 0
    assert event["ATTENDEE"].params["PARTSTAT"] == "ACCEPTED"
    assert str(event["ATTENDEE"]).lower() == f"mailto:{mail_user.address}".lower()
    assert str(event["COMMENT"]) == "Happy to join"
    conn = imap(mail_user)
    _, data = conn.status("Sent", "(MESSAGES)")
    conn.logout()
    assert b"MESSAGES 1" in data[0]  # the Sent copy, and only the accept (Esc sent nothing)


async def test_list_reply_goes_to_list_post(sandbox: Any, mail_user: Any, tmp_path: Path) -> None:
    the_list = sandbox.add_user(mail_user.name + "l")
    sandbox.deliver(mail_user.name, list_message(post=the_list.address).as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_first(pilot, app)
        line = app.screen.query_one(ListLine)
        assert "List: Textual users <textual-users.lists.example>" in shown(line)
        assert "L list-reply" in shown(line)
        await pilot.press("L")
        screen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert screen.query_one("#to").value == the_list.address
        assert screen.query_one("#cc").value == ""
        assert screen.query_one("#subject").value == "Re: [textual-users] Line API question"
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
    got = arrived(the_list, "Line")
    assert len(got) == 1
    msg = email.message_from_bytes(got[0], policy=email.policy.default)
    assert str(msg["To"]) == the_list.address


async def test_mailto_unsubscribe_arrives_at_the_list(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    the_list = sandbox.add_user(mail_user.name + "u")
    message = list_message(
        post=the_list.address,
        unsubscribe=f"<mailto:{the_list.address}?subject=unsubscribe%20me>",
    )
    sandbox.deliver(mail_user.name, message.as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_first(pilot, app)
        await pilot.press("U")
        screen = await wait_until(
            pilot,
            lambda: isinstance(app.screen, ComposeScreen) and app.screen.is_mounted and app.screen,
        )
        assert screen.query_one("#to").value == the_list.address
        assert screen.query_one("#subject").value == "unsubscribe me"
        assert fetch_inbox(the_list, "unsubscribe") == []  # nothing before the user sends
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        await wait_until(pilot, lambda: not isinstance(app.screen, ComposeScreen), timeout=30)
    assert len(arrived(the_list, "unsubscribe")) == 1


class _Counter(BaseHTTPRequestHandler):
    posts: list[bytes] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        type(self).posts.append(body)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        type(self).posts.append(b"GET")
        self.send_response(405)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def list_server() -> Iterator[tuple[str, type[_Counter]]]:
    class Handler(_Counter):
        posts: list[bytes] = []

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/unsub?u=7", Handler
    finally:
        server.shutdown()
        server.server_close()


async def test_one_click_unsubscribe_only_after_confirmation(
    sandbox: Any, mail_user: Any, tmp_path: Path, list_server: tuple[str, type[_Counter]]
) -> None:
    url, handler = list_server
    message = list_message(unsubscribe=f"<{url}>", one_click=True)
    sandbox.deliver(mail_user.name, message.as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(140, 40)) as pilot:
        await open_first(pilot, app)
        await pilot.press("U")
        dialog = await wait_until(
            pilot, lambda: isinstance(app.screen, ConfirmDialog) and app.screen
        )
        assert url in dialog.question  # the URL in full, before anything is sent
        await pilot.press("x")  # a wrong key: still asking, nothing sent
        await pilot.pause(0.2)
        assert isinstance(app.screen, ConfirmDialog) and handler.posts == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ConfirmDialog))
        await wait_until(pilot, lambda: any("Not unsubscribed" in str(n.message)
                                            for n in app._notifications))  # fmt: skip
        assert handler.posts == []
        await pilot.press("U")
        await wait_until(pilot, lambda: isinstance(app.screen, ConfirmDialog))
        await pilot.press("y")
        done = await wait_until(pilot, lambda: next((n for n in app._notifications
                                                     if "Unsubscribed" in str(n.message)), None))  # fmt: skip
        # The HTTP exchange is in the protocol log too, so the toast can point there.
        assert str(done.message).endswith("P: show in log")
        lines = [line.render() for line in app.accounts[0].protocol_log.snapshot()]
        assert any("http" in line and f"C: POST {url}" in line for line in lines)
        assert any("S: 200 Unsubscribed" in line for line in lines)
    assert handler.posts == [b"List-Unsubscribe=One-Click"]


async def test_i_draws_the_demo_png_in_half_blocks(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    from email.message import EmailMessage

    from app.sandbox.demo import png_bytes
    from widgets.image_view import ImageScreen

    msg = EmailMessage()
    msg["From"] = "Olga <olga@example.ru>"
    msg["To"] = mail_user.address
    msg["Subject"] = "The chart"
    msg.set_content("The chart is attached.\n")
    msg.add_attachment(png_bytes(), maintype="image", subtype="png", filename="chart.png")
    msg.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="n.csv")
    sandbox.deliver(mail_user.name, msg.as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(pilot, app)
        await pilot.press("i")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, ImageScreen) and app.screen)
        pixels = shown(screen.query_one("#image-pixels"))
        assert pixels.count("▄") == 32 * 16  # 32 x 32 pixels, two a cell
        assert "chart.png" in shown(screen.query_one("#image-title"))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ImageScreen))
        viewer = app.screen.query_one(MessageView)
        viewer.attachment_list.highlighted = 1  # the CSV: not an image, said so
        await pilot.press("i")
        await wait_until(
            pilot, lambda: any("is not an image" in str(n.message) for n in app._notifications)
        )
        assert not isinstance(app.screen, ImageScreen)


async def test_I_shows_the_cid_image_and_never_fetches_a_remote_one(
    sandbox: Any, mail_user: Any, tmp_path: Path, list_server: tuple[str, type[_Counter]]
) -> None:
    from email.message import EmailMessage

    from app.sandbox.demo import png_bytes
    from widgets.image_view import ImageScreen

    url, handler = list_server
    remote = url.replace("/unsub?u=7", "/track.png")
    msg = EmailMessage()
    msg["From"] = "Olga <olga@example.ru>"
    msg["To"] = mail_user.address
    msg["Subject"] = "Newsletter with a chart"
    msg.set_content("The chart is inline.\n")
    msg.add_alternative(
        f'<p>Chart:</p><img src="cid:chart@x"><img src="{remote}">'
        f'<img src="{remote.replace("http:", "https:")}">',
        subtype="html",
    )
    html = msg.get_payload()[1]
    html.add_related(png_bytes(), maintype="image", subtype="png", cid="<chart@x>")
    sandbox.deliver(mail_user.name, msg.as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(pilot, app)
        await pilot.press("I")
        screen = await wait_until(pilot, lambda: isinstance(app.screen, ImageScreen) and app.screen)
        assert shown(screen.query_one("#image-pixels")).count("▄") == 32 * 16
        assert not screen.query("#image-pixels-2")  # the remote images are not among them
        await pilot.press("escape")
        await wait_until(pilot, lambda: not isinstance(app.screen, ImageScreen))
        await pilot.pause(0.3)
    assert handler.posts == []  # no request ever reached the remote image's server


async def test_I_on_a_message_without_inline_images_says_so(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    sandbox.deliver(mail_user.name, list_message().as_bytes())
    app = make_app(mail_user, tmp_path / "data")
    async with app.run_test(size=(120, 40)) as pilot:
        await open_first(pilot, app)
        await pilot.press("I")
        await wait_until(
            pilot, lambda: any("no inline images" in str(n.message) for n in app._notifications)
        )


async def test_refused_invitation_answer_offers_the_log_at_its_error(
    sandbox: Any, mail_user: Any, tmp_path: Path
) -> None:
    """An answer the SMTP server refuses (550 at DATA): the toast says "P: show in log", and
    `P` opens the protocol log scrolled to that refusal, its class named, no password in it."""
    from textual.widgets import Static

    from app import protolog
    from tests.ui.test_protolog_ui import shown_rows
    from widgets.protocol_log import ProtocolLogScreen

    organizer = sandbox.add_user(mail_user.name + "r")
    invite = invitation_message(organizer=organizer.address, attendee=mail_user.address)
    sandbox.deliver(mail_user.name, invite.as_bytes())
    sandbox.clear_smtp_rules()
    sandbox.force_smtp_reply(554, text="5.7.1 Answers refused here")
    app = make_app(mail_user, tmp_path / "data")
    try:
        async with app.run_test(size=(200, 50)) as pilot:
            await open_first(pilot, app)
            card = app.screen.query_one(InvitationCard)
            await wait_until(pilot, lambda: card.invitation is not None)
            await pilot.press("D")
            await wait_until(pilot, lambda: isinstance(app.screen, PromptDialog))
            await pilot.press("enter")
            toast = await wait_until(
                pilot,
                lambda: next(
                    (n for n in app._notifications if "show in log" in str(n.message)), None
                ),
                timeout=30,
            )
            assert toast.severity == "error"
            assert "554" in str(toast.message)
            assert str(toast.message).endswith("P: show in log")
            await pilot.press("P")
            screen = await wait_until(
                pilot, lambda: isinstance(app.screen, ProtocolLogScreen) and app.screen
            )
            await pilot.pause()
            await pilot.pause()
            rows = shown_rows(screen)
            refusal = [r for r in rows if "S: 554 5.7.1 Answers refused here" in r]
            assert refusal and "[5xx permanent failure" in refusal[-1]
            assert not any(mail_user.password in r for r in rows)
            status = screen.query_one("#plog-status", Static)
            await wait_until(pilot, lambda: "the last error" in str(status.render()))
            # Scrolled to it: the refusal's row is on the screen, not above or below it.
            index = rows.index(refusal[-1])
            view = screen.lines_view
            top = view.scroll_offset.y
            assert top <= index < top + view.size.height
    finally:
        sandbox.clear_smtp_rules()
        for account in app.accounts:
            protolog.detach(account.protocol_log)
    assert fetch_inbox(organizer, "Declined") == []  # refused: nothing arrived
