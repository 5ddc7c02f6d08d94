"""The TwiML reader the stand-ins act on: Twilio's documented defaults, and what Twilio refuses."""

from __future__ import annotations

import pytest

from sandbox import twiml


def relay(attributes: str = "", inner: str = "") -> twiml.ConversationRelay:
    document = twiml.read(f'<Response><Connect action="https://x.example/a"><ConversationRelay url="wss://x.example/r"'
                          f' {attributes}>{inner}</ConversationRelay></Connect></Response>')
    return document.connect.relay


def test_conversation_relay_defaults_are_the_documented_ones():
    noun = relay()
    assert noun.dtmf_detection is False  # no dtmf messages unless turned on
    assert noun.report_input_during_agent_speech == "none"  # the default since May 2025
    assert noun.interruptible == noun.welcome_greeting_interruptible == "any"
    assert noun.preemptible is False
    assert noun.tts_provider == "ElevenLabs" and noun.voice is None
    assert noun.language == "en-US" and noun.hints == ()


def test_conversation_relay_attributes_as_written():
    noun = relay('dtmfDetection="true" interruptible="false" welcomeGreetingInterruptible="dtmf" '
                 'reportInputDuringAgentSpeech="speech" hints="Acme,Dana Whitaker, Springfield" '
                 'ttsProvider="Amazon" voice="Joanna-Neural" welcomeGreeting="Hi"',
                 '<Parameter name="ref" value="42"/>')
    assert noun.dtmf_detection is True
    assert noun.interruptible == "none"  # "false = none", for backward compatibility
    assert noun.welcome_greeting_interruptible == "dtmf"
    assert noun.report_input_during_agent_speech == "speech"
    assert noun.hints == ("Acme", "Dana Whitaker", "Springfield")
    assert (noun.tts_provider, noun.voice, noun.welcome_greeting) == ("Amazon", "Joanna-Neural", "Hi")
    assert noun.parameters == {"ref": "42"}


@pytest.mark.parametrize("attributes, problem", [
    ('dtmfDetection="True"', "true or false"),  # only the documented spelling
    ('interruptible="sometimes"', "none, dtmf, speech, any"),
    ('welcomeGreetingInterruptible="true"', "none, dtmf, speech, any"),  # booleans only for interruptible
    ('ttsProvider="Polly"', "Google, Amazon, ElevenLabs"),
    ('dtmfDetecton="true"', "does not know"),  # a misspelt attribute
])
def test_conversation_relay_values_twilio_refuses(attributes, problem):
    with pytest.raises(twiml.TwimlRejected, match=problem):
        relay(attributes)


def test_conversation_relay_url_must_be_wss():
    with pytest.raises(twiml.TwimlRejected, match="wss://"):
        twiml.read('<Response><Connect><ConversationRelay url="ws://x.example/r"/></Connect></Response>')


def test_recording_defaults_and_events():
    start = twiml.read('<Response><Start><Recording recordingStatusCallback="/r"/></Start></Response>').recording
    assert start.trim == "trim-silence" and start.status_callback_events == {"completed"}
    assert (start.channels, start.track, start.status_callback_method) == ("dual", "both", "POST")
    with pytest.raises(twiml.TwimlRejected, match="recordingStatusCallbackEvent"):
        twiml.read('<Response><Start><Recording recordingStatusCallbackEvent="done"/></Start></Response>')


def test_say_voices():
    document = twiml.read('<Response><Say>Hi</Say><Say voice="Polly.Joanna-Neural">Hi</Say>'
                          '<Say voice="Google.en-US-Neural2-F">Hi</Say></Response>')
    assert [say.voice for say in document.all(twiml.Say)] == ["man", "Polly.Joanna-Neural", "Google.en-US-Neural2-F"]
    with pytest.raises(twiml.TwimlRejected, match="voice"):
        twiml.read('<Response><Say voice="robot">Hi</Say></Response>')


def test_not_twiml_is_refused():
    for document in ("<Response><Say>unclosed</Response>", "<Document/>", "<Response><Gather/></Response>"):
        with pytest.raises(twiml.TwimlRejected):
            twiml.read(document)
