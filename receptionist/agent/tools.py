"""The receptionist's tools: their schemas (as the model sees them) and their effects on the call.

Every effect lands on the `CallRecord` at once and is persisted from there as it happens, so a
caller who hangs up mid-call loses nothing the receptionist already captured.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from receptionist.agent.events import Ending
from receptionist.agent.hours import spoken_datetime
from receptionist.agent.lines import Lines
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.record import CallRecord
from receptionist.core import phone

APPOINTMENT_MINUTES = 60  # a requested visit must fit inside one day's opening hours
URGENCIES = ("low", "normal", "high", "emergency")


def _function(name: str, description: str, properties: dict, required: tuple[str, ...] = ()) -> dict:
    return {"type": "function", "function": {
        "name": name, "description": description,
        "parameters": {"type": "object", "properties": properties, "required": list(required),
                       "additionalProperties": False}}}


TOOLS: list[dict] = [
    _function(
        "capture_lead",
        "Save the caller's details for a callback as soon as you learn any of them; call again to add or correct.",
        {
            "name": {"type": "string", "description": "the caller's name"},
            "callback_number": {"type": "string",
                                "description": "the number to call back, digits as said, or E.164 like +15551234567"},
            "address": {"type": "string", "description": "where the work is needed"},
            "reason": {"type": "string", "description": "what the caller needs, in a short sentence"},
            "urgency": {"type": "string", "enum": list(URGENCIES),
                        "description": "emergency: active damage or danger; high: today or as soon as possible"},
        },
    ),
    _function(
        "request_appointment",
        "Ask for an appointment at a local date and time. Only times inside business hours are accepted; "
        "otherwise the answer gives the next open slot to offer instead.",
        {
            "requested_start": {"type": "string",
                                "description": "local date and time in the business's timezone, like 2025-06-03T10:00"},
            "notes": {"type": "string", "description": "what the visit is for"},
        },
        ("requested_start",),
    ),
    _function(
        "transfer_to_human",
        "Hand the call to a person at the business, when the caller asks for one or the matter needs one now.",
        {"reason": {"type": "string", "description": "why the caller needs a person"}},
        ("reason",),
    ),
    _function(
        "end_call",
        "Finish the call once the caller has nothing more. The farewell is spoken to them after you finish.",
        {"farewell": {"type": "string", "description": "a short goodbye, e.g. 'Thanks for calling, goodbye!'"}},
    ),
]
TOOL_NAMES = frozenset(tool["function"]["name"] for tool in TOOLS)
_PARAMETERS = {tool["function"]["name"]: frozenset(tool["function"]["parameters"]["properties"]) for tool in TOOLS}


class MalformedToolCall(ValueError):
    """The model asked for a tool that does not exist, or with arguments that are not a JSON object."""


@dataclass(frozen=True)
class ToolOutcome:
    result: dict  # what the model is told
    ending: Ending | None = None


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


class ToolBox:
    def __init__(self, profile: BusinessProfile, record: CallRecord, lines: Lines, clock: Callable[[], datetime]):
        self.profile = profile
        self.record = record
        self.lines = lines
        self.clock = clock

    def run(self, name: str, arguments) -> ToolOutcome:
        if name not in TOOL_NAMES:
            raise MalformedToolCall(f"unknown tool {name!r}")
        if not isinstance(arguments, dict):
            raise MalformedToolCall(f"arguments of {name} are not a JSON object")
        # Arguments the schema does not name are dropped, not passed on.
        return getattr(self, name)(**{k: v for k, v in arguments.items() if k in _PARAMETERS[name]})

    # --- the tools ----------------------------------------------------------------------------------
    def capture_lead(self, name=None, callback_number=None, address=None, reason=None,
                     urgency=None) -> ToolOutcome:
        fields = {"name": _text(name), "address": _text(address), "reason": _text(reason)}
        problems = []
        if _text(urgency):
            if _text(urgency).lower() in URGENCIES:
                fields["urgency"] = _text(urgency).lower()
            else:
                problems.append(f"urgency must be one of {', '.join(URGENCIES)}")
        if _text(callback_number):
            number = phone.normalise(_text(callback_number), self.profile.caller_number, self.profile.country_code)
            if number:
                fields["callback_number"] = number
            else:
                problems.append("callback_number is not a phone number; ask the caller to repeat it")
        saved = self.record.update_lead(**fields)
        self.record.changed()
        result = {"ok": not problems, "saved": saved,
                  "still_missing": self.record.missing("name", "callback_number", "reason")}
        if problems:
            result["problems"] = problems
        return ToolOutcome(result)

    def request_appointment(self, requested_start=None, notes=None) -> ToolOutcome:
        hours = self.profile.hours
        now = self.clock()
        try:
            start = datetime.fromisoformat(_text(requested_start))
        except ValueError:
            return ToolOutcome({"ok": False, "error": "requested_start must be a local date and time like "
                                                      "2025-06-03T10:00"})
        start = start.replace(tzinfo=hours.zone) if start.tzinfo is None else start.astimezone(hours.zone)
        if start < now:
            refusal = "that time has already passed"
        elif not hours.fits(start, APPOINTMENT_MINUTES):
            refusal = "that time is outside business hours"
        else:
            appointment = {"requested_start": start.isoformat(), "requested_time": spoken_datetime(start),
                           "timezone": self.profile.timezone, "status": "requested"}
            if _text(notes):
                appointment["notes"] = _text(notes)
            self.record.request_appointment(appointment)
            self.record.changed()
            return ToolOutcome({"ok": True, "requested_time": appointment["requested_time"],
                                "note": "Requested, not booked: tell the caller the team will confirm it."})
        slot = hours.next_slot(max(start, now), APPOINTMENT_MINUTES)
        result = {"ok": False, "reason": refusal, "business_hours": hours.describe()}
        if slot is not None:
            result |= {"next_open_slot": slot.replace(tzinfo=None).isoformat(timespec="minutes"),
                       "next_open_slot_spoken": spoken_datetime(slot)}
        else:
            result["note"] = "no open slot in the next two weeks; offer a callback instead"
        return ToolOutcome(result)

    def transfer_to_human(self, reason=None) -> ToolOutcome:
        why = _text(reason) or "the caller asked for a person"
        number = self.profile.transfer_number
        if not number:
            return ToolOutcome({"ok": False, "reason": "no one is available to take calls right now",
                                "instead": "say so and take a message: name, callback number and reason"})
        self.record.hand_off({"reason": why, "transfer_to": number, "requested_at": self.record.now()})
        self.record.changed()
        return ToolOutcome({"ok": True}, Ending("transfer", why, transfer_to=number))

    def end_call(self, farewell=None) -> ToolOutcome:
        words = _text(farewell) or self.lines("goodbye", business_name=self.profile.name)
        return ToolOutcome({"ok": True}, Ending("hangup", "conversation finished", farewell=words))

