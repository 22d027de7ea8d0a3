"""PGP/MIME messages to send (RFC 3156): signed, encrypted, or both.

Works on the bytes `app.mime.compose.message_bytes` made, so what is signed is byte for byte
what is sent: the message's content (its Content-* fields and body) becomes the first part of a
multipart/signed (with `micalg` from gpg's SIG_CREATED) or the plaintext of a
multipart/encrypted (application/pgp-encrypted "Version: 1" part, then the armored data).
Encrypt + sign is one gpg run (RFC 3156 6.2, signed inside the encryption). The encrypted
message carries its Subject, From, To, Cc, Date and Message-ID inside as protected headers
(`protected-headers="v1"`) and "..." as its outer Subject.

Every recipient (To, Cc, Bcc) and the sender must have a usable key, else `CryptoError` names
the ones without (nothing is sent). The sender is always a recipient, so the Sent copy stays
readable.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence

from app.crypto.engine import CryptoError, Engine
from app.crypto.reading import _header_fields, _name, canonical
from app.mime.compose import Draft, envelope_recipients, split_address

#: How many recipients without a key a refusal names before "and N more".
MAX_NAMED = 10

_CONTENT = (
    b"content-type",
    b"content-transfer-encoding",
    b"content-disposition",
    b"content-description",
    b"content-id",
    b"content-language",
)
_PROTECTED = (b"subject", b"from", b"to", b"cc", b"date", b"message-id", b"reply-to")


def _boundary() -> bytes:
    return b"=-termail-" + secrets.token_hex(12).encode("ascii")


def _split(data: bytes) -> tuple[list[bytes], bytes]:
    cut = data.find(b"\r\n\r\n")
    if cut < 0:
        raise CryptoError("the message has no header block")
    return _header_fields(data[: cut + 2]), data[cut + 4 :]


def _crlf(data: bytes) -> bytes:
    return canonical(data)


def missing_keys(engine: Engine, addresses: Sequence[str]) -> tuple[dict[str, str], list[str]]:
    """(address -> fingerprint, addresses without a usable encryption key)."""
    found: dict[str, str] = {}
    missing: list[str] = []
    keys = engine.encryption_keys(addresses)
    for address in dict.fromkeys(a.lower() for a in addresses):
        fpr = keys.get(address)
        if fpr:
            found[address] = fpr
        else:
            missing.append(address)
    return found, missing


def refusal(missing: Sequence[str]) -> str:
    named = ", ".join(missing[:MAX_NAMED])
    more = len(missing) - MAX_NAMED
    if more > 0:
        named += f" and {more:,} more"
    return (
        f"not encrypted: no usable OpenPGP key in your keyring for {named}. "
        "Import their keys, or turn encryption off (ctrl+g) to send it readable."
    )


def protect_bytes(
    data: bytes,
    draft: Draft,
    *,
    sign: bool,
    encrypt: bool,
    engine: Engine,
    sign_key: str = "",
) -> bytes:
    """The message `data` signed and/or encrypted as PGP/MIME; raises `CryptoError`."""
    if not sign and not encrypt:
        return data
    sender = split_address(draft.from_.address)[1].lower()
    key = ""
    if sign:
        key = engine.signing_key(sign_key or sender) or ""
        if not key:
            problem = engine.problem
            raise CryptoError(
                problem
                or f"not signed: no usable secret key for {sign_key or sender} in your keyring"
            )
    fields, body = _split(_crlf(data))
    content = [f for f in fields if _name(f) in _CONTENT]
    outer = [f for f in fields if _name(f) not in _CONTENT and _name(f) != b"mime-version"]
    if not any(_name(f) == b"content-type" for f in content):
        content.insert(0, b"Content-Type: text/plain; charset=us-ascii\r\n")
    if encrypt:
        rcpts = [split_address(a)[1].lower() for a in envelope_recipients(draft)]
        found, missing = missing_keys(engine, [*rcpts, sender])
        if missing:
            problem = engine.problem
            raise CryptoError(problem or refusal(missing))
        protected = [f for f in outer if _name(f) in _PROTECTED]
        typed = [
            _with_param(f, b'protected-headers="v1"') if _name(f) == b"content-type" else f
            for f in content
        ]
        plain = b"".join(typed) + b"".join(protected) + b"\r\n" + body
        armored = engine.encrypt(plain, sorted(set(found.values())), sign_key=key or None)
        outer = [b"Subject: ...\r\n" if _name(f) == b"subject" else f for f in outer]
        return _encrypted(outer, _crlf(armored))
    entity = b"".join(content) + b"\r\n" + body
    signature, micalg = engine.sign_detached(entity, key)
    return _signed(outer, entity, _crlf(signature), micalg)


def _with_param(field: bytes, param: bytes) -> bytes:
    return field.rstrip(b"\r\n") + b"; " + param + b"\r\n"


def _signed(outer: list[bytes], entity: bytes, signature: bytes, micalg: str) -> bytes:
    b = _boundary()
    if not entity.endswith(b"\r\n"):
        entity += b"\r\n"
    head = b"".join(outer) + (
        b'MIME-Version: 1.0\r\nContent-Type: multipart/signed; micalg="'
        + micalg.encode("ascii")
        + b'";\r\n protocol="application/pgp-signature";\r\n'
        b' boundary="' + b + b'"\r\n\r\n'
    )
    return (
        head
        + b"This is an OpenPGP/MIME signed message (RFC 4880 and 3156)\r\n"
        + b"--"
        + b
        + b"\r\n"
        + entity
        + b"\r\n--"
        + b
        + b"\r\n"
        + b'Content-Type: application/pgp-signature; name="signature.asc"\r\n'
        + b"Content-Description: OpenPGP digital signature\r\n"
        + b'Content-Disposition: attachment; filename="signature.asc"\r\n\r\n'
        + signature.rstrip(b"\r\n")
        + b"\r\n\r\n--"
        + b
        + b"--\r\n"
    )


def _encrypted(outer: list[bytes], armored: bytes) -> bytes:
    b = _boundary()
    head = b"".join(outer) + (
        b"MIME-Version: 1.0\r\nContent-Type: multipart/encrypted;\r\n"
        b' protocol="application/pgp-encrypted";\r\n boundary="' + b + b'"\r\n\r\n'
    )
    return (
        head
        + b"This is an OpenPGP/MIME encrypted message (RFC 4880 and 3156)\r\n"
        + b"--"
        + b
        + b"\r\n"
        + b"Content-Type: application/pgp-encrypted\r\n"
        + b"Content-Description: PGP/MIME version identification\r\n\r\nVersion: 1\r\n\r\n"
        + b"--"
        + b
        + b"\r\n"
        + b'Content-Type: application/octet-stream; name="encrypted.asc"\r\n'
        + b"Content-Description: OpenPGP encrypted message\r\n"
        + b'Content-Disposition: inline; filename="encrypted.asc"\r\n\r\n'
        + armored.rstrip(b"\r\n")
        + b"\r\n\r\n--"
        + b
        + b"--\r\n"
    )


def is_protected(data: bytes) -> bool:
    """Whether a built message is already PGP/MIME (a resend from the outbox)."""
    head = data[: data.find(b"\r\n\r\n")] if b"\r\n\r\n" in data else data[:4096]
    return re.search(rb"(?im)^content-type:\s*multipart/(signed|encrypted)", head) is not None


# -- drafts of encrypted messages (postponed to the server's Drafts) ----------------------------

#: On a sealed draft: what the message was marked to be ("encrypt" or "encrypt, sign").
DRAFT_MARK = b"X-Termail-Draft-PGP"


def seal_draft(data: bytes, draft: Draft, engine: Engine) -> bytes | None:
    """A postponed draft of a message marked encrypt, encrypted to the sender alone (its
    Subject inside, as protected headers), for the server's Drafts; None when the sender has
    no usable encryption key. Raises CryptoError when gpg fails."""
    sender = split_address(draft.from_.address)[1].lower()
    fingerprint = engine.encryption_key(sender) if sender else None
    if not fingerprint:
        return None
    fields, body = _split(_crlf(data))
    content = [f for f in fields if _name(f) in _CONTENT]
    outer = [f for f in fields if _name(f) not in _CONTENT and _name(f) != b"mime-version"]
    if not any(_name(f) == b"content-type" for f in content):
        content.insert(0, b"Content-Type: text/plain; charset=us-ascii\r\n")
    protected = [f for f in outer if _name(f) in _PROTECTED]
    typed = [
        _with_param(f, b'protected-headers="v1"') if _name(f) == b"content-type" else f
        for f in content
    ]
    plain = b"".join(typed) + b"".join(protected) + b"\r\n" + body
    armored = engine.encrypt(plain, [fingerprint], sign_key=None)
    outer = [b"Subject: ...\r\n" if _name(f) == b"subject" else f for f in outer]
    mark = b"encrypt, sign" if draft.pgp_sign else b"encrypt"
    outer.append(DRAFT_MARK + b": " + mark + b"\r\n")
    return _encrypted(outer, _crlf(armored))


def unseal_draft(data: bytes, engine: Engine) -> tuple[bytes, bool, bool] | None:
    """(the draft readable, marked sign, marked encrypt) of a draft `seal_draft` made, or None
    for any other message. Raises CryptoError when it cannot be decrypted."""
    from app.crypto.reading import decrypted_message

    head, _, _rest = data.partition(b"\r\n\r\n")
    if len(head) == len(data):
        head, _, _rest = data.partition(b"\n\n")
    head += b"\r\n"
    marks = [f for f in _header_fields(head) if _name(f) == DRAFT_MARK.lower()]
    if not marks:
        return None
    armored = _armored(data)
    if armored is None:
        raise CryptoError("the encrypted draft has no OpenPGP message in it")
    opened = engine.decrypt(armored)
    if not opened.ok:
        raise CryptoError(f"the encrypted draft could not be decrypted: {opened.problem}")
    outer = b"".join(f for f in _header_fields(head) if _name(f) != DRAFT_MARK.lower())
    sign = b"sign" in marks[0].partition(b":")[2]
    return decrypted_message(outer, opened.plaintext), sign, True


def _armored(data: bytes) -> bytes | None:
    begin, end = b"-----BEGIN PGP MESSAGE-----", b"-----END PGP MESSAGE-----"
    start = data.find(begin)
    stop = data.find(end, start)
    if start < 0 or stop < 0:
        return None
    return data[start : stop + len(end)] + b"\r\n"
