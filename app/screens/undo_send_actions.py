"""Undo send on the screen: the countdown in the status bar, `u` to take a message back, and
the question at quit. The outbox work is `app.smtp.undo_send`.

- ComposeScreen._send calls `hold_from_compose` after the user said yes: with a delay the
  message goes to the outbox (on disk first), the compose screen closes, and the status bar
  counts down ("Sending in 9 s — u to undo").
- `u` (MainScreen.action_undo calls `undo_send` first): during a countdown it takes the newest
  held message back into compose, whole (attachments, identity, recipients, the reply it
  answers); with none waiting it is the usual undo of a delete or move. Newest action first.
- Quit (App.action_quit calls `ask_before_quit` first): "1 message waits to be sent: send now /
  keep in outbox / cancel". Kept ones are sent by the next run's outbox flush.

Functions take the App or a screen (typed `Any`: no import of app.screens.main).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

from app.smtp.undo_send import HeldSend, delay_for, hold, release, take_back

__all__ = ["ask_before_quit", "held_messages", "hold_from_compose", "send_left_over", "undo_send"]

_TICK = 0.5
_RETRY = 1.0


class _Countdown:
    """The App's held messages and the timer that sends each when its time is up."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.held: list[HeldSend] = []
        self.sending: set[str] = set()
        self.retry_at: dict[str, float] = {}
        self.screen_class: dict[str, Any] = {}
        """The compose screen's class and its address book and draft store, per entry (taken
        from the screen that sent it, so this module does not import app.screens.compose)."""
        self.timer: Any = None
        self.quit_answered = False

    def add(self, held: HeldSend) -> None:
        self.held.append(held)
        if self.timer is None:
            self.timer = self.app.set_interval(_TICK, self.tick)
        self.tick()

    def remove(self, held: HeldSend) -> None:
        with contextlib.suppress(ValueError):
            self.held.remove(held)
        self.sending.discard(held.entry_id)
        self.retry_at.pop(held.entry_id, None)
        self.screen_class.pop(held.entry_id, None)
        if not self.held and self.timer is not None:
            self.timer.stop()
            self.timer = None

    def tick(self) -> None:
        now = time.time()
        for held in list(self.held):
            if held.entry_id in self.sending or held.remaining(now) > 0:
                continue
            if self.retry_at.get(held.entry_id, 0.0) > now:
                continue
            self.sending.add(held.entry_id)
            self.app.run_worker(self.send(held), group="undo-send", exit_on_error=False)
        self.show(now)

    def show(self, now: float) -> None:
        waiting = [h for h in self.held if h.entry_id not in self.sending]
        if waiting:
            newest = waiting[-1]
            seconds = max(1, math.ceil(newest.remaining(now)))
            text = f"Sending in {seconds} s — u to undo"
            if len(waiting) > 1:
                text += f" ({len(waiting)} messages waiting)"
        elif self.held:
            text = "Sending…"
        else:
            return
        for screen in _main_screens(self.app):
            status = getattr(screen, "status", None)
            if status is not None and getattr(screen, "is_mounted", False):
                with contextlib.suppress(Exception):
                    status.show_message(text, timeout=_TICK * 3)

    async def send(self, held: HeldSend) -> None:
        try:
            outcome = await release(held)
        except Exception as exc:  # the entry stays on disk; the outbox flush retries it
            self.remove(held)
            from app.screens.protolog_actions import error_with_hint

            self.app.notify(
                error_with_hint(
                    exc, f"Not sent yet ({type(exc).__name__}: {exc}): it waits in the outbox (O)."
                ),
                title="Send",
                severity="error",
                markup=False,
            )
            return
        if outcome is None:  # another send holds the outbox: again in a moment
            self.sending.discard(held.entry_id)
            self.retry_at[held.entry_id] = time.time() + _RETRY
            return
        if not outcome.sent and not outcome.queued and held.entry_id in self.screen_class:
            # Refused for good (5xx) and sent to no one: back into compose with the reason, as
            # without a delay, so it can be fixed; it stays in the outbox if that fails.
            reopen = self.screen_class[held.entry_id]
            if take_back(held):
                self.remove(held)
                compose = _reopen(self.app, held, reopen)
                reason = outcome.message.split(". It waits in the outbox", 1)[0] + "."
                compose.call_after_refresh(compose._error, reason)
                return
        self.remove(held)
        severity = "information" if outcome.sent else "warning" if outcome.queued else "error"
        from app.screens.protolog_actions import with_log_hint

        self.app.notify(
            with_log_hint(outcome.message), title="Send", severity=severity, markup=False
        )
        for screen in _main_screens(self.app):
            reload = getattr(screen, "_reload_outbox_screen", None)
            if callable(reload):
                with contextlib.suppress(Exception):
                    reload()


def _main_screens(app: Any) -> list[Any]:
    screens = list(getattr(app, "_screens", {}).values())
    return [s for s in screens if hasattr(s, "status")] or [app.screen]


def _countdown(app: Any) -> _Countdown:
    countdown = getattr(app, "_undo_send", None)
    if not isinstance(countdown, _Countdown):
        countdown = _Countdown(app)
        app._undo_send = countdown
    return countdown


def held_messages(app: Any) -> list[HeldSend]:
    """The messages waiting out their delay (oldest first)."""
    countdown = getattr(app, "_undo_send", None)
    return list(countdown.held) if isinstance(countdown, _Countdown) else []


