"""What the caller does and what the receptionist does back, free of any telephony wire format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class CallerSaid:
    """A finished utterance, as speech-to-text heard it."""

    text: str


@dataclass(frozen=True)
class CallerInterrupted:
    """The caller spoke over the receptionist; `heard` is what had been spoken to them by then."""

    heard: str
    after_ms: int | None = None


@dataclass(frozen=True)
class CallerPressed:
    digit: str


CallerEvent = CallerSaid | CallerInterrupted | CallerPressed


@dataclass(frozen=True)
class Ending:
    """How the receptionist leaves the call.

    `farewell` is spoken by the telephony side once the conversation is over (so it can never be cut
    off by the hang-up); `transfer_to` is the human the call goes to.
    """

    action: Literal["transfer", "hangup"]
    reason: str
    farewell: str | None = None
    transfer_to: str | None = None

    def handoff_data(self) -> dict:
        data = {"action": self.action, "reason": self.reason}
        if self.farewell:
            data["say"] = self.farewell
        if self.transfer_to:
            data["transfer_to"] = self.transfer_to
        return data


class Voice(Protocol):
    """Where the receptionist's words go (the relay implements it over the websocket)."""

    async def speak(self, text: str, last: bool) -> None:
        """Speak a piece of the reply now; `last` closes the reply."""

    async def end(self, ending: Ending) -> None:
        """Leave the conversation; the call continues as `ending` says."""
