"""app.mime.headers: RFC 2047/2231 decoding and address lists that never raise or reject."""

from __future__ import annotations

import re
from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from app.mime.headers import (
    ADDRESS_LIST_CUT,
    MAX_ADDRESSES,
    collapse_params,
    decode_envelope_address,
    decode_header,
    format_addresses,
    has_crlf,
    message_ids,
    parse_addresses,
    parse_date,
    parse_params,
    shown_address_header,
)
from app.mime.types import ShownAddress
from app.models import Address

UNSAFE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")


def test_seed_gb2312_subject() -> None:
    assert decode_header("=?gb2312?B?1tDOxA==?= title") == "中文 title"


def test_whitespace_between_encoded_words_dropped_not_elsewhere() -> None:
    assert decode_header("=?utf-8?q?a?= =?utf-8?q?b?=  plain =?utf-8?q?c?=") == "ab  plain c"


def test_multibyte_character_split_across_words() -> None:
    # "中" is e4 b8 ad in UTF-8, split over two words by a broken mailer.
    assert decode_header("=?utf-8?q?=E4=B8?= =?utf-8?q?=AD?=") == "中"


def test_q_underscore_and_lowercase_hex_and_language_suffix() -> None:
    assert decode_header("=?ISO-8859-1*en?Q?caf=e9_au_lait?=") == "café au lait"


def test_unknown_charset_and_bad_base64_do_not_fail() -> None:
    assert decode_header("=?NONE?B?VEVTVA=?=") == "TEST"
    assert decode_header("=?x-unknown?q?caf=E9?=") == "café"
    assert decode_header("=?utf-8?b?!!!?=") in ("", "=?utf-8?b?!!!?=")


def test_escape_in_encoded_word_is_shown_visibly() -> None:
    out = decode_header("=?utf-8?q?=1B]0;pwned=07=1B[2J?=")
    assert "\x1b" not in out and "\x07" not in out and "\u241b" in out


def test_raw_8bit_header_bytes_and_surrogates() -> None:
    assert decode_header(b"Caf\xc3\xa9") == "Café"
    assert decode_header(b"Caf\xe9") == "Café"
    assert decode_header("Caf\udce9") == "Café"  # as the compat32 parser hands it over


def test_folded_header_unfolded() -> None:
    assert decode_header("a long\r\n\tsubject") == "a long\tsubject".replace("\t", " ")


def test_long_header_is_cut_with_marker() -> None:
    out = decode_header("x" * 100_000)
    assert len(out) < 17_000 and out.endswith("more characters]")


def test_has_crlf_only_for_decoded_line_breaks() -> None:
    assert has_crlf("=?utf-8?q?a=0D=0ABcc:_x@y?=")
    assert has_crlf("=?utf-8?q?nul=00?=")
    assert not has_crlf("folded\r\n continued")
    assert not has_crlf(None)


def test_empty_group_kept() -> None:
    addrs = parse_addresses("undisclosed-recipients: ;")
    assert addrs == [ShownAddress("", "", "undisclosed-recipients")]
    assert format_addresses(addrs) == "undisclosed-recipients: ;"


def test_address_less_name_kept_as_written() -> None:
    assert parse_addresses("Dr. Sandra Carberry") == [ShownAddress("Dr. Sandra Carberry", "")]


def test_quoted_names_comments_routes_and_semicolons() -> None:
    addrs = parse_addresses(
        '"Smith, J" <j@s.example>, k@s.example (Kay), <@r1,@r2:u@h.example>; v@x'
    )
    assert [(a.name, a.email) for a in addrs] == [
        ("Smith, J", "j@s.example"),
        ("Kay", "k@s.example"),
        ("", "u@h.example"),
        ("", "v@x"),
    ]


def test_group_with_members() -> None:
    addrs = parse_addresses("Team: a@x, B <b@x>;, c@y")
    assert [a.group for a in addrs] == ["Team", "Team", None]
    assert format_addresses(addrs) == "Team: a@x, B <b@x>;, c@y"


