"""What the signed and encrypted parts of a message say (RFC 3156 PGP/MIME, inline PGP).

A multipart/signed part is verified against the exact bytes of its first child as the server
holds them: that child's MIME header (`BODY[n.MIME]`) and body (`BODY[n]`), joined, with bare
LF made CRLF (RFC 3156's canonical form; what the sender signed). Nothing is re-serialised, so
trailing white space and odd folding survive. For a local file `local_sections` cuts the same
byte ranges out of the whole message.

multipart/encrypted (at the top of a message) is decrypted; the decrypted entity is put under
the outer headers as a message of its own (`decrypted_message`), so it renders like any other,
attachments included, and a multipart/signed inside it is verified the same way. Inline PGP in a
text/plain part (clear-signed or encrypted) is checked and its text replaced by gpg's output.

Every verdict becomes a `CryptoStatus` whose strings are cleaned here (and again by the widget).
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from app.crypto.engine import Decryption, Engine, Signature, SigState, Verification
from app.crypto.smime import Smime
from app.mime.attachments import decode_transfer
from app.mime.sanitize import clean_line
from app.mime.types import CryptoStatus
from app.models import BodyPart

#: How deep a decrypted message may hold another encrypted / signed one.
MAX_NESTING = 3
#: At most this many signed / encrypted parts of one message are checked.
MAX_PROTECTED = 8
#: A signed part bigger than this is not fetched to verify (said so in the viewer).
MAX_SIGNED_BYTES = 64 * 1024 * 1024
#: Inline PGP is looked for in text parts up to this size.
MAX_INLINE_BYTES = 8 * 1024 * 1024

_PGP_SIGNATURE = frozenset({"application/pgp-signature"})
_SMIME_SIGNATURE = frozenset({"application/pkcs7-signature", "application/x-pkcs7-signature"})
_SMIME_MIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})

_BEGIN_SIGNED = b"-----BEGIN PGP SIGNED MESSAGE-----"
_BEGIN_MESSAGE = b"-----BEGIN PGP MESSAGE-----"
_END_SIGNATURE = b"-----END PGP SIGNATURE-----"
_END_MESSAGE = b"-----END PGP MESSAGE-----"


def _child(parent: str, index: int) -> str:
    return f"{parent}.{index}" if parent else str(index)


@dataclass(frozen=True, slots=True)
class Protected:
    """One signed or encrypted node: its kind, where it is, and the sections that hold it."""

    kind: str  # "pgp-signed" | "pgp-encrypted" | "smime-signed" | "smime-opaque"
    node: BodyPart
    sections: tuple[str, ...]
    whole: bool
    """Whether the node is the whole message (else only a part of it is protected)."""
    forwarded: bool = False
    """Inside an enclosed (forwarded) message/rfc822."""


def find_protected(structure: BodyPart) -> list[Protected]:
    """The signed / encrypted nodes of a structure, outermost first (not inside each other)."""
    found: list[Protected] = []
    stack: list[tuple[BodyPart, int, bool]] = [(structure, 0, False)]
    while stack and len(found) < MAX_PROTECTED:
        node, depth, forwarded = stack.pop()
        whole = node is structure
        kind = node.mime_type
        if kind == "multipart/signed" and len(node.children) >= 2:
            first, sig = node.children[0], node.children[1]
            protocol = node.params.get("protocol", "").lower()
            if sig.mime_type in _PGP_SIGNATURE or protocol == "application/pgp-signature":
                name = "pgp-signed"
            elif sig.mime_type in _SMIME_SIGNATURE or protocol in _SMIME_SIGNATURE:
                name = "smime-signed"
            else:
                name = ""
            if name:
                found.append(
                    Protected(
                        name,
                        node,
                        (f"{first.part_id}.MIME", first.part_id, sig.part_id),
                        whole,
                        forwarded,
                    )
                )
                continue
        if kind == "multipart/encrypted" and len(node.children) >= 2:
            found.append(
                Protected("pgp-encrypted", node, (node.children[1].part_id,), whole, forwarded)
            )
            continue
        if kind in _SMIME_MIME:
            found.append(Protected("smime-opaque", node, (node.part_id,), whole, forwarded))
            continue
        if depth < 40:
            inside = forwarded or node.mime_type in ("message/rfc822", "message/global")
            stack.extend((c, depth + 1, inside) for c in reversed(node.children))
    return found


def wanted_sections(structure: BodyPart) -> list[str]:
    """The sections to fetch (BODY.PEEK[...]) to check the message's protected parts."""
    out: list[str] = []
    for item in find_protected(structure):
        out.extend(item.sections)
    return list(dict.fromkeys(out))


