"""The ConversationRelay websocket and the receptionist behind it, end to end.

The app is served by uvicorn on real databases; a real websocket client plays Twilio's side of the
relay; the real `openai` client streams from a local server speaking the Chat Completions wire
format (scripted replies, tool calls, failures). Nothing here talks to the agent directly.
"""

from __future__ import annotations

import asyncio
import json
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from websockets.exceptions import InvalidStatus

from sandbox.llm_api import LocalChatApi, reply
from sandbox.relay_client import RelayCaller
from tests.support.service import serve as _serve
from tests.support.world import ACCOUNT, BUSINESS_NUMBER, CALLER_NUMBER

CHICAGO = ZoneInfo("America/Chicago")
TRANSFER_NUMBER = "+13125550177"
WEEKDAYS = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
            "fri": "08:00-17:00", "sat": "closed", "sun": "closed"}


@pytest.fixture
def llm():
    with LocalChatApi() as server:
        yield server


@pytest.fixture
def llm_service(make_settings, pg_database, llm):
    """The app with an LLM configured (the local Chat Completions server), on PostgreSQL."""
    yield from _serve(make_settings(pg_database, openai_base_url=llm.base_url, openai_api_key="test-key",
                                    llm_model="receptionist-test", relay_llm_timeout_s=1.0))


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def caller(service, call, **options) -> RelayCaller:
    """Twilio's side of the relay for a call the service answered, signed over the public wss:// URL."""
    options = {"auth_token": service.settings.twilio_auth_token, "public_relay_url": service.settings.relay_url,
               **options}
    return RelayCaller(service.url.replace("http://", "ws://") + "/twilio/relay", call_sid=call.call_sid,
                       from_number=call.from_number, to_number=call.to_number,
                       account_sid=service.settings.twilio_account_sid, **options)


def eventually(read, check, timeout: float = 5.0):
    """The live record is written behind the conversation: poll until it shows what was said."""
    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never true: {value!r}")
        time.sleep(0.05)


def set_clock(service, local: datetime) -> None:
    service.app.state.services.clock = lambda: local.astimezone(timezone.utc)


def action(service, call, **params):
    """Twilio's POST to the <Connect> action URL once the relay ended."""
    form = {"AccountSid": service.settings.twilio_account_sid, "CallSid": call.call_sid, "From": call.from_number,
            "To": call.to_number, "CallStatus": "in-progress", "SessionId": "VX" + "0" * 32,
            "SessionStatus": "ended", **params}
    response = service.player.post("/twilio/relay/action", form)
    assert response.status_code == 200, response.text
    return ET.fromstring(response.text)


def speakers(conversation):
    return [(turn["speaker"], turn["text"]) for turn in conversation]


# --- a whole conversation with the LLM ---------------------------------------------------------------------