def test_encoded_name_cannot_create_an_address() -> None:
    # The decoded name is "<evil@x.com>, other@y": structure is parsed first, so it stays a name.
    addrs = parse_addresses("=?utf-8?q?=3Cevil=40x=2Ecom=3E=2C_other=40y?= <real@z.example>")
    assert len(addrs) == 1
    assert addrs[0].email == "real@z.example"
    assert addrs[0].name == "<evil@x.com>, other@y"


def test_encoded_word_with_colon_is_not_a_group() -> None:
    addrs = parse_addresses("=?utf-8?q?a:b?= <x@y>")
    assert addrs == [ShownAddress("a:b", "x@y")]


def test_unterminated_things_do_not_fail() -> None:
    for value in ('"open <a@b>', "Name <broken", "(comment", "a@b (x", "<", ":", ";", ",,,"):
        parse_addresses(value)


def test_huge_address_list_is_capped_and_says_so() -> None:
    value = ", ".join(f"user{i}@example.com" for i in range(50_000))
    addrs, line = shown_address_header(value)
    assert len(addrs) <= MAX_ADDRESSES
    assert line.endswith(ADDRESS_LIST_CUT)


def test_rfc2231_continuations_and_charset() -> None:
    params = collapse_params(
        {
            "title*0*": "us-ascii'en'This%20is%20even%20more%20",
            "title*1*": "%2A%2A%2Afun%2A%2A%2A%20",
            "title*2": "isn't it!",
        }
    )
    assert params["title"] == "This is even more ***fun*** isn't it!"


def test_rfc2231_beats_plain_and_encoded_words_in_params() -> None:
    main, params = parse_params(
        'attachment; filename="plain.txt"; filename*=utf-8\'\'%E2%9C%94.txt; name="=?utf-8?b?w6k=?="'
    )
    assert main == "attachment"
    assert params == {"filename": "✔.txt", "name": "é"}


def test_params_keep_backslashes_of_windows_paths() -> None:
    _, params = parse_params('inline; filename="C:\\dir\\file.doc"; x="a\\"b"')
    assert params["filename"] == "C:\\dir\\file.doc"
    assert params["x"] == 'a"b'


def test_param_folded_without_semicolon() -> None:
    main, params = parse_params('multipart/mixed\r\n boundary="abc"')
    assert main == "multipart/mixed" and params["boundary"] == "abc"


def test_envelope_addresses() -> None:
    assert decode_envelope_address(Address("=?utf-8?q?J=C3=BCrgen?=", "j", "x.example")) == (
        "Jürgen",
        "j@x.example",
    )
    assert decode_envelope_address(Address(None, "undisclosed-recipients", None)) == (
        "undisclosed-recipients",
        "",
    )
    assert decode_envelope_address(Address(None, None, None)) == ("", "")
    name, email = decode_envelope_address(Address("\x1b[2Jx", "a\nb", "h"))
    assert "\x1b" not in name and "\n" not in email


def test_dates_and_message_ids() -> None:
    assert parse_date("Wed, 5 Nov 2003 11:26:34 -0500 (EST)") == datetime.fromisoformat(
        "2003-11-05T11:26:34-05:00"
    )
    assert parse_date("not a date") is None and parse_date(None) is None
    assert message_ids("<a@b> junk <c@d>\r\n <e@f>") == ["<a@b>", "<c@d>", "<e@f>"]


@given(st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_decoding_never_raises_and_is_one_safe_line(value: str | bytes) -> None:
    out = decode_header(value)
    assert UNSAFE_LINE.search(out) is None


@given(
    st.text(alphabet=st.sampled_from(list('ab@<>",;:()[]\\ =?qQbB_\r\n\t\x1b\u202e')), max_size=120)
)
def test_address_parsing_never_raises_and_is_safe(value: str) -> None:
    for addr in parse_addresses(value):
        assert UNSAFE_LINE.search(addr.name) is None
        assert UNSAFE_LINE.search(addr.email) is None
    assert UNSAFE_LINE.search(format_addresses(parse_addresses(value))) is None


@given(st.text(max_size=200))
def test_param_parsing_never_raises(value: str) -> None:
    main, params = parse_params(value)
    assert isinstance(main, str) and isinstance(params, dict)
