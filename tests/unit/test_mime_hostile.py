"""Hostile messages: stored cases in tests/data/hostile and big generated ones.

Every case must render without an exception and print nothing but safe text; the big ones must
finish (their time is bounded by the limits in app.mime.render, not asserted here).
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from app.mime import html as html_mod
from app.mime.headers import has_crlf
from app.mime.render import INTERNAL_ERROR_NOTICE, MAX_DEPTH, render_message
from app.mime.textview import render_main
from app.mime.types import RenderedMessage
from app.models import Verdict

HOSTILE = Path(__file__).resolve().parent.parent / "data" / "hostile"
UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _all_text(message: RenderedMessage) -> list[str]:
    out = [message.body, message.subject, message.from_display, *message.notices, *message.links]
    out += [h.name + h.value for h in message.headers + message.full_headers]
    out += [a.filename + a.mime_type + (a.description or "") for a in message.attachments]
    out += [message.sender_check.summary, *message.sender_check.warnings]
    return out


def _assert_safe(message: RenderedMessage) -> None:
    for text in _all_text(message):
        assert UNSAFE.search(text) is None, repr(text[:200])
    for header in message.headers + message.full_headers:
        assert "\n" not in header.value and "\t" not in header.value
    assert not any(INTERNAL_ERROR_NOTICE in n for n in message.notices)


def _load(name: str) -> RenderedMessage:
    message = render_message((HOSTILE / name).read_bytes())
    _assert_safe(message)
    return message


@pytest.mark.parametrize("name", sorted(p.name for p in HOSTILE.glob("*.eml")))
def test_hostile_file_prints_safely(name: str) -> None:
    for extra in ([], ["--html", "--headers", "full"]):
        out = io.StringIO()
        assert render_main([str(HOSTILE / name), *extra], stdout=out) == 0
        assert UNSAFE.search(out.getvalue()) is None
        assert "\r" not in out.getvalue()


def test_escapes_in_encoded_words_shown_visibly() -> None:
    message = _load("escape-encoded-words.eml")
    assert "\u241b[2J" in message.subject and "\x1b" not in message.subject
    assert "txt.exe" in message.subject  # the RLO before it is gone
    assert "\u241b[31mred" in message.body
    assert "A lone CR\ncan overwrite" in message.body


def test_markup_kept_literally() -> None:
    message = _load("rich-markup.eml")
    assert message.subject == "[link=https://evil.example]click[/link] [/] [b]"
    assert message.from_addresses[0].name == "[bold red]Bank[/] [@click=app.quit]x[/]"
    assert "[bold]not bold[/bold] [@click=app.delete]run[/] [/] \\[escaped]" in message.body


def test_traversal_names_made_safe() -> None:
    message = _load("traversal-names.eml")
    names = [a.filename for a in message.attachments]
    assert names == [
        "passwd",
        "shadow",
        "evil.dll",
        "part-5.bin",
        "invoicefdp.exe",
        "abc.txt",
        "_CON.txt",
        "bashrc",
    ]


def test_unknown_and_refused_charsets() -> None:
    message = _load("unknown-charsets.eml")
    assert "café in fakescii" in message.body
    assert "uryyb" in message.body  # rot13 is not a charset, the text is shown as sent
    assert "\\x1b[2J not an escape" in message.body
    assert "\u241b[2J utf-7 escape" in message.body
    assert message.from_addresses[0].name == "Café"
    assert any("fakescii" in n for n in message.notices)


def test_truncated_base64() -> None:
    message = _load("truncated-base64.eml")
    assert message.body.startswith("Hello, this text is cut short")
    assert any("ends early" in n for n in message.notices)
    assert [a.filename for a in message.attachments] == ["cut.pdf"]


def test_hostile_html() -> None:
    message = _load("html-hostile.eml")
    assert message.is_html
    assert "\u241b[2J" in message.body
    assert "alert" not in message.body and "background" not in message.body
    assert "tracker.example" not in message.body and "localhost:8090" not in message.body
    assert "(unsafe link removed: javascript)" in message.body
    assert (
        "(unsafe link removed: data)" in message.body
        and "(unsafe link removed: file)" in message.body
    )
    assert message.links == ["", "", "https://example.com/ok", ""]
    assert "deep" in message.body


def test_encoded_crlf_in_addresses() -> None:
    raw = (HOSTILE / "crlf-in-address.eml").read_bytes()
    message = _load("crlf-in-address.eml")
    assert message.from_addresses[0].email == "evil@example.com"
    assert message.subject == "line1 Line2"
    from_line = raw.split(b"\r\n")[0].split(b": ", 1)[1]
    assert has_crlf(from_line)
    assert any("victim@example.com" in w for w in message.sender_check.warnings)


def test_forged_display_name_and_lower_results_ignored() -> None:
    message = _load("forged-display-name.eml")
    check = message.sender_check
    assert check.verdict is Verdict.VERIFIED and "attacker.example" in check.summary
    assert "paypal" not in check.summary
    assert any("service@paypal.com" in w for w in check.warnings)


def test_broken_quoted_printable_flowed() -> None:
    message = _load("qp-broken.eml")
    assert message.body.startswith("Invalid =ZZ escape, lone = sign")
    assert "line continues here. Café" in message.body


# --- generated ---------------------------------------------------------------------------------


def _nested(depth: int) -> bytes:
    out = [b"From: a@example.com\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"]
    for i in range(depth):
        out.append(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i))
    out.append(b"Content-Type: text/plain\r\n\r\nhello deep\r\n")
    out.extend(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    return b"".join(out)


def test_nesting_within_the_limit_is_shown() -> None:
    message = render_message(_nested(MAX_DEPTH - 2))
    _assert_safe(message)
    assert message.body.strip() == "hello deep"


def test_500_levels_of_nesting() -> None:
    message = render_message(_nested(500))
    _assert_safe(message)
    assert message.subject == "deep"
    assert any(f"deeper than {MAX_DEPTH}" in n for n in message.notices)


@pytest.mark.parametrize("depth", [1000, 5000])
def test_nesting_beyond_the_parser_is_shown_raw(depth: int) -> None:
    message = render_message(_nested(depth))
    _assert_safe(message)
    assert message.subject == "deep" and "hello deep" in message.body
    assert any("nested too deeply" in n for n in message.notices)


def test_1000_levels_of_forwarded_messages() -> None:
    raw = (
        b"".join(
            b"From: a%d@example.com\r\nSubject: level %d\r\nContent-Type: message/rfc822\r\n\r\n"
            % (i, i)
            for i in range(1000)
        )
        + b"From: z@example.com\r\n\r\ninnermost\r\n"
    )
    message = render_message(raw)
    _assert_safe(message)
    assert message.subject == "level 0"


def test_10000_parts() -> None:
    parts = [b"From: a@example.com\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n"]
    for i in range(5000):
        parts.append(b"--X\r\nContent-Type: text/plain\r\n\r\ntext %d\r\n" % i)
        parts.append(b"--X\r\nContent-Type: image/png; name=p%d.png\r\n\r\nx\r\n" % i)
    parts.append(b"--X--\r\n")
    message = render_message(b"".join(parts))
    _assert_safe(message)
    assert message.body.startswith("text 0")
    assert any("not shown" in n for n in message.notices)
    assert 0 < len(message.attachments) <= 1000


def test_1mb_headers() -> None:
    raw = (
        b"From: " + b"=?utf-8?q?=1B[2J?= <a@example.com>, " * 30_000 + b"\r\n"
        b"Subject: " + b"=?utf-8?q?=1B[2J?= x " * 60_000 + b"\r\n"
        b"X-Long: " + b"y" * 1_000_000 + b"\r\n"
        b"To: " + b"a, " * 400_000 + b"\r\n\r\nbody\r\n"
    )
    message = render_message(raw)
    _assert_safe(message)
    assert message.body.strip() == "body"
    assert all(len(h.value) < 20_000 for h in message.full_headers)
    assert message.subject.startswith("\u241b[2J x")


def test_html_escape_entity_and_deep_lists() -> None:
    raw = (
        b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>&#x1b;[2J&#x1b;]0;t&#7;</p>"
        + b"<ul><li>x" * 20_000
    )
    message = render_message(raw)
    _assert_safe(message)
    assert message.body.startswith("\u241b[2J\u241b]0;t\u2407")
    assert any("flattened" in n for n in message.notices)


def test_html_that_hangs_the_parser_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(html_mod, "DEFAULT_TIMEOUT", 0.3)
    raw = b"From: a@example.com\r\nContent-Type: text/html\r\n\r\n<p>visible</p>" + b"<a " * 40_000
    message = render_message(raw)
    _assert_safe(message)
    assert message.body.startswith("visible")
    assert any("could not be converted" in n for n in message.notices)


def test_hostile_bodystructure_trees() -> None:
    from app.mime.render import attachments_from_structure, parts_to_fetch, render_from_parts
    from app.models import BodyPart

    deep = BodyPart("1", "text", "plain")
    for level in range(10_000):
        deep = BodyPart(f"x{level}", "multipart", "mixed", children=[deep])
    assert parts_to_fetch(deep) == []
    assert attachments_from_structure(deep) == []
    _assert_safe(render_from_parts(b"Subject: deep\r\n\r\n", deep, {}))

    wide = BodyPart(
        "",
        "multipart",
        "mixed",
        children=[BodyPart(str(i), "text", "plain") for i in range(1, 10_001)]
        + [BodyPart(f"a{i}", "image", "png", params={"name": f"\x1b{i}.png"}) for i in range(5000)],
    )
    fetch = parts_to_fetch(wide)
    assert 0 < len(fetch) <= 100
    message = render_from_parts(b"", wide, {p.part_id: b"text" for p in fetch})
    _assert_safe(message)
    assert len(message.attachments) <= 1000
    assert message.attachments[0].filename == "0.png"
