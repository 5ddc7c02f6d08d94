"""TwiML documents, built with the `twilio` library."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse


def answer_call(
    *, disclosure: str, greeting: str, recording_callback_url: str, relay_url: str, relay_action_url: str
) -> str:
    response = VoiceResponse()
    # Order is a legal requirement, not style: the caller hears the recording disclosure before any
    # audio is recorded or reaches the AI, so <Say> comes first, then <Start><Recording>, then the relay.
    response.say(disclosure)
    start = response.start()
    start.recording(
        channels="dual",
        track="both",
        recording_status_callback=recording_callback_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
    )
    connect = response.connect(action=relay_action_url, method="POST")
    connect.conversation_relay(url=relay_url, welcome_greeting=greeting)
    return str(response)


def answer_for_account(account, templates, settings) -> str:
    """The answer TwiML for an account: its own words, or the defaults in prompts/ with its name."""
    name = account.name
    return answer_call(
        disclosure=account.disclosure or templates.render("disclosure.txt", business_name=name),
        greeting=account.greeting or templates.render("greeting.txt", business_name=name),
        recording_callback_url=f"{settings.public_url}/twilio/recording",
        relay_url=settings.relay_url,
        relay_action_url=f"{settings.public_url}/twilio/relay/action",
    )


def unknown_number(say: str) -> str:
    response = VoiceResponse()
    response.say(say)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


# --- After the ConversationRelay session (POST /twilio/relay/action) -----------------------------------
# The receptionist's last words are spoken here, by the call, rather than streamed over the relay just
# before its `end` message: the relay ending cannot cut them off.

def transfer(*, say: str, number: str, caller_id: str, action_url: str, timeout_s: int = 25) -> str:
    """Hand the caller to a person; the <Dial> reports back to `action_url` (no answer → take a message)."""
    response = VoiceResponse()
    response.say(say)
    response.dial(number, caller_id=caller_id, action=action_url, method="POST", timeout=timeout_s,
                  answer_on_bridge=True)
    return str(response)


def take_message(*, say: str, goodbye: str, listen_s: int = 60) -> str:
    """Let the caller leave a message when no person can take the call.

    No <Record>: the call's dual-channel recording (started before the relay) is still running, so
    the message lands in the same recording, transcript, retention and alert as the rest of the
    call. A <Record> would leave a second copy at Twilio that retention and erasure do not know of.
    """
    response = VoiceResponse()
    response.say(say)
    response.pause(length=listen_s)
    response.say(goodbye)
    response.hangup()
    return str(response)


def hang_up(say: str | None = None) -> str:
    response = VoiceResponse()
    if say:
        response.say(say)
    response.hangup()
    return str(response)
