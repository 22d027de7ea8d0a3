"""Inline forward built from the text part and attachments fetched one by one (issue 20 item 4)."""

from __future__ import annotations

from app.mime.compose import Attachment, build_message, forward, text_only_message

HEADER = (
    b"From: =?utf-8?q?J=C3=BCrgen?= <j@example.de>\r\nTo: me@example.org\r\n"
    b"Subject: Q4 report\r\nDate: Fri, 27 Nov 2026 09:30:00 +0000\r\nMIME-Version: 1.0\r\n"
    b'Content-Type: multipart/mixed;\r\n boundary="XYZ"\r\nX-Keep: yes\r\n\r\n'
)


def test_text_only_message_replaces_the_mime_headers_folded_lines_too() -> None:
    raw = text_only_message(
        HEADER, "text/plain", {"CharSet": "iso-8859-1"}, "quoted-printable", b"Gr=FC=DFe\r\n"
    )
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"multipart" not in head and b"boundary" not in head and b"X-Keep: yes" in head
    assert b'Content-Type: text/plain; charset="iso-8859-1"' in head
    assert b"Content-Transfer-Encoding: quoted-printable" in head
    draft = forward(raw, ("Me", "me@example.org"))
    assert "Grüße" in draft.body and "From: Jürgen <j@example.de>" in draft.body
    assert draft.subject == "Fwd: Q4 report" and draft.attachments == []


def test_hostile_structure_values_cannot_add_headers() -> None:
    raw = text_only_message(
        HEADER,
        "text/plain\r\nBcc: x@evil",
        {"charset": "utf-8\r\nBcc: y@evil"},
        "7bit\r\nX: y",
        b"hi\r\n",
    )
    head = raw.partition(b"\r\n\r\n")[0]
    assert b"\r\nBcc" not in head and b"\r\nX: y" not in head


def test_forward_carries_the_fetched_attachments_byte_exact() -> None:
    raw = text_only_message(HEADER, "text/plain", {}, "7bit", b"see attached\r\n")
    csv = Attachment("numbers.csv", b"a,b\n1,2\n3,4\n", "text/csv")
    blob = Attachment("blob.bin", bytes(range(256)), "application/octet-stream")
    draft = forward(raw, ("Me", "me@example.org"), attachments=[csv, blob])
    assert draft.attachments == [csv, blob]
    draft.to = ["friend@example.org"]
    msg = build_message(draft, message_id_domain="example.org")
    got = {p.get_filename(): p.get_payload(decode=True) for p in msg.iter_attachments()}
    assert got == {"numbers.csv": csv.data, "blob.bin": blob.data}
