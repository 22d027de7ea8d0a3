"""text/enriched (RFC 1896) and its ancestor text/richtext turned into text with named styles.

The lecture's seed message 03 is text/enriched: `<bold>` and `<italic>` must show as emphasis,
not as raw tags. Unknown commands are dropped (their text kept), `<param>` contents are hidden,
`<<` is a literal `<`, and line breaks follow the RFC: one CRLF is a space, n CRLFs are n-1
newlines, except inside `<nofill>`. Nesting is capped so a hostile part stays linear.
"""

from __future__ import annotations

import re

#: Command -> style name (see app.mime.types.STYLE_NAMES); other commands carry no style.
_STYLES = {
    "bold": "bold",
    "italic": "italic",
    "underline": "underline",
    "fixed": "fixed",
    "excerpt": "quote",
    "bigger": "heading",
}
_MAX_STACK = 64

_TOKEN = re.compile(r"<<|<(/?)([A-Za-z][A-Za-z0-9-]{0,60})>|(\r?\n)+|[^<\r\n]+|<", re.S)

Segment = tuple[str, tuple[str, ...]]


def enriched_to_segments(text: str, *, richtext: bool = False) -> list[Segment]:
    """Convert enriched text to (text, styles) segments; `richtext` uses RFC 1341 line rules.

    The result is not sanitized: the caller cleans each segment (keeping style offsets right).
    """
    out: list[Segment] = []
    stack: list[str] = []
    param_depth = 0
    nofill = 0

    def styles() -> tuple[str, ...]:
        seen: list[str] = []
        for command in stack:
            style = _STYLES.get(command)
            if style and style not in seen:
                seen.append(style)
        return tuple(seen)

    def emit(piece: str) -> None:
        if param_depth or not piece:
            return
        current = styles()
        if out and out[-1][1] == current:
            out[-1] = (out[-1][0] + piece, current)
        else:
            out.append((piece, current))

    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "<<":
            emit("<")
            continue
        command = match.group(2)
        if command is not None:
            name = command.lower()
            closing = bool(match.group(1))
            if richtext and name in ("nl", "lt"):
                if not closing:
                    emit("\n" if name == "nl" else "<")
                continue
            if name == "param":
                param_depth = max(param_depth + (-1 if closing else 1), 0)
                continue
            if name == "nofill":
                nofill = max(nofill + (-1 if closing else 1), 0)
            if closing:
                if name in stack:
                    index = len(stack) - 1 - stack[::-1].index(name)
                    del stack[index]
            elif len(stack) < _MAX_STACK:
                stack.append(name)
            continue
        if match.group(3) is not None:
            count = token.count("\n")
            if richtext:
                emit(" ")  # richtext: line ends are spaces, <nl> breaks lines
            elif nofill:
                emit("\n" * count)
            else:
                emit(" " if count == 1 else "\n" * (count - 1))
            continue
        emit(token)
    return out


def enriched_to_text(text: str) -> str:
    """Just the text of an enriched body, styles dropped."""
    return "".join(piece for piece, _ in enriched_to_segments(text))
