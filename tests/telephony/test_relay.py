"""The ConversationRelay websocket and the receptionist behind it, end to end.

The app is served by uvicorn on real databases; a real websocket client plays Twilio's side of the
relay; the real `openai` client streams from a local server speaking the Chat Completions wire
format (scripted replies, tool calls, failures). Nothing here talks to the agent directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest
from rq import Queue
from websockets.exceptions import InvalidStatus

from receptionist.agent.receptionist import KEYPAD_PAUSE_S
from sandbox.llm_api import LocalChatApi, reply
from sandbox.relay_client import RelayCaller, upgrade_signature
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


# The receptionist's words play this fast (real speech is about 15 characters a second): the tests
# wait for it to finish speaking, as a caller does, without waiting as long.
FAST = 300.0


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def caller(service, call, **options) -> RelayCaller:
    """Twilio's side of the relay the call's TwiML connected, signed as Twilio signs it."""
    return service.player.relay(call, **{"chars_per_s": FAST, **options})


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


def action(service, call, query: str = "", **params):
    """Twilio's POST to the <Connect> (or <Dial>) action URL, with these parameters."""
    form = {"AccountSid": service.settings.twilio_account_sid, "CallSid": call.call_sid, "From": call.from_number,
            "To": call.to_number, "CallStatus": "in-progress", "SessionId": "VX" + "0" * 32,
            "SessionStatus": "ended", **params}
    response = service.player.post("/twilio/relay/action", form, query=query)
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

    twilio = caller(service, call)

    async def conversation():
        async with twilio:
            await twilio.silence()  # the welcome greeting plays first
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

    # Twilio posts the session's end to the action URL: the farewell is spoken by the call itself, in the
    # voice of the whole call, then it hangs up.
    assert twilio.session_status == "ended" and twilio.rejected == []
    after = service.player.session_over(call, twilio)
    assert after.tags == ["Say", "Hangup"]
    assert after.verbs[0].text == "Thanks for calling Acme Plumbing. Goodbye!"
    assert after.verbs[0].voice == "Polly.Joanna-Neural" == call.answer.verbs[0].voice


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

    twilio = caller(service, call)

    async def conversation():
        async with twilio:
            heard = await twilio.say("Can I talk to the owner about a quote?", ends=True)
            return heard.end

    end = run(conversation())
    assert json.loads(end["handoffData"]) == {"action": "transfer", "reason": "wants to talk to the owner about a quote",
                                              "transfer_to": TRANSFER_NUMBER}
    detail = eventually(lambda: service.call(call.call_sid), lambda d: d["handoff"] is not None)
    assert detail["outcome"] == "transferred"
    assert detail["handoff"]["reason"] == "wants to talk to the owner about a quote"
    assert detail["handoff"]["transfer_to"] == TRANSFER_NUMBER

    after = service.player.session_over(call, twilio)
    assert after.tags == ["Say", "Dial"]
    assert "connect you" in after.verbs[0].text and "Acme Plumbing" in after.verbs[0].text
    dial = after.verbs[1]
    assert dial.number == TRANSFER_NUMBER and dial.caller_id == BUSINESS_NUMBER
    assert dial.action == "https://receptionist.example.com/twilio/relay/action"
    # What the <Say> announced is kept for the transcript: the person speaks after it.
    assert [(s["kind"], s["text"]) for s in service.said(call.call_sid)] == [("transfer", after.verbs[0].text)]

    # The <Dial> reports back to the same URL: nobody answered → the caller leaves a message.
    missed = action(service, call, DialCallStatus="no-answer", DialCallSid="CA" + "9" * 32)
    assert [child.tag for child in missed] == ["Say", "Pause", "Say", "Hangup"]
    assert "leave your name" in missed[0].text
    assert [(s["kind"], s["text"]) for s in service.said(call.call_sid)] == [
        ("transfer", after.verbs[0].text), ("take_message", missed[0].text), ("message_goodbye", missed[2].text)]
    again = action(service, call, DialCallStatus="no-answer", DialCallSid="CA" + "9" * 32)  # Twilio retrying
    assert len(again) == 4 and len(service.said(call.call_sid)) == 3  # not kept twice
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
    assert call.answer.connect.relay.dtmf_detection  # without it Twilio sends no key at all

    async def conversation():
        async with caller(service, call) as twilio:
            await twilio.silence()
            assert await twilio.press("5") and await twilio.press("#")  # an entry no menu uses: nothing happens
            started = time.monotonic()
            assert await twilio.press("0")
            end = (await twilio.hear(ends=True)).end
            assert time.monotonic() - started >= KEYPAD_PAUSE_S  # "0" alone, once the caller stopped keying
            return end

    end = run(conversation())
    assert json.loads(end["handoffData"])["action"] == "transfer"
    assert llm.requests == []  # handled without the model
    assert eventually(lambda: service.call(call.call_sid)["outcome"], lambda o: o == "transferred")


