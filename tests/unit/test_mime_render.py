"""app.mime.render: the seed messages show what their README says; both render paths agree."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from app.mime.attachments import save_part
from app.mime.render import (
    INTERNAL_ERROR_NOTICE,
    attachments_from_structure,
    extract_part,
    message_structure,
    parts_to_fetch,
    render_from_parts,
    render_message,
    unflow,
)
from app.mime.types import RenderedMessage, ShownAddress
from app.models import Address, BodyPart, Envelope, Verdict

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"


def _seed(name: str) -> RenderedMessage:
    return render_message((SEED / name).read_bytes())


def _header(message: RenderedMessage, name: str) -> str:
    return next(h.value for h in message.headers if h.name == name)


def _styled(message: RenderedMessage, style: str) -> list[str]:
    return [message.body[s.start : s.end] for s in message.styles if s.style == style]


def test_seed_01_relayed_message() -> None:
    message = _seed("01-postfix-relayed-test.eml")
    assert _header(message, "From") == "Jwatson@cis.udel.edu"
    assert _header(message, "To") == "undisclosed-recipients: ;"
    assert message.to_addresses == [ShownAddress("", "", "undisclosed-recipients")]
    assert message.body.strip() == "This is a test."
    names = [h.name for h in message.full_headers]
    assert names[:3] == ["Return-Path", "Delivered-To", "Received"]
    received = [h.value for h in message.full_headers if h.name == "Received"]
    assert len(received) == 4
    assert received[0].startswith("by mail.eecis.udel.edu (Postfix, from userid 62) id 17FBD328DE")
    assert received[3].startswith("from stimp.eecis.udel.edu")
    assert all("\n" not in value for value in received)
    assert message.notices == []


def test_seed_02_forged_message() -> None:
    message = _seed("02-forged-no-addresses.eml")
    assert _header(message, "From") == "Dr. Sandra Carberry"
    assert _header(message, "To") == "Dr. Paul Amer"
    assert message.from_display == "Dr. Sandra Carberry"
    assert message.sender_check.verdict is Verdict.UNKNOWN
    assert message.sender_check.warnings
    assert "automatic A's" in message.body


def test_seed_03_enriched_and_attachment() -> None:
    message = _seed("03-multipart-enriched-base64.eml")
    assert "<bold>" not in message.body and "<italic>" not in message.body
    assert _styled(message, "bold") == ["Gibson Southern Jumbo"]
    assert _styled(message, "italic") == ["I guarantee that you'll love it!"]
    [attachment] = message.attachments
    assert attachment.filename == "gibson-spec.doc"
    assert attachment.size == 2080 and not attachment.size_is_estimate
    assert attachment.description == "Spec sheet saved as MS Word file"
    assert attachment.part_id == "2" and attachment.mime_type == "application/octet-stream"


def test_seed_03_attachment_saves_2080_bytes(tmp_path: Path) -> None:
    raw = (SEED / "03-multipart-enriched-base64.eml").read_bytes()
    found = extract_part(raw, "2")
    assert found is not None
    path = save_part(found[0], found[1], tmp_path, "gibson-spec.doc")
    assert path.stat().st_size == 2080
    assert path.read_bytes().startswith(b"Gibson Southern Jumbo\r\n")


def test_seed_04_gb2312_subject() -> None:
    message = _seed("04-gb2312-encoded-subject.eml")
    assert message.subject == "中文 title"
    assert _header(message, "Subject") == "中文 title"
    assert message.body.strip() == "a body text, blah, blah"


@pytest.mark.parametrize("name", sorted(p.name for p in SEED.glob("*.eml")))
def test_parts_path_matches_whole_message_path(name: str) -> None:
    raw = (SEED / name).read_bytes()
    header, structure, parts = message_structure(raw)
    whole = render_message(raw)
    by_parts = render_from_parts(header, structure, parts)
    assert by_parts.body == whole.body
    assert by_parts.headers == whole.headers
    assert [a.filename for a in by_parts.attachments] == [a.filename for a in whole.attachments]


ALT = b"""From: a@example.com\r
Subject: alt\r
Content-Type: multipart/alternative; boundary=X\r
\r
--X\r
Content-Type: text/plain; charset=utf-8\r
\r
plain version\r
> quoted line\r
-- \r
sig\r
--X\r
Content-Type: text/html; charset=utf-8\r
\r
<p>html <b>version</b> <a href="https://x.example">x</a></p>\r
--X--\r
"""


def test_alternative_prefers_plain_and_offers_html() -> None:
    message = render_message(ALT)
    assert message.body.startswith("plain version") and not message.is_html
    assert message.has_html_alternative
    assert _styled(message, "quote") == ["> quoted line\n"]
    assert _styled(message, "signature")[0].startswith("-- \nsig")
    html = render_message(ALT, prefer_html=True)
    assert html.is_html and "html version" in html.body and "*" not in html.body
    assert _styled(html, "bold") == ["version"] and html.links == ["https://x.example"]
    assert not html.has_html_alternative


def test_format_flowed() -> None:
    assert (
        unflow("one \ntwo\n> q1 \n> q2\n>> deep\n-- \nsig")
        == "one two\n> q1 q2\n> > deep\n-- \nsig"
    )
    assert unflow("ab \ncd", delsp=True) == "abcd"
    assert unflow(" From space-stuffed") == "From space-stuffed"


def test_forwarded_message_inline() -> None:
    inner = b"From: Inner <in@example.com>\r\nSubject: inner subject\r\n\r\ninner body\r\n"
    raw = (
        b"From: out@example.com\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
        b"--B\r\nContent-Type: text/plain\r\n\r\nsee below\r\n"
        b"--B\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"--B--\r\n"
    )
    message = render_message(raw)
    assert "Forwarded message" in message.body
    assert "From: Inner <in@example.com>" in message.body
    assert "Subject: inner subject" in message.body and "inner body" in message.body
    [attachment] = message.attachments
    assert attachment.filename == "inner subject.eml" and attachment.inline
    assert attachment.part_id == "2"


def _imap_structure() -> BodyPart:
    """What the IMAP layer hands over for mixed(alternative(plain, html), rfc822(plain), pdf)."""
    return BodyPart(
        "",
        "multipart",
        "mixed",
        children=[
            BodyPart(
                "1",
                "multipart",
                "alternative",
                children=[
                    BodyPart(
                        "1.1",
                        "text",
                        "plain",
                        params={"charset": "utf-8"},
                        encoding="quoted-printable",
                    ),
                    BodyPart("1.2", "text", "html", params={"charset": "utf-8"}, encoding="base64"),
                ],
            ),
            BodyPart(
                "2",
                "message",
                "rfc822",
                size=300,
                envelope=Envelope(
                    subject="=?utf-8?q?Fw=C3=A4?=",
                    from_=(Address("=?utf-8?q?J=C3=BCrgen?=", "j", "x.example"),),
                    to=(Address(None, "undisclosed-recipients", None), Address(None, None, None)),
                ),
                children=[BodyPart("2.1", "text", "plain", params={"charset": "iso-8859-1"})],
            ),
            BodyPart(
                "3",
                "application",
                "pdf",
                params={"name": "resume.pdf"},
                disposition="attachment",
                disposition_params={
                    "filename*0*": "utf-8''r%C3%A9su",
                    "filename*1*": "m%C3%A9.pdf",
                },
                encoding="base64",
                size=4000,
                description="CV",
            ),
        ],
    )


def test_parts_to_fetch_and_render_from_parts() -> None:
    structure = _imap_structure()
    assert [p.part_id for p in parts_to_fetch(structure)] == ["1.1", "2.1"]
    assert [p.part_id for p in parts_to_fetch(structure, prefer_html=True)] == ["1.2", "2.1"]
    header = b"From: Me <me@example.com>\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\n"
    parts = {"1.1": b"caf=C3=A9 =\r\nsoft\r\n", "2.1": b"forwarded caf\xe9\r\n"}
    message = render_from_parts(header, structure, parts)
    assert message.subject == "café"
    assert message.body.startswith("café soft")
    assert "From: Jürgen <j@x.example>" in message.body
    assert "To: undisclosed-recipients: ;" in message.body
    assert "Subject: Fwä" in message.body and "forwarded café" in message.body
    assert [a.filename for a in message.attachments] == ["Fwä.eml", "résumé.pdf"]
    html = render_from_parts(
        header, structure, {"1.2": base64.b64encode(b"<i>hi</i>")}, prefer_html=True
    )
    assert html.body.startswith("hi") and _styled(html, "italic") == ["hi"] and html.is_html
    assert any("2.1" in n and "not fetched" in n for n in html.notices)


def test_attachments_from_structure_sizes_are_estimated_decoded() -> None:
    pdf = attachments_from_structure(_imap_structure())[-1]
    # 4000 base64 octets: 51 CRLFs out, 3 bytes per 4 characters (issue 20 item 14).
    assert (pdf.filename, pdf.size, pdf.size_is_estimate, pdf.description) == (
        "résumé.pdf",
        2923,
        True,
        "CV",
    )
    assert pdf.encoded_size == 4000
    assert pdf.part_id == "3" and pdf.encoding == "base64" and not pdf.inline


def test_attachment_hidden_in_unchosen_alternative_is_listed() -> None:
    raw = (
        b"From: a@b\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n"
        b"--A\r\nContent-Type: text/plain\r\n\r\ntext\r\n"
        b"--A\r\nContent-Type: application/pdf; name=hidden.pdf\r\n\r\n%PDF\r\n--A--\r\n"
    )
    message = render_message(raw)
    assert message.body.strip() == "text"
    assert [a.filename for a in message.attachments] == ["hidden.pdf"]


def test_header_fields_for_reply() -> None:
    raw = (
        b"From: A <a@x.example>\r\nTo: b@x.example\r\nCc: C <c@x.example>\r\nReply-To: r@x.example\r\n"
        b"Message-ID: <id1@x>\r\nIn-Reply-To: <id0@x>\r\nReferences: <a@x> <id0@x>\r\n"
        b"List-Id: Dev <dev.x.example>\r\nList-Unsubscribe: <mailto:u@x.example>, <https://x.example/u>\r\n"
        b"Date: Wed, 5 Nov 2003 11:26:34 -0500\r\n\r\nbody\r\n"
    )
    message = render_message(raw)
    assert message.message_id == "<id1@x>" and message.in_reply_to == ["<id0@x>"]
    assert message.references == ["<a@x>", "<id0@x>"]
    assert message.list_id == "Dev <dev.x.example>"
    assert message.list_unsubscribe == ["mailto:u@x.example", "https://x.example/u"]
    assert [a.email for a in message.cc_addresses] == ["c@x.example"]
    assert message.reply_to_addresses == [ShownAddress("", "r@x.example")]
    assert message.date is not None and message.date.year == 2003
    assert [h.name for h in message.headers] == ["From", "To", "Cc", "Reply-To", "Date"]


def test_empty_and_garbage_input() -> None:
    for raw in (b"", b"\x00\xff" * 100, b"\r\n\r\n", b"no headers at all"):
        message = render_message(raw)
        assert not any(INTERNAL_ERROR_NOTICE in n for n in message.notices)


HTML_MARKS = b"""\
From: a@b.c\r
Subject: marks\r
MIME-Version: 1.0\r
Content-Type: text/html; charset=utf-8\r
\r
<h1>Title</h1><p>Some <strong>strong</strong> and <em>soft</em> words, snake_case_name kept,
2 ** 3 kept.</p><blockquote><p>quoted <b>bold</b></p></blockquote>\r
"""


def test_converted_html_shows_styles_not_markdown_marks() -> None:
    message = render_message(HTML_MARKS, prefer_html=True)
    body = message.body
    assert "Title" in body and "#" not in body
    assert "Some strong and soft words" in body
    assert "snake_case_name" in body and "2 ** 3" in body  # not emphasis: left as written
    assert _styled(message, "heading") == ["Title\n"]
    assert "strong" in _styled(message, "bold") and "soft" in _styled(message, "italic")
    assert any("quoted" in piece for piece in _styled(message, "quote"))
    assert "bold" in _styled(message, "bold")
