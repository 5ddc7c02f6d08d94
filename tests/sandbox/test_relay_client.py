"""The ConversationRelay stand-in as a specification: what Twilio sends, and withholds, for the
attributes a TwiML gives it. A bare websocket server plays the application here and records
every message it receives, so these tests see exactly what the stand-in sends."""

from __future__ import annotations

import asyncio
import json

import pytest
from twilio.request_validator import RequestValidator
from websockets.asyncio.server import serve

from sandbox import twiml
from sandbox.relay_client import RelayCaller, upgrade_signature, whole_words

REPLY = "Our hours are Monday to Friday."


class App:
    """A relay application that answers every prompt with REPLY, token by token."""

    def __init__(self, answer=True):
        self.received: list[dict] = []
        self.headers = None
        self.path = None
        self.answer = answer
        self.outbox: asyncio.Queue = asyncio.Queue()

    async def __call__(self, ws):
        self.headers, self.path = ws.request.headers, ws.request.path
        sender = asyncio.create_task(self._send(ws))
        try:
            async for raw in ws:
                message = json.loads(raw)
                self.received.append(message)
                if message["type"] == "prompt" and self.answer:
                    for token in ["Our", " hours", " are", " Monday", " to", " Friday."]:
                        await ws.send(json.dumps({"type": "text", "token": token, "last": False}))
                    await ws.send(json.dumps({"type": "text", "token": "", "last": True}))
        finally:
            sender.cancel()

    async def _send(self, ws):
        while True:
            await ws.send(json.dumps(await self.outbox.get()))

    def kinds(self) -> list[str]:
        return [m["type"] for m in self.received]


def noun(attributes: str = "") -> twiml.ConversationRelay:
    return twiml.read('<Response><Connect><ConversationRelay url="wss://receptionist.example.com/twilio/relay'
                      f'?token=abc" welcomeGreeting="Hi, you have reached Acme Plumbing." {attributes}/>'
                      '</Connect></Response>').connect.relay


async def session(attributes: str, play, *, answer=True, chars_per_s: float = 40.0):
    app = App(answer)
    async with serve(app, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        twilio = RelayCaller(noun(attributes), f"ws://127.0.0.1:{port}", call_sid="CA" + "1" * 32,
                             from_number="+15550142367", to_number="+15550100200", account_sid="AC" + "2" * 32,
                             auth_token="secret", chars_per_s=chars_per_s)
        async with twilio:
            result = await play(twilio, app)
            await asyncio.sleep(0.05)  # let the last message land
        return app, twilio, result


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 30))


def test_the_upgrade_and_the_setup_are_as_twilio_sends_them():
    async def nothing(twilio, app):
        return None

    app, twilio, _ = run(session("", nothing))
    assert app.path == "/twilio/relay?token=abc"  # the TwiML's URL, through the proxy's address
    expected = RequestValidator("secret").compute_signature("wss://receptionist.example.com/twilio/relay",
                                                            {"token": "abc"})
    assert app.headers["X-Twilio-Signature"] == expected
    assert upgrade_signature("secret", "wss://receptionist.example.com/twilio/relay?token=abc") == expected
    setup = app.received[0]
    assert set(setup) == {"type", "sessionId", "accountSid", "parentCallSid", "callSid", "from", "to",
                          "forwardedFrom", "callType", "callerName", "direction", "callStatus", "customParameters"}
    assert setup["type"] == "setup" and setup["sessionId"].startswith("VX") and setup["callStatus"] == "RINGING"
    assert twilio.action_params()["SessionStatus"] == "completed"  # the caller hung up (close())


def test_keys_are_sent_only_with_dtmf_detection():
    async def press(twilio, app):
        await twilio.silence()
        return await twilio.press("1")

    app, twilio, sent = run(session("", press))
    assert sent is False and "dtmf" not in app.kinds() and twilio.withheld == ["1"]
    app, twilio, sent = run(session('dtmfDetection="true"', press))
    assert sent is True and app.received[-1] == {"type": "dtmf", "digit": "1"}


def test_speech_over_the_agent_interrupts_it_first_when_interruptible():
    async def barge_in(twilio, app):
        await twilio.silence()
        await twilio.prompt("Hours?")
        await twilio.receive()  # the answer has started
        return await twilio.prompt("Saturdays?", after_hearing="Our hours are")

    app, twilio, sent = run(session("", barge_in))  # interruptible defaults to any
    assert sent is True
    assert app.kinds() == ["setup", "prompt", "interrupt", "prompt"]
    interrupt = app.received[2]
    assert interrupt["utteranceUntilInterrupt"] == "Our hours are"
    # Sent as a string: the docs print both "460" and 460, and a consumer must take either.
    assert interrupt["durationUntilInterruptMs"] == str(round(len("Our hours are") / 40 * 1000))


