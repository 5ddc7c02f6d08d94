"""The lead extraction as it was before issue 16 (main at 1904ee0), kept frozen as the baseline
`bench/leads.py` measures the current rules against. Not used by the product."""

from __future__ import annotations

import re

from receptionist.calls.lead import caller_text
from receptionist.core import phone

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
CONTACT_WORDS = ("call me", "number", "reach me", "address", "live at", "live in", "my name")
EMERGENCY_WORDS = ("emergency", "flooding", "flooded", "burst", "gas smell", "smell gas", "smell of gas", "gas leak",
                   "sparks", "fire", "no heat", "sewage")
HIGH_WORDS = ("urgent", "asap", "as soon as possible", "right away", "today", "leaking", "leak", "no hot water")
SENTENCE = re.compile(r"(?<=[.!?])\s+")
GREETING = re.compile(r"^(?:(?:hi|hello|hey|yeah|yes|so|um|uh|oh|well|good (?:morning|afternoon|evening))[,.!]?\s+)+",
                      re.IGNORECASE)


def extract_name(text: str) -> str | None:
    for match in NAME.finditer(text):
        if match.group(1).split()[0] not in NOT_NAMES:
            return match.group(1)
    return None


def extract_address(text: str, service_areas: list[str]) -> str | None:
    street = STREET.search(text)
    if street:
        return street.group(0).rstrip(".")
    for area in service_areas:
        if re.search(r"\b" + re.escape(area.lower()) + r"\b", text.lower()):
            return area
    return None


def _clean_reason(sentence: str) -> str:
    reason = GREETING.sub("", sentence.strip())
    return (reason[:1].upper() + reason[1:])[:200]


def extract_reason(sentences: list[str], services: list[str]) -> str | None:
    topic_words = PROBLEM_WORDS + tuple(w for service in services for w in service.lower().split() if len(w) > 3)
    plain = [s for s in sentences if not NAME.search(s) and not any(w in s.lower() for w in CONTACT_WORDS)]
    for sentence in plain:
        if any(word in sentence.lower() for word in topic_words):
            return _clean_reason(sentence)
    candidates = [s for s in plain if len(GREETING.sub("", s).split()) >= 3]
    return _clean_reason(candidates[0]) if candidates else None


def extract_urgency(text: str) -> str:
    lowered = text.lower()
    if any(word in lowered for word in EMERGENCY_WORDS):
        return "emergency"
    if any(word in lowered for word in HIGH_WORDS):
        return "high"
    return "normal"


def baseline_lead(*, caller_id: str, conversation: list[dict], service_areas: list[str], services: list[str]) -> dict:
    text = caller_text(conversation, None)
    sentences = [s for s in SENTENCE.split(text) if s.strip()]
    return {
        "name": extract_name(text),
        "callback_number": phone.find_number(text, caller_number="") or caller_id,
        "address": extract_address(text, service_areas),
        "reason": extract_reason(sentences, services),
        "urgency": extract_urgency(text) if text else None,
    }
