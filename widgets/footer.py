"""Textual's Footer, rebuilt once per change of what it shows.

Textual's Footer recomposes (a new FooterKey per binding, each styled with its two component
classes) after every `bindings_updated` of its screen: the first screen's mount, its focus,
the keymap, each `refresh_bindings`. At start-up that was 3 rebuilds before the first frame,
~300 of the ~540 style applications Textual did for it. Here the signals of one refresh are
coalesced into one rebuild, and none is made when the keys shown are the same as before
(a FooterKey holds only its key, label, action, state and tooltip: the same keys are the same
widgets). What it draws is Textual's Footer's, unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer as TextualFooter
from textual.widgets._footer import FooterKey

__all__ = ["Footer"]


class Footer(TextualFooter):
    """Textual's Footer without the rebuilds that change nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rebuild_pending = False
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> Iterator[Widget]:  # type: ignore[override]
        compact = self.compact
        for widget in super().compose():
            _preset_compact(widget, compact)
            yield widget

    def bindings_changed(self, screen: Screen[Any]) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        if not self.is_attached:
            return
        shown = self._keys_shown()
        if shown == self._shown:
            return
        self._shown = shown
        await self.recompose()

    def _keys_shown(self) -> tuple[Any, ...]:
        """What `compose` would make of the screen's bindings now (everything a FooterKey
        holds), to tell whether a rebuild would change anything."""
        app = self.app
        keys: list[Any] = [
            (
                binding.key,
                app.get_key_display(binding),
                binding.description,
                binding.action,
                binding.group,
                enabled,
                tooltip,
                binding.tooltip,
            )
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == app.COMMAND_PALETTE_BINDING
        ]
        keys.append((self.show_command_palette, app.ENABLE_COMMAND_PALETTE, self.compact))
        return tuple(keys)


def _preset_compact(widget: Widget, compact: bool) -> None:
    """`compact` and its class set before the key is mounted, to what it would be once mounted:
    the Footer's where the key is bound to it (the data binding then finds the value it would
    set), FooterKey's default for the command palette's key (bound to nothing). No watcher
    restyles the key on its mount."""
    if not isinstance(widget, FooterKey):
        return
    bound = "compact" in (widget._reactive_connect or {})
    value = compact if bound else bool(FooterKey.compact._default)
    widget.set_reactive(FooterKey.compact, value)
    widget.set_class(value, "-compact", update=False)