def test_whole_conversation_captures_the_lead(llm_service, llm):
    service = llm_service
    service.create_account(business={**ACCOUNT["business"], "faq": [
        {"question": "Do you offer free estimates?", "answer": "Yes, estimates are free."}]})
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(
        reply("Oh no, sorry to hear that.", ("capture_lead", {"reason": "water heater leaking in the basement",
                                                              "urgency": "high"}), pause_after=1, pause_s=0.15),
        reply("Can I get your name and the best number to reach you?"),
        reply("", ("capture_lead", {"name": "Ann Smith", "callback_number": "555 014 2367"})),
        reply("Thanks Ann, someone will call you back at 555-014-2367 today."),
        reply("", ("end_call", {"farewell": "Thanks for calling Acme Plumbing. Goodbye!"})),
    )

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.prompt("Hi, my water heater is leaking in the basement.")
            opening = await twilio.receive()
            # The first token reaches Twilio alone, while the model is still writing the rest (0.15 s a token).
            assert opening == {"type": "text", "token": "Oh", "last": False}
            first = await twilio.hear()
            first.tokens.insert(0, opening["token"])
            assert first.complete and first.tokens[:4] == ["Oh", " no,", " sorry", " to"]  # token by token
            assert first.text == "Oh no, sorry to hear that. Can I get your name and the best number to reach you?"
            second = await twilio.say("I'm Ann Smith, five five five, oh one four, two three six seven.")
            assert second.text == "Thanks Ann, someone will call you back at 555-014-2367 today."
            # Tool results are stored as they happen, while the call is still going on.
            lead = eventually(lambda: service.call(call.call_sid)["lead"], lambda v: v and v.get("name"))
            assert lead == {"reason": "water heater leaking in the basement", "urgency": "high",
                            "name": "Ann Smith", "callback_number": "+15550142367"}
            last = await twilio.say("No, that's all. Thank you!", ends=True)
            assert last.tokens == []
            return last.end

    end = run(conversation())
    handoff = json.loads(end["handoffData"])
    assert handoff == {"action": "hangup", "reason": "conversation finished",
                       "say": "Thanks for calling Acme Plumbing. Goodbye!"}
    detail = eventually(lambda: service.call(call.call_sid), lambda d: len(d["conversation"]) == 7)
    assert speakers(detail["conversation"]) == [
        ("receptionist", "Hi, you've reached Acme Plumbing. How can I help you today?"),
        ("caller", "Hi, my water heater is leaking in the basement."),
        ("receptionist", "Oh no, sorry to hear that. Can I get your name and the best number to reach you?"),
        ("caller", "I'm Ann Smith, five five five, oh one four, two three six seven."),
        ("receptionist", "Thanks Ann, someone will call you back at 555-014-2367 today."),
        ("caller", "No, that's all. Thank you!"),
        ("receptionist", "Thanks for calling Acme Plumbing. Goodbye!"),
    ]
    assert all(datetime.fromisoformat(turn["at"]).tzinfo for turn in detail["conversation"])
    assert detail["outcome"] == "message-taken" and detail["handoff"] is None

    # What the model was given: the business profile, the tools, and the history with tool results.
    first_request = llm.requests[0]
    assert first_request["model"] == "receptionist-test" and first_request["stream"] is True
    assert {t["function"]["name"] for t in first_request["tools"]} == {
        "capture_lead", "request_appointment", "transfer_to_human", "end_call"}
    system = first_request["messages"][0]
    assert system["role"] == "system"
    for fact in ("Acme Plumbing", "water heater repair", "Shelbyville", "Monday: 8 AM to 5 PM", "America/Chicago",
                 "Yes, estimates are free.", CALLER_NUMBER):
        assert fact in system["content"], fact
    assert first_request["messages"][1:] == [
        {"role": "assistant", "content": "Hi, you've reached Acme Plumbing. How can I help you today?"},
        {"role": "user", "content": "Hi, my water heater is leaking in the basement."}]
    after_tool = llm.requests[1]["messages"]
    assert after_tool[-2]["role"] == "assistant" and after_tool[-2]["content"] == "Oh no, sorry to hear that."
    assert after_tool[-2]["tool_calls"][0]["function"]["name"] == "capture_lead"
    result = json.loads(after_tool[-1]["content"])
    assert after_tool[-1]["role"] == "tool" and after_tool[-1]["tool_call_id"] == after_tool[-2]["tool_calls"][0]["id"]
    assert result["ok"] is True and result["still_missing"] == ["name", "callback_number"]

    # Twilio posts the handoff back: the farewell is spoken by the call itself, then it hangs up.
    root = action(service, call, HandoffData=end["handoffData"])
    assert [child.tag for child in root] == ["Say", "Hangup"]
    assert root[0].text == "Thanks for calling Acme Plumbing. Goodbye!"


# --- appointments and business hours -------------------------------------------------------------------------

