"""OSC 8 hyperlinks in a real terminal (issue 17): `termail view` in tmux, every byte it writes
recorded with `tmux pipe-pane`. Hyperlinks appear for the links that may be opened (http,
https, mailto, shown as their own target) and for nothing else: not for a message's own OSC 8
sequence, not for a link whose text differs from its target (only its shown target is linked),
not for javascript: or file:, and a URL holding ESC or BEL cannot end the sequence early."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.ui.test_tmux_hostile import Tmux, leaks

pytestmark = [pytest.mark.ui]

TMUX = shutil.which("tmux")

#: An OSC 8 opening as Textual writes it (`ESC ] 8 ; id=N ; URL ESC \`), and the closing one.
_OSC8_OPEN = re.compile(rb"\x1b\]8;id=[0-9]*;([^\x1b\x07]*)\x1b\\")
_OSC8_CLOSE = re.compile(rb"\x1b\]8;;\x1b\\")


def _message() -> bytes:
    text = (
        "Plain: https://good.example/path?a=1 and mailto:ann@example.org\r\n"
        "Own OSC 8: \x1b]8;;https://evil.example/own\x1b\\click me\x1b]8;;\x1b\\\r\n"
        "ESC inside: https://esc.example/a\x1b]8;;https://evil.example/esc\x07tail\r\n"
        "BEL inside: https://bel.example/b\x07\x1b]8;;https://evil.example/bel\x1b\\\r\n"
        "Local: file:///etc/passwd\r\n"
    )
    html = (
        '<p><a href="https://real.example/target">Your bank</a> '
        '<a href="javascript:alert(1)">run</a> '
        '<a href="https://same.example/">https://same.example/</a></p>'
    )
    boundary = "b-links"
    return (
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: links in tmux\r\n"
        f'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{text}\r\n"
        f"--{boundary}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
        f"--{boundary}--\r\n"
    ).encode()


@pytest.mark.skipif(TMUX is None, reason="tmux is not installed (make test installs it)")
def test_osc8_only_for_allowed_links(tmp_path: Path) -> None:
    eml = tmp_path / "links.eml"
    eml.write_bytes(_message())
    termail = Path(sys.executable).parent / "termail"
    raw = tmp_path / "terminal.bin"
    env_file = tmp_path / "env.sh"
    env_file.write_text(
        f"export TERMAIL_STATE_DIR={tmp_path}/state\nexport TEXTUAL_ANIMATIONS=none\n"
        "export TERMAIL_HYPERLINKS=on\n"
    )
    tmux = Tmux(f"termail-links-{os.getpid()}")
    tmux.run("new-session", "-d", "-s", "demo", "-x", "150", "-y", "45", "bash --norc --noprofile")
    try:
        tmux.run("pipe-pane", "-t", "demo", "-o", f"cat >> {raw}")
        tmux.type(f". {env_file}; {termail} view {eml}; echo EXITED $?")
        tmux.keys("Enter")
        screen = tmux.wait_for("Your bank [")
        assert "Your bank [4: https://real.example/target]" in screen or "real.example" in screen
        assert "␛]8;;https://evil.example/own" in screen  # the message's own escape, as text
        time.sleep(1)
        tmux.keys("q")
        tmux.wait_for("EXITED", timeout=20)
    finally:
        tmux.run("kill-server")
    data = raw.read_bytes()
    assert len(data) > 2_000, "pipe-pane recorded (almost) nothing"
    targets = {m.group(1).decode() for m in _OSC8_OPEN.finditer(data)}
    assert targets == {
        "https://good.example/path?a=1",
        "mailto:ann@example.org",
        "https://esc.example/a",
        "https://bel.example/b",
        "https://real.example/target",
        "https://same.example/",
    }, targets
    assert not any("evil" in t or "javascript" in t or "file:" in t for t in targets)
    # Everything else is Textual's own drawing: no stray ESC, BEL or C1 from the message.
    rest = _OSC8_CLOSE.sub(b"", _OSC8_OPEN.sub(b"", data))
    assert not leaks(rest), leaks(rest)
