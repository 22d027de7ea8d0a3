"""Inputs the long fuzz run (`make fuzz`) found breaking the MIME model, kept as plain tests."""

from __future__ import annotations

import pytest

from app.mime.render import (
    INTERNAL_ERROR_NOTICE,
    message_structure,
    render_from_parts,
    render_message,
)

#: A text part whose charset is an RFC 2231 `charset*=` triple and whose body holds an 8-bit
#: byte (from a header line the mutation split): `Message.get_payload()` passed the triple to
#: bytes.decode and raised TypeError, so the whole message fell back to raw text.
RFC2231_CHARSET_8BIT = (
    b"From: Anne Person <aperson@example.com>\n"
    b"Subject: Re: Limiting Perl CPU Utilization...\n"
    b"Mime-Version: 1.0\n"
    b"Content-Type: multipart/signed; micalg*=ansi-x3.4-1968''pgp-md5;\n"
    b"\tprotocol*=ansi-x3.4-1968''application%2Fpgp-signature;\n"
    b"\tboundary*=\"ansi-x3.4-1968''EeQfGwPcQSOJBaQU\"\n"
    b"\n\n--EeQfGwPcQSOJBaQU\n"
    b"Content-Type: text/plain; charset*=ansi-x3.4-1968''us-a\r\n\x8ccii\n"
    b"Content-Disposition: inline\nContent-Transfer-Encoding: quoted-printable\n\n"
    b"part 1\n\n--EeQfGwPcQSOJBaQU\nContent-Type: text/plain\nContent-Disposition: inline\n\n"
    b"part 2\n\n--EeQfGwPcQSOJBaQU--\n"
)


@pytest.mark.parametrize("prefer_html", [False, True])
def test_rfc2231_charset_with_8bit_body_renders(prefer_html: bool) -> None:
    rendered = render_message(RFC2231_CHARSET_8BIT, prefer_html=prefer_html)
    assert not any(INTERNAL_ERROR_NOTICE in n for n in rendered.notices), rendered.notices
    assert rendered.subject == "Re: Limiting Perl CPU Utilization..."
    assert "part 1" in rendered.body  # multipart/signed: the signed part, not the signature


def test_rfc2231_charset_with_8bit_body_renders_by_parts() -> None:
    header, structure, parts = message_structure(RFC2231_CHARSET_8BIT)
    rendered = render_from_parts(header, structure, parts)
    assert not any(INTERNAL_ERROR_NOTICE in n for n in rendered.notices), rendered.notices
    assert "part 1" in rendered.body  # multipart/signed: the signed part, not the signature
