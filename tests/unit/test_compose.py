"""Outgoing messages: headers, encodings, attachments, reply / reply-all / forward, injection."""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.mime.compose import (
    Attachment,
    ComposeError,
    Draft,
    HeaderInjectionError,
    Identity,
    InvalidAddressError,
    build_message,
    detect_forgotten_attachment,
    draft_from_message,
    envelope_recipients,
    flow_text,
    format_address,
    forward,
    forward_subject,
    message_bytes,
    parse_addresses,
    reply,
    reply_subject,
    split_address,
    split_addresses,
    strip_invisible,
)

SEED = Path(__file__).resolve().parent.parent / "data" / "seed"
ME = Identity("Me Myself", "me@example.org")
#: Every header build_message may write; anything else in a built message is an injection.
BUILT_HEADERS = {
    "date",
    "from",
    "to",
    "cc",
    "subject",
    "message-id",
    "in-reply-to",
    "references",
    "user-agent",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def parse(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def built(draft: Draft) -> tuple[bytes, EmailMessage]:
    data = message_bytes(build_message(draft, message_id_domain="example.org"))
    return data, parse(data)


def content(part: EmailMessage) -> str:
    text = part.get_content()
    assert isinstance(text, str)
    return text.replace("\r\n", "\n")


def header_names(data: bytes) -> list[str]:
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8")  # RFC 6532 headers for UTF-8 addresses
    return [line.split(":", 1)[0].lower() for line in head.split("\r\n") if line[:1] not in " \t"]


def unflow(text: str) -> str:
    """RFC 3676 decoding (DelSp=no): join soft-broken lines, undo space-stuffing."""
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        if line.startswith(" "):
            line = line[1:]
        current += line
        if line.endswith(" ") and line != "-- ":
            continue
        out.append(current)
        current = ""
    if current:
        out.append(current)
    return "\n".join(out)


# -- building -----------------------------------------------------------------------------------


def test_headers_encodings_and_no_bcc() -> None:
    draft = Draft(
        from_=Identity("Jörg Müller, Jr.", "jorg@example.org"),
        to=['"Doe, John" <john@example.org>', "Zoë Ærø <zoe@example.net>"],
        cc=["carol@example.com", "JOHN@example.org"],
        bcc=["secret@hidden.example", "Hidden Person <hidden2@hidden.example>"],
        subject="Grüße aus Köln — 你好, " + "a long subject " * 6,
        body="Hallo\n",
    )
    data, msg = built(draft)
    assert data.isascii()
    assert b"secret@hidden.example" not in data and b"hidden2" not in data
    assert "bcc" not in header_names(data)
    assert msg["Subject"] == draft.subject.strip()
    assert re.search(rb"^Subject: =\?utf-8\?", data, re.M)
    assert msg["From"].addresses[0].display_name == "Jörg Müller, Jr."
    assert msg["From"].addresses[0].addr_spec == "jorg@example.org"
    assert [a.display_name for a in msg["To"].addresses] == ["Doe, John", "Zoë Ærø"]
    # JOHN@example.org is already in To (case-insensitive): not repeated in Cc
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["carol@example.com"]
    assert msg["User-Agent"].startswith("termail")
    assert re.fullmatch(r"<[0-9a-f]{24}@example\.org>", msg["Message-ID"])
    assert msg["Date"].datetime is not None
    assert msg["MIME-Version"] == "1.0"
    assert msg.get_content_type() == "text/plain"
    assert content(msg) == "Hallo\n"
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    assert envelope_recipients(draft) == [
        "john@example.org",
        "zoe@example.net",
        "carol@example.com",
        "secret@hidden.example",
        "hidden2@hidden.example",
    ]


def test_message_bytes_strips_a_bcc_header_set_by_hand() -> None:
    msg = build_message(Draft(ME, to=["a@example.org"], body="x"), message_id_domain="e.org")
    msg["Bcc"] = "spy@example.org"
    data = message_bytes(msg)
    assert b"spy@example.org" not in data
    assert msg["Bcc"] == "spy@example.org"  # the caller's object is left alone


def test_non_ascii_body_is_quoted_printable_and_round_trips() -> None:
    body = "Grüße — 你好\nline two with trailing space \n" + "ä" * 300 + "\n"
    data, msg = built(Draft(ME, to=["a@example.org"], body=body))
    assert data.isascii()
    assert msg["Content-Transfer-Encoding"] == "quoted-printable"
    assert content(msg) == body


def test_idn_domains_become_punycode_and_bad_addresses_raise() -> None:
    _, msg = built(Draft(ME, to=["Zoë <zoe@bücher.de>"], body="x"))
    assert msg["To"].addresses[0].addr_spec == "zoe@xn--bcher-kva.de"
    for bad in ["not an address", "a@", "@b.org", "a b@c.org", "a\u202e@example.org", "a@b@c.org"]:
        with pytest.raises(InvalidAddressError):
            build_message(Draft(ME, to=[bad], body="x"), message_id_domain="e.org")
    with pytest.raises(InvalidAddressError):
        build_message(Draft(ME, bcc=["nope"], body="x"), message_id_domain="e.org")
    with pytest.raises(InvalidAddressError):
        build_message(Draft(Identity("x", "broken"), body="x"), message_id_domain="e.org")


@pytest.mark.parametrize(
    "field,value",
    [
        ("subject", "hello\r\nBcc: victim@example.org"),
        ("subject", "hello\nX-Evil: 1"),
        ("subject", "hello\u2028X-Evil: 1"),
        ("subject", "nul\x00byte"),
        ("to", "Evil\r\nBcc: victim@example.org <a@example.org>"),
        ("cc", "a@example.org\nBcc: victim@example.org"),
        ("name", "Me\r\nBcc: victim@example.org"),
        ("in_reply_to", "<a@b>\r\nBcc: victim@example.org"),
    ],
)
def test_typed_line_breaks_are_refused(field: str, value: str) -> None:
    draft = Draft(ME, to=["a@example.org"], subject="s", body="x")
    if field == "subject":
        draft.subject = value
    elif field == "to":
        draft.to = [value]
    elif field == "cc":
        draft.cc = [value]
    elif field == "name":
        draft.from_ = Identity(value, "me@example.org")
    else:
        draft.in_reply_to = value
    with pytest.raises(HeaderInjectionError):
        build_message(draft, message_id_domain="example.org")


def test_attachments_types_rfc2231_names_and_exact_bytes(tmp_path: Path) -> None:
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 40)
    tgz = tmp_path / "src.tar.gz"
    tgz.write_bytes(b"\x1f\x8b" + b"\x00" * 100)
    odd = tmp_path / "notes.unknownext"
    odd.write_bytes(b"\r\n\r\nraw\rbytes\n")
    long_name = "Überweisung Rechnung März 2024 – sehr langer Dateiname für RFC 2231.txt"
    draft = Draft(
        ME,
        to=["a@example.org"],
        body="see the attached files\n",
        attachments=[
            pdf,
            str(tgz),
            odd,
            (long_name, "Grüße\n".encode(), "text/plain"),
            Attachment("日本語.png", b"\x89PNG\r\n\x1a\n" + bytes(500), "image/png"),
        ],
    )
    data, msg = built(draft)
    assert data.isascii()
    assert msg.get_content_type() == "multipart/mixed"
    body, *parts = list(msg.iter_parts())
    assert body.get_content_type() == "text/plain"
    assert [p.get_content_type() for p in parts] == [
        "application/pdf",
        "application/gzip",
        "application/octet-stream",
        "text/plain",
        "image/png",
    ]
    assert [p.get_filename() for p in parts] == [
        "report.pdf",
        "src.tar.gz",
        "notes.unknownext",
        long_name,
        "日本語.png",
    ]
    expected = [
        pdf.read_bytes(),
        tgz.read_bytes(),
        odd.read_bytes(),
        "Grüße\n".encode(),
        b"\x89PNG\r\n\x1a\n" + bytes(500),
    ]
    assert [p.get_payload(decode=True) for p in parts] == expected
    assert all(p.get_content_disposition() == "attachment" for p in parts)
    assert b"filename*=utf-8''" in data or b"filename*0*=utf-8''" in data
    assert b"=?utf-8?" not in data.split(b"Content-Disposition", 1)[1]  # RFC 2231, not 2047


def test_missing_attachment_file_raises_typed(tmp_path: Path) -> None:
    from app.mime.compose import AttachmentError

    draft = Draft(ME, to=["a@example.org"], attachments=[tmp_path / "gone.pdf"])
    with pytest.raises(AttachmentError):
        build_message(draft, message_id_domain="example.org")


def test_attachment_filename_is_made_safe() -> None:
    att = Attachment("../../etc/passwd\r\nX-Evil: 1", b"x", "text/plain")
    data, msg = built(Draft(ME, to=["a@example.org"], attachments=[att]))
    name = next(iter(msg.iter_attachments())).get_filename()
    assert name is not None and "/" not in name and "\n" not in name and "\r" not in name
    assert "x-evil" not in header_names(data)


def test_long_references_are_not_encoded_words() -> None:
    ids = [f"<CA{'x' * 90}{i}@mail.gmail.com>" for i in range(30)]
    draft = Draft(
        ME, to=["a@example.org"], in_reply_to=ids[-1], references=[" ".join(ids)], body="x"
    )
    data, msg = built(draft)
    head = data.split(b"\r\n\r\n")[0]
    assert b"=?" not in head
    refs = msg["References"].split()
    assert refs[0] == ids[0] and refs[-1] == ids[-1] and len(refs) == 20
    assert msg["In-Reply-To"] == ids[-1]


def test_format_flowed_sets_parameters() -> None:
    text = "A paragraph " * 20 + "\n> quoted line stays\nFrom the start\n -- x\n"
    _, msg = built(Draft(ME, to=["a@example.org"], body=text, format_flowed=True))
    assert msg.get_param("format") == "flowed"
    assert msg.get_param("delsp") == "no"
    text = content(msg)
    assert all(len(line) <= 78 for line in text.split("\n"))
    expected = ("A paragraph " * 20).rstrip() + "\n> quoted line stays\nFrom the start\n -- x"
    assert unflow(text.rstrip("\n")) == expected


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r")))
def test_flowed_round_trip(text: str) -> None:
    # Trailing spaces of hard lines are dropped on purpose (they would mean "soft break").
    expected = "\n".join(line if line == "-- " else line.rstrip(" ") for line in text.split("\n"))
    assert unflow(flow_text(text)) == expected


def test_forwarded_8bit_original_attached_as_rfc822() -> None:
    original = (
        b"From: Ann <ann@example.org>\r\nTo: me@example.org\r\nSubject: caf\xc3\xa9\r\n"
        b"Message-ID: <orig-1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\nna\xc3\xafve body\r\n"
    )
    draft = forward(original, ME, as_attachment=True)
    draft.to = ["b@example.org"]
    assert draft.subject == "Fwd: café"
    data, msg = built(draft)
    part = next(iter(msg.iter_attachments()))
    assert part.get_content_type() == "message/rfc822"
    assert part["Content-Transfer-Encoding"] == "8bit"
    assert original in data  # the original's bytes, unchanged
    inner = part.get_content()
    assert inner["Message-ID"] == "<orig-1@example.org>"


# -- hostile originals --------------------------------------------------------------------------

HOSTILE = (
    b"From: Mallory <mallory@example.org>\r\n"
    b"Reply-To: =?utf-8?q?Evil=0D=0ABcc=3A_victim=40example=2Eorg?= <reply@example.org>,\r\n"
    b" =?utf-8?b?" + base64.b64encode(b"x\r\nX-Injected: 1") + b"?= <other@example.org>\r\n"
    b"To: me@example.org\r\n"
    b"Cc: =?utf-8?q?c=0ABcc:_v2@example.org?= <cc@example.org>\r\n"
    b"Subject: =?utf-8?q?hello=0D=0ABcc:_victim@example.org=0D=0A=0D=0Abody?=\r\n"
    b"Date: =?utf-8?q?Mon=0D=0AX-Date-Evil:_1?=\r\n"
    b"Message-ID: <good@example.org>\r\n"
    b"References: <r1@example.org>\r\n X-Evil: <r2@example.org>\r\n"
    b"\r\n"
    b"Hi\r\n"
)


@pytest.mark.parametrize("reply_all", [False, True])
def test_hostile_decoded_reply_to_and_subject_add_no_header(reply_all: bool) -> None:
    draft = reply(HOSTILE, ME, reply_all=reply_all, own_addresses=["me@example.org"])
    assert all("\r" not in v and "\n" not in v for v in [draft.subject, *draft.to, *draft.cc])
    data, msg = built(draft)
    names = header_names(data)
    assert set(names) <= BUILT_HEADERS
    assert names.count("subject") == 1
    assert msg["Bcc"] is None
    assert envelope_recipients(draft) == (
        ["reply@example.org", "other@example.org", "cc@example.org"]
        if reply_all
        else ["reply@example.org", "other@example.org"]
    )
    assert msg["Subject"].startswith("Re: hello Bcc: victim@example.org")
    assert msg["In-Reply-To"] == "<good@example.org>"
    assert msg["References"] == "<r1@example.org> <r2@example.org> <good@example.org>"


def test_hostile_forward_adds_no_header() -> None:
    draft = forward(HOSTILE, ME)
    draft.to = ["b@example.org"]
    data, _ = built(draft)
    assert set(header_names(data)) <= BUILT_HEADERS


_HOSTILE_TEXT = st.text(
    alphabet=st.sampled_from(list("aZ :<>@\r\n\t\x00\x0b\x0c\u2028\u2029\x85é,;\"'=?")),
    max_size=40,
)


@given(subject=_HOSTILE_TEXT, name=_HOSTILE_TEXT)
def test_any_decoded_value_adds_no_header(subject: str, name: str) -> None:
    enc_subject = base64.b64encode(subject.encode()).decode()
    enc_name = base64.b64encode(name.encode()).decode()
    original = (
        f"From: =?utf-8?b?{enc_name}?= <from@example.org>\r\n"
        f"Reply-To: =?utf-8?b?{enc_name}?= <rt@example.org>\r\n"
        f"To: =?utf-8?b?{enc_name}?= <to@example.org>, me@example.org\r\n"
        f"Subject: =?utf-8?b?{enc_subject}?=\r\n"
        f"Message-ID: <m@example.org>\r\n\r\nbody\r\n"
    ).encode()
    for draft in (
        reply(original, ME, reply_all=True, own_addresses=["me@example.org"]),
        forward(original, ME),
    ):
        draft.to = draft.to or ["x@example.org"]
        data, msg = built(draft)
        assert set(header_names(data)) <= BUILT_HEADERS
        assert header_names(data).count("subject") <= 1


@given(st.binary(max_size=400))
def test_reply_and_forward_never_raise_untyped(data: bytes) -> None:
    for make in (
        lambda: reply(data, ME, reply_all=True),
        lambda: forward(data, ME, include_attachments=True),
    ):
        try:
            draft = make()
        except ComposeError:
            continue
        draft.to = ["x@example.org"]
        try:
            out, _ = built(draft)
        except ComposeError:
            continue
        assert set(header_names(out)) <= BUILT_HEADERS


# -- reply ------------------------------------------------------------------------------------


def _msg(headers: str, body: str = "Hello there.\n") -> bytes:
    return (headers.strip().replace("\n", "\r\n") + "\r\n\r\n" + body).encode()


LIST_MAIL = _msg(
    """
From: Alice Author <alice@example.org>
Reply-To: The List <list@lists.example.org>
To: The List <list@lists.example.org>, ME@Example.org
Cc: Bob <bob@example.com>, alice@EXAMPLE.org, me@example.org, other-me@example.net
Subject: Re: RE: Aw: [proj] Sv: Re[2]: the plan
Date: Tue, 7 Apr 2026 10:00:00 +0200
Message-ID: <m3@example.org>
References: <m1@example.org>
 <m2@example.org>
""",
    "First line\n> earlier quote\n\n-- \nAlice's signature\n",
)


def test_reply_goes_to_reply_to_with_threading_and_quote() -> None:
    draft = reply(LIST_MAIL, ME, own_addresses=["me@example.org"])
    assert draft.to == ["The List <list@lists.example.org>"]
    assert draft.cc == [] and draft.bcc == []
    assert draft.subject == "Re: [proj] the plan"
    assert draft.in_reply_to == "<m3@example.org>"
    assert draft.references == ["<m1@example.org>", "<m2@example.org>", "<m3@example.org>"]
    assert draft.body == (
        "On Tue, 07 Apr 2026 10:00, Alice Author wrote:\n> First line\n>> earlier quote\n\n"
    )  # the signature is not quoted
    assert draft.identity == ME


def test_reply_without_reply_to_goes_to_from() -> None:
    mail = _msg("From: Ann <ann@example.org>\nTo: me@example.org\nSubject: hi\n")
    draft = reply(mail, ME)
    assert draft.to == ["Ann <ann@example.org>"]
    assert draft.subject == "Re: hi"
    assert draft.in_reply_to is None and draft.references == []


def test_reply_all_excludes_own_addresses_and_duplicates() -> None:
    draft = reply(
        LIST_MAIL, ME, reply_all=True, own_addresses=["me@example.org", "Other-Me@example.net"]
    )
    assert envelope_recipients(draft) == [
        "list@lists.example.org",
        "bob@example.com",
        "alice@EXAMPLE.org",
    ]
    assert draft.to == ["The List <list@lists.example.org>"]
    lowered = [a.lower() for a in envelope_recipients(draft)]
    assert len(lowered) == len(set(lowered))


def test_reply_all_without_reply_to_includes_author_and_all() -> None:
    mail = _msg(
        "From: Ann <ann@example.org>\nTo: me@example.org, Bo <bo@example.org>\n"
        "Cc: cy@example.org, ANN@example.org\nSubject: x\nMessage-ID: <a@b>\n"
    )
    draft = reply(mail, ME, reply_all=True, own_addresses=[])
    assert envelope_recipients(draft) == ["ann@example.org", "bo@example.org", "cy@example.org"]
    assert draft.cc == ["cy@example.org"]


def test_reply_all_honours_mail_followup_to() -> None:
    mail = _msg(
        "From: Ann <ann@example.org>\nMail-Followup-To: dev@lists.example.org, me@example.org\n"
        "To: dev@lists.example.org\nCc: bo@example.org\nSubject: x\n"
    )
    draft = reply(mail, ME, reply_all=True, own_addresses=["me@example.org"])
    assert envelope_recipients(draft) == ["dev@lists.example.org"]
    assert reply(mail, ME).to == ["Ann <ann@example.org>"]


def test_reply_to_own_message_goes_to_its_recipients() -> None:
    mail = _msg("From: Me <me@example.org>\nTo: Ann <ann@example.org>\nSubject: x\n")
    assert envelope_recipients(reply(mail, ME, reply_all=True)) == ["ann@example.org"]
    assert envelope_recipients(reply(mail, ME)) == ["me@example.org"]


@pytest.mark.parametrize(
    "subject,expected",
    [
        ("hello", "Re: hello"),
        ("Re: hello", "Re: hello"),
        ("RE: re: Re: hello", "Re: hello"),
        ("Aw: Sv: Antw: VS: Odp: hello", "Re: hello"),
        ("Re[3]: hello", "Re: hello"),
        ("Re (2): hello", "Re: hello"),
        ("Réf. : hello", "Re: Réf. : hello"),
        ("RÉF: hello", "Re: hello"),
        ("回复：你好", "Re: 你好"),
        ("[list] Re: hello", "Re: [list] hello"),
        ("Re: [list] Re: hello", "Re: [list] hello"),
        ("Fwd: hello", "Re: Fwd: hello"),
        ("Regarding: hello", "Re: Regarding: hello"),
        ("", "Re:"),
    ],
)
def test_re_is_not_stacked(subject: str, expected: str) -> None:
    assert reply_subject(subject) == expected


@pytest.mark.parametrize(
    "subject,expected",
    [("x", "Fwd: x"), ("Fwd: FW: WG: x", "Fwd: x"), ("Re: x", "Fwd: Re: x")],
)
def test_forward_subject(subject: str, expected: str) -> None:
    assert forward_subject(subject) == expected


# -- forward ----------------------------------------------------------------------------------


def test_forward_inline_has_header_block_and_attachments() -> None:
    data = (SEED / "03-multipart-enriched-base64.eml").read_bytes()
    draft = forward(data, ME, include_attachments=True)
    assert draft.subject == "Fwd: Info on Gibson guitar"
    assert "---------- Forwarded message ----------" in draft.body
    assert "From: joe_luthier@plucknplay.com" in draft.body
    assert "Subject: Info on Gibson guitar" in draft.body
    assert "Gibson Southern Jumbo" in draft.body and "<bold>" not in draft.body
    assert draft.to == [] and draft.in_reply_to is None
    (att,) = draft.attachments
    assert isinstance(att, Attachment)
    assert att.filename == "gibson-spec.doc" and len(att.data) == 2080
    assert forward(data, ME).attachments == []


def test_forward_as_attachment_keeps_the_original() -> None:
    data = (SEED / "04-gb2312-encoded-subject.eml").read_bytes()
    draft = forward(data, ME, as_attachment=True)
    (att,) = draft.attachments
    assert isinstance(att, Attachment)
    assert att.mime_type == "message/rfc822" and att.data == data
    assert att.filename == "中文 title.eml"
    draft.to = ["x@example.org"]
    _, msg = built(draft)
    inner = next(iter(msg.iter_attachments()))
    assert inner.get_filename() == "中文 title.eml"
    assert inner.get_content()["Subject"] == "中文 title"


# -- seed and corpus messages -------------------------------------------------------------------


def test_seed_messages() -> None:
    relayed = (SEED / "01-postfix-relayed-test.eml").read_bytes()
    draft = reply(relayed, ME, reply_all=True)
    assert envelope_recipients(draft) == ["Jwatson@cis.udel.edu"]  # the empty group adds no one
    assert draft.in_reply_to == "<20031105162634.7C2943D79@mail.acad.ece.udel.edu>"
    forged = (SEED / "02-forged-no-addresses.eml").read_bytes()
    draft = reply(forged, ME, reply_all=True)
    assert draft.to == [] and draft.cc == []  # display names without address: nobody to send to
    assert draft.subject == "Re: CISC856"
    assert "Carberry wrote:" in draft.body.split("\n")[0]
    gb = (SEED / "04-gb2312-encoded-subject.eml").read_bytes()
    assert reply(gb, ME).subject == "Re: 中文 title"
    assert reply(gb, ME).to == ["Meghna Naik <mnaik@UDe1.Edu>"]


def _corpus(shared_dir: Path) -> list[Path]:
    files = [p for p in sorted((shared_dir / "corpus").iterdir()) if p.suffix != ".md"]
    files += sorted((shared_dir / "seed-messages").glob("*.eml"))
    return [p for p in files if p.is_file()]


def test_corpus_reply_reply_all_forward(shared_dir: Path) -> None:
    checked = 0
    for path in _corpus(shared_dir):
        data = path.read_bytes()
        original = email.message_from_bytes(data, policy=email.policy.compat32)
        head = data.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].lower()
        msgid = re.findall(r"<[^<>\s]+>", str(original.get("Message-ID", "")))
        for reply_all in (False, True):
            draft = reply(data, ME, reply_all=reply_all, own_addresses=["me@example.org"])
            for addr in envelope_recipients(draft):
                local, _, domain = addr.lower().rpartition("@")  # an IDN domain goes out as IDNA
                unicode_domain = domain.encode("ascii").decode("idna")
                assert f"{local}@".encode() in head, (path.name, addr)
                assert domain.encode() in head or unicode_domain.encode() in head, (path.name, addr)
            assert "me@example.org" not in [a.lower() for a in envelope_recipients(draft)]
            if msgid:
                assert draft.in_reply_to == msgid[0], path.name
                assert draft.references[-1] == msgid[0], path.name
            assert not draft.subject.lower().startswith("re: re:"), path.name
            assert draft.subject.startswith("Re:")
            draft.to = draft.to or ["x@example.org"]
            out, msg = built(draft)
            assert set(header_names(out)) <= BUILT_HEADERS, path.name
            if msgid:
                assert msg["In-Reply-To"] == msgid[0]
        for as_attachment in (False, True):
            draft = forward(data, ME, as_attachment=as_attachment, include_attachments=True)
            draft.to = ["x@example.org"]
            out, msg = built(draft)
            assert set(header_names(out)) <= BUILT_HEADERS, path.name
        checked += 1
    assert checked >= 100


