"""Sender check: can the From header be trusted, from Authentication-Results (RFC 8601)?

A mail client cannot verify DKIM or SPF itself after the fact; the receiving server records its
results in an Authentication-Results header. Only results the user's own server added are worth
anything: a sender can write any Authentication-Results header it likes further down. Unless the
caller names the trusted `authserv-id`s (the account's server), only the topmost header is used,
since receiving servers add theirs above everything the message arrived with.

Verdicts: VERIFIED when DMARC passed for the From domain, or DKIM/SPF passed for a domain
aligned with it; FAILED when DMARC failed or every DKIM/SPF result failed; UNKNOWN otherwise.
Warnings flag a From with no address (the lecture's forged message), several From headers or
addresses, and a display name that looks like an address other than the real one.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from app.mime.confusables import fold, looks_ascii, skeleton
from app.mime.headers import Headers, decode_header_raw, header_values, parse_addresses
from app.mime.sanitize import clean_line, has_invisible
from app.models import SenderCheck, Verdict

_EMAIL_IN_NAME = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PASS = "pass"
_FAILS = frozenset({"fail", "softfail", "permerror", "policy"})


@dataclass(slots=True)
class AuthResult:
    """One `method=result` entry of an Authentication-Results header."""

    method: str
    result: str
    props: dict[str, str] = field(default_factory=dict)


def _strip_comments(text: str) -> str:
    out: list[str] = []
    depth = 0
    in_quote = escape = False
    for ch in text:
        if escape:
            escape = False
            if not depth:
                out.append(ch)
            continue
        if ch == "\\":
            escape = True
            if not depth:
                out.append(ch)
            continue
        if in_quote:
            out.append(ch)
            if ch == '"':
                in_quote = False
            continue
        if depth:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            continue
        if ch == "(":
            depth = 1
        elif ch == '"':
            in_quote = True
            out.append(ch)
        else:
            out.append(ch)
    return "".join(out)


def parse_authentication_results(value: str) -> tuple[str, list[AuthResult]]:
    """(authserv-id, results) of one Authentication-Results value; lenient, never raises."""
    text = _strip_comments(decode_header_raw(value)[:16_384])
    pieces = [piece.strip() for piece in text.split(";")]
    if not pieces:
        return "", []
    head = pieces[0].split()
    authserv = head[0].lower() if head else ""
    results: list[AuthResult] = []
    for piece in pieces[1:]:
        words = piece.split()
        if not words or "=" not in words[0]:
            continue
        method, _, result = words[0].partition("=")
        method = method.split("/", 1)[0].strip().lower()
        props: dict[str, str] = {}
        for word in words[1:]:
            key, sep, prop = word.partition("=")
            if sep:
                props.setdefault(key.lower(), prop.strip('"').lower())
        results.append(AuthResult(method, result.strip().lower(), props))
    return authserv, results


def _domain(address: str) -> str:
    return address.rpartition("@")[2].strip().strip(".").lower() if "@" in address else ""


def _aligned(domain: str, from_domain: str) -> bool:
    """Relaxed alignment: the same domain, or one a subdomain of the other."""
    if not domain or not from_domain:
        return False
    return (
        domain == from_domain
        or (from_domain.endswith("." + domain) and domain.count(".") >= 1)
        or domain.endswith("." + from_domain)
    )


def _address_warnings(from_values: Sequence[str]) -> tuple[str, list[str]]:
    """The From address to check (may be "") and warnings about the From header itself."""
    warnings: list[str] = []
    if not from_values:
        return "", ["the message has no From header"]
    if len(from_values) > 1:
        warnings.append(f"the message has {len(from_values)} From headers; the first is shown")
    raw = decode_header_raw(from_values[0])[:2000]
    if has_invisible(raw):  # parse_addresses drops them; say they were there
        shown = clean_line(_marked(raw), max_len=300)
        warnings.append(f"the From header holds invisible characters: {shown}")
    addresses = [a for a in parse_addresses(from_values[0]) if not a.is_empty_group]
    with_email = [a for a in addresses if a.email]
    if not with_email:
        warnings.append("From has no address: the sender cannot be identified")
        return "", warnings
    if len(with_email) > 1:
        warnings.append("From lists several addresses")
    sender = with_email[0]
    email = sender.email.lower()
    warnings += _name_warnings(sender.name, sender.email)
    if "@" not in email:
        warnings.append("the From address has no domain")
        return "", warnings
    return email, warnings


def _marked(text: str) -> str:
    """`text` with its invisible characters shown as <U+200B>, so a warning can point at them."""
    return "".join(f"<U+{ord(ch):04X}>" if has_invisible(ch) else ch for ch in text)


def _unicode_address(email: str) -> str:
    """The address with an IDNA (xn--) domain decoded: what a lookalike domain really spells."""
    local, at, domain = email.rpartition("@")
    if not at or "xn--" not in domain.lower():
        return email
    try:
        return f"{local}@{domain.encode('ascii').decode('idna')}"
    except (UnicodeError, ValueError):
        return email


def _name_warnings(name: str, address: str) -> list[str]:
    """Warnings about a display name that shows another address than the real one.

    Compared on confusable skeletons (Unicode TS #39, app/mime/confusables.py), so a
    zero-width space, a fullwidth `＠`, a Cyrillic `а` or U+2024 for the dot does not hide it.
    The real address itself is flagged when it only looks like an ASCII one (a homograph).
    """
    warnings: list[str] = []
    real = _unicode_address(address)
    real_skeleton = skeleton(real)
    spelled = fold(name)
    for found in _EMAIL_IN_NAME.findall(skeleton(name)):
        # Another address, or this one only by its look (`g00gle` for `google`).
        if found != real_skeleton or real.lower() not in spelled:
            shown = clean_line(_marked(name), max_len=200)
            warnings.append(
                clean_line(f"the name shows the address {shown}, but the mail is from {address}")
            )
            break
    if looks_ascii(real):
        warnings.append(
            clean_line(
                f"the address {address} ({real}) is written with look-alike characters, "
                "not the letters it seems to be"
            )
        )
    return warnings


def check_sender(
    headers: Headers,
    *,
    trusted_authserv_ids: Collection[str] | None = None,
) -> SenderCheck:
    """Check the From header of a message given as raw (name, value) header pairs, in order."""
    try:
        return _check(headers, trusted_authserv_ids)
    except Exception:  # defensive: a check that cannot run is simply unknown
        return SenderCheck(Verdict.UNKNOWN, "the sender could not be checked")


def _check(headers: Headers, trusted: Collection[str] | None) -> SenderCheck:
    email, warnings = _address_warnings(header_values(headers, "From"))
    ar_values = header_values(headers, "Authentication-Results")
    if trusted is not None:
        wanted = {t.lower() for t in trusted}
        chosen = [p for p in map(parse_authentication_results, ar_values) if p[0] in wanted]
    else:
        chosen = [parse_authentication_results(ar_values[0])] if ar_values else []
    if not email:
        summary = "unverifiable: no sender address"
        return SenderCheck(Verdict.UNKNOWN, summary, tuple(warnings))
    if not chosen:
        return SenderCheck(
            Verdict.UNKNOWN,
            "unverified: no authentication results from your server",
            tuple(warnings),
        )
    from_domain = _domain(email)
    server = clean_line(chosen[0][0] or "the server", max_len=100)
    results = [r for _, rs in chosen for r in rs]
    dmarc = [r for r in results if r.method == "dmarc"]
    dkim = [r for r in results if r.method == "dkim"]
    spf = [r for r in results if r.method == "spf"]

    for r in dmarc:
        header_from = r.props.get("header.from", from_domain)
        if r.result == _PASS and header_from == from_domain:
            return SenderCheck(
                Verdict.VERIFIED,
                f"verified by {server}: DMARC pass for {from_domain}",
                tuple(warnings),
            )
    for r in dmarc:
        if r.result in _FAILS:
            return SenderCheck(
                Verdict.FAILED,
                f"failed at {server}: DMARC {r.result} for {from_domain}",
                tuple(warnings),
            )
    for r in dkim:
        signer = r.props.get("header.d") or _domain(r.props.get("header.i", ""))
        if r.result == _PASS and _aligned(signer, from_domain):
            return SenderCheck(
                Verdict.VERIFIED,
                f"verified by {server}: DKIM signature of {signer}",
                tuple(warnings),
            )
    for r in spf:
        mailfrom = r.props.get("smtp.mailfrom", "")
        domain = _domain(mailfrom) or mailfrom
        if r.result == _PASS and _aligned(domain, from_domain):
            return SenderCheck(
                Verdict.VERIFIED, f"verified by {server}: SPF pass for {domain}", tuple(warnings)
            )
    checked = [r for r in dkim + spf if r.result not in ("none", "neutral", "")]
    if checked and all(r.result in _FAILS for r in checked):
        what = ", ".join(sorted({f"{r.method.upper()} {r.result}" for r in checked}))
        return SenderCheck(Verdict.FAILED, f"failed at {server}: {what}", tuple(warnings))
    for r in dkim:
        signer = r.props.get("header.d", "")
        if r.result == _PASS and signer:
            warnings.append(clean_line(f"signed by {signer}, not by the From domain {from_domain}"))
            break
    return SenderCheck(
        Verdict.UNKNOWN, f"unverified: {server} could not confirm {from_domain}", tuple(warnings)
    )
