"""What the conversation has produced so far on one call, in the shape the database keeps.

`conversation` is the live transcript, turn by turn (`{"speaker", "text", "at"}`), where a
receptionist turn holds only what the caller heard. `lead` is what the receptionist captured
(name, callback number, address, reason, urgency, appointment), `handoff` the transfer to a human,
`outcome` what the call achieved. Every change calls `on_change`, which persists it (write-behind).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import datetime

LEAD_FIELDS = ("name", "callback_number", "address", "reason", "urgency")
# A later outcome only replaces an earlier one that ranks lower: a transferred call stays transferred.
OUTCOME_RANK = {"message-taken": 1, "appointment": 2, "transferred": 3}


class CallRecord:
    def __init__(self, *, conversation: list[dict] | None = None, lead: dict | None = None,
                 handoff: dict | None = None, outcome: str | None = None,
                 clock: Callable[[], datetime], on_change: Callable[[], None] = lambda: None):
        self.conversation: list[dict] = list(conversation or [])
        self.lead: dict | None = copy.deepcopy(lead) if lead else None
        self.handoff: dict | None = copy.deepcopy(handoff) if handoff else None
        self.outcome = outcome
        self.clock = clock
        self.on_change = on_change

    def now(self) -> str:
        return self.clock().isoformat()

    # --- the conversation ---------------------------------------------------------------------
    def add_turn(self, speaker: str, text: str, at: str | None = None) -> dict | None:
        """Append a turn (nothing for empty text); the dict is never mutated afterwards."""
        text = " ".join(text.split())
        if not text:
            return None
        turn = {"speaker": speaker, "text": text, "at": at or self.now()}
        self.conversation.append(turn)
        return turn

    def revise_turn(self, turn: dict, text: str) -> dict | None:
        """Replace a turn's text (a reply cut short by the caller); an empty text removes the turn."""
        text = " ".join(text.split())
        for index in range(len(self.conversation) - 1, -1, -1):
            if self.conversation[index] is turn:
                if not text:
                    del self.conversation[index]
                    return None
                revised = {**turn, "text": text}
                self.conversation[index] = revised
                return revised
        return None

    # --- what the call produced ------------------------------------------------------------------
    def update_lead(self, **fields) -> dict:
        """Merge non-empty fields into the lead; returns what changed."""
        lead = dict(self.lead or {})
        changed = {}
        for name, value in fields.items():
            if value in (None, "", {}, []):
                continue
            if lead.get(name) != value:
                lead[name] = value
                changed[name] = value
        if changed:
            self.lead = lead
            self.set_outcome("message-taken")
        return changed

    def request_appointment(self, appointment: dict) -> None:
        self.lead = {**(self.lead or {}), "appointment": appointment}
        self.set_outcome("appointment")

    def hand_off(self, handoff: dict) -> None:
        self.handoff = handoff
        self.set_outcome("transferred")

    def set_outcome(self, outcome: str) -> None:
        if OUTCOME_RANK.get(outcome, 0) > OUTCOME_RANK.get(self.outcome or "", 0):
            self.outcome = outcome

    def missing(self, *fields: str) -> list[str]:
        lead = self.lead or {}
        return [name for name in fields if not lead.get(name)]

    # --- persistence --------------------------------------------------------------------------------
    def changed(self) -> None:
        self.on_change()

    def snapshot(self) -> dict:
        """A copy safe to hand to another thread (turns are replaced, never mutated, so a shallow list copy)."""
        values: dict = {"conversation": list(self.conversation)}
        if self.lead is not None:
            values["lead"] = copy.deepcopy(self.lead)
        if self.handoff is not None:
            values["handoff"] = copy.deepcopy(self.handoff)
        if self.outcome is not None:
            values["outcome"] = self.outcome
        return values