def test_corpus_reply_to_is_honoured(shared_dir: Path) -> None:
    data = (shared_dir / "corpus" / "mimetools__frag.msg").read_bytes()
    assert envelope_recipients(reply(data, ME)) == ["omrec@mailandnews.com"]
    draft = reply(data, ME, reply_all=True)
    assert envelope_recipients(draft) == ["omrec@mailandnews.com", "eryq@zeegee.com"]
    assert draft.subject == "Re: [Fwd: [Fwd: [Fwd: FW: Another Priceless Moment]]]"


# -- helpers --------------------------------------------------------------------------------


def test_parse_and_format_addresses() -> None:
    assert parse_addresses('a@example.org, "Doe, John" <j@example.org>, Zoë <z@example.org>') == [
        "a@example.org",
        '"Doe, John" <j@example.org>',
        "Zoë <z@example.org>",
    ]
    with pytest.raises(InvalidAddressError):
        parse_addresses("a@example.org, nonsense")
    assert split_address('"Doe, John" <j@example.org>') == ("Doe, John", "j@example.org")
    assert format_address("", "a@b.org") == "a@b.org"


@given(
    name=st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=30
    ).map(lambda s: " ".join(strip_invisible(s).split())),  # invisible ones are dropped
    local=st.from_regex(r"[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]", fullmatch=True).filter(
        lambda s: ".." not in s
    ),
)
def test_format_then_split_round_trips(name: str, local: str) -> None:
    addr = f"{local}@example.org"
    got_name, got_addr = split_address(format_address(name, addr))
    assert got_addr == addr
    assert got_name == name.strip()


