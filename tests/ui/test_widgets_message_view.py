"""MessageView and BodyView: headers, sender check, styled body, raw source, attachments."""

from __future__ import annotations

import re
import time

import pytest
from rich.segment import Segment

from app.mime.types import RenderedMessage, ShownHeader, StyleSpan
from app.models import SenderCheck, Verdict
from tests.ui.apps import samples
from tests.ui.apps.screen import screen_text, terminal_bytes
from tests.ui.apps.widgets_demo import ViewerDemo
from widgets.message_view import BodyView, MessageView

pytestmark = pytest.mark.ui

SAFE_SEQUENCE = re.compile(r"\x1b\[[0-9;]*[mH]")


def _viewer(app: ViewerDemo) -> MessageView:
    return app.query_one(MessageView)


def _segments_of(body: BodyView, needle: str) -> list[Segment]:
    """Segments of the first visible body row holding `needle`."""
    for y in range(body.scrollable_content_region.height):
        strip = body.render_line(y)
        if needle in strip.text:
            return list(strip)
    raise AssertionError(f"{needle!r} not on screen")


def _style_at(body: BodyView, needle: str) -> object:
    for segment in _segments_of(body, needle):
        if needle in segment.text or (segment.text in needle and segment.text.strip()):
            return segment.style
    raise AssertionError(needle)


async def test_headers_check_notices_body_and_attachments_are_shown() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert "From: Bob Builder <bob@builder.test>" in text
        assert "Subject: " + samples.INJECTION_SUBJECT in text
        assert "✗ Sender check: DKIM signature does not match" in text
        assert "⚠ The From domain differs from the signing domain" in text
        assert "ℹ Charset guessed as windows-1252" in text
        assert "Heading of a section" in text
        assert "A tab:  here." in text  # tab expanded to the next stop
        assert "report [final].pdf" in text and "application/pdf" in text and "47K" in text
        assert "Q4 report" in text and "photo.jpg" in text and "1.1M" in text
        assert "Received" not in text


async def test_full_headers_toggle_shows_the_received_path() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        viewer = _viewer(app)
        viewer.full_headers = True
        await pilot.pause()
        text = screen_text(app)
        assert text.count("Received:") == 2
        assert "Message-ID: <1234@builder.test>" in text
        viewer.full_headers = False
        await pilot.pause()
        assert "Received:" not in screen_text(app)


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (Verdict.VERIFIED, "✓ Sender check: DKIM signature of builder.test verified"),
        (Verdict.UNKNOWN, "? Sender check: No authentication results"),
    ],
)
async def test_sender_check_verdicts(verdict: Verdict, expected: str) -> None:
    app = ViewerDemo(samples.rendered_message(verdict=verdict))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert expected in text
        assert "⚠" not in text


async def test_style_spans_map_to_theme_styles() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        body = _viewer(app).body
        bold = next(s for s in _segments_of(body, "*bold*") if "*bold*" in s.text)
        plain = next(s for s in _segments_of(body, "*bold*") if s.text.startswith("Here"))
        assert bold.style is not None and bold.style.bold
        assert plain.style is not None and not plain.style.bold
        italic = next(s for s in _segments_of(body, "/italic/") if "/italic/" in s.text)
        assert italic.style is not None and italic.style.italic
        link = next(s for s in _segments_of(body, "example.org") if "example.org" in s.text)
        assert link.style is not None and link.style.underline
        assert link.style.meta == {} or "@click" not in link.style.meta  # never an action
        quote = next(s for s in _segments_of(body, "> Alice wrote:") if "Alice" in s.text)
        assert quote.style is not None and plain.style is not None
        assert quote.style.color != plain.style.color
        heading = next(s for s in _segments_of(body, "Heading") if "Heading" in s.text)
        assert heading.style is not None and heading.style.bold


async def test_spans_survive_tabs_and_line_splits() -> None:
    body = "a\tb BOLD c\nnext QUOTE"
    spans = [
        StyleSpan(body.index("BOLD"), body.index("BOLD") + 4, "bold"),
        StyleSpan(body.index("QUOTE"), len(body), "quote"),
        StyleSpan(0, 1, "no-such-style"),
        StyleSpan(5, 3, "bold"),  # backwards: ignored
        StyleSpan(100, 200, "bold"),  # past the end: ignored
    ]
    app = ViewerDemo(RenderedMessage(body=body, styles=spans))
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        view = _viewer(app).body
        assert view.text == "a       b BOLD c\nnext QUOTE"
        bold = next(s for s in _segments_of(view, "BOLD") if s.text == "BOLD")
        assert bold.style is not None and bold.style.bold


async def test_long_lines_wrap_and_resize_rewraps() -> None:
    long_line = " ".join(f"word{i}" for i in range(200))
    app = ViewerDemo(RenderedMessage(body=long_line))
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        view = _viewer(app).body
        narrow_rows = view.row_count
        assert narrow_rows > 10
        assert all(len(line.rstrip()) <= 60 for line in screen_text(app).splitlines())
        await pilot.resize_terminal(120, 20)
        await pilot.pause()
        assert view.row_count < narrow_rows