def test_appointment_outside_hours_is_refused_with_the_next_open_slot(llm_service, llm):
    service = llm_service
    service.create_account(business={**ACCOUNT["business"], "hours": WEEKDAYS})
    set_clock(service, datetime(2026, 11, 28, 10, 0, tzinfo=CHICAGO))  # a Saturday morning: closed
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(
        reply("Let me check.", ("request_appointment", {"requested_start": "2026-11-28T14:00",
                                                         "notes": "drain cleaning"})),
        reply("We're closed this afternoon. The next open slot is Monday at 8 AM. Would that work?"),
        reply("", ("request_appointment", {"requested_start": "2026-11-30T08:00", "notes": "drain cleaning"})),
        reply("You're down for Monday at 8 AM; the team will confirm."),
    )

    async def conversation():
        async with caller(service, call) as twilio:
            heard = await twilio.say("Can someone come this afternoon to clean my drain?")
            assert heard.text == ("Let me check. We're closed this afternoon. The next open slot is Monday at 8 AM. "
                                  "Would that work?")
            assert service.call(call.call_sid)["lead"] is None  # a refused request stores nothing
            heard = await twilio.say("Monday at eight works.")
            assert heard.text == "You're down for Monday at 8 AM; the team will confirm."

    run(conversation())
    system = llm.requests[0]["messages"][0]["content"]
    assert "Saturday 2026-11-28, 10 AM" in system and "the business is closed" in system
    refusal = json.loads(llm.requests[1]["messages"][-1]["content"])
    assert refusal == {
        "ok": False, "reason": "that time is outside business hours",
        "business_hours": ["Monday to Friday: 8 AM to 5 PM", "Saturday and Sunday: closed"],
        "next_open_slot": "2026-11-30T08:00", "next_open_slot_spoken": "Monday, November 30 at 8 AM"}
    accepted = json.loads(llm.requests[3]["messages"][-1]["content"])
    assert accepted["ok"] is True and accepted["requested_time"] == "Monday, November 30 at 8 AM"
    detail = eventually(lambda: service.call(call.call_sid), lambda d: (d["lead"] or {}).get("appointment"))
    assert detail["lead"]["appointment"] == {
        "requested_start": "2026-11-30T08:00:00-06:00", "requested_time": "Monday, November 30 at 8 AM",
        "timezone": "America/Chicago", "status": "requested", "notes": "drain cleaning"}
    assert detail["outcome"] == "appointment"


def test_appointment_in_the_past_or_too_late_in_the_day_is_refused(llm_service, llm):
    service = llm_service
    service.create_account(business={**ACCOUNT["business"], "hours": WEEKDAYS})
    set_clock(service, datetime(2026, 11, 30, 16, 20, tzinfo=CHICAGO))  # Monday, 40 minutes before closing
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply("", ("request_appointment", {"requested_start": "2026-11-30T09:00"}),
                     ("request_appointment", {"requested_start": "2026-11-30T16:30"})),
               reply("The earliest I can request is tomorrow at 8 AM."))

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.say("Could someone come at nine this morning, or at four thirty?")

    run(conversation())
    past, late = [json.loads(m["content"]) for m in llm.requests[1]["messages"][-2:]]
    assert past["reason"] == "that time has already passed"
    assert late["reason"] == "that time is outside business hours"  # a one-hour visit would end after 5 PM
    assert past["next_open_slot"] == late["next_open_slot"] == "2026-12-01T08:00"
    assert service.call(call.call_sid)["lead"] is None


# --- transfer to a person -----------------------------------------------------------------------------------

def test_transfer_ends_the_relay_and_the_action_dials_the_transfer_number(llm_service, llm):
    service = llm_service
    service.create_account(transfer_number=TRANSFER_NUMBER)
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply("", ("transfer_to_human", {"reason": "wants to talk to the owner about a quote"})))

    async def conversation():
        async with caller(service, call) as twilio:
            heard = await twilio.say("Can I talk to the owner about a quote?", ends=True)
            return heard.end

    end = run(conversation())
    assert json.loads(end["handoffData"]) == {"action": "transfer", "reason": "wants to talk to the owner about a quote",
                                              "transfer_to": TRANSFER_NUMBER}
    detail = eventually(lambda: service.call(call.call_sid), lambda d: d["handoff"] is not None)
    assert detail["outcome"] == "transferred"
    assert detail["handoff"]["reason"] == "wants to talk to the owner about a quote"
    assert detail["handoff"]["transfer_to"] == TRANSFER_NUMBER

    root = action(service, call, HandoffData=end["handoffData"])
    assert [child.tag for child in root] == ["Say", "Dial"]
    assert "connect you" in root[0].text and "Acme Plumbing" in root[0].text
    dial = root[1]
    assert dial.text == TRANSFER_NUMBER and dial.get("callerId") == BUSINESS_NUMBER
    assert dial.get("action") == "https://receptionist.example.com/twilio/relay/action"

    # The <Dial> reports back to the same URL: nobody answered → the caller leaves a message.
    missed = action(service, call, DialCallStatus="no-answer", DialCallSid="CA" + "9" * 32)
    assert [child.tag for child in missed] == ["Say", "Pause", "Say", "Hangup"]
    assert "leave your name" in missed[0].text
    answered = action(service, call, DialCallStatus="completed", DialCallSid="CA" + "9" * 32)
    assert [child.tag for child in answered] == ["Hangup"]


