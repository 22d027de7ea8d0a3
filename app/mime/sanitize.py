"""The one place that makes untrusted text safe to show on a terminal.

Mail text can carry terminal escape sequences, C1 controls (U+009B is a one-character CSI on some
terminals), bidi overrides that make `exe.txt` look like `txt.exe`, NUL bytes and lone surrogates
(which would make printing raise). Textual and Rich strip only a few of these (docs/libraries.md),
so everything shown goes through `clean` or `clean_line` first.

Controls are shown, not silently dropped, so a reader can see that something odd was there:
C0 controls become the Unicode control pictures (ESC is shown as U+241B), C1 controls and lone
surrogates become U+FFFD. Bidi controls are removed. Markup-looking text (`[bold]`) is left alone:
the UI shows text as `rich.text.Text`, never as markup.

Invisible characters (Unicode's Default_Ignorable_Code_Point: zero-width space and joiners, soft
hyphen, word joiner, variation selectors, tag characters, Hangul fillers) are removed from single
lines (`clean_line`: names, subjects, folder names, server replies), where they only hide what a
string really is (a zero-width space inside `ceo@bank.com`), and from `clean(..., invisible=True)`
text. Message bodies keep them (`clean` by default): a Persian word needs its zero-width
non-joiner.
"""

from __future__ import annotations

import re

#: Marker put where text was cut; the count of characters left out follows it.
CUT_MARKER = "… [cut: {n:,} more characters]"

#: Default cap for `clean_line` (a header line or a name); `clean` has none unless asked.
LINE_MAX = 16_384

_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"

#: Default_Ignorable_Code_Point (DerivedCoreProperties.txt) without the bidi controls above:
#: drawn as nothing, so they can only hide what a name or an address really is.
INVISIBLE_RANGES = (
    "\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2065\u206a-\u206f"
    "\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"
)
_INVISIBLE = re.compile("[" + INVISIBLE_RANGES + "]")

# Everything that needs attention; the common case (none present) costs one regex search.
_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff\ufeff]")
_BAD_LINE = re.compile("[\x00-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff\ufeff]")
_SURROGATES = re.compile("[\ud800-\udfff]")
_BAD_INVISIBLE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff" + INVISIBLE_RANGES + "]"
)
_BAD_LINE_INVISIBLE = re.compile(
    "[\x00-\x1f\x7f-\x9f" + _BIDI + "\u2028\u2029\ud800-\udfff" + INVISIBLE_RANGES + "]"
)


def _build_table(keep_newlines: bool) -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for code in range(0x20):
        table[code] = chr(0x2400 + code)  # control pictures: U+2400 NUL ... U+241F US
    table[0x00] = None  # NUL removed
    table[0x7F] = "\u2421"  # DEL picture
    for code in range(0x80, 0xA0):
        table[code] = "\ufffd"
    for ch in _BIDI:
        table[ord(ch)] = None
    table[0xFEFF] = None  # zero-width no-break space / stray BOM
    if keep_newlines:
        table[0x09] = "\t"
        table[0x0A] = "\n"
        table[0x2028] = "\n"
        table[0x2029] = "\n"
    else:
        table[0x09] = " "
        table[0x0A] = " "
        table[0x2028] = " "
        table[0x2029] = " "
    return table


_TABLE_MULTI = _build_table(True)
_TABLE_LINE = _build_table(False)


def _cut(text: str, max_len: int | None) -> str:
    if max_len is None or len(text) <= max_len:
        return text
    return text[: max(max_len, 0)] + CUT_MARKER.format(n=len(text) - max(max_len, 0))


def clean(
    text: str,
    *,
    max_len: int | None = None,
    keep_newlines: bool = True,
    invisible: bool = False,
) -> str:
    """Return `text` safe to print: controls shown as pictures, bidi controls removed, NUL gone.

    Line ends are normalised to `\\n` (a lone CR could overwrite a line on a terminal, so it
    becomes a newline too). With `keep_newlines=False` newlines and tabs become spaces. Text
    longer than `max_len` is cut and a marker saying how much was left out is appended. With
    `invisible=True` invisible characters (`INVISIBLE_RANGES`) are removed too.
    """
    if not isinstance(text, str):  # defensive: callers are typed, data is not
        text = str(text)
    if max_len is not None and len(text) > max_len * 4 + 1024:
        # Do not spend time cleaning what will be cut; keep the true count for the marker.
        total = len(text)
        text = text[: max_len * 4 + 1024]
        out = clean(text, keep_newlines=keep_newlines, invisible=invisible)[:max_len]
        return out + CUT_MARKER.format(n=total - len(out))
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if invisible:
        pattern = _BAD_INVISIBLE if keep_newlines else _BAD_LINE_INVISIBLE
    else:
        pattern = _BAD if keep_newlines else _BAD_LINE
    if pattern.search(text) is not None:
        if _SURROGATES.search(text) is not None:
            text = _SURROGATES.sub("\ufffd", text)
        text = text.translate(_TABLE_MULTI if keep_newlines else _TABLE_LINE)
        if invisible:
            text = _INVISIBLE.sub("", text)
    return _cut(text, max_len)


def clean_line(text: str, *, max_len: int | None = LINE_MAX, invisible: bool = True) -> str:
    """Return `text` as one safe line: as `clean`, with newlines and tabs turned into spaces.

    Runs of whitespace from unfolding are kept as written except CR/LF pairs, which become one
    space, so a folded header reads as the sender typed it. Invisible characters are removed
    unless `invisible=False`.
    """
    if not isinstance(text, str):
        text = str(text)
    if "\r" in text or "\n" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        # Unfold: a newline followed by whitespace is a fold; any other newline is a space.
        text = re.sub(r"\n[ \t]*", " ", text)
    return clean(text, max_len=max_len, keep_newlines=False, invisible=invisible)


def strip_invisible(text: str) -> str:
    """`text` without its invisible characters (`INVISIBLE_RANGES`); nothing else changed."""
    return _INVISIBLE.sub("", text)


def has_invisible(text: str) -> bool:
    """True when `text` holds an invisible character (`INVISIBLE_RANGES`)."""
    return _INVISIBLE.search(text) is not None


def has_unsafe(text: str) -> bool:
    """True when `text` holds anything `clean` would change (besides line-end normalisation)."""
    return _BAD.search(text) is not None or "\r" in text
