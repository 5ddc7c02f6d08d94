"""TwiML documents, built with the `twilio` library."""

from __future__ import annotations

from twilio.twiml.voice_response import VoiceResponse

UNKNOWN_NUMBER_MESSAGE = "Sorry, this number is not in service. Goodbye."


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


def unknown_number() -> str:
    response = VoiceResponse()
    response.say(UNKNOWN_NUMBER_MESSAGE)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())