def test_transfer_without_a_transfer_number_takes_a_message(llm_service, llm):
    service = llm_service
    service.create_account()  # no transfer_number
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply("", ("transfer_to_human", {"reason": "asked for a person"})),
               reply("Nobody can come to the phone right now, but I can take a message. What's your name?"))

    async def conversation():
        async with caller(service, call) as twilio:
            heard = await twilio.say("Can I speak to a person?")
            assert heard.end is None and heard.text.startswith("Nobody can come to the phone")

    run(conversation())
    told = json.loads(llm.requests[1]["messages"][-1]["content"])
    assert told["ok"] is False and "take a message" in told["instead"]
    detail = service.call(call.call_sid)
    assert detail["handoff"] is None and detail["outcome"] is None

    # A transfer handed back when the account has no number (removed meanwhile): take a message.
    root = action(service, call, HandoffData=json.dumps({"action": "transfer", "reason": "asked for a person"}))
    assert [child.tag for child in root] == ["Say", "Pause", "Say", "Hangup"]
    assert "Recording" not in ET.tostring(root, encoding="unicode")  # the call recording already runs


def test_pressing_zero_reaches_a_person(llm_service, llm):
    service = llm_service
    service.create_account(transfer_number=TRANSFER_NUMBER)
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.press("5")  # no menu uses it: nothing happens
            await twilio.press("0")
            return (await twilio.hear(ends=True)).end

    end = run(conversation())
    assert json.loads(end["handoffData"])["action"] == "transfer"
    assert llm.requests == []  # handled without the model
    assert eventually(lambda: service.call(call.call_sid)["outcome"], lambda o: o == "transferred")


def test_action_without_handoff_hangs_up_and_a_failed_session_takes_a_message(llm_service):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    assert [c.tag for c in action(service, call)] == ["Hangup"]
    failed = action(service, call, SessionStatus="failed", ErrorCode="64101")
    assert [c.tag for c in failed] == ["Say", "Pause", "Say", "Hangup"]
    unsigned = service.http.post("/twilio/relay/action", data={"CallSid": call.call_sid,
                                                                "HandoffData": '{"action": "transfer"}'})
    assert unsigned.status_code == 403


# --- barge-in -------------------------------------------------------------------------------------------------

HOURS_ANSWER = "Our hours are Monday to Friday, eight to five, and Saturdays by appointment only."


def test_interrupt_cancels_the_answer_and_history_keeps_only_what_was_heard(llm_service, llm):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply(HOURS_ANSWER, pause_after=4, pause_s=0.4), reply("No, we're closed on Sundays."))

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.prompt("What are your hours?")
            spoken = ""
            while spoken != "Our hours are Monday":  # the model pauses after this (0.4 s a token)
                message = await twilio.receive()
                assert message["type"] == "text" and not message["last"]
                spoken += message["token"]
            await twilio.interrupt("Our hours are Monday", after_ms=900)
            heard = await twilio.say("Do you work Sundays?")
            assert heard.text == "No, we're closed on Sundays."  # nothing of the cut answer arrives after

    run(conversation())
    history = llm.requests[1]["messages"]
    assert history[-3:] == [{"role": "user", "content": "What are your hours?"},
                            {"role": "assistant", "content": "Our hours are Monday"},
                            {"role": "user", "content": "Do you work Sundays?"}]
    assert not llm.served[0].completed  # the generation was abandoned, not streamed to the end
    conversation = eventually(lambda: service.call(call.call_sid)["conversation"], lambda c: len(c) == 5)
    assert speakers(conversation)[1:] == [("caller", "What are your hours?"),
                                          ("receptionist", "Our hours are Monday"),
                                          ("caller", "Do you work Sundays?"),
                                          ("receptionist", "No, we're closed on Sundays.")]


