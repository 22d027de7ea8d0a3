"""Charset names as mail really uses them, and decoding that never raises.

Senders mislabel text all the time: gb2312 text holds GBK/GB18030 characters, `iso-8859-1` text
holds Windows-1252 quotes, Korean mail says `ks_c_5601-1987` and means cp949, and some labels are
made up (`fakescii`, `bad-charset`, `NONE`). Decoding here picks the superset a real client would
use, tries UTF-8 where the label is clearly wrong, and falls back to a lossless-looking guess
rather than an error. Non-text codecs Python knows (`rot13`, `zlib`, `unicode_escape`) are never
used, whatever a message says.
"""

from __future__ import annotations

import codecs
import re

#: Label (lowercased, punctuation-normalised) -> Python codec to use instead.
ALIASES: dict[str, str] = {
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "gb231280": "gb18030",
    "euc-cn": "gb18030",
    "euccn": "gb18030",
    "x-euc-cn": "gb18030",
    "cn-gb": "gb18030",
    "csgb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "windows-936": "gb18030",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "ks_c_5601-1989": "cp949",
    "ksc5601": "cp949",
    "ksc_5601": "cp949",
    "korean": "cp949",
    "euc-kr": "cp949",
    "euckr": "cp949",
    "windows-949": "cp949",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "iso_8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "l1": "cp1252",
    "iso-ir-100": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
    "ansi_x3.4-1968": "cp1252",
    "us": "cp1252",
    "iso-8859-9": "cp1254",
    "latin5": "cp1254",
    "iso-8859-11": "cp874",
    "tis-620": "cp874",
    "tis620": "cp874",
    "windows-874": "cp874",
    "shift_jis": "cp932",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "ms_kanji": "cp932",
    "windows-31j": "cp932",
    "csshiftjis": "cp932",
    "iso-2022-jp": "iso2022_jp_ext",
    "csiso2022jp": "iso2022_jp_ext",
    "big5": "cp950",
    "big-5": "cp950",
    "x-x-big5": "cp950",
    "cn-big5": "cp950",
    "big5-hkscs": "big5hkscs",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-8-e": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "iso-8859-6-e": "iso-8859-6",
    "x-mac-roman": "mac_roman",
    "macintosh": "mac_roman",
    "x-mac-cyrillic": "mac_cyrillic",
    "x-mac-greek": "mac_greek",
    "x-mac-turkish": "mac_turkish",
    "x-mac-ce": "mac_latin2",
    "x-user-defined": "cp1252",
    "unicode-1-1-utf-7": "utf-7",
    "x-unicode20utf8": "utf-8",
    "unicode-1-1-utf-8": "utf-8",
    "utf8": "utf-8",
    "unicode": "utf-16",
    "ucs-2": "utf-16",
    "koi8": "koi8-r",
    "koi8r": "koi8-r",
    "koi8u": "koi8-u",
    "x-cp1251": "cp1251",
    "x-cp1250": "cp1250",
}

#: Python codecs that are text encodings but must never be chosen from a message label.
_REFUSED = frozenset(
    {
        "unicode-escape",
        "raw-unicode-escape",
        "undefined",
        "idna",
        "punycode",
        "mbcs",
        "oem",
        "charmap",
    }
)

#: Codecs whose bytes are one character each: valid UTF-8 under these labels is a mislabel.
_SINGLE_BYTE_HINT = re.compile(
    r"^(cp12\d\d|cp874|cp437|cp850|cp866|iso8859-\d+|ascii|koi8-[ru]|mac-\w+)$"
)

_LABEL_JUNK = re.compile(r"[\"'\s;]+")