@pytest.mark.parametrize("mode", ["llm", "offline"])
def test_a_keyed_in_callback_number_is_captured_and_never_logged(make_settings, pg_database, llm, caplog, mode):
    settings = make_settings(pg_database, openai_base_url=llm.base_url if mode == "llm" else None,
                             openai_api_key="test-key" if mode == "llm" else None, relay_llm_timeout_s=1.0)
    llm.script(reply("Sorry to hear that. What's the best number to reach you?"),
               reply("Thank you. And what's your name?"))
    for service in _serve(settings):
        service.create_account()
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
        caplog.set_level(logging.DEBUG)

        async def conversation():
            async with caller(service, call) as twilio:
                await twilio.say("Hi, my sink is blocked.")
                await twilio.silence()
                await twilio.key_in("3125550199#")
                return await twilio.hear()

        heard = run(conversation())
        lead = eventually(lambda: service.call(call.call_sid)["lead"] or {}, lambda v: v.get("callback_number"))
        assert lead["callback_number"] == "+13125550199"
        if mode == "llm":
            assert heard.text == "Thank you. And what's your name?"
            note = llm.requests[-1]["messages"][-1]
            assert note["role"] == "user" and "312-555-0199" in note["content"]
        else:
            assert heard.text.startswith("Thanks, I have your number as 312-555-0199.")
        # The service's own logs (Twilio's side, the stand-in's websocket client, may log its frames).
        logged = "\n".join(record.getMessage() for record in caplog.records
                           if record.name.split(".")[0] in ("receptionist", "uvicorn", "workers"))
        assert "keyed in a callback number" in logged
        for digits in ("3125550199", "312-555-0199", "+13125550199", "'3'", '"digit"'):
            assert digits not in logged


def test_a_failed_session_reconnects_once_without_the_greeting_then_takes_a_message(llm_service, llm):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    llm.script(reply("Sorry to hear that. Can I have your name?"), reply("Thanks, Ann. What's your number?"))
    first = caller(service, call)

    async def before_the_drop():
        async with first:
            assert (await first.say("My water heater is leaking.")).text.startswith("Sorry to hear that")
            await first.drop()  # the connection fails: no close handshake

    run(before_the_drop())
    assert first.action_params()["SessionStatus"] == "failed" and first.action_params()["ErrorCode"]
    again = service.player.session_over(call, first)
    assert again.tags == ["Connect"]  # no second disclosure, no second recording
    relay = again.connect.relay
    assert relay.welcome_greeting is None and relay.dtmf_detection and relay.url != call.answer.connect.relay.url
    assert again.connect.action.endswith("/twilio/relay/action?attempt=2")

    second = caller(service, call)

    async def after_the_reconnect():
        async with second:
            assert (await second.say("It's Ann.")).text == "Thanks, Ann. What's your number?"
            await second.drop()

    run(after_the_reconnect())
    # The model was given everything said before the drop, and no second greeting.
    assert llm.requests[-1]["messages"][1:] == [
        {"role": "assistant", "content": "Hi, you've reached Acme Plumbing. How can I help you today?"},
        {"role": "user", "content": "My water heater is leaking."},
        {"role": "assistant", "content": "Sorry to hear that. Can I have your name?"},
        {"role": "user", "content": "It's Ann."}]
    conversation = eventually(lambda: service.call(call.call_sid)["conversation"], lambda c: len(c) == 5)
    assert [t["speaker"] for t in conversation] == ["receptionist", "caller", "receptionist", "caller",
                                                    "receptionist"]
    # The reconnect failed too: the caller leaves a message on the call's recording.
    last = service.player.session_over(call, second)
    assert last.tags == ["Say", "Pause", "Say", "Hangup"]
    # And the first session's URL cannot open the call again.
    replayed = caller(service, call, document=call.answer)
    assert refused_with(replayed) == (1008, "a newer relay session has taken this call")


