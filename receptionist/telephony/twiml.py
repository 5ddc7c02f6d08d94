"""TwiML documents, built with the `twilio` library.

Every word a caller hears is spoken in one voice: the account's (or the deployment's) text-to-speech
voice is given to every `<Say>` and to the `<ConversationRelay>`, so the disclosure, the
conversation and the goodbye do not switch between Twilio's `<Say>` default ("man") and
ConversationRelay's (an ElevenLabs voice).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from twilio.twiml.voice_response import VoiceResponse

from receptionist.agent.profile import Vocabulary, vocabulary

# What the caller may do while the receptionist speaks. Set explicitly, not left to Twilio's
# defaults (reportInputDuringAgentSpeech changed from `any` to `none` in May 2025): speech or a key
# press cuts the receptionist off (an `interrupt`, then the prompt or key), and nothing is
# reported while it speaks that did not interrupt it.
INTERRUPTIBLE = "any"
REPORT_INPUT_DURING_AGENT_SPEECH = "none"
MAX_HINTS = 100  # Twilio documents no limit; a profile can hold a few hundred names
TOKEN_PLACEHOLDER = "relay-token-8c1f2e7b5d"  # where a call's relay token goes in an account's cached answer


@dataclass(frozen=True)
class TtsVoice:
    """One text-to-speech voice in Twilio's two spellings of it."""

    say: str  # <Say voice="Polly.Joanna-Neural">
    provider: str  # <ConversationRelay ttsProvider="Amazon" voice="Joanna-Neural">
    name: str

    @classmethod
    def parse(cls, voice: str) -> TtsVoice:
        """From the product's "provider:voice" (validated by the settings and the account schema)."""
        provider, _, name = voice.partition(":")
        if provider == "amazon":
            return cls(f"Polly.{name}", "Amazon", name)
        if provider == "google":
            return cls(f"Google.{name}", "Google", name)
        raise ValueError(f"no Twilio voice for {voice!r}")


def hints(words: Vocabulary) -> str:
    """ConversationRelay's `hints`: "Separate each hint with a comma and capitalize proper nouns
    (like brand names) in the way that they're normally written"
    (https://www.twilio.com/docs/voice/twiml/connect/conversationrelay#hints).

    Names typed all in lower case are capitalised word by word; anything else is kept as its owner
    wrote it ("McAllen", "iPhone"). A comma inside a phrase would split it, so it becomes a space.
    The `twilio` library would render a list as its Python repr, so the string is joined here.
    """
    seen: set[str] = set()
    out: list[str] = []
    for phrase, proper in [(n, True) for n in words.names] + [(p, False) for p in words.phrases]:
        phrase = " ".join(phrase.replace(",", " ").split())
        if proper and phrase == phrase.lower():
            phrase = string.capwords(phrase)
        if phrase and phrase.lower() not in seen:
            seen.add(phrase.lower())
            out.append(phrase)
    return ",".join(out[:MAX_HINTS])


@dataclass(frozen=True)
class AnswerTemplate:
    """An account's answer, rendered once and cached; each call gets it with its own relay token."""

    head: str
    tail: str

    def __call__(self, relay_token: str) -> str:
        return self.head + relay_token + self.tail


def relay_url(base: str, relay_token: str) -> str:
    return f"{base}?token={relay_token}"


def _conversation_relay(response: VoiceResponse, *, url: str, action_url: str, voice: TtsVoice, hint_list: str,
                        greeting: str | None) -> None:
    connect = response.connect(action=action_url, method="POST")
    connect.conversation_relay(
        url=url,
        welcome_greeting=greeting,
        welcome_greeting_interruptible=INTERRUPTIBLE if greeting else None,
        interruptible=INTERRUPTIBLE,
        report_input_during_agent_speech=REPORT_INPUT_DURING_AGENT_SPEECH,
        # `dtmf` messages only come with DTMF detection on: "press 0 for a person" and a keyed-in
        # callback number depend on it.
        dtmf_detection=True,
        tts_provider=voice.provider,
        voice=voice.name,
        hints=hint_list or None,
    )


