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
from receptionist.agent.lines import TOOL_RESULTS_TEMPLATE, Lines
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.record import CallRecord
from receptionist.core import phone
from receptionist.core.templates import Macros, Templates

APPOINTMENT_MINUTES = 60  # a requested visit must fit inside one day's opening hours
URGENCIES = ("low", "normal", "high", "emergency")


TOOLS_FILE = "receptionist_tools.json"  # the tools as the model sees them: names, descriptions, parameters
TOOL_NAMES = frozenset({"capture_lead", "request_appointment", "transfer_to_human", "end_call"})


def tool_schemas(templates: Templates) -> list[dict]:
    """The tools' schemas for the Chat Completions request (parsed once per `Templates`)."""
    return templates.data(TOOLS_FILE)


def tool_parameters(templates: Templates) -> dict[str, frozenset[str]]:
    return {tool["function"]["name"]: frozenset(tool["function"]["parameters"]["properties"])
            for tool in tool_schemas(templates)}


class MalformedToolCall(ValueError):
    """The model asked for a tool that does not exist, or with arguments that are not a JSON object."""


@dataclass(frozen=True)
class ToolOutcome:
    result: dict  # what the model is told
    ending: Ending | None = None


def _text(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


class ToolBox:
    def __init__(self, profile: BusinessProfile, record: CallRecord, lines: Lines, clock: Callable[[], datetime],
                 notes: Macros | None = None, templates: Templates | None = None):
        templates = templates or Templates.packaged()
        self.profile = profile
        self.record = record
        self.lines = lines
        self.clock = clock
        self.notes = notes or templates.macros(TOOL_RESULTS_TEMPLATE)  # what the model is told of the results
        self.parameters = tool_parameters(templates)

    def run(self, name: str, arguments) -> ToolOutcome:
        if name not in TOOL_NAMES:
            raise MalformedToolCall(f"unknown tool {name!r}")
        if not isinstance(arguments, dict):
            raise MalformedToolCall(f"arguments of {name} are not a JSON object")
        # Arguments the schema does not name are dropped, not passed on.
        return getattr(self, name)(**{k: v for k, v in arguments.items() if k in self.parameters[name]})

    # --- the tools ----------------------------------------------------------------------------------
    def capture_lead(self, name=None, callback_number=None, address=None, reason=None,
                     urgency=None) -> ToolOutcome:
        fields = {"name": _text(name), "address": _text(address), "reason": _text(reason)}
        problems = []
        if _text(urgency):
            if _text(urgency).lower() in URGENCIES:
                fields["urgency"] = _text(urgency).lower()
            else:
                problems.append(self.notes("bad_urgency", urgencies=", ".join(URGENCIES)))
        if _text(callback_number):
            number = phone.normalise(_text(callback_number), self.profile.caller_number, self.profile.country_code)
            if number:
                fields["callback_number"] = number
            else:
                problems.append(self.notes("bad_number"))
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
            return ToolOutcome({"ok": False, "error": self.notes("bad_start")})
        start = start.replace(tzinfo=hours.zone) if start.tzinfo is None else start.astimezone(hours.zone)
        if start < now:
            refusal = self.notes("time_passed")
        elif not hours.fits(start, APPOINTMENT_MINUTES):
            refusal = self.notes("outside_hours")
        else:
            appointment = {"requested_start": start.isoformat(), "requested_time": spoken_datetime(start),
                           "timezone": self.profile.timezone, "status": "requested"}
            if _text(notes):
                appointment["notes"] = _text(notes)
            self.record.request_appointment(appointment)
            self.record.changed()
            return ToolOutcome({"ok": True, "requested_time": appointment["requested_time"],
                                "note": self.notes("requested_not_booked")})
        slot = hours.next_slot(max(start, now), APPOINTMENT_MINUTES)
        result = {"ok": False, "reason": refusal, "business_hours": hours.describe()}
        if slot is not None:
            result |= {"next_open_slot": slot.replace(tzinfo=None).isoformat(timespec="minutes"),
                       "next_open_slot_spoken": spoken_datetime(slot)}
        else:
            result["note"] = self.notes("no_slot")
        return ToolOutcome(result)

    def transfer_to_human(self, reason=None) -> ToolOutcome:
        why = _text(reason) or "the caller asked for a person"
        number = self.profile.transfer_number
        if not number:
            return ToolOutcome({"ok": False, "reason": self.notes("nobody_available"),
                                "instead": self.notes("take_message_instead")})
        self.record.hand_off({"reason": why, "transfer_to": number, "requested_at": self.record.now()})
        self.record.changed()
        return ToolOutcome({"ok": True}, Ending("transfer", why, transfer_to=number))

    def end_call(self, farewell=None) -> ToolOutcome:
        words = _text(farewell) or self.lines("goodbye", business_name=self.profile.name)
        return ToolOutcome({"ok": True}, Ending("hangup", "conversation finished", farewell=words))

