"""The LLM path of the summary: JSON-schema output, validated, retried once, extraction on failure.

The real `openai` client talks to a local server speaking the Chat Completions wire format."""

from __future__ import annotations

import json

import pytest
from openai import OpenAI

from receptionist.agent.llm import JsonModel
from receptionist.core.templates import Templates
from receptionist.postcall.summary import LlmSummarizer, Summarizer
from sandbox.llm_api import LocalChatApi, reply
from tests.support.alerts import ALERTS_FROM, OWNER_MOBILE, texts_to
from tests.support.calls import play_call, run_burst
from tests.support.world import CALLER_NUMBER

TRANSCRIPT = [
    {"speaker": "receptionist", "start": 0.2, "end": 3.0, "text": "Thanks for calling Acme Plumbing."},
    {"speaker": "caller", "start": 3.5, "end": 8.0, "text": "Hi, this is Maria. The water heater is leaking."},
]
GOOD = {"summary": "Maria reports a leaking water heater and wants a call back today.",
        "lead": {"name": "Maria", "callback_number": "+13125550199", "address": None,
                 "reason": "leaking water heater", "urgency": "high", "appointment": None}}


@pytest.fixture
def llm():
    with LocalChatApi() as server:
        yield server


def summarizer(llm) -> Summarizer:
    client = OpenAI(api_key="test", base_url=llm.base_url, max_retries=0, timeout=5)
    return Summarizer(LlmSummarizer(JsonModel(client, "local-model"), Templates()))


def summarize(s: Summarizer, live_lead=None):
    return s.summarize(business_name="Acme Plumbing", business={}, caller_id=CALLER_NUMBER, conversation=None,
                       transcript=TRANSCRIPT, live_lead=live_lead)


def test_valid_json_is_used(llm):
    llm.script(reply(json.dumps(GOOD)))
    result, path = summarize(summarizer(llm))
    assert path == "llm"
    assert result.summary == GOOD["summary"]
    assert result.lead.callback_number == "+13125550199" and result.lead.urgency == "high"
    [request] = llm.requests
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["strict"] is True
    assert request["temperature"] == 0
    prompt = request["messages"][-1]["content"]
    assert "The water heater is leaking." in prompt and CALLER_NUMBER in prompt
    assert "Acme Plumbing" in request["messages"][0]["content"]


def test_invalid_output_is_retried_once_with_the_reason(llm):
    bad = {**GOOD, "lead": {**GOOD["lead"], "callback_number": "555-0199"}}
    llm.script(reply(json.dumps(bad)), reply(json.dumps(GOOD)))
    result, path = summarize(summarizer(llm))
    assert path == "llm" and result.lead.callback_number == "+13125550199"
    assert len(llm.requests) == 2
    feedback = llm.requests[1]["messages"][-1]["content"]
    assert "invalid" in feedback and "callback_number" in feedback


def test_invalid_twice_falls_back_to_extraction(llm):
    llm.script(reply("not json at all"), reply('{"summary": ""}'))
    result, path = summarize(summarizer(llm))
    assert path == "extractive" and len(llm.requests) == 2
    assert "water heater is leaking" in result.summary.lower()


@pytest.mark.parametrize("failure", [reply(status=500), reply(status=429), reply(json.dumps(GOOD), delay_s=8)])
def test_llm_failure_falls_back_to_extraction(llm, failure):
    llm.script(failure)
    result, path = summarize(summarizer(llm))
    assert path == "extractive"
    assert result.lead.callback_number == CALLER_NUMBER


def test_live_capture_wins_over_the_model(llm):
    llm.script(reply(json.dumps(GOOD)))
    result, _ = summarize(summarizer(llm), live_lead={"name": "Maria Lopez"})
    assert result.lead.name == "Maria Lopez" and result.lead.urgency == "high"


def test_the_owner_sms_carries_the_llm_summary(make_settings, pg_database, make_context, twilio_api, smtp,
                                               call_audio, llm):
    from tests.support.service import serve as _serve

    settings = make_settings(pg_database, alert_from_number=ALERTS_FROM, openai_base_url=llm.base_url,
                             openai_api_key="test", llm_model="local-model")
    served = _serve(settings, twilio_api)
    service = next(served)
    try:
        ctx = make_context(settings)
        service.create_account(alert_sms=[OWNER_MOBILE])
        llm.script(reply(json.dumps(GOOD)))
        before = len(texts_to(twilio_api, OWNER_MOBILE))
        call = play_call(service, twilio_api, call_audio.path.read_bytes())
        run_burst(ctx)
        [text] = texts_to(twilio_api, OWNER_MOBILE)[before:]
        assert GOOD["summary"] in text.body and "Call back: +13125550199" in text.body
        assert service.call(call.call_sid)["summary"] == GOOD["summary"]
    finally:
        served.close()