@pytest.mark.parametrize("status_first", [True, False], ids=["status before the socket closes",
                                                             "status after the socket closes"])
@pytest.mark.parametrize("spoke", [True, False], ids=["caller spoke", "caller silent"])
def test_the_outcome_waits_for_the_conversation_whichever_news_of_the_hang_up_comes_first(
        offline_service, redis_conn, status_first, spoke):
    """A hang-up reaches the service twice, independently: the status callback and the relay's socket
    closing. A caller who spoke is answered (no missed-call text-back); one who did not is missed once
    the recording has nothing either (here: Twilio reports it absent)."""
    service = offline_service
    service.create_account(missed_call_text_back=True)
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)

    async def conversation():
        async with caller(service, call) as twilio:
            await asyncio.to_thread(eventually, lambda: relay_holder(service, call), bool)  # the session is up
            if spoke:
                # Said the moment the caller hangs up: its turn is stored only as the socket closes.
                await twilio.silence()
                await twilio.prompt("My sink is blocked, I'll call back later.")
            return await service.player.hang_up(call, twilio, status_first=status_first, duration_s=12)

    after = run(conversation())
    assert after.tags == ["Hangup"]  # the action is told the caller hung up (SessionStatus=completed)
    detail = service.call(call.call_sid)
    assert detail["duration_s"] == 12 and detail["ended_at"]
    jobs = Queue(service.settings.queue_name, connection=redis_conn).job_ids
    if spoke:
        assert detail["outcome"] in ("answered", "message-taken") and jobs == []
        assert any(t["speaker"] == "caller" for t in detail["conversation"])
    else:
        # The relay connected, so the recording started before it is coming: the outcome waits for it.
        assert detail["outcome"] is None and jobs == []
        params = service.player.recording_params(call, "https://api.twilio.com/x", None, status="absent")
        assert service.player.post("/twilio/recording", params).status_code == 200
        jobs = Queue(service.settings.queue_name, connection=redis_conn).job_ids
        assert service.call(call.call_sid)["outcome"] == "missed" and jobs == [f"call-ended-{call.call_sid}"]


def test_a_caller_who_hangs_up_while_the_model_thinks_is_not_missed(make_settings, pg_database, llm, redis_conn):
    """The caller's turn is stored with the receptionist's first word, so a caller who speaks and hangs
    up before it has its words stored only when the relay closes, after the status callback came: the
    outcome must wait for them, or a caller who spoke would be texted back as missed."""
    llm.script(reply("Let me check.", delay_s=3.0))
    for service in _serve(make_settings(pg_database, openai_base_url=llm.base_url, openai_api_key="test-key",
                                        relay_llm_timeout_s=5.0)):
        service.create_account(missed_call_text_back=True)
        call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)

        async def conversation():
            async with caller(service, call) as twilio:
                await twilio.silence()
                await twilio.prompt("Do you fix boilers? Actually, I'll call back.")
                await asyncio.to_thread(llm.wait_for_requests, 1)  # the model is thinking
                await service.player.hang_up(call, twilio, status_first=True, duration_s=9)

        run(conversation())
        detail = service.call(call.call_sid)
        assert detail["outcome"] == "answered"
        assert Queue(service.settings.queue_name, connection=redis_conn).job_ids == []
        assert [t["speaker"] for t in detail["conversation"]] == ["receptionist", "caller"]


