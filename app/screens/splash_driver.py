"""Textual's Linux driver taking over from the splash (`app.splash`) without a blank flash.

`ESC[?1049h` clears the alternate screen, where the splash already is: the first start skips
it, and Textual's first full frame overwrites every cell of the splash. The terminal mode to give
back on quit is the one from before the splash (the driver would otherwise read the splash's
raw mode as "before"). Input is never flushed on the way in (Textual sets its mode with
TCSANOW): keys typed during the splash are read by Textual and act on the list shown.

Every frame Textual writes also tells the snapshot writer that the screen may have changed
(`app.screens.splash_snapshot.frame_written`): no timer runs while nothing is drawn.
"""

from __future__ import annotations

from typing import Any

from textual.drivers.linux_driver import LinuxDriver

from app import splash

_ALT_SCREEN = "\x1b[?1049h"


class SplashDriver(LinuxDriver):
    """LinuxDriver that continues the splash's alternate screen on its first start."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._splash_attrs: list[Any] | None = None
        self._skip_alt_screen = False
        self._on_frame: Any = None

    def start_application_mode(self) -> None:
        attrs = splash.hand_over()  # None after the first start (Ctrl+Z, pinentry) or no splash
        self._skip_alt_screen = attrs is not None
        super().start_application_mode()  # type: ignore[no-untyped-call]
        self._skip_alt_screen = False
        if attrs is not None:
            self.attrs_before = attrs

    def write(self, data: str) -> None:
        if self._skip_alt_screen and data == _ALT_SCREEN:
            self._skip_alt_screen = False
            return
        super().write(data)
        if self._on_frame is not None:
            self._on_frame()
