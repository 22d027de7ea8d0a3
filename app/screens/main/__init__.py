"""The main screen, cut by concern (issue 19): `MainScreen` in screen.py keeps the state and
the routing; each other module holds one area's keys and steps. See screen.py's docstring."""

from __future__ import annotations

from app.screens.main.screen import MainScreen

__all__ = ["MainScreen"]