def test_draft_json_round_trip_and_junk() -> None:
    draft = Draft(
        ME,
        to=["a@example.org"],
        cc=["b@example.org"],
        bcc=["c@example.org"],
        subject="Grüße",
        body="text\n",
        attachments=["/tmp/file.pdf", ("x.bin", b"\x00\xff", "application/octet-stream")],
        in_reply_to="<a@b>",
        references=["<a@b>"],
        format_flowed=True,
        meta={"folder": "INBOX", "uid": 42},
    )
    assert Draft.from_dict(draft.to_dict()) == draft
    for junk in (None, [], {"from": 3}, {"from": {"address": 1}}, "x"):
        with pytest.raises(ComposeError):
            Draft.from_dict(junk)


# -- forgotten attachments ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Please find the report attached.",
        "See the attachment.",
        "Enclosed is my CV.",
        "Im Anhang findest du die Datei.",
        "Anbei die Unterlagen.",
        "Ich habe es angehängt.",
        "Veuillez trouver ci-joint le document.",
        "Voir la pièce jointe.",
        "Te envío el archivo adjunto.",
        "Adjunto la factura.",
    ],
)
def test_forgotten_attachment_is_detected(body: str) -> None:
    draft = Draft(ME, to=["a@example.org"], body=f"Hi,\n\n{body}\n\nBye\n")
    assert detect_forgotten_attachment(draft)
    draft.attachments = [Attachment("x.pdf", b"x", "application/pdf")]
    assert not detect_forgotten_attachment(draft)