def test_interrupts_of_the_greeting_and_of_a_finished_answer_still_playing(llm_service, llm):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply(HOURS_ANSWER), reply("Sure, go ahead."), reply("Got it."))

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.interrupt("Hi, you've reached Acme")  # cut into Twilio's welcome greeting
            heard = await twilio.say("Hours?")
            assert heard.text == HOURS_ANSWER
            # Streaming was done, but Twilio was still speaking it when the caller cut in.
            await twilio.interrupt("Our hours are Monday to Friday, eight to five,")
            await twilio.say("Sorry, one more question.")
            await twilio.interrupt("")  # cut in before hearing a word: nothing was said
            await twilio.say("Do you do drains?")

    run(conversation())
    assert llm.requests[0]["messages"][1:] == [{"role": "assistant", "content": "Hi, you've reached Acme"},
                                               {"role": "user", "content": "Hours?"}]
    assert llm.requests[2]["messages"][1:] == [
        {"role": "assistant", "content": "Hi, you've reached Acme"}, {"role": "user", "content": "Hours?"},
        {"role": "assistant", "content": "Our hours are Monday to Friday, eight to five,"},
        {"role": "user", "content": "Sorry, one more question."},
        {"role": "user", "content": "Do you do drains?"}]
    conversation = eventually(lambda: service.call(call.call_sid)["conversation"],
                              lambda c: c and c[-1]["text"] == "Got it.")
    assert speakers(conversation) == [
        ("receptionist", "Hi, you've reached Acme"), ("caller", "Hours?"),
        ("receptionist", "Our hours are Monday to Friday, eight to five,"),
        ("caller", "Sorry, one more question."), ("caller", "Do you do drains?"), ("receptionist", "Got it.")]


# --- the LLM failing -------------------------------------------------------------------------------------------

FAILURES = {
    "server error": reply(status=500),
    "rate limited": reply(status=429),
    "timeout": reply("Too late.", delay_s=3.0),
    "malformed tool call": reply("", ("capture_lead", '{"name": "Bob", "callback_')),
    "unknown tool": reply("", ("book_a_table", {"when": "now"})),
}


@pytest.mark.parametrize("failure", FAILURES, ids=list(FAILURES))
def test_llm_failure_apologises_and_the_offline_intake_takes_over(llm_service, llm, failure):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(FAILURES[failure])

    async def conversation():
        async with caller(service, call) as twilio:
            started = time.monotonic()
            heard = await twilio.say("Hi, my kitchen sink is clogged.")
            assert time.monotonic() - started < 2.5  # bounded by RECEPTIONIST_RELAY_LLM_TIMEOUT (1 s here)
            assert heard.text == "Sorry, I'm having a little trouble on my end. May I have your name, please?"
            assert (await twilio.say("Bob Jones")).text.startswith("What's the best number to reach you?")
            assert (await twilio.say("Sure, use the number I'm calling from.")).text == (
                "Let me read that back. Bob Jones, we'll call you at 555-014-2367, and you need help with: "
                "your kitchen sink is clogged. Is that right?")
            return (await twilio.say("Yes.", ends=True)).end

    end = run(conversation())
    assert json.loads(end["handoffData"])["say"] == "Thank you, Bob. Someone from Acme Plumbing will call you back soon. Goodbye!"
    assert len(llm.requests) == 1  # the rest of the call did not wait on the failing model
    detail = eventually(lambda: service.call(call.call_sid), lambda d: len(d["conversation"]) == 9)
    assert detail["lead"] == {"reason": "My kitchen sink is clogged.", "urgency": "normal", "name": "Bob Jones",
                              "callback_number": CALLER_NUMBER}


def test_llm_stalling_mid_answer_is_followed_by_an_apology_not_silence(llm_service, llm):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply("Our hours are Monday to Friday.", pause_after=2, pause_s=5.0))

    async def conversation():
        async with caller(service, call) as twilio:
            heard = await twilio.say("What are your hours?")
            assert heard.text.startswith("Our hours Sorry, I'm having a little trouble on my end. Our hours are "
                                         "Monday: 8 AM to 5 PM")

    run(conversation())
    conversation = eventually(lambda: service.call(call.call_sid)["conversation"], lambda c: len(c) == 3)
    assert conversation[2]["text"].startswith("Our hours Sorry, I'm having a little trouble")


# --- who may connect --------------------------------------------------------------------------------------------

def refused(service, call, *, setup: dict | None = None, **options):
    async def connect():
        twilio = caller(service, call, **options)
        await twilio.connect(setup)
        return await twilio.closed()

    return run(connect())


def test_forged_or_misaddressed_signature_is_refused_at_the_upgrade(service):
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    internal_url = service.url.replace("http://", "ws://") + "/twilio/relay"
    for options in ({"signature": "forged"},
                    {"public_relay_url": internal_url},  # signed for the address we listen on, not the public one
                    {"auth_token": "not-our-token"}):
        with pytest.raises(InvalidStatus) as refusal:
            refused(service, call, **options)
        assert refusal.value.response.status_code == 403
    assert service.call(call.call_sid)["conversation"] == []


