"""The call's summary and structured lead, from an LLM when one is configured, else extracted.

Both paths see the same material: the live conversation (what the relay heard, turn by turn), the
recording's transcript, and what the receptionist already captured during the call (its tools'
lead). What was captured live wins over what is extracted afterwards, field by field.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from receptionist.agent.llm import JsonModel
from receptionist.calls.lead import (
    SENTENCE,
    Lead,
    answered_name,
    caller_text,
    confirmed_read_backs,
    extract_address,
    extract_name,
    extract_phone,
    extract_reason,
    extract_urgency,
    merge_leads,
    read_back_choice,
    to_e164,
    turns_in_order,
)
from receptionist.core import phone
from receptionist.core.templates import Templates

log = logging.getLogger(__name__)


class CallSummary(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: str = Field(min_length=1, max_length=600)
    lead: Lead


def extract_summary(*, caller_id: str, conversation: list[dict] | None, transcript: list[dict] | None,
                    live_lead: dict | None, service_areas: list[str], services: list[str] = (),
                    default_country: str = "1", templates: Templates | None = None) -> CallSummary:
    text = caller_text(conversation, transcript)
    sentences = [s for s in SENTENCE.split(text) if s.strip()]
    reason = extract_reason(sentences, services)
    urgency = extract_urgency(text) if text else None
    if text and reason is None and urgency != "emergency":
        urgency = "low"  # a question, no job: nothing to hurry for
    extracted = Lead(
        name=extract_name(text) or answered_name(turns_in_order(conversation, transcript)),
        callback_number=extract_phone(text, default_country, caller_number=caller_id)
        or to_e164(caller_id, default_country) or (caller_id if phone.is_e164(caller_id) else None),
        address=extract_address(text, service_areas),
        reason=reason,
        urgency=urgency,
    )
    lead = confirmed_values(merge_leads(live_lead, extracted), conversation=conversation, transcript=transcript,
                            live_lead=live_lead, caller_id=caller_id, default_country=default_country)
    return CallSummary(summary=describe(lead, spoke=bool(text), templates=templates), lead=lead)


def confirmed_values(lead: Lead, *, conversation: list[dict] | None, transcript: list[dict] | None,
                     live_lead: dict | None, caller_id: str, default_country: str = "1") -> Lead:
    """The lead with its name and callback number taken from what the caller confirmed on a
    read-back, where the live hearing (the relay's turns) and Whisper's (the recording's
    transcript) disagree and one of them was read back (`calls.lead.read_back_choice`)."""
    timeline = sorted(transcript or [], key=lambda s: s.get("start") or 0)
    lines = confirmed_read_backs(conversation, timeline)
    if not lines:
        return lead
    live = caller_text(conversation, None)
    heard = caller_text(None, transcript)
    live_lead = live_lead or {}
    candidates = {
        "callback_number": [live_lead.get("callback_number"), extract_phone(live, default_country, caller_id),
                            extract_phone(heard, default_country, caller_id), lead.callback_number],
        "name": [live_lead.get("name"), extract_name(live) or answered_name(list(conversation or [])),
                 extract_name(heard) or answered_name(timeline), lead.name],
    }
    chosen = {field: read_back_choice(field, values, lines) for field, values in candidates.items()}
    chosen = {field: value for field, value in chosen.items() if value and value != getattr(lead, field)}
    return lead.model_copy(update=chosen) if chosen else lead


def describe(lead: Lead, spoke: bool, templates: Templates | None = None) -> str:
    return (templates or Templates.packaged()).render("summary_extractive.txt", lead=lead, spoke=spoke)


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

    def __init__(self, model: JsonModel, templates: Templates):
        self.model = model  # built once per worker (receptionist.agent.llm)
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
                messages = messages + [{"role": "user",
                                        "content": self.templates.render("summary_retry.txt", problem=problem)}]
            content = self.model.complete(messages, name="call_summary", schema=summary_schema())
            try:
                result = CallSummary.model_validate_json(content)
            except ValidationError as exc:
                problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())[:500]
                log.warning("summary attempt %d invalid: %s", attempt, problem)
                continue
            return CallSummary(summary=result.summary, lead=confirmed_values(
                merge_leads(live_lead, result.lead), conversation=conversation, transcript=transcript,
                live_lead=live_lead, caller_id=caller_id))
        raise InvalidSummary(problem or "no valid answer")


class InvalidSummary(Exception):
    pass


class Summarizer:
    """LLM when configured, extraction otherwise, and extraction whenever the LLM fails."""

    def __init__(self, llm: LlmSummarizer | None, templates: Templates | None = None):
        self.llm = llm
        self.templates = templates

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
                               default_country=default_country, templates=self.templates), "extractive"
