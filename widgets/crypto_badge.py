"""The OpenPGP / S/MIME badge under the sender check (app/crypto/reading.py makes the verdicts).

One line a verdict, with a mark and the viewer's verified / failed / unknown styles, then its
details indented. Every string went through the sanitizer in the core and goes through
`safe_text` again here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.style import Style
from rich.text import Text

from app.mime.types import CryptoStatus
from widgets.safe import safe_text

_MARKS = {"good": "🔒", "bad": "✗", "warning": "?", "info": "ℹ"}
_STYLES = {
    "good": "message-view--verified",
    "bad": "message-view--failed",
    "warning": "message-view--unknown",
    "info": "message-view--notice",
}
#: Details shown per verdict (fingerprint, what it covers, uid vs From, validity).
MAX_DETAILS = 5


def crypto_text(statuses: Sequence[CryptoStatus], style_of: Callable[[str], Style]) -> Text:
    """The badge lines (empty Text for a message that is neither signed nor encrypted)."""
    text = Text(end="")
    for status in statuses[:8]:
        style = style_of(_STYLES.get(status.level, "message-view--unknown"))
        text.append("\n")
        mark = "✓" if status.level == "good" and "signature" in status.summary else None
        text.append(f"{mark or _MARKS.get(status.level, '?')} ", style)
        text.append_text(safe_text(status.summary, style=style, single_line=True))
        for detail in status.details[:MAX_DETAILS]:
            warn = detail.startswith("⚠")
            text.append("\n    ")
            text.append_text(
                safe_text(
                    detail,
                    style=style_of("message-view--warning") if warn else Style(dim=True),
                    single_line=True,
                )
            )
    return text
