"""app.mime.charsets: mislabelled and unknown charsets decode to readable text, never raise."""

from __future__ import annotations

import codecs

from hypothesis import given
from hypothesis import strategies as st

from app.mime.charsets import decode_bytes, normalize_charset, sniff_html_charset


def test_gb2312_reads_as_gb18030() -> None:
    data = "中文 𠀀".encode("gb18030")  # the second character is outside gb2312
    text, note = decode_bytes(data, "gb2312")
    assert text == "中文 𠀀" and note is None


def test_korean_label_reads_as_cp949() -> None:
    data = "똠방각하".encode("cp949")  # 똠 is cp949-only (not in euc-kr)
    assert decode_bytes(data, "ks_c_5601-1987") == ("똠방각하", None)


def test_latin1_label_reads_as_cp1252() -> None:
    assert decode_bytes(b"\x93quoted\x94 \x80", "iso-8859-1")[0] == "\u201cquoted\u201d \u20ac"


def test_utf8_under_single_byte_label_is_recognised() -> None:
    text, note = decode_bytes("メール".encode(), "windows-1252")
    assert text == "メール"
    assert note is not None and "UTF-8" in note


def test_unknown_label_is_guessed_with_notice() -> None:
    text, note = decode_bytes(b"caf\xe9", "fakescii")
    assert text == "café"
    assert note is not None and "fakescii" in note


def test_non_text_codecs_are_never_used() -> None:
    for label in ("rot13", "zlib", "base64", "unicode_escape", "raw-unicode-escape", "undefined"):
        assert normalize_charset(label) is None, label
    assert decode_bytes(b"\\x1b[2J", "unicode_escape")[0] == "\\x1b[2J"
    assert decode_bytes(b"uryyb", "rot13")[0] == "uryyb"


def test_label_junk_and_prefixes() -> None:
    assert normalize_charset(' "UTF-8"; ') == "utf-8"
    assert normalize_charset("windows-1251") == "cp1251"
    assert normalize_charset("x-gbk") == "gb18030"
    assert normalize_charset("utf-8*en") == "utf-8"
    assert normalize_charset("") is None and normalize_charset(None) is None


def test_bom_wins_over_missing_label() -> None:
    data = codecs.BOM_UTF16_LE + "hello".encode("utf-16-le")
    assert decode_bytes(data, None)[0] == "hello"


def test_invalid_bytes_replaced_with_notice() -> None:
    text, note = decode_bytes(b"ok \xff\xfe", "utf-8")
    assert text.startswith("ok ") and "\ufffd" in text and note


def test_meta_charset_sniffing() -> None:
    assert (
        sniff_html_charset(
            b'<meta http-equiv="Content-Type" content="text/html;\n charset=iso-8859-2">'
        )
        == "iso-8859-2"
    )
    assert sniff_html_charset(b"<p>none</p>") is None


@given(
    st.binary(max_size=300),
    st.one_of(
        st.none(),
        st.text(max_size=30),
        st.sampled_from(
            [
                "utf-8",
                "gb2312",
                "iso-2022-jp",
                "utf-16",
                "utf-7",
                "shift_jis",
                "ks_c_5601-1987",
                "koi8-r",
            ]
        ),
    ),
)
def test_decode_never_raises(data: bytes, label: str | None) -> None:
    text, _note = decode_bytes(data, label)
    assert isinstance(text, str)
    if data.isascii() and label in (None, "utf-8", "koi8-r", "shift_jis"):
        assert text == data.decode("ascii")
