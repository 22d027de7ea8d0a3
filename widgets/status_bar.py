"""The status bar: connection state, account, folder, counts, a message, and fetch progress.

The screen sets plain attributes (`connection`, `account`, `folder`, `message`) and calls
`set_counts`, and reports work through named jobs (`start_job` / `update_job` / `end_job`, or the
`job` context manager; `set_progress` for a single one); the bar draws them as one `Text` line
(server text is untrusted), counts down to the next reconnection attempt by itself, and shows the
progress bar with the newest job's label and count only once some job has lasted `progress_delay`
seconds, so quick fetches do not flicker.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import ProgressBar, Static

from widgets.safe import safe_line, theme_style

_PLAIN_JOB = "progress"
"""The job `set_progress` drives (the single-job interface)."""


@dataclass(slots=True)
class _Job:
    label: str
    done: int
    total: int | None


class StatusBar(Horizontal):
    """One line at the bottom of the main screen."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "status-bar--connected",
        "status-bar--connecting",
        "status-bar--offline",
        "status-bar--account",
        "status-bar--folder",
        "status-bar--counts",
        "status-bar--separator",
        "status-bar--message",
        "status-bar--error",
    }

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
        & > .status-bar--connected { color: $text-success; }
        & > .status-bar--connecting { color: $text-warning; }
        & > .status-bar--offline { color: $text-error; text-style: bold; }
        & > .status-bar--account { text-style: bold; }
        & > .status-bar--folder { color: $text-primary; text-style: bold; }
        & > .status-bar--counts { color: $foreground-muted; }
        & > .status-bar--separator { color: $foreground-disabled; }
        & > .status-bar--message { }
        & > .status-bar--error { color: $text-error; }
        & > #status-line { width: 1fr; height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
        & > #status-progress-label { width: auto; max-width: 40; height: 1; padding: 0 1; color: $text-muted; }
        & > ProgressBar { width: 24; height: 1; display: none; }
        & > ProgressBar Bar { width: 14; }
        &.-progress > ProgressBar { display: block; }
        & > #status-progress-label { display: none; }
        &.-progress > #status-progress-label { display: block; }
    }
    """

    account: reactive[str] = reactive("", init=False)
    """Account name."""
    connection: reactive[str] = reactive("offline", init=False)
    """Connection state as shown: "connected", "connecting", "offline", or a longer text starting
    with one of these (e.g. "offline, retrying in 4 s")."""
    folder: reactive[str] = reactive("", init=False)
    """Open folder (or search) name."""
    message: reactive[str] = reactive("", init=False)
    """A short message: what is happening, a result, an error."""

    def __init__(
        self,
        *,
        progress_delay: float = 0.5,
        name: str | None = None,
        id: str | None = None,  # noqa: A002 - Textual's name
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.progress_delay = progress_delay
        """Seconds a job must run before its progress bar appears."""
        self._total: int | None = None
        self._unseen: int | None = None
        self._message_error = False
        self._retry_at: float | None = None
        self._countdown: Timer | None = None
        self._message_timer: Timer | None = None
        self._progress_started: float | None = None
        self._progress_timer: Timer | None = None
        self._jobs: dict[str, _Job] = {}
        """Running jobs by key, oldest first."""
        self._job_serial = 0
        self._drawn: Text | None = None
        """The status line last drawn, so that an unchanged one is not drawn again."""

    def compose(self) -> ComposeResult:
        yield Static(id="status-line", markup=False)
        yield Static(id="status-progress-label", markup=False)
        # The job's ProgressBar (three widgets) is made with the first job (`_sync_progress`):
        # the first screen is drawn without it.

    def on_mount(self) -> None:
        self._redraw()
        if self._jobs:
            self._sync_progress()  # jobs started before the bar was on screen

    # -- data in ------------------------------------------------------------------------------
    def set_counts(self, total: int | None, unseen: int | None = None) -> None:
        """Message counts of the open folder (None hides them)."""
        self._total = total
        self._unseen = unseen
        self._redraw()

    def set_offline(self, retry_in: float | None = None, reason: str = "") -> None:
        """Offline; with `retry_in`, count down to the next reconnection attempt each second."""
        self._stop_countdown()
        self._retry_at = None if retry_in is None else time.monotonic() + max(0.0, retry_in)
        self.set_reactive(StatusBar.connection, "offline" + (f": {reason}" if reason else ""))
        if self._retry_at is not None and self.is_mounted:
            self._countdown = self.set_interval(1.0, self._redraw)
        self._redraw()

    def show_message(self, text: str, *, error: bool = False, timeout: float | None = None) -> None:
        """Show `text` in the message area; cleared after `timeout` seconds if given."""
        if self._message_timer is not None:
            self._message_timer.stop()
            self._message_timer = None
        self._message_error = error
        self.set_reactive(StatusBar.message, text)
        self._redraw()
        if timeout is not None and self.is_mounted:
            self._message_timer = self.set_timer(timeout, self._clear_message)

    def set_progress(self, done: int, total: int | None, label: str = "") -> None:
        """Progress of a long job; the bar appears once it has run `progress_delay` seconds.

        A call with `done >= total` ends the job and hides the bar. `total` None means unknown
        (an indeterminate bar). The same as `update_job` on the job called "progress".
        """
        if total is not None and done >= total:
            self.end_job(_PLAIN_JOB)
            return
        self.update_job(_PLAIN_JOB, done, total, label)

    def clear_progress(self) -> None:
        """Every job ended: hide the bar."""
        self._jobs.clear()
        self._sync_progress()

    def start_job(self, key: str, label: str, total: int | None = None) -> None:
        """A job began (a folder open, a header fetch, a search, a move of many).

        Several jobs may run at once; the bar shows the newest and counts the others, and
        appears only once some job has lasted `progress_delay` seconds.

        Args:
            key: Names the job for `update_job` / `end_job` (starting it again restarts it).
            label: What the job does, shown beside the bar ("Fetching headers").
            total: How many items it has, or None when unknown (an indeterminate bar).
        """
        self._jobs.pop(key, None)
        self._jobs[key] = _Job(label, 0, total)
        self._sync_progress()

    def update_job(
        self, key: str, done: int, total: int | None = None, label: str | None = None
    ) -> None:
        """How far job `key` has got (starting it if it is not running)."""
        job = self._jobs.get(key)
        if job is None:
            job = self._jobs[key] = _Job(label or "", 0, total)
        job.done = max(0, done)
        if total is not None:
            job.total = total
        if label is not None:
            job.label = label
        self._sync_progress()

    def end_job(self, key: str) -> None:
        """Job `key` finished (or failed): the bar hides when no job is left."""
        if self._jobs.pop(key, None) is not None:
            self._sync_progress()

    @contextmanager
    def job(self, label: str, total: int | None = None, *, key: str | None = None) -> Iterator[str]:
        """`start_job` on entry and `end_job` on exit, however the block is left.

        Without `key` each use is its own job (a cancelled folder open cannot end the next
        one's). Yields the key, for `update_job` inside the block.
        """
        if key is None:
            self._job_serial += 1
            key = f"job-{self._job_serial}"
        self.start_job(key, label, total)
        try:
            yield key
        finally:
            self.end_job(key)

    @property
    def jobs(self) -> list[str]:
        """Keys of the running jobs, oldest first."""
        return list(self._jobs)

    @property
    def progress_text(self) -> str:
        """The text beside the bar (for tests)."""
        return self._progress_line().plain

    @property
    def progress_visible(self) -> bool:
        return self.has_class("-progress")

    @property
    def text(self) -> str:
        """The status line as plain text (for tests)."""
        return self._line().plain

    # -- internals ----------------------------------------------------------------------------
    def _sync_progress(self) -> None:
        """Show the newest job (bar and label), or hide both when none is left."""
        if not self._jobs:
            self._progress_started = None
            if self._progress_timer is not None:
                self._progress_timer.stop()
                self._progress_timer = None
            self.remove_class("-progress")
            return
        if not self.is_mounted:
            return
        if self.has_class("-progress"):
            self._draw_progress()
        if self._progress_started is None:
            self._progress_started = time.monotonic()
            if self.progress_delay <= 0:
                self._draw_progress()
                self.add_class("-progress")
            else:
                self._progress_timer = self.set_timer(self.progress_delay, self._reveal_progress)

    def _progress_line(self) -> Text:
        line = Text(no_wrap=True, end="", overflow="ellipsis")
        if not self._jobs:
            return line
        job = self._jobs[next(reversed(self._jobs))]
        line.append(safe_line(job.label, max_len=28))
        if job.total is not None and job.total > 0:
            line.append(f" {min(job.done, job.total):,}/{job.total:,}")
        if len(self._jobs) > 1:
            line.append(f" +{len(self._jobs) - 1}")
        return line

    def _draw_progress(self) -> None:
        """The newest job's bar and label. Drawn only while shown: a quick fetch that ends
        before `progress_delay` (the rows below the screen, a second under delivery) then
        costs no layout of the screen (the label is `width: auto`)."""
        job = self._jobs[next(reversed(self._jobs))]
        found = self.query_children(ProgressBar)
        if found:
            bar = found.first()
        else:  # made with the first job shown, not on the first screen
            bar = ProgressBar(id="status-progress", show_eta=False)
            self.mount(bar)
        if job.total is None or job.total <= 0:
            bar.update(total=None)
        else:
            bar.update(total=job.total, progress=min(job.done, job.total))
        self.query_one("#status-progress-label", Static).update(self._progress_line())

    def _reveal_progress(self) -> None:
        self._progress_timer = None
        if self._progress_started is not None and self._jobs:
            self._draw_progress()
            self.add_class("-progress")

    def _clear_message(self) -> None:
        self._message_timer = None
        self.set_reactive(StatusBar.message, "")
        self._redraw()

    def _stop_countdown(self) -> None:
        if self._countdown is not None:
            self._countdown.stop()
            self._countdown = None
        self._retry_at = None

    def watch_connection(self, value: str) -> None:
        self._stop_countdown()
        self._redraw()

    def watch_account(self, value: str) -> None:
        self._redraw()

    def watch_folder(self, value: str) -> None:
        self._redraw()

    def watch_message(self, value: str) -> None:
        self._message_error = False
        self._redraw()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.is_mounted:
            self.call_later(self._redraw)

    def _style(self, name: str) -> Style:
        return theme_style(self, f"status-bar--{name}")

    def _line(self) -> Text:
        line = Text(no_wrap=True, end="", overflow="ellipsis")
        sep = (" │ ", self._style("separator"))
        state = safe_line(self.connection, max_len=120) or "offline"
        lowered = state.lower()
        if lowered.startswith("connected"):
            kind, dot = "connected", "●"
        elif lowered.startswith("connecting") or lowered.startswith("reconnecting"):
            kind, dot = "connecting", "◌"
        else:
            kind, dot = "offline", "○"
        if self._retry_at is not None:
            left = max(0, math.ceil(self._retry_at - time.monotonic()))
            state = f"{state}, retrying in {left} s" if left else f"{state}, retrying now"
        line.append(f" {dot} {state}", self._style(kind))
        if self.account:
            line.append(*sep)
            line.append(safe_line(self.account, max_len=60), self._style("account"))
        if self.folder:
            line.append(*sep)
            line.append(safe_line(self.folder, max_len=80), self._style("folder"))
        if self._total is not None:
            line.append(*sep)
            counts = f"{self._total:,} message{'' if self._total == 1 else 's'}"
            if self._unseen:
                counts += f", {self._unseen:,} unread"
            line.append(counts, self._style("counts"))
        if self.message:
            line.append(*sep)
            style = self._style("error" if self._message_error else "message")
            line.append(safe_line(self.message, max_len=500), style)
        return line

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        line = self._line()
        if line == self._drawn:
            return  # the same counts again (a refresh a second under delivery): nothing to do
        self._drawn = line
        # A fixed 1fr x 1 cell: no layout of the whole screen for a new count (issue 21).
        self.query_one("#status-line", Static).update(line, layout=False)
