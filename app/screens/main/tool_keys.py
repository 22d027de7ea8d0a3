"""Keys that hand the message to a helper module of `app/screens/`: pipe, archive, bounce
(`tools.py`), invitations and mailing lists (`invite_actions.py`), images (`image_actions.py`).

A new action of that kind: its flow in a module of `app/screens/` taking the screen as a
`MainHost` (app/screens/host.py), and here a 2–4 line worker that calls it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from widgets.workers import work

if TYPE_CHECKING:
    from app.screens.main.host import Host

__all__ = ["ToolActions"]


class ToolActions:
    """`|` pipe, `y` archive, `B` bounce, `Y` `M` `D` invitations, `L` `U` lists, `i` `I` images."""

    @work(group="links", exclusive=True)
    async def action_open_link(self: Host, number: int = 0) -> None:
        """`1`–`9` open link N (after showing its full address), `0` lists them."""
        from app.screens import link_actions

        await link_actions.open_link(self, number or None)

    @work(group="pgp-key", exclusive=True, description="fetching a key")
    async def action_fetch_key(self: Host) -> None:
        """ctrl+k: fetch an unknown signer's key with the user's gpg (after asking)."""
        from app.screens import pgp_key_actions

        await pgp_key_actions.fetch_key(self, lambda uid: self.load_message(uid))

    @work(group="pipe", description="piping")
    async def action_pipe(self: Host) -> None:
        from app.screens import tools

        await tools.pipe(self)

    @work(group="action", description="archiving")
    async def action_archive(self: Host) -> None:
        from app.screens import tools

        await tools.archive(self)

    @work(group="bounce", description="bouncing")
    async def action_bounce(self: Host) -> None:
        from app.screens import tools

        await tools.bounce(self)

    @work(exclusive=True, group="invite-load", description="reading the invitation")
    async def load_invitation(self: Host, uid: int) -> None:
        from app.screens import invite_actions

        await invite_actions.load_invitation(self, uid)

    @work(group="invite")
    async def action_invite(self: Host, partstat: str) -> None:
        from app.screens import invite_actions

        await invite_actions.answer_invitation(self, partstat)

    @work(group="list")
    async def action_list_reply(self: Host) -> None:
        from app.screens import invite_actions

        await invite_actions.list_reply(self)

    @work(group="list")
    async def action_unsubscribe(self: Host) -> None:
        from app.screens import invite_actions

        await invite_actions.unsubscribe(self)

    @work(group="image", description="showing the image")
    async def action_view_image(self: Host) -> None:
        from app.screens import image_actions

        await image_actions.view_image(self)

    @work(group="image", description="showing the inline images")
    async def action_view_inline_images(self: Host) -> None:
        from app.screens import image_actions

        await image_actions.view_inline_images(self)
