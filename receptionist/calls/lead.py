"""A call's lead: what the owner needs to act on (name, callback number, address, reason, urgency,
appointment), and the rules that read it out of what the caller said.

The live receptionist and the post-call summary use the same rules, so the lead captured during
the call and the one written afterwards agree.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from receptionist.core import phone

Urgency = Literal["low", "normal", "high", "emergency"]


class Appointment(BaseModel):
    # extra="allow": the receptionist's request_appointment tool stores more than the summary asks
    # the LLM for (requested_start, the exact local time); re-saving the lead must not drop it.
    model_config = ConfigDict(extra="allow")
    requested_time: str | None = Field(None, description="when the caller asked to be seen, as they said it")
    requested_start: str | None = Field(None, description="the requested local start, ISO 8601")
    notes: str | None = None


class Lead(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    callback_number: str | None = Field(None, description="E.164, e.g. +15551234567")
    address: str | None = None
    reason: str | None = None
    urgency: Urgency | None = None
    appointment: Appointment | None = None

    @field_validator("callback_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not phone.is_e164(value):
            raise ValueError(f"callback_number must be E.164 like +15551234567, not {value!r}")
        return value


# --------------------------------------------------------------------------------------------
# Deterministic extraction

NAME = re.compile(r"\b(?:this is|my name is|my name's|name is|it's|i'm|i am)\s+([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)")
NOT_NAMES = {"Calling", "Looking", "Having", "Just", "Not", "Sorry", "Trying", "Here", "Fine", "Good", "In", "At",
             "The", "A", "From", "Still", "Going", "So", "Very", "Really", "Hoping", "Wondering"}
STREET = re.compile(
    r"\b\d{1,6}\s+(?:[A-Z][a-z]+\s+){1,4}(?:Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Boulevard|Blvd|Court|Ct|"
    r"Way|Place|Pl|Terrace|Circle|Parkway|Highway)\b\.?(?:,?\s+[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?"
)
PROBLEM_WORDS = ("leak", "broke", "broken", "clog", "repair", "install", "replace", "quote", "estimate",
                 "not working", "no hot water", "flood", "overflow", "burst", "backed up", "appointment", "schedule",
                 "noise", "drip", "damage", "need", "problem", "issue", "stopped working", "won't")
# Sentences that give contact details, not the reason for the call.
CONTACT_WORDS = ("call me", "number", "reach me", "address", "live at", "live in", "my name")
EMERGENCY_WORDS = ("emergency", "flooding", "flooded", "burst", "gas smell", "smell gas", "smell of gas", "gas leak",
                   "sparks", "fire", "no heat",
                   "sewage")
HIGH_WORDS = ("urgent", "asap", "as soon as possible", "right away", "today", "leaking", "leak", "no hot water")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


def to_e164(raw: str, default_country: str = "1") -> str | None:
    return phone.to_e164(raw, default_country)


def extract_phone(text: str, default_country: str = "1") -> str | None:
    """A callback number stated in the text (digits or spoken digits), as E.164."""
    return phone.find_number(text, caller_number="", country_code=default_country)


def extract_name(text: str) -> str | None:
    for match in NAME.finditer(text):
        name = match.group(1)
        if name.split()[0] not in NOT_NAMES:
            return name
    return None


def extract_address(text: str, service_areas: list[str]) -> str | None:
    street = STREET.search(text)
    if street:
        return street.group(0).rstrip(".")
    lowered = text.lower()
    for area in service_areas:
        if re.search(r"\b" + re.escape(area.lower()) + r"\b", lowered):
            return area
    return None


GREETING = re.compile(r"^(?:(?:hi|hello|hey|yeah|yes|so|um|uh|oh|well|good (?:morning|afternoon|evening))[,.!]?\s+)+",
                      re.IGNORECASE)


def _clean_reason(sentence: str) -> str:
    reason = GREETING.sub("", sentence.strip())
    return (reason[:1].upper() + reason[1:])[:200]


def extract_reason(sentences: list[str], services: list[str] = ()) -> str | None:
    """The first thing the caller said about a problem or one of the business's services; else the
    first substantial sentence that is not contact details (callers state their reason early)."""
    topic_words = PROBLEM_WORDS + tuple(w for service in services for w in service.lower().split() if len(w) > 3)
    plain = [s for s in sentences if not NAME.search(s) and not any(w in s.lower() for w in CONTACT_WORDS)]
    for sentence in plain:
        if any(word in sentence.lower() for word in topic_words):
            return _clean_reason(sentence)
    candidates = [s for s in plain if len(GREETING.sub("", s).split()) >= 3]
    return _clean_reason(candidates[0]) if candidates else None


def extract_urgency(text: str) -> Urgency:
    lowered = text.lower()
    if any(word in lowered for word in EMERGENCY_WORDS):
        return "emergency"
    if any(word in lowered for word in HIGH_WORDS):
        return "high"
    return "normal"


def caller_text(conversation: list[dict] | None, transcript: list[dict] | None) -> str:
    """What the caller said: the live conversation when there is one, plus the recording's transcript."""
    parts = [t["text"] for t in conversation or [] if t.get("speaker") == "caller"]
    parts += [s["text"] for s in transcript or [] if s.get("speaker") == "caller"]
    return " ".join(p.strip() for p in parts if p and p.strip())


def merge_leads(live: dict | None, extracted: Lead) -> Lead:
    """Fields captured live by the receptionist win; extraction fills the gaps."""
    merged = extracted.model_dump()
    for key, value in (live or {}).items():
        if value not in (None, "", {}):
            merged[key] = value
    try:
        return Lead.model_validate(merged)
    except ValidationError:
        merged["callback_number"] = extracted.callback_number
        return Lead.model_validate(merged)
