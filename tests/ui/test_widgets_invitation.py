"""The invitation card and the list line inside the viewer: corpus invitations, hostile text."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.mime.calendar import Attendee, Invitation, parse_invitation
from app.mime.types import ShownHeader
from tests.ui.apps import samples
from tests.ui.apps.screen import screen_text, terminal_bytes
from tests.ui.apps.widgets_demo import ViewerDemo
from tests.unit.test_calendar import corpus_calendars
from widgets.invitation_view import InvitationCard, ListLine
from widgets.message_view import MessageView

pytestmark = pytest.mark.ui


async def test_every_corpus_invitation_is_drawn(shared_dir: Path) -> None:
    app = ViewerDemo()
    async with app.run_test(size=(120, 50)) as pilot:
        viewer = app.query_one(MessageView)
        for name, data, method in corpus_calendars(shared_dir):
            inv = parse_invitation(data, tz=ZoneInfo("Europe/Berlin"), method_hint=method)
            assert inv is not None, name
            viewer.show_invitation(inv)
            await pilot.pause()
            text = screen_text(app)
            assert inv.headline in text, name
            if inv.title:
                assert inv.title in text, name
            if inv.headline == "Cancelled event":
                assert "cancelled this event" in text
                assert "Y accept" not in text  # nothing to answer
        # A new message hides the card until the screen reads its calendar.
        viewer.show(samples.rendered_message())
        await pilot.pause()
        assert not app.query_one(InvitationCard).display


async def test_hostile_invitation_and_list_text_is_inert() -> None:
    hostile = "[@click=app.quit]x[/] \x1b]52;c;AAAA\x07 \u202eevil"
    inv = Invitation(
        method="REQUEST",
        title=hostile,
        uid="u",
        organizer=Attendee(hostile, "o@example.org"),
        when="Tue 01 Dec 2026 16:00",
        location=hostile,
        attendees=(Attendee(hostile, "a@example.org", "ACCEPTED"),),
        description=hostile + "\nline 2",
    )
    rendered = samples.rendered_message()
    rendered.full_headers = [
        *rendered.full_headers,
        ShownHeader("List-Id", f"{hostile} <list.example>"),
        ShownHeader("List-Post", "<mailto:list@example.org>"),
    ]
    app = ViewerDemo(rendered)
    async with app.run_test(size=(120, 50)) as pilot:
        app.query_one(MessageView).show_invitation(inv)
        await pilot.pause()
        text = screen_text(app)
        assert "[@click=app.quit]x[/]" in text  # shown literally, not as markup
        assert "List: " in text and "L list-reply" in text
        raw = terminal_bytes(app)
        assert "\x1b]52" not in raw and "\u202e" not in raw
        assert app.query_one(ListLine).display
