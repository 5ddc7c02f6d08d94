"""The call's summary and structured lead, from an LLM when one is configured, else extracted.

Both paths see the same material: the live conversation (what the relay heard, turn by turn), the
recording's transcript, and what the receptionist already captured during the call (its tools'
lead). What was captured live wins over what is extracted afterwards, field by field.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from receptionist.core import phone
from receptionist.core.templates import Templates

log = logging.getLogger(__name__)

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
        if value is not None and not re.fullmatch(r"\+[1-9]\d{6,14}", value):
            raise ValueError(f"callback_number must be E.164 like +15551234567, not {value!r}")
        return value


class CallSummary(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: str = Field(min_length=1, max_length=600)
    lead: Lead


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


def extract_summary(*, caller_id: str, conversation: list[dict] | None, transcript: list[dict] | None,
                    live_lead: dict | None, service_areas: list[str], services: list[str] = (),
                    default_country: str = "1") -> CallSummary:
    text = caller_text(conversation, transcript)
    sentences = [s for s in SENTENCE.split(text) if s.strip()]
    extracted = Lead(
        name=extract_name(text),
        callback_number=extract_phone(text, default_country) or to_e164(caller_id, default_country)
        or (caller_id if re.fullmatch(r"\+[1-9]\d{6,14}", caller_id or "") else None),
        address=extract_address(text, service_areas),
        reason=extract_reason(sentences, services),
        urgency=extract_urgency(text) if text else None,
    )
    lead = merge_leads(live_lead, extracted)
    return CallSummary(summary=describe(lead, spoke=bool(text)), lead=lead)


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


def describe(lead: Lead, spoke: bool) -> str:
    if not spoke:
        return "The caller hung up without leaving a message."
    who = lead.name or "Caller"
    summary = f'{who}: "{lead.reason.rstrip(".")}."' if lead.reason else f"{who} called."
    if lead.address:
        summary += f" Location: {lead.address}."
    if lead.urgency in ("high", "emergency"):
        summary += f" Urgency: {lead.urgency}."
    if lead.appointment and lead.appointment.requested_time:
        summary += f" Asked for an appointment {lead.appointment.requested_time}."
    if lead.callback_number:
        summary += f" Call back at {lead.callback_number}."
    return summary


# --------------------------------------------------------------------------------------------
# LLM path

def summary_schema() -> dict:
    """The JSON schema the model must answer with (strict: every property required, nullable)."""
    nullable = lambda t: {"type": [t, "null"]}  # noqa: E731
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["summary", "lead"],
        "properties": {
            "summary": {"type": "string"},
            "lead": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "callback_number", "address", "reason", "urgency", "appointment"],
                "properties": {
                    "name": nullable("string"),
                    "callback_number": nullable("string"),
                    "address": nullable("string"),
                    "reason": nullable("string"),
                    "urgency": {"type": ["string", "null"], "enum": ["low", "normal", "high", "emergency", None]},
                    "appointment": {
                        "type": ["object", "null"],
                        "additionalProperties": False,
                        "required": ["requested_time", "notes"],
                        "properties": {"requested_time": nullable("string"), "notes": nullable("string")},
                    },
                },
            },
        },
    }


class LlmSummarizer:
    """Summary and lead from an OpenAI-compatible Chat Completions endpoint, JSON-schema constrained."""

    def __init__(self, client, model: str, templates: Templates):
        self.client = client  # openai.OpenAI, built once per worker
        self.model = model
        self.templates = templates

    def summarize(self, *, business_name: str, caller_id: str, conversation: list[dict] | None,
                  transcript: list[dict] | None, live_lead: dict | None) -> CallSummary:
        messages = [
            {"role": "system", "content": self.templates.render("summary_system.txt", business_name=business_name)},
            {"role": "user", "content": self.templates.render(
                "summary_user.txt", caller_id=caller_id, conversation=conversation or [], transcript=transcript or [],
                live_lead=json.dumps(live_lead or {}, ensure_ascii=False))},
        ]
        problem = None
        for attempt in (1, 2):  # one retry on invalid output, told what was wrong
            if problem:
                messages = messages + [{"role": "user", "content": f"Your answer was invalid: {problem}. "
                                        "Answer again with JSON that matches the schema exactly."}]
            response = self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                temperature=0,
                response_format={"type": "json_schema",
                                 "json_schema": {"name": "call_summary", "schema": summary_schema(), "strict": True}},
            )
            content = response.choices[0].message.content or ""
            try:
                result = CallSummary.model_validate_json(content)
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:500]
                log.warning("summary attempt %d invalid: %s", attempt, problem)
                continue
            return CallSummary(summary=result.summary, lead=merge_leads(live_lead, result.lead))
        raise InvalidSummary(problem or "no valid answer")


class InvalidSummary(Exception):
    pass


class Summarizer:
    """LLM when configured, extraction otherwise, and extraction whenever the LLM fails."""

    def __init__(self, llm: LlmSummarizer | None):
        self.llm = llm

    def summarize(self, *, business_name: str, business: dict, caller_id: str, conversation: list[dict] | None,
                  transcript: list[dict] | None, live_lead: dict | None, default_country: str = "1") -> tuple[CallSummary, str]:
        """The summary and which path made it ("llm" or "extractive")."""
        if self.llm is not None and caller_text(conversation, transcript):
            try:
                return self.llm.summarize(business_name=business_name, caller_id=caller_id,
                                          conversation=conversation, transcript=transcript, live_lead=live_lead), "llm"
            except Exception as exc:  # an LLM outage must never cost the owner the alert
                log.warning("LLM summary failed (%s: %s); using extraction", type(exc).__name__, exc)
        return extract_summary(caller_id=caller_id, conversation=conversation, transcript=transcript,
                               live_lead=live_lead, service_areas=list(business.get("service_areas") or []),
                               services=list(business.get("services") or []),
                               default_country=default_country), "extractive"
