"""Printing for the command line: every CLI line passes through the sanitizer.

`termail config check` prints what servers answered, `config init` and `cache` print paths and
account names from the config: any of it may hold ESC sequences (a greeting that retitles the
terminal, OSC 52 writing the clipboard) or bidi and invisible characters. `say` is `print` with
each line cleaned by `app.mime.sanitize.clean`; CLI code uses it instead of `print`.
"""

from __future__ import annotations

import sys
from typing import TextIO

from app.mime.sanitize import clean

__all__ = ["say"]


def say(
    *values: object,
    file: TextIO | None = None,
    sep: str = " ",
    end: str = "\n",
    flush: bool = False,
) -> None:
    """`print(*values, ...)`, with the text made safe for a terminal first."""
    text = sep.join(str(value) for value in values)
    stream = file if file is not None else sys.stdout
    stream.write(clean(text, invisible=True) + end)
    if flush:
        stream.flush()