def hold_from_compose(compose: Any, draft: Any) -> bool:
    """After the user's yes in compose: hold the message for the delay. True when it is held
    (the compose screen is closed here); False to send at once (no delay configured, or the
    outbox cannot keep it: said in a toast)."""
    from app.mime.compose import ComposeError
    from app.smtp.outbox import OutboxError

    app = compose.app
    delay = delay_for(compose.account, getattr(app, "ui", None))
    if delay <= 0:
        return False
    try:
        held = hold(
            compose.account,
            draft,
            delay,
            mode=compose.mode,
            original_uid=compose.original_uid,
            original_folder=compose.original_folder,
        )
    except ComposeError:
        return False  # the immediate send says why, and keeps the message here
    except OutboxError as exc:
        app.notify(
            f"No undo for this one: the outbox cannot keep it ({exc}); sending now.",
            severity="warning",
            markup=False,
        )
        return False
    compose._sent = True
    store = getattr(compose, "draft_store", None)
    if store is not None:
        with contextlib.suppress(Exception):
            store.discard(compose.draft_id)  # the outbox holds it now (on disk, fsynced)
    countdown = _countdown(app)
    countdown.screen_class[held.entry_id] = (
        type(compose),
        list(getattr(compose, "known_addresses", []) or []),
        store,
    )
    countdown.add(held)
    compose.dismiss()
    return True


def undo_send(screen: Any) -> bool:
    """`u`: take the newest held message back into compose. False when none waits (the key
    is then the usual undo); True when this key press was about a held message."""
    app = screen.app
    countdown = getattr(app, "_undo_send", None)
    if not isinstance(countdown, _Countdown) or not countdown.held:
        return False
    held = countdown.held[-1]
    if held.entry_id in countdown.sending or not take_back(held):
        app.notify(
            "Too late to undo: it is being sent (or has left the outbox).",
            title="Undo send",
            severity="warning",
            markup=False,
        )
        return True
    reopen = countdown.screen_class[held.entry_id]
    countdown.remove(held)
    _reopen(app, held, reopen)
    screen.app.notify(
        "Not sent: the message is back in compose (ctrl+s sends it again).",
        title="Undo send",
        markup=False,
    )
    return True


def send_left_over(screen: Any) -> None:
    """Once connected: messages an earlier run held for undo and never sent (it crashed, was
    killed, or quit with "keep in outbox") are made due at once, and the outbox is flushed.
    Their undo ended with that run (the draft was in its memory); each is sent once, under the
    outbox lock, and removed."""
    from app.smtp.outbox import OutboxError
    from app.smtp.sending import account_outbox

    mine = {held.entry_id for held in held_messages(screen.app)}
    now = time.time()
    try:
        outbox = account_outbox(screen.account)
        for entry in outbox.list():
            held_before = entry.attempts == 0 and not entry.failed and entry.next_try > now
            if held_before and entry.id not in mine and entry.account == screen.account.name:
                outbox.retry_now(entry.id, now=now)
    except OutboxError:
        pass  # the flush below says what is wrong, if anything
    screen.flush_outbox()


def _reopen(app: Any, held: HeldSend, reopen: tuple[Any, list[str], Any]) -> Any:
    """The compose screen again, with the held draft, counted as written."""
    screen_class, known, store = reopen
    compose = screen_class(
        held.account,
        held.draft,
        original_uid=held.original_uid,
        original_folder=held.original_folder,
        mode=held.mode,
        known_addresses=known,
        draft_store=store,
    )
    app.push_screen(compose)
    compose.call_after_refresh(_taken_back, compose)
    return compose


def _taken_back(compose: Any) -> None:
    """A message taken back is not "unchanged" (that would let Esc drop it without asking):
    it counts as written, so it is autosaved and closing it asks what to keep."""
    compose._initial = {"taken back from the outbox": True}
    save = getattr(compose, "_autosave", None)
    if callable(save):
        with contextlib.suppress(Exception):
            save(True)  # on disk again at once: a crash now keeps it as a local draft


def ask_before_quit(app: Any) -> bool:
    """Quit with messages still counting down: ask first (in a worker). True when the
    question is taken care of here; False to go on with the usual quit."""
    countdown = getattr(app, "_undo_send", None)
    if not isinstance(countdown, _Countdown) or not countdown.held or countdown.quit_answered:
        return False
    app.run_worker(_ask(app, countdown), group="undo-send-quit", exclusive=True)
    return True


async def _ask(app: Any, countdown: _Countdown) -> None:
    from widgets.dialogs import ChoiceDialog

    count = len(countdown.held)
    question = (
        f"{count} message{' waits' if count == 1 else 's wait'} to be sent "
        "(its undo time is running)."
    )
    choices = [("s", "Send now"), ("k", "Keep in outbox"), ("c", "Cancel")]
    choice = await app.push_screen_wait(ChoiceDialog(question, choices))
    if choice == "s":
        for held in list(countdown.held):
            if held.entry_id in countdown.sending:
                continue
            countdown.sending.add(held.entry_id)
            await countdown.send(held)
    elif choice != "k":
        return  # cancel, Esc: stay, the countdown goes on
    countdown.quit_answered = True
    try:
        if choice == "k":
            countdown.held.clear()  # they stay on disk; the next run's outbox flush sends them
            if countdown.timer is not None:
                countdown.timer.stop()
                countdown.timer = None
        writing = any(
            callable(getattr(screen, "has_unsent_text", None)) and screen.has_unsent_text()
            for screen in app.screen_stack
        )
        if choice == "k" and not writing:
            app.exit()  # asked already: what waits is kept in the outbox
            return
        await app.action_quit()  # anything else to ask (a message being written, a 4xx, …)
    finally:
        countdown.quit_answered = False