@pytest.mark.parametrize("case", ["unknown call", "other twilio account", "not a setup", "numbers differ",
                                  "account closed", "call ended"])
def test_setup_that_does_not_match_a_live_call_of_ours_is_refused(service, case):
    account = service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    twilio = caller(service, call)
    setup = twilio.setup_message()
    if case == "unknown call":
        setup["callSid"] = "CA" + "f" * 32
    elif case == "other twilio account":
        setup["accountSid"] = "AC" + "e" * 32
    elif case == "not a setup":
        setup = {"type": "prompt", "voicePrompt": "hello", "last": True}
    elif case == "numbers differ":
        setup["from"] = "+15550000000"
    elif case == "account closed":
        with service.app.state.services.db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE accounts SET status = 'closed' WHERE id = '{account['id']}'")
    elif case == "call ended":
        service.player.end(call, duration_s=30)
    code, reason = refused(service, call, setup=setup)
    assert code == 1008
    assert reason == {"unknown call": "unknown call", "other twilio account": "the call belongs to another Twilio account",
                      "not a setup": "expected a setup message first", "numbers differ": "setup does not match the call",
                      "account closed": "the call's account is not active", "call ended": "the call has ended"}[case]
    with service.app.state.services.db.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT conversation, lead, handoff FROM calls").all()
    assert stored == [(None, None, None)]


def test_an_unsigned_upgrade_is_refused_even_with_a_valid_setup(service):
    """DESIGN.md: a missing signature is refused like a bad one, before the socket opens."""
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    with pytest.raises(InvalidStatus) as refusal:
        refused(service, call, sign=False)
    assert refusal.value.response.status_code == 403
    assert service.call(call.call_sid)["conversation"] == []


# --- the offline receptionist (no LLM configured) --------------------------------------------------------------

@pytest.fixture
def offline_service(make_settings, database_url):
    """The app with no LLM configured, on PostgreSQL and again on SQLite."""
    yield from _serve(make_settings(database_url, openai_api_key=None, openai_base_url=None))


def converse(service, call, turns: list[tuple[str, str]], *, ends: bool = True, checks=None):
    """Say each caller line and check the receptionist's answer (prefix `...` checks the start only)."""

    async def conversation():
        async with caller(service, call) as twilio:
            heard = None
            for index, (said, expected) in enumerate(turns):
                last = index == len(turns) - 1
                heard = await twilio.say(said, ends=ends and last)
                if expected.endswith("..."):
                    assert heard.text.startswith(expected[:-3]), (said, heard.text)
                else:
                    assert heard.text == expected, (said, heard.text)
                if checks and said in checks:
                    checks[said]()
            return heard

    return run(conversation())


def test_offline_receptionist_answers_hours_and_collects_a_lead(offline_service):
    service = offline_service
    service.create_account()
    set_clock(service, datetime(2026, 11, 30, 10, 15, tzinfo=CHICAGO))  # Monday morning: open
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    lead = lambda: service.call(call.call_sid)["lead"] or {}  # noqa: E731
    last = converse(service, call, [
        ("Hi, what are your hours?",
         "Our hours are Monday: 8 AM to 5 PM; Tuesday to Sunday: closed. We're open now, until 5 PM today. "
         "Is there anything else I can help you with? I can also take your details so someone can call you back."),
        ("Yes, my water heater is leaking.", "May I have your name, please?"),
        ("It's Maria Lopez.", "What's the best number to reach you? I can use the number you're calling from if "
                              "that's easiest."),
        ("You can reach me at 312 555 0199.",
         "Let me read that back. Maria Lopez, we'll call you at 312-555-0199, and you need help with: your water "
         "heater is leaking. Is that right?"),
        ("Yes, that's right.", ""),
    ], checks={
        # Each detail is stored on the call as soon as it is heard, not at the end of the call.
        "Yes, my water heater is leaking.": lambda: eventually(lead, lambda v: v.get("reason")),
        "It's Maria Lopez.": lambda: eventually(lead, lambda v: v.get("name") == "Maria Lopez"),
    })
    assert json.loads(last.end["handoffData"]) == {
        "action": "hangup", "reason": "message taken",
        "say": "Thank you, Maria. Someone from Acme Plumbing will call you back soon. Goodbye!"}
    detail = eventually(lambda: service.call(call.call_sid), lambda d: len(d["conversation"]) == 11)
    assert detail["lead"] == {"reason": "My water heater is leaking.", "urgency": "high", "name": "Maria Lopez",
                              "callback_number": "+13125550199"}
    assert detail["outcome"] == "message-taken"
    assert detail["conversation"][0]["text"] == "Hi, you've reached Acme Plumbing. How can I help you today?"
    assert detail["conversation"][-1] == {**detail["conversation"][-1], "speaker": "receptionist",
                                          "text": "Thank you, Maria. Someone from Acme Plumbing will call you back "
                                                  "soon. Goodbye!"}


