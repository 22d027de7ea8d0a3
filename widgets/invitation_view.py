"""The invitation card and the mailing-list line shown at the top of the viewer.

Both draw typed results of the core (`app.mime.calendar.Invitation`, `app.mime.lists.
MailingList`) as `rich.text.Text` built from sanitized strings; neither fetches anything. The
screen calls `show_invitation` / `set_list` and handles the keys (Y M D, L U).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from app.mime.lists import MailingList
from widgets.safe import safe_line, safe_text, theme_style

if TYPE_CHECKING:  # the type only: app.mime.calendar (zoneinfo) stays off the first screen
    from app.mime.calendar import Invitation

__all__ = ["InvitationCard", "ListLine"]

DESCRIPTION_LINES = 8
"""The card shows the description's first lines; the body below holds it all."""
SHOWN_ATTENDEES = 12


class InvitationCard(Static):
    """An invitation: what, when (the user's zone; the original named), where, who answered."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "invitation-card--headline",
        "invitation-card--label",
        "invitation-card--cancelled",
        "invitation-card--notice",
        "invitation-card--keys",
    }

    DEFAULT_CSS = """
    InvitationCard {
        height: auto;
        max-height: 50%;
        padding: 0 1;
        background: $boost;
        border-left: thick $accent;
        display: none;
        &.-shown { display: block; }
        & > .invitation-card--headline { color: $text-accent; text-style: bold; }
        & > .invitation-card--label { color: $text-primary; }
        & > .invitation-card--cancelled { color: $text-error; text-style: bold; }
        & > .invitation-card--notice { color: $text-warning; }
        & > .invitation-card--keys { color: $foreground-muted; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.invitation: Invitation | None = None

    def show_invitation(self, invitation: Invitation | None) -> None:
        """Show `invitation` (None hides the card)."""
        self.invitation = invitation
        self.set_class(invitation is not None, "-shown")
        self.update(self._render_card() if invitation is not None else Text(""))

    def notify_style_update(self) -> None:
        super().notify_style_update()
        if self.invitation is not None and self.is_mounted:
            self.call_later(lambda: self.update(self._render_card()))

    def _render_card(self) -> Table | Text:
        inv = self.invitation
        if inv is None:
            return Text("")
        headline = theme_style(self, "invitation-card--headline")
        label = theme_style(self, "invitation-card--label")
        cancelled = theme_style(self, "invitation-card--cancelled")
        notice = theme_style(self, "invitation-card--notice")
        keys = theme_style(self, "invitation-card--keys")
        grid = Table.grid(padding=(0, 1), expand=True)
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(ratio=1, overflow="fold")
        is_cancel = inv.headline == "Cancelled event"
        title = Text("📅 " + inv.headline + ": ", style=cancelled if is_cancel else headline)
        title.append_text(safe_text(inv.title or "(no title)", style=headline, single_line=True))
        grid.add_row(Text(""), title)

        def row(name: str, value: str | Text) -> None:
            shown = value if isinstance(value, Text) else safe_text(value, single_line=True)
            grid.add_row(Text(f"{name}:", style=label, end=""), shown)

        if inv.when:
            row("When", inv.when)
        if inv.recurrence:
            row("Repeats", inv.recurrence)
        if inv.location:
            row("Where", inv.location)
        if inv.organizer is not None:
            row("Organizer", inv.organizer.label)
        if inv.attendees:
            people = Text(end="")
            for index, attendee in enumerate(inv.attendees[:SHOWN_ATTENDEES]):
                if index:
                    people.append("\n")
                people.append_text(safe_text(attendee.label, single_line=True, max_len=120))
                people.append(f" — {safe_line(attendee.answer)}")
            hidden = len(inv.attendees) - SHOWN_ATTENDEES + inv.more_attendees
            if hidden > 0:
                people.append(f"\n… and {hidden} more")
            row("Attendees", people)
        if inv.description:
            lines = inv.description.strip().split("\n")
            text = "\n".join(lines[:DESCRIPTION_LINES])
            if len(lines) > DESCRIPTION_LINES:
                text += "\n…"
            row("About", safe_text(text, max_len=2000))
        for line in inv.notices:
            grid.add_row(Text("⚠", style=notice), safe_text(line, style=notice, single_line=True))
        if inv.answerable:
            grid.add_row(Text(""), Text("Y accept · M tentative · D decline", style=keys))
        return grid


class ListLine(Static):
    """One line naming the mailing list and the list keys (L list-reply, U unsubscribe)."""

    DEFAULT_CSS = """
    ListLine {
        height: auto;
        padding: 0 1;
        background: $panel;
        color: $foreground-muted;
        display: none;
        &.-shown { display: block; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.mailing_list: MailingList | None = None

    def set_list(self, ml: MailingList | None) -> None:
        """Name `ml` (None hides the line)."""
        self.mailing_list = ml
        self.set_class(ml is not None, "-shown")
        if ml is None:
            self.update(Text(""))
            return
        line = Text("✉ List: ", end="")
        line.append_text(safe_text(ml.label, single_line=True, max_len=200))
        hints: list[str] = []
        if ml.post_address:
            hints.append("L list-reply")
        elif ml.post_closed:
            hints.append("no posting")
        if ml.unsubscribe:
            hints.append("U unsubscribe")
        if hints:
            line.append("   " + " · ".join(hints))
        self.update(line)
