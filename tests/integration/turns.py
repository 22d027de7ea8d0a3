"""The turn-counting relay of the round-trip tests (issue 21): `app.sandbox.relay.Relay` with
a fixed one-way delay of 20 ms by default, as on a distant server. The count is asserted, never
the time."""

from __future__ import annotations

from app.sandbox.relay import Conversation, Relay

__all__ = ["Conversation", "TurnRelay"]


class TurnRelay(Relay):
    """A `Relay` holding every chunk `one_way` seconds (0.02 unless told) in each direction."""

    def __init__(
        self,
        target: int,
        host: str = "127.0.0.1",
        one_way: float = 0.02,
        hold: bytes | None = None,
    ) -> None:
        super().__init__(target, host, one_way, hold)