@pytest.mark.parametrize(
    "body",
    [
        "Nothing to see here.",
        "On Mon, Ann wrote:\n> I attached the file.\n> see attachment\n\nThanks, got it.",
        "I am fond of this idea; it was reattached later.",
        "Thanks\n-- \nAttachments are scanned by our company.",
        "FYI\n\n---------- Forwarded message ----------\nSee attached.",
    ],
)
def test_forgotten_attachment_ignores_quotes_and_others_words(body: str) -> None:
    assert not detect_forgotten_attachment(Draft(ME, to=["a@example.org"], body=body))


def test_reply_quote_is_not_a_forgotten_attachment() -> None:
    mail = _msg("From: a@example.org\nSubject: file\n", "I attached the file.\n")
    assert not detect_forgotten_attachment(reply(mail, ME))


def test_split_addresses_keeps_what_was_typed() -> None:
    assert split_addresses('a@x.org, "Doe, John" <j@x.org>; nonsense,, ') == [
        "a@x.org",
        '"Doe, John" <j@x.org>',
        "nonsense",
    ]
    assert split_addresses("") == []


def test_drafts_folder_copy_round_trips_with_bcc(tmp_path: Path) -> None:
    file = tmp_path / "plan.txt"
    file.write_bytes(b"the plan\n")
    draft = Draft(
        ME,
        to=["Ann <ann@example.org>"],
        cc=['"Doe, John" <j@example.org>'],
        bcc=["Hidden <hidden@example.org>"],
        subject="Grüße",
        body="A long line that will be flowed " * 5 + "\n> quoted\n",
        attachments=[file],
        in_reply_to="<p@example.org>",
        references=["<o@example.org>", "<p@example.org>"],
        format_flowed=True,
    )
    msg = build_message(draft, message_id_domain="example.org", include_bcc=True)
    assert b"hidden@example.org" not in message_bytes(msg)
    data = message_bytes(msg, keep_bcc=True)
    assert b"hidden@example.org" in data
    back = draft_from_message(data, ME)
    assert back.to == draft.to and back.cc == draft.cc and back.bcc == draft.bcc
    assert back.subject == draft.subject
    assert back.body == draft.body.replace("flowed \n", "flowed\n")
    assert back.format_flowed
    assert back.in_reply_to == "<p@example.org>"
    assert back.references == ["<o@example.org>", "<p@example.org>"]
    (att,) = back.attachments
    assert isinstance(att, Attachment)
    assert (att.filename, att.data, att.mime_type) == ("plan.txt", b"the plan\n", "text/plain")
    assert draft_from_message(data).from_ == ME


def test_raw_utf8_headers_and_message_objects() -> None:
    raw = (
        "From: Jörg <j@example.org>\r\nTo: me@example.org\r\nSubject: Grüße\r\n"
        "Message-ID: <u@example.org>\r\n\r\nHallo\r\n"
    ).encode()
    draft = reply(raw, ME)
    assert draft.subject == "Re: Grüße" and draft.to == ["Jörg <j@example.org>"]
    parsed = parse(raw)
    assert reply(parsed, ME).subject == "Re: Grüße"
    built_msg = EmailMessage()
    built_msg["From"] = "Zoë <z@example.org>"
    built_msg["Subject"] = "Ünïcode"
    built_msg.set_content("body\n")
    again = reply(built_msg, ME)
    assert again.subject == "Re: Ünïcode" and again.to == ["Zoë <z@example.org>"]
    assert "> body" in again.body