def test_offline_receptionist_answers_services_areas_and_faq_then_says_goodbye(offline_service):
    service = offline_service
    service.create_account(business={**ACCOUNT["business"], "faq": [
        {"question": "Do you offer free estimates?", "answer": "Yes, estimates are always free."},
        {"question": "Are you licensed and insured?", "answer": "Yes, we are fully licensed and insured."}]})
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    anything_else = " Is there anything else I can help you with? I can also take your details so someone can call you back."
    last = converse(service, call, [
        ("Do you do drain cleaning?", "Yes, we do drain cleaning." + anything_else),
        ("Do you serve Shelbyville?", "Yes, we serve Shelbyville." + anything_else),
        ("What areas do you cover?", "We serve Springfield and Shelbyville." + anything_else),
        ("Are you guys insured?", "Yes, we are fully licensed and insured." + anything_else),
        ("Do you offer free estimates?", "Yes, estimates are always free." + anything_else),
        ("Do you do roofing?", "I don't see that on our list; we handle water heater repair and drain cleaning. "
                               "Someone can call you back to check." + anything_else),
        ("No, that's all, thanks.", ""),
    ])
    assert json.loads(last.end["handoffData"])["say"] == "Thanks for calling Acme Plumbing. Goodbye!"
    detail = eventually(lambda: service.call(call.call_sid), lambda d: len(d["conversation"]) == 15)
    assert detail["lead"] is None and detail["outcome"] is None


def test_offline_receptionist_takes_corrections_and_keeps_what_it_heard_when_the_caller_hangs_up(offline_service):
    service = offline_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    converse(service, call, [
        ("This is Tom, my furnace is making a loud banging noise.", "What's the best number to reach you?..."),
        ("It's three one two, five five five, oh one nine nine.",
         "Let me read that back. Tom, we'll call you at 312-555-0199, and you need help with: your furnace is "
         "making a loud banging noise. Is that right?"),
        ("No, the number is 312 555 0198.", "Let me read that back. Tom, we'll call you at 312-555-0198..."),
        ("No.", "Sorry about that. What should I change: your name, your number, or the reason for your call?"),
        ("My name.", "May I have your name, please?"),
        ("Thomas Baker", "Let me read that back. Thomas Baker, we'll call you at 312-555-0198..."),
    ], ends=False)  # … and the caller hangs up without confirming
    detail = eventually(lambda: service.call(call.call_sid), lambda d: len(d["conversation"]) == 13)
    assert detail["lead"] == {"name": "Thomas Baker", "reason": "My furnace is making a loud banging noise.",
                              "urgency": "normal", "callback_number": "+13125550198"}


@pytest.mark.parametrize("transfer_number", [TRANSFER_NUMBER, None])
def test_offline_receptionist_hands_over_to_a_person_or_takes_a_message(make_settings, pg_database, transfer_number):
    for service in _serve(make_settings(pg_database, openai_api_key=None, openai_base_url=None)):
        service.create_account(transfer_number=transfer_number)
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        if transfer_number:
            last = converse(service, call, [("Can I speak to a real person please?", "")])
            assert json.loads(last.end["handoffData"])["action"] == "transfer"
            root = action(service, call, HandoffData=last.end["handoffData"])
            assert [c.tag for c in root] == ["Say", "Dial"] and root[1].text == TRANSFER_NUMBER
        else:
            converse(service, call, [
                ("Can I speak to a real person please?",
                 "No one is available to take your call right now, but I can take a message and have someone call "
                 "you back. What can we help you with today?"),
                ("The kitchen sink is backed up.", "May I have your name, please?"),
            ], ends=False)