def test_action_without_handoff_hangs_up_and_an_unsigned_one_is_refused(llm_service):
    service = llm_service
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    assert [c.tag for c in action(service, call)] == ["Hangup"]
    failed_twice = action(service, call, query="attempt=2", SessionStatus="failed", ErrorCode="39001")
    assert [c.tag for c in failed_twice] == ["Say", "Pause", "Say", "Hangup"]
    hung_up = action(service, call, SessionStatus="completed", CallStatus="completed")
    assert [c.tag for c in hung_up] == ["Hangup"]
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
            await twilio.silence()
            await twilio.prompt("What are your hours?")
            spoken = ""
            while spoken != "Our hours are Monday":  # the model pauses after this (0.4 s a token)
                message = await twilio.receive()
                assert message["type"] == "text" and not message["last"]
                spoken += message["token"]
            # The caller talks over the answer: Twilio stops speaking, says what was heard, then relays the words.
            assert await twilio.prompt("Do you work Sundays?", after_hearing="Our hours are Monday")
            assert [m["type"] for m in twilio.sent[-2:]] == ["interrupt", "prompt"]
            assert twilio.sent[-2]["utteranceUntilInterrupt"] == "Our hours are Monday"
            heard = await twilio.hear()
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
        # Slow speech, so the answer is still playing long after it has all arrived.
        async with caller(service, call, chars_per_s=40) as twilio:
            await twilio.prompt("Hours?", after_hearing="Hi, you've reached Acme")  # cut into the greeting
            heard = await twilio.hear()
            assert heard.text == HOURS_ANSWER
            # Streaming was done, but Twilio was still speaking it when the caller cut in.
            await twilio.prompt("Sorry, one more question.", after_hearing="Our hours are Monday to Friday, eight to five,")
            await twilio.receive()  # the first word of the next answer arrives...
            await twilio.prompt("Do you do drains?", after_hearing="")  # ...and is cut before it is heard
            while (await twilio.hear()).text != "Got it.":
                pass
            assert [m["type"] for m in twilio.sent if m["type"] != "setup"] == [
                "interrupt", "prompt", "interrupt", "prompt", "interrupt", "prompt"]

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

def refused_with(twilio: RelayCaller, setup: dict | None = None) -> tuple[int | None, str]:
    async def connect():
        await twilio.connect(setup)
        return await twilio.closed()

    return run(connect())


def refused(service, call, *, setup: dict | None = None, **options):
    return refused_with(caller(service, call, **options), setup)


def relay_holder(service, call) -> str | None:
    with service.app.state.services.db.engine.connect() as conn:
        return conn.exec_driver_sql(f"SELECT relay_session FROM calls WHERE call_sid = '{call.call_sid}'").scalar()


def stored_conversations(service) -> list:
    with service.app.state.services.db.engine.connect() as conn:
        return conn.exec_driver_sql("SELECT conversation, lead, handoff FROM calls ORDER BY id").all()


def test_forged_or_misaddressed_signature_is_refused_at_the_upgrade(service):
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    relay_url = call.answer.connect.relay.url
    internal_url = service.url.replace("http://", "ws://") + "/twilio/relay?" + relay_url.split("?", 1)[1]
    token = service.settings.twilio_auth_token
    for options in ({"signature": "forged"},
                    # signed for the address we listen on, not the public one
                    {"signature": upgrade_signature(token, internal_url)},
                    # signed without the relay token the URL carries
                    {"signature": upgrade_signature(token, relay_url.split("?", 1)[0])},
                    {"auth_token": "not-our-token"}):
        with pytest.raises(InvalidStatus) as refusal:
            refused(service, call, **options)
        assert refusal.value.response.status_code == 403
    assert service.call(call.call_sid)["conversation"] == []


def test_the_upgrade_signature_covers_the_relay_url_with_its_query():
    """Twilio's own validation code signs the wss:// URL with its query parameters as the signed
    parameters (sandbox.relay_client.upgrade_signature); the general webhook rule signs the whole URL.
    The service accepts either, over the URL it issued, and nothing else."""
    from twilio.request_validator import RequestValidator

    from receptionist.telephony.signature import SignatureChecker

    url, params = "wss://receptionist.example.com/twilio/relay", {"token": "CA1.1.99.mac"}
    validator = RequestValidator("secret")
    as_params = upgrade_signature("secret", url + "?token=CA1.1.99.mac")
    assert as_params == validator.compute_signature(url, params)
    as_url = validator.compute_signature(url + "?token=CA1.1.99.mac", {})
    assert as_params != as_url
    checker = SignatureChecker("secret", "https://receptionist.example.com")
    assert checker.is_valid_url(url, params, as_params)
    assert checker.is_valid_url(url + "?token=CA1.1.99.mac", {}, as_url)
    assert not checker.is_valid_url(url, {"token": "CA2.1.99.mac"}, as_params)


