"""Which way images are drawn: from the environment only, half-blocks when in doubt (issue 18)."""

from __future__ import annotations

import pytest

from widgets.image_caps import graphics_protocol


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "halfblocks"),
        ({"TERM": "xterm-256color"}, "halfblocks"),
        ({"TERM": "dumb"}, "halfblocks"),
        ({"TERM": "xterm-kitty"}, "kitty"),
        ({"TERM": "xterm-256color", "KITTY_WINDOW_ID": "1"}, "kitty"),
        ({"TERM_PROGRAM": "WezTerm"}, "sixel"),
        ({"TERM": "foot"}, "sixel"),
        ({"TERM": "xterm-256color", "TERMAIL_IMAGES": "sixel"}, "sixel"),
        ({"TERM": "xterm-kitty", "TERMAIL_IMAGES": "halfblocks"}, "halfblocks"),
        # tmux: half-blocks even inside kitty, unless the user says its Sixel works.
        ({"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0", "KITTY_WINDOW_ID": "1"}, "halfblocks"),
        ({"TERM": "screen-256color", "TERM_PROGRAM": "WezTerm"}, "halfblocks"),
        ({"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0", "TERMAIL_IMAGES": "sixel"}, "sixel"),
        ({"TERM": "tmux-256color", "TMUX": "/tmp/t,1,0", "TERMAIL_IMAGES": "kitty"}, "halfblocks"),
        ({"TERMAIL_IMAGES": "nonsense"}, "halfblocks"),
    ],
)
def test_graphics_protocol(env: dict[str, str], expected: str) -> None:
    assert graphics_protocol(env) == expected