# -- exact bytes from a whole message ---------------------------------------------------------

_HEADER_END = re.compile(rb"\r?\n\r?\n")


def _split_entity(data: bytes) -> tuple[bytes, bytes]:
    """(header block with its blank line, body) of a MIME entity."""
    if data.startswith((b"\r\n", b"\n")):
        cut = 2 if data.startswith(b"\r\n") else 1
        return data[:cut], data[cut:]
    found = _HEADER_END.search(data)
    if found is None:
        return data, b""
    return data[: found.end()], data[found.end() :]


def _content_type(header: bytes) -> tuple[str, dict[str, str]]:
    try:
        msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header)
        ctype = msg.get_content_type().lower()
        params = {str(k).lower(): str(v) for k, v in (msg.get_params() or [])[1:]}
    except Exception:
        return "text/plain", {}
    return ctype, params


def _split_multipart(body: bytes, boundary: str) -> list[bytes]:
    """The body parts of a multipart body, byte for byte (the CRLF before a delimiter belongs
    to the delimiter, RFC 2046 5.1.1)."""
    delimiter = re.compile(
        rb"(?:^|\r?\n)--"
        + re.escape(boundary.encode("latin-1", "replace"))
        + rb"(--)?[ \t]*(?:\r?\n|$)"
    )
    parts: list[bytes] = []
    start: int | None = None
    for found in delimiter.finditer(body):
        if start is not None:
            parts.append(body[start : found.start()])
        if found.group(1):
            return parts
        start = found.end()
    if start is not None:
        parts.append(body[start:])  # no close delimiter (cut off): the rest is the last part
    return parts


def local_sections(raw: bytes, *, limit: int = 2000) -> dict[str, bytes]:
    """IMAP sections of a whole message, as a server would answer BODY[n] and BODY[n.MIME]:
    "HEADER", and "n" / "n.MIME" for every part (multipart bodies included)."""
    header, body = _split_entity(bytes(raw))
    out: dict[str, bytes] = {"HEADER": header, "TEXT": body}
    ctype, params = _content_type(header)
    if not ctype.startswith("multipart/"):
        out["1"] = body
        return out
    stack: list[tuple[str, bytes, str, int]] = [("", body, params.get("boundary", ""), 0)]
    while stack and len(out) < limit:
        prefix, content, boundary, depth = stack.pop()
        if not boundary or depth > 40:
            continue
        for index, part in enumerate(_split_multipart(content, boundary), 1):
            part_id = _child(prefix, index)
            head, part_body = _split_entity(part)
            out[f"{part_id}.MIME"] = head
            out[part_id] = part_body
            sub_type, sub_params = _content_type(head)
            if sub_type.startswith("multipart/"):
                stack.append((part_id, part_body, sub_params.get("boundary", ""), depth + 1))
            elif sub_type in ("message/rfc822", "message/global"):
                # IMAP numbers the enclosed message's parts under this one (RFC 3501 6.4.5).
                inner_head, inner_body = _split_entity(part_body)
                inner_type, inner_params = _content_type(inner_head)
                if inner_type.startswith("multipart/"):
                    boundary_of = inner_params.get("boundary", "")
                    stack.append((part_id, inner_body, boundary_of, depth + 1))
                else:
                    out[f"{part_id}.1"] = inner_body
    return out


def canonical(data: bytes) -> bytes:
    """Bare LF (and lone CR) made CRLF: the form RFC 3156 signs."""
    return re.sub(rb"\r?\n|\r", b"\r\n", data)


# -- verdicts as shown ------------------------------------------------------------------------


def _grouped(fingerprint: str) -> str:
    fpr = fingerprint.upper()
    return " ".join(fpr[i : i + 4] for i in range(0, len(fpr), 4))


def _uid_address(uid: str) -> str:
    dn_mail = re.search(r"(?:^|/|,)\s*E(?:Mail)?=([^/,\s]+@[^/,\s]+)", uid, re.IGNORECASE)
    if dn_mail:  # an S/MIME subject: /CN=Alice/EMail=alice@example.org
        return dn_mail.group(1).lower()
    found = re.search(r"<([^<>\s]+)>\s*$", uid)
    return (found.group(1) if found else uid.strip()).lower()