def normalize_charset(label: str | None) -> str | None:
    """Return the Python codec name to decode text labelled `label` with, or None if unknown.

    Quotes, spaces and trailing junk in the label are ignored; aliases map mislabelled charsets
    to the superset actually sent; `windows-NNNN`, `cpNNNN` and `x-` prefixes are understood.
    """
    if not label:
        return None
    name = _LABEL_JUNK.sub("", str(label)).lower()
    if "*" in name:  # RFC 2231 language suffix in an encoded word: utf-8*en
        name = name.split("*", 1)[0]
    if not name or len(name) > 40:
        return None
    name = ALIASES.get(name, name)
    candidates = [name]
    if name.startswith("x-"):
        candidates.append(name[2:])
    if name.startswith("windows-"):
        candidates.append("cp" + name[8:])
    for cand in candidates:
        cand = ALIASES.get(cand, cand)
        try:
            info = codecs.lookup(cand)
        except (LookupError, ValueError, TypeError):
            continue
        if info.name in _REFUSED or not getattr(info, "_is_text_encoding", True):
            continue
        return info.name
    return None


def _bom(data: bytes) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith(codecs.BOM_UTF32_LE) or data.startswith(codecs.BOM_UTF32_BE):
        return "utf-32"
    if data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        return "utf-16"
    return None


def _try(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeError, LookupError, ValueError, TypeError):
        return None


def decode_bytes(data: bytes, charset: str | None, *, guess: bool = True) -> tuple[str, str | None]:
    """Decode `data` labelled `charset`; return the text and a notice when a guess was made.

    The notice is None when the label was used as is. Never raises: the last resort is
    Windows-1252 with undecodable bytes replaced, which shows Western text right and everything
    else recognisably wrong rather than not at all. `guess=False` skips the Windows-1252 guess
    for an unknown label and replaces what is not UTF-8.
    """
    if not data:
        return "", None
    codec = normalize_charset(charset)
    label = str(charset).strip()[:40] if charset else ""
    if data.isascii() and codec is None:
        return data.decode("ascii"), (f"unknown charset {label!r} ignored" if label else None)
    bom = _bom(data)
    if bom is not None and (codec is None or codec.startswith(("utf", "cp1252", "ascii"))):
        text = _try(data, bom)
        if text is not None:
            return text, None
    if codec is not None:
        if not data.isascii() and _SINGLE_BYTE_HINT.match(codec):
            as_utf8 = _try(data, "utf-8")
            if as_utf8 is not None:
                return as_utf8, f"text labelled {label} decoded as UTF-8"
        text = _try(data, codec)
        if text is not None:
            return text, None
        if codec != "utf-8":
            as_utf8 = _try(data, "utf-8")
            if as_utf8 is not None:
                return as_utf8, f"text labelled {label} decoded as UTF-8"
        try:
            text = data.decode(codec, "replace")
            return text, f"text not valid {label}: some characters replaced"
        except Exception:  # a codec that fails even with "replace" (broken stateful codecs)
            pass
    as_utf8 = _try(data, "utf-8")
    if as_utf8 is not None:
        return as_utf8, (f"unknown charset {label!r}: UTF-8 assumed" if label else None)
    what = f"unknown charset {label!r}" if label else "no charset given"
    if not guess:
        return data.decode("utf-8", "replace"), f"{what}: decoded as UTF-8"
    return data.decode("cp1252", "replace"), f"{what}: Windows-1252 assumed"


def decode_header_bytes(data: bytes) -> str:
    """Decode raw 8-bit header bytes (RFC 6532 UTF-8, or legacy bytes): UTF-8, else cp1252."""
    text = _try(data, "utf-8")
    if text is not None:
        return text
    return data.decode("cp1252", "replace")


_META_CHARSET = re.compile(
    rb"<meta[^<>]{0,500}?charset\s*=\s*[\"']?\s*([A-Za-z0-9_.:-]{1,40})", re.I
)


def sniff_html_charset(data: bytes) -> str | None:
    """The charset a `<meta>` tag in the first 4 KB of an HTML body names, if any."""
    match = _META_CHARSET.search(data[:4096])
    if match is None:
        return None
    return match.group(1).decode("ascii", "replace")