@pytest.mark.parametrize("attributes, kinds", [
    ('interruptible="none"', ["setup", "prompt"]),  # reportInputDuringAgentSpeech none: the words are lost
    ('interruptible="dtmf"', ["setup", "prompt"]),
    ('interruptible="none" reportInputDuringAgentSpeech="speech"', ["setup", "prompt", "prompt"]),
    ('interruptible="none" reportInputDuringAgentSpeech="any"', ["setup", "prompt", "prompt"]),
])
def test_speech_that_does_not_interrupt_is_reported_only_if_allowed(attributes, kinds):
    async def talk_over(twilio, app):
        await twilio.silence()
        await twilio.prompt("Hours?")
        await twilio.receive()
        return await twilio.prompt("Saturdays?", after_hearing="Our")

    app, twilio, sent = run(session(attributes, talk_over))
    assert app.kinds() == kinds
    assert sent is (len(kinds) == 3)
    assert "interrupt" not in app.kinds()
    assert twilio.withheld == ([] if sent else ["Saturdays?"])


def test_the_greeting_follows_welcome_greeting_interruptible():
    async def over_the_greeting(twilio, app):
        return await twilio.prompt("Hello?", after_hearing="Hi, you have")

    app, _twilio, sent = run(session('welcomeGreetingInterruptible="none"', over_the_greeting, answer=False))
    assert sent is False and app.kinds() == ["setup"]
    app, _twilio, sent = run(session('welcomeGreetingInterruptible="speech"', over_the_greeting, answer=False))
    assert app.kinds() == ["setup", "interrupt", "prompt"]
    assert app.received[1]["utteranceUntilInterrupt"] == "Hi, you have"


@pytest.mark.parametrize("attributes, kinds", [
    ('dtmfDetection="true" interruptible="speech"', ["setup", "prompt"]),
    ('dtmfDetection="true" interruptible="dtmf"', ["setup", "prompt", "interrupt", "dtmf"]),
    ('dtmfDetection="true" interruptible="none" reportInputDuringAgentSpeech="dtmf"', ["setup", "prompt", "dtmf"]),
])
def test_keys_during_agent_speech(attributes, kinds):
    async def key_over(twilio, app):
        await twilio.silence()
        await twilio.prompt("Hours?")
        await twilio.receive()
        return await twilio.press("0", after_hearing="Our hours")

    app, _twilio, _sent = run(session(attributes, key_over))
    assert app.kinds() == kinds


def test_the_next_reply_waits_for_the_one_playing():
    """preemptible defaults to false: a new talk cycle is spoken after the one playing, not over it."""
    async def two_replies(twilio, app):
        await twilio.silence()
        await app.outbox.put({"type": "text", "token": "First reply.", "last": True})
        await app.outbox.put({"type": "text", "token": "Second.", "last": True})
        await twilio.hear()
        await twilio.hear()
        first, second = twilio.playback.utterances[-2:]
        return second.start - (first.start + len(first.text) / twilio.playback.rate)

    _app, _twilio, gap = run(session("", two_replies))
    assert gap >= -1e-6


def test_invalid_messages_are_answered_with_an_error_and_ten_close_the_socket():
    async def misbehave(twilio, app):
        await app.outbox.put({"type": "text", "token": None})
        await app.outbox.put({"type": "sendDigits", "digits": "12a"})
        await app.outbox.put({"type": "speak", "words": "hi"})
        await asyncio.sleep(0.1)
        errors = [m for m in app.received if m["type"] == "error"]
        for _ in range(7):
            await app.outbox.put({"type": "end", "handoffData": {"not": "a string"}})
        return errors, await twilio.closed()

    _app, twilio, (errors, closed) = run(session("", misbehave))
    assert len(errors) == 3 and all(e["description"].startswith("Invalid message received") for e in errors)
    assert closed == (1007, "Too many consecutive malformed messages.")
    assert len(twilio.rejected) == 10


def test_end_closes_the_session_and_the_action_carries_the_handoff():
    async def ended(twilio, app):
        await app.outbox.put({"type": "end", "handoffData": '{"action": "hangup"}'})
        return (await twilio.hear(ends=True)).end, await twilio.closed()

    _app, twilio, (end, _closed) = run(session("", ended))
    assert end["handoffData"] == '{"action": "hangup"}'
    params = twilio.action_params()
    assert params["SessionStatus"] == "ended" and params["HandoffData"] == '{"action": "hangup"}'
    assert params["CallStatus"] == "in-progress" and params["SessionId"] == twilio.session_id
    assert params["SessionDuration"].isdigit() and "ErrorCode" not in params


def test_a_dropped_socket_is_a_failed_session():
    async def dropped(twilio, app):
        await twilio.drop()

    _app, twilio, _ = run(session("", dropped))
    params = twilio.action_params()
    assert params["SessionStatus"] == "failed" and params["ErrorCode"] == "39001" and params["ErrorMessage"]
    assert "HandoffData" not in params


def test_whole_words():
    assert whole_words("Our hours are Monday", 20) == "Our hours are Monday"
    assert whole_words("Our hours are Monday to", 16) == "Our hours are"
    assert whole_words("Our hours are Monday", 13) == "Our hours are"
    assert whole_words("Our hours", 2) == ""