async def test_loading_error_and_raw_states() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        viewer = _viewer(app)
        viewer.show_loading("Loading…")
        await pilot.pause()
        text = screen_text(app)
        assert "Loading…" in text and "From:" not in text and "photo.jpg" not in text
        assert viewer.rendered is None
        viewer.show_error("NO [SERVERBUG] \x1b[2J it broke [@click=app.quit]")
        await pilot.pause()
        text = screen_text(app)
        assert "[@click=app.quit]" in text and "it broke" in text
        assert "\x1b[2J" not in terminal_bytes(app)
        viewer.show(samples.rendered_message())
        raw = (
            "Received: from x\r\nSubject: " + "y" * 300 + "\r\nX-Evil: \x1b]0;t\x07\r\n\r\nbody\r\n"
        )
        viewer.show_raw(raw)
        await pilot.pause()
        assert viewer.raw_mode
        text = screen_text(app)
        assert "Raw source" in text and "Received: from x" in text
        assert "photo.jpg" not in text  # attachment actions do not apply to the source
        assert viewer.body.wrap  # wrapped at the width (issue 20): nothing is cut off
        assert viewer.body.row_count > raw.count("\n") + 1
        assert text.count("Subject:") == 1  # the source's header block only, not twice
        stream = terminal_bytes(app)
        assert "\x1b]0;" not in stream and "\x07" not in stream
        await pilot.press("a")  # no attachment actions on the raw source
        await pilot.pause()
        assert not app.of_type(MessageView.SaveAttachment)
        viewer.leave_raw()
        await pilot.pause()
        assert not viewer.raw_mode
        assert "Heading of a section" in screen_text(app)


async def test_attachment_keys_post_save_and_open() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        saved = app.of_type(MessageView.SaveAttachment)
        assert [event.info.filename for event in saved] == ["report [final].pdf"]
        viewer = _viewer(app)
        viewer.attachment_list.focus()
        await pilot.press("down", "o")
        await pilot.pause()
        opened = app.of_type(MessageView.OpenAttachment)
        assert [event.info.filename for event in opened] == ["photo.jpg"]
        await pilot.press("up", "enter")
        await pilot.pause()
        opened = app.of_type(MessageView.OpenAttachment)
        assert [event.info.part_id for event in opened] == ["3", "2"]


async def test_progress_bar_shows_while_running() -> None:
    app = ViewerDemo()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        viewer = _viewer(app)
        from textual.widgets import ProgressBar

        assert not [bar for bar in viewer.query(ProgressBar) if bar.display]  # none shown
        viewer.set_progress(10, 100)
        await pilot.pause()
        bar = viewer.query_one(ProgressBar)
        assert bar.display and bar.progress == 10
        viewer.set_progress(100, 100)
        assert not bar.display


async def test_body_keys_scroll() -> None:
    body = "\n".join(f"line {i}" for i in range(200))
    app = ViewerDemo(RenderedMessage(body=body))
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        view = _viewer(app).body
        assert view.has_focus
        await pilot.press("j", "j")
        assert view.scroll_offset.y == 2
        await pilot.press("space")
        assert view.scroll_offset.y > 10
        await pilot.press("G")
        assert view.scroll_offset.y == view.max_scroll_y
        await pilot.press("g")
        assert view.scroll_offset.y == 0


async def test_untrusted_text_everywhere_is_literal_and_inert() -> None:
    hostile = "\x1b]0;pwned\x07[@click=app.quit]click me[/] \u202eexe.txt \x9b2J"
    rendered = RenderedMessage(
        headers=[ShownHeader("Subject", hostile), ShownHeader("From", hostile)],
        sender_check=SenderCheck(Verdict.FAILED, hostile, (hostile,)),
        body=hostile + "\n" + samples.INJECTION_SUBJECT,
        notices=[hostile],
        attachments=[
            samples.rendered_message()
            .attachments[0]
            .__class__("1", hostile, "text/plain", 10, description=hostile)
        ],
    )
    app = ViewerDemo(rendered)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        text = screen_text(app)
        assert text.count("[@click=app.quit]click me[/]") >= 5
        stream = terminal_bytes(app)
        for bad in ("\x1b]", "\x07", "\u202e", "\x9b"):
            assert bad not in stream
        assert "\x1b" not in SAFE_SEQUENCE.sub("", stream)
        for y, line in enumerate(text.splitlines()):
            if "click me" in line:
                await pilot.click(MessageView, offset=(line.index("click me") + 2, y))
        await pilot.pause()
        assert not app.quit_requested


async def test_large_body_is_quick_to_show_and_scroll() -> None:
    paragraph = " ".join(["lorem ipsum dolor sit amet"] * 40)
    body = "\n".join(f"{i}: {paragraph}" if i % 3 == 0 else f"short line {i}" for i in range(6000))
    rendered = RenderedMessage(body=body)
    app = ViewerDemo(RenderedMessage(body="x"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        viewer = _viewer(app)
        started = time.perf_counter()
        viewer.show(rendered)
        shown = time.perf_counter() - started
        await pilot.pause()
        view = viewer.body
        started = time.perf_counter()
        view.action_bottom()
        strips = [view.render_line(y) for y in range(view.scrollable_content_region.height)]
        paint = time.perf_counter() - started
        print(
            f"{len(body) / 1e6:.2f} MB body: show {shown * 1000:.0f} ms, jump+paint {paint * 1000:.1f} ms"
        )
        assert strips[-1].text.strip().startswith("short line 5999") or "5999" in strips[-1].text
        assert view.row_count > 6000