def answer_call(*, disclosure: str, greeting: str, voice: TtsVoice, hint_list: str, recording_callback_url: str,
                relay_url: str, relay_action_url: str) -> str:
    response = VoiceResponse()
    # Order is a legal requirement, not style: the caller hears the recording disclosure before any
    # audio is recorded or reaches the AI, so <Say> comes first, then <Start><Recording>, then the relay.
    response.say(disclosure, voice=voice.say)
    start = response.start()
    start.recording(
        channels="dual",
        track="both",
        # Not the default trim-silence: trimmed, the recording no longer starts when the call did, so
        # its timeline would not line up with the live turns, and a short trimmed call comes back
        # `absent` (https://www.twilio.com/docs/voice/twiml/recording#trim).
        trim="do-not-trim",
        recording_status_callback=recording_callback_url,
        recording_status_callback_method="POST",
        recording_status_callback_event="completed absent",
    )
    _conversation_relay(response, url=relay_url, action_url=relay_action_url, voice=voice, hint_list=hint_list,
                        greeting=greeting)
    return str(response)


def account_voice(voice: str | None, settings) -> TtsVoice:
    """An account's voice, or the deployment's (`RECEPTIONIST_TTS_VOICE`) when it has none."""
    return TtsVoice.parse(voice or settings.tts_voice)


def relay_action_url(settings, attempt: int) -> str:
    """The `<Connect action>` of a relay attempt: the attempt is in the (signed) URL, so the action
    knows whether a failed session was the first or the reconnect."""
    return f"{settings.public_url}/twilio/relay/action?attempt={attempt}"


def answer_for_account(account, templates, settings) -> AnswerTemplate:
    """The answer TwiML for an account: its own words, or the defaults in prompts/ with its name."""
    name = account.name
    document = answer_call(
        disclosure=account.disclosure or templates.render("disclosure.txt", business_name=name),
        greeting=account.greeting or templates.render("greeting.txt", business_name=name),
        voice=account_voice(account.voice, settings),
        hint_list=hints(vocabulary(name, account.business)),
        recording_callback_url=f"{settings.public_url}/twilio/recording",
        relay_url=relay_url(settings.relay_url, TOKEN_PLACEHOLDER),
        relay_action_url=relay_action_url(settings, 1),
    )
    head, found, tail = document.partition(TOKEN_PLACEHOLDER)
    if not found or TOKEN_PLACEHOLDER in tail:
        raise RuntimeError("the relay token's place in the answer TwiML is ambiguous")
    return AnswerTemplate(head, tail)


def refusal_for_account(account, templates, settings) -> str:
    """What a caller screening refuses hears (calls.screening): a short message, then the call ends.
    No <Start><Recording> and no <Connect>: nothing is recorded, nothing reaches the AI."""
    return hang_up(account_voice(account.voice, settings),
                   templates.render("blocked_caller.txt", business_name=account.name))


def reconnect(*, voice: TtsVoice, hint_list: str, relay_url: str, relay_action_url: str) -> str:
    """A new relay session for a call whose session failed: no greeting (the caller was already
    greeted; the receptionist resumes from the stored turns) and no second recording."""
    response = VoiceResponse()
    _conversation_relay(response, url=relay_url, action_url=relay_action_url, voice=voice, hint_list=hint_list,
                        greeting=None)
    return str(response)


def unknown_number(say: str, voice: TtsVoice) -> str:
    response = VoiceResponse()
    response.say(say, voice=voice.say)
    response.hangup()
    return str(response)


def empty() -> str:
    return str(VoiceResponse())


# --- After the ConversationRelay session (POST /twilio/relay/action) -----------------------------------
# The receptionist's last words are spoken here, by the call, rather than streamed over the relay just
# before its `end` message: the relay ending cannot cut them off.

def transfer(*, say: str, voice: TtsVoice, number: str, caller_id: str, action_url: str, timeout_s: int = 25) -> str:
    """Hand the caller to a person; the <Dial> reports back to `action_url` (no answer → take a message)."""
    response = VoiceResponse()
    response.say(say, voice=voice.say)
    response.dial(number, caller_id=caller_id, action=action_url, method="POST", timeout=timeout_s,
                  answer_on_bridge=True)
    return str(response)


def take_message(*, say: str, goodbye: str, voice: TtsVoice, listen_s: int = 60) -> str:
    """Let the caller leave a message when no person can take the call.

    No <Record>: the call's dual-channel recording (started before the relay) is still running, so
    the message lands in the same recording, transcript, retention and alert as the rest of the
    call. A <Record> would leave a second copy at Twilio that retention and erasure do not know of.
    """
    response = VoiceResponse()
    response.say(say, voice=voice.say)
    response.pause(length=listen_s)
    response.say(goodbye, voice=voice.say)
    response.hangup()
    return str(response)


def hang_up(voice: TtsVoice, say: str | None = None) -> str:
    response = VoiceResponse()
    if say:
        response.say(say, voice=voice.say)
    response.hangup()
    return str(response)