def relay_url_for(service, call_sid: str, attempt: int = 1, *, age_s: float = 0.0) -> str:
    """A relay URL the service could have issued (for another call, or long ago)."""
    from receptionist.telephony.relay_token import RelayTokens

    tokens = RelayTokens(service.settings.twilio_auth_token, clock=lambda: time.time() - age_s)
    return f"{service.settings.relay_url}?token={tokens.issue(call_sid, attempt)}"


@pytest.mark.parametrize("case", ["forged token", "expired token", "no token"])
def test_a_relay_url_without_a_valid_token_is_refused_at_the_upgrade(service, case):
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    url = call.answer.connect.relay.url
    if case == "forged token":
        url = url[:-4] + ("AAAA" if not url.endswith("AAAA") else "BBBB")
    elif case == "expired token":
        url = relay_url_for(service, call.call_sid, age_s=3600)
    else:
        url = url.split("?", 1)[0]
    with pytest.raises(InvalidStatus) as refusal:
        refused(service, call, url=url)  # signed as Twilio would sign that URL
    assert refusal.value.response.status_code == 403
    assert stored_conversations(service) == [(None, None, None)]


@pytest.mark.parametrize("case", ["unknown call", "another call's url", "other twilio account", "not a setup",
                                  "caller differs", "number differs", "account closed", "call ended"])
def test_setup_that_does_not_match_a_live_call_of_ours_is_refused(service, case):
    account = service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    other = service.player.start("+15550142999", BUSINESS_NUMBER)
    options = {}
    twilio = caller(service, call)
    setup = twilio.setup_message()
    if case == "unknown call":
        unknown = "CA" + "f" * 32
        options["url"] = relay_url_for(service, unknown)
        setup["callSid"] = unknown
    elif case == "another call's url":
        options["document"] = other.answer  # a relay URL Twilio was given for the other call
    elif case == "other twilio account":
        setup["accountSid"] = "AC" + "e" * 32
    elif case == "not a setup":
        setup = {"type": "prompt", "voicePrompt": "hello", "last": True}
    elif case == "caller differs":
        setup["from"] = "+15550000000"
    elif case == "number differs":
        setup["to"] = ""
    elif case == "account closed":
        with service.app.state.services.db.engine.begin() as conn:
            conn.exec_driver_sql(f"UPDATE accounts SET status = 'closed' WHERE id = '{account['id']}'")
    elif case == "call ended":
        service.player.end(call, duration_s=30)
    code, reason = refused(service, call, setup=setup, **options)
    assert code == 1008
    assert reason == {"unknown call": "unknown call", "another call's url": "the relay URL was issued for another call",
                      "other twilio account": "the call belongs to another Twilio account",
                      "not a setup": "expected a setup message first", "caller differs": "setup does not match the call",
                      "number differs": "setup does not match the call",
                      "account closed": "the call's account is not active", "call ended": "the call has ended"}[case]
    assert stored_conversations(service) == [(None, None, None)] * 2


def test_one_live_relay_session_per_call(service):
    service.create_account()
    call = service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    first = caller(service, call)
    twin = caller(service, call)  # the same URL and signature: a captured upgrade, or a second socket

    async def both():
        async with first:
            await first.say("Hi, my sink is blocked.")
            await twin.connect()
            assert await twin.closed() == (1008, "another relay session is live for this call")
            assert (await first.say("It's Tom.")).text  # the first one carries on, unharmed
        return await first.closed()

    run(both())
    conversation = eventually(lambda: service.call(call.call_sid)["conversation"], lambda c: len(c) == 5)
    assert [t["text"] for t in conversation if t["speaker"] == "caller"] == ["Hi, my sink is blocked.", "It's Tom."]
    # Once that session is over, its URL opens nothing: each relay URL connects once.
    eventually(lambda: relay_holder(service, call), lambda holder: holder is None)
    assert refused(service, call) == (1008, "this relay URL was already used")
    assert len(service.call(call.call_sid)["conversation"]) == 5


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
