"""The scripted calls of tests/postcall/lead_calls.jsonl, played and scored field by field.

Each call is what a caller says, turn by turn, to the offline receptionist (which asks for the
reason, the name and the number, then reads them back), and the lead an owner should get. Three
readings are scored:

- `live`: what the offline receptionist captured during the call (and read back to the caller);
- `extracted`: the post-call extraction alone, from the caller's words;
- `final`: what the owner gets, the extraction merged with what was captured live.

A field scores when it equals the expected value, read the way an owner would: names and
addresses compared without case, punctuation or street-type abbreviations ("St" is "Street"); the
reason when it says everything the expected reason says (its content words) and starts with no
filler ("Fine.", "Um,"); a field expected empty must be empty.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from receptionist.agent.lines import Lines
from receptionist.agent.offline import OfflineIntake
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.record import CallRecord
from receptionist.agent.tools import ToolBox
from receptionist.calls.lead import Lead
from receptionist.core.templates import Templates
from receptionist.postcall.summary import extract_summary

CALLS_FILE = Path(__file__).resolve().parent.parent / "postcall" / "lead_calls.jsonl"
FIELDS = ("name", "callback_number", "address", "reason", "urgency")
BUSINESS_NAME = "Rivertown Plumbing"
BUSINESS_NUMBER = "+13125550100"
BUSINESS = {
    "services": ["water heater repair", "drain cleaning", "leak detection"],
    "service_areas": ["Springfield", "Shelbyville"],
    "hours": {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
              "fri": "08:00-16:00", "sat": "closed", "sun": "closed"},
}
CLOCK = datetime(2026, 11, 30, 16, 15, tzinfo=timezone.utc)  # a Monday, open

FILLERS = {"fine", "okay", "ok", "um", "uh", "so", "yes", "yeah", "well", "hi", "hello", "hey", "sure", "right",
           "alright", "and", "oh"}
STOPWORDS = {"a", "an", "the", "my", "our", "your", "is", "are", "was", "to", "for", "of", "in", "on", "at", "i",
             "we", "it", "its", "it's", "there", "there's", "has", "have", "and", "me", "you", "need", "needs"}
ABBREVIATIONS = {"st": "street", "ave": "avenue", "rd": "road", "dr": "drive", "ln": "lane", "blvd": "boulevard",
                 "ct": "court", "pl": "place", "apt": "apartment", "ste": "suite", "#": "unit", "n": "north",
                 "s": "south", "e": "east", "w": "west"}


def load() -> list[dict]:
    return [json.loads(line) for line in CALLS_FILE.read_text(encoding="utf-8").splitlines() if line.strip()]


def play_live(call: dict) -> tuple[dict, list[dict]]:
    """The call through the offline receptionist: the lead it captured and the conversation, turn by turn."""
    lines = Lines.packaged()
    profile = BusinessProfile.build(name=BUSINESS_NAME, timezone="America/Chicago", business=BUSINESS,
                                    transfer_number=None, business_number=BUSINESS_NUMBER,
                                    caller_number=call["caller_id"], lines=lines)
    record = CallRecord(clock=lambda: CLOCK)
    intake = OfflineIntake(profile, record, lines, ToolBox(profile, record, lines, lambda: CLOCK))
    turns = [{"speaker": "receptionist", "text": Templates.packaged().render("greeting.txt", business_name=BUSINESS_NAME)}]
    for said in call["caller_turns"]:
        turns.append({"speaker": "caller", "text": said})
        reply = intake.respond(said)
        answer = reply.text if reply.ending is None else f"{reply.text} {reply.ending.farewell or ''}".strip()
        turns.append({"speaker": "receptionist", "text": answer})
        if reply.ending is not None:
            break
    return dict(record.lead or {}), turns


def extracted(call: dict, turns: list[dict], live_lead: dict | None = None) -> Lead:
    return extract_summary(caller_id=call["caller_id"], conversation=turns, transcript=None, live_lead=live_lead,
                           service_areas=BUSINESS["service_areas"], services=BUSINESS["services"]).lead


def readings(call: dict) -> dict[str, dict]:
    """The live capture, the extraction alone (from the conversation as heard) and the two merged."""
    live, turns = play_live(call)
    return {"live": live, "extracted": extracted(call, turns).model_dump(),
            "final": extracted(call, turns, live).model_dump()}


def _words(text: str) -> list[str]:
    return [ABBREVIATIONS.get(w, w) for w in re.findall(r"[\w'#]+", text.lower().replace("\u2019", "'"))]


def _stem(word: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)]
    return word


def field_matches(field: str, expected, actual) -> bool:
    if expected in (None, ""):
        return actual in (None, "")
    if actual in (None, ""):
        return False
    if field in ("name", "address"):
        return _words(expected) == _words(actual)
    if field == "reason":
        said = _words(actual)
        if said and said[0] in FILLERS:
            return False
        wanted = {_stem(w) for w in _words(expected) if w not in STOPWORDS}
        return wanted <= {_stem(w) for w in said}
    return expected == actual


def score(expected: dict, actual: dict) -> dict[str, bool]:
    return {field: field_matches(field, expected.get(field), actual.get(field)) for field in FIELDS}


def accuracy(results: list[dict[str, bool]]) -> dict[str, float]:
    """The share of calls on which each field was right, and of calls with every field right."""
    count = len(results) or 1
    figures = {field: sum(r[field] for r in results) / count for field in FIELDS}
    figures["all fields"] = sum(all(r.values()) for r in results) / count
    return figures