def _when(stamp: int | None) -> str:
    if stamp is None:
        return ""
    try:
        return datetime.fromtimestamp(stamp, UTC).strftime(" on %Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return ""


#: A signature's state as a badge: its level and its words (`who`, `key`, `when` filled in; the
#: template is ours, the values are cleaned). UNKNOWN_KEY and the states not here: below.
_VERDICTS: dict[SigState, tuple[str, str]] = {
    SigState.GOOD: ("good", "good signature by {who}, key {key}{when}"),
    SigState.BAD: ("bad", "BAD signature (key {key}, {who}): the signed text was changed"),
    SigState.EXPIRED_KEY: ("warning", "signature by {who} (key {key}) made with an EXPIRED key"),
    SigState.REVOKED_KEY: ("bad", "signature by {who} (key {key}) made with a REVOKED key"),
    SigState.EXPIRED_SIG: ("warning", "the signature by {who} (key {key}) has expired"),
}


def signature_status(
    sig: Signature, *, engine_name: str, covers: str, from_addresses: Sequence[str]
) -> CryptoStatus:
    """One signature as a badge: who, which key, whether the user id is the From address."""
    who = clean_line(sig.user_id, max_len=200) or "(no user id)"
    key = clean_line(sig.key_id or sig.fingerprint[-16:], max_len=64)
    details: list[str] = []
    if sig.fingerprint:
        details.append(f"fingerprint {_grouped(clean_line(sig.fingerprint, max_len=80))}")
    details.append(f"covers {covers}")
    froms = {a.lower() for a in from_addresses if a}
    if sig.user_id and froms:
        if _uid_address(sig.user_id) in froms:
            details.append("the signer's user id matches From")
        else:
            shown = clean_line(", ".join(sorted(froms)), max_len=200)
            details.append(f"⚠ the signer's user id is not the From address ({shown})")
    if sig.trust and sig.state is SigState.GOOD:
        trust = sig.trust.lower()
        if trust in ("undefined", "never"):
            details.append(f"⚠ key validity {trust}: nobody you trust certified this key")
        else:
            details.append(f"key validity {trust}")
    label = f"{engine_name}:"
    if sig.state is SigState.UNKNOWN_KEY:
        return CryptoStatus(
            "warning",
            f"{label} signed with key {key}, which is not in your keyring: not checked",
            (*details, "ctrl+k: fetch the key with your gpg (or gpg --recv-keys / --import)"),
            missing_key=clean_line(sig.fingerprint or sig.key_id, max_len=64),
        )
    verdict = _VERDICTS.get(sig.state)
    if verdict is not None:
        level, words = verdict
        said = words.format(who=who, key=key, when=_when(sig.created))
        return CryptoStatus(level, f"{label} {said}", tuple(details))
    extra = f" ({clean_line(sig.detail, max_len=100)})" if sig.detail else ""
    return CryptoStatus(
        "warning", f"{label} the signature (key {key}) could not be checked{extra}", tuple(details)
    )


def _verification_statuses(
    result: Verification, *, engine_name: str, covers: str, from_addresses: Sequence[str]
) -> list[CryptoStatus]:
    if result.problem is not None:
        return [
            CryptoStatus(
                "warning",
                f"{engine_name}: signature not checked: {clean_line(result.problem, max_len=300)}",
                (f"covers {covers}",),
            )
        ]
    return [
        signature_status(s, engine_name=engine_name, covers=covers, from_addresses=from_addresses)
        for s in result.signatures[:4]
    ]


def _covers(item: Protected, outer: str) -> str:
    if item.whole:
        return outer
    first = item.node.children[0] if item.node.children else item.node
    if item.forwarded:
        return f"the enclosed (forwarded) message at part {item.node.part_id} only, not this one"
    return (
        f"part {item.node.part_id} only ({first.mime_type}); the rest of the message is NOT signed"
    )


# -- examining --------------------------------------------------------------------------------


@dataclass(slots=True)
class Examined:
    statuses: list[CryptoStatus] = field(default_factory=list)
    decrypted: bytes | None = None
    """The decrypted entity (its MIME header and body) of a top-level multipart/encrypted."""
    decrypted_kind: str = "OpenPGP"
    decryption_signatures: tuple[Signature, ...] = ()
    inline: dict[str, bytes] = field(default_factory=dict)
    """Text parts with inline PGP: part id -> the verified / decrypted text (8bit)."""


def _decode(sections: Mapping[str, bytes], node: BodyPart) -> bytes:
    data, _cut = decode_transfer(sections.get(node.part_id, b""), node.encoding)
    return data


def examine(
    structure: BodyPart,
    sections: Mapping[str, bytes],
    engine: Engine,
    *,
    from_addresses: Sequence[str] = (),
    whole_label: str = "the whole message",
    smime: Smime | None = None,
) -> Examined:
    """Check every protected node with what `wanted_sections` fetched. Never raises."""
    smime = smime or Smime(timeout=engine.timeout)
    out = Examined()
    for item in find_protected(structure):
        covers = _covers(item, whole_label)
        if any(s not in sections for s in item.sections):
            out.statuses.append(
                CryptoStatus(
                    "warning",
                    f"part {item.node.part_id or '1'} is signed or encrypted but was not checked:"
                    f" bigger than {MAX_SIGNED_BYTES // (1 << 20)} MB, or not fetched",
                )
            )
            continue
        if item.kind == "pgp-signed":
            first_id, sig_node = item.sections[1], item.node.children[1]
            signed = canonical(sections[f"{first_id}.MIME"] + sections[first_id])
            result = engine.verify_detached(signed, _decode(sections, sig_node))
            out.statuses += _verification_statuses(
                result, engine_name="OpenPGP", covers=covers, from_addresses=from_addresses
            )
        elif item.kind == "pgp-encrypted":
            payload = _decode(sections, item.node.children[1])
            if not item.whole:
                out.statuses.append(
                    CryptoStatus(
                        "warning",
                        f"OpenPGP: part {item.node.part_id} is encrypted inside an unencrypted"
                        " message: not decrypted (save it and use gpg)",
                    )
                )
                continue
            decryption = engine.decrypt(payload)
            out.statuses += decryption_statuses(decryption, "OpenPGP", from_addresses)
            if decryption.ok:
                out.decrypted = decryption.plaintext
                out.decryption_signatures = decryption.signatures
        elif item.kind == "smime-signed":
            first_id, sig_node = item.sections[1], item.node.children[1]
            signed = canonical(sections[f"{first_id}.MIME"] + sections[first_id])
            result = smime.verify_detached(signed, _decode(sections, sig_node))
            out.statuses += _verification_statuses(
                result, engine_name="S/MIME", covers=covers, from_addresses=from_addresses
            )
            out.statuses.append(_NO_CRL)
        else:  # application/pkcs7-mime: enveloped (encrypted) or opaque signed data
            der = _decode(sections, item.node)
            kind = item.node.params.get("smime-type", "").lower()
            if not item.whole:
                out.statuses.append(
                    CryptoStatus(
                        "warning",
                        f"S/MIME: part {item.node.part_id} is not checked (not the whole message)",
                    )
                )
                continue
            if kind in ("signed-data", "certs-only"):
                result = smime.verify_opaque(der)
                out.statuses += _verification_statuses(
                    result, engine_name="S/MIME", covers=covers, from_addresses=from_addresses
                )
                out.statuses.append(_NO_CRL)
                if result.plaintext:
                    out.decrypted = result.plaintext
            else:
                decryption = smime.decrypt(der)
                out.statuses += decryption_statuses(decryption, "S/MIME", from_addresses)
                if decryption.ok:
                    out.decrypted = decryption.plaintext
    return out


_NO_CRL = CryptoStatus("info", "S/MIME: revocation (CRL/OCSP) not checked: nothing is fetched")


def decryption_statuses(
    result: Decryption, engine_name: str, from_addresses: Sequence[str]
) -> list[CryptoStatus]:
    if not result.ok:
        return [
            CryptoStatus(
                "warning",
                f"{engine_name}: encrypted, NOT decrypted: "
                + clean_line(result.problem or "gpg said no", max_len=300),
            )
        ]
    to = ", ".join(clean_line(k, max_len=20) for k in result.recipients[:20])
    more = len(result.recipients) - 20
    if more > 0:
        to += f" and {more:,} more"
    statuses = [
        CryptoStatus("good", f"{engine_name}: decrypted" + (f" (encrypted to {to})" if to else ""))
    ]
    statuses += [
        signature_status(
            s,
            engine_name=engine_name,
            covers="the decrypted message (signed inside the encryption)",
            from_addresses=from_addresses,
        )
        for s in result.signatures[:4]
    ]
    return statuses


# -- a decrypted entity as a message ------------------------------------------------------------

_CONTENT_HEADERS = re.compile(rb"^(content-[a-z0-9-]*|mime-version)\s*:", re.IGNORECASE)
_PROTECTABLE = (b"subject", b"from", b"to", b"cc", b"reply-to", b"date", b"message-id")


def _header_fields(block: bytes) -> list[bytes]:
    """The fields of a header block, each with its continuation lines, blank line dropped."""
    fields: list[bytes] = []
    for line in re.split(rb"(?<=\n)", block):
        if not line.strip(b"\r\n"):
            continue
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _name(field_bytes: bytes) -> bytes:
    return field_bytes.split(b":", 1)[0].strip().lower()


def decrypted_message(outer_header: bytes, entity: bytes) -> bytes:
    """The outer header (without its Content-* fields) above the decrypted entity: a message
    that renders like any other. Protected headers (RFC draft "protected-headers=v1": a
    Subject etc. inside the encrypted part) replace the outer ones."""
    inner_head, inner_body = _split_entity(entity)
    inner_fields = _header_fields(inner_head)
    inner_names = {_name(f) for f in inner_fields}
    kept = [
        f
        for f in _header_fields(outer_header)
        if not _CONTENT_HEADERS.match(f)
        and not (_name(f) in _PROTECTABLE and _name(f) in inner_names)
    ]
    fields = [*kept, b"MIME-Version: 1.0\r\n", *inner_fields]
    fields = [f if f.endswith(b"\n") else f + b"\r\n" for f in fields]
    return b"".join(fields) + b"\r\n" + inner_body


# -- inline PGP -------------------------------------------------------------------------------


def _armor_block(data: bytes, begin: bytes, end: bytes) -> tuple[int, int] | None:
    start = data.find(begin)
    if start < 0 or (start > 0 and data[start - 1 : start] not in (b"\n", b"\r")):
        return None
    stop = data.find(end, start)
    if stop < 0:
        return start, len(data)  # cut off: gpg will say so
    return start, stop + len(end)


def inline_candidates(structure: BodyPart, parts: Mapping[str, bytes]) -> list[BodyPart]:
    """The fetched text/plain parts that hold inline PGP armor."""
    found = []
    for node in structure.walk():
        if node.mime_type != "text/plain" or node.part_id not in parts:
            continue
        raw = parts[node.part_id]
        if len(raw) > MAX_INLINE_BYTES:
            continue
        data = _decode(parts, node)
        if _BEGIN_SIGNED in data or _BEGIN_MESSAGE in data:
            found.append(node)
        if len(found) >= MAX_PROTECTED:
            break
    return found


def examine_inline(
    structure: BodyPart,
    parts: Mapping[str, bytes],
    engine: Engine,
    *,
    from_addresses: Sequence[str] = (),
    whole_label: str = "the whole message",
) -> Examined:
    """Verify / decrypt inline PGP in text/plain parts; `inline` gets the texts to show."""
    out = Examined()
    text_parts = [n for n in structure.walk() if not n.is_multipart]
    for node in inline_candidates(structure, parts):
        data = _decode(parts, node)
        only = len(text_parts) == 1
        signed = _armor_block(data, _BEGIN_SIGNED, _END_SIGNATURE)
        encrypted = _armor_block(data, _BEGIN_MESSAGE, _END_MESSAGE)
        use = (
            signed
            if signed is not None and (encrypted is None or signed[0] < encrypted[0])
            else None
        )
        block = use or encrypted
        if block is None:
            continue
        start, stop = block
        around = (data[:start] + data[stop:]).strip()
        scope = (
            whole_label
            if only and not around
            else f"the text between the PGP markers of part {node.part_id} only"
        )
        armored = data[start:stop]
        if use is not None:
            result = engine.verify_inline(armored)
            out.statuses += _verification_statuses(
                result, engine_name="OpenPGP (inline)", covers=scope, from_addresses=from_addresses
            )
            if result.problem is None and result.signatures and result.plaintext:
                out.inline[node.part_id] = data[:start] + result.plaintext + data[stop:]
        else:
            decryption = engine.decrypt(armored)
            out.statuses += decryption_statuses(decryption, "OpenPGP (inline)", from_addresses)
            if decryption.ok:
                out.inline[node.part_id] = data[:start] + decryption.plaintext + data[stop:]
    return out


def with_inline(
    structure: BodyPart, parts: Mapping[str, bytes], inline: Mapping[str, bytes]
) -> tuple[BodyPart, dict[str, bytes]]:
    """A copy of the structure and parts with the inline PGP texts in place (8bit)."""
    tree = copy.deepcopy(structure)
    for node in tree.walk():
        if node.part_id in inline:
            node.encoding = "8bit"
    merged = dict(parts)
    merged.update(inline)
    return tree, merged
