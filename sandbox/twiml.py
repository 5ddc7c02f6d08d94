"""TwiML as Twilio reads it: the verbs of a voice response, with their documented defaults, refused
where Twilio would refuse them.

The call player and the relay stand-in act on what the service answered, not on what a test says
it answered, so an attribute the product forgets (or misspells) changes what the caller gets, as it
would on a real call. Each default and each check names the page it comes from; where the docs
are silent the stricter reading is taken and the comment says so.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

# https://www.twilio.com/docs/voice/twiml/connect/conversationrelay (attribute table): the values
# `interruptible`, `welcomeGreetingInterruptible` and `reportInputDuringAgentSpeech` take.
INPUT_KINDS = ("none", "dtmf", "speech", "any")


class TwimlRejected(ValueError):
    """Twilio would not run this document: the call would end with an application error."""


@dataclass(frozen=True)
class Say:
    """https://www.twilio.com/docs/voice/twiml/say"""

    text: str
    # "voice: man, woman, any of the Twilio-supported Amazon Polly Voices, e.g. Polly.Amy, any of the
    # Twilio-supported Google Voices, e.g. Google.en-GB-Standard-A. Default: man".
    voice: str = "man"
    language: str = "en-US"


@dataclass(frozen=True)
class Pause:
    """https://www.twilio.com/docs/voice/twiml/pause ("length ... Default: 1")"""

    length_s: int = 1


@dataclass(frozen=True)
class Hangup:
    """https://www.twilio.com/docs/voice/twiml/hangup"""


@dataclass(frozen=True)
class Dial:
    """https://www.twilio.com/docs/voice/twiml/dial"""

    number: str
    caller_id: str | None
    action: str | None
    timeout_s: int = 30  # "timeout ... Default: 30"


@dataclass(frozen=True)
class Recording:
    """`<Start><Recording>`: https://www.twilio.com/docs/voice/twiml/recording (attribute table)."""

    status_callback: str | None = None
    status_callback_method: str = "POST"
    # "If recordingStatusCallback is provided without recordingStatusCallbackEvent, completed is
    # sent by default."
    status_callback_events: frozenset[str] = frozenset({"completed"})
    trim: str = "trim-silence"  # "The default is trim-silence."
    track: str = "both"
    channels: str = "dual"


@dataclass(frozen=True)
class ConversationRelay:
    """`<Connect><ConversationRelay>`: https://www.twilio.com/docs/voice/twiml/connect/conversationrelay"""

    url: str
    welcome_greeting: str | None = None
    welcome_greeting_interruptible: str = "any"  # table default
    interruptible: str = "any"  # table default
    # "The default was `any` before May 2025 and it's now `none`."
    report_input_during_agent_speech: str = "none"
    # "Set to `true` to turn on DTMF events." The default column is blank; `dtmf` messages are sent
    # "when you turn on DTMF detection" (websocket-messages page), so off unless turned on.
    dtmf_detection: bool = False
    preemptible: bool = False  # table default
    hints: tuple[str, ...] = ()
    language: str = "en-US"
    transcription_language: str | None = None
    tts_provider: str = "ElevenLabs"  # table default
    voice: str | None = None  # "the system uses a default voice for that text-to-speech provider"
    parameters: dict[str, str] = field(default_factory=dict)  # <Parameter> → setup.customParameters

    @property
    def prompt_language(self) -> str:
        return self.transcription_language or self.language


@dataclass(frozen=True)
class Connect:
    """https://www.twilio.com/docs/voice/twiml/connect ("action ... method: Default POST")."""

    relay: ConversationRelay
    action: str | None = None
    method: str = "POST"


@dataclass(frozen=True)
class Start:
    recording: Recording | None


Verb = Say | Pause | Hangup | Dial | Start | Connect


@dataclass(frozen=True)
class VoiceDocument:
    verbs: tuple[Verb, ...]

    def all(self, kind: type) -> list:
        return [verb for verb in self.verbs if isinstance(verb, kind)]

    def first(self, kind: type):
        found = self.all(kind)
        return found[0] if found else None

    @property
    def recording(self) -> Recording | None:
        start = self.first(Start)
        return start.recording if start else None

    @property
    def connect(self) -> Connect | None:
        return self.first(Connect)

    @property
    def tags(self) -> list[str]:
        return [type(verb).__name__ for verb in self.verbs]


# The attributes the ConversationRelay page documents (its table, plus the newer ones the twilio
# library 9.13 renders; §1.4 of the team's digest). Twilio answers an attribute it does not know
# with schema warning 12200; the stand-in refuses it, so a misspelt attribute cannot pass silently.
RELAY_ATTRIBUTES = frozenset({
    "url", "welcomeGreeting", "welcomeGreetingInterruptible", "language", "ttsLanguage", "ttsProvider", "voice",
    "transcriptionLanguage", "transcriptionProvider", "speechModel", "deepgramSmartFormat", "interruptible",
    "interruptSensitivity", "dtmfDetection", "reportInputDuringAgentSpeech", "preemptible", "hints", "debug",
    "elevenlabsTextNormalization", "intelligenceService", "profanityFilter", "partialPrompts",
    "backgroundNoiseReduction", "speechTimeout", "ignoreBackchannel", "events", "partialPromptOnHangup",
    "eagerEotThreshold", "asrSmartFormat", "ttsTextNormalization", "applicationReconnect", "echoPromptFiltering",
    "turnDetection",
})
TTS_PROVIDERS = ("Google", "Amazon", "ElevenLabs")  # "Available choices are Google, Amazon, and ElevenLabs."
TRANSCRIPTION_PROVIDERS = ("Google", "Deepgram")
# <Say voice>: the basic voices, or a provider-prefixed Polly or Google voice name.
SAY_VOICE = re.compile(r"^(?:man|woman|alice|Polly\.[A-Za-z-]+|Google\.[A-Za-z]{2,3}-[A-Za-z]{2,4}-[A-Za-z0-9-]+)$")
RECORDING_EVENTS = frozenset({"in-progress", "completed", "absent"})


def _boolean(element: ET.Element, name: str, default: bool) -> bool:
    raw = element.get(name)
    if raw is None:
        return default
    # The docs print booleans in lower case ("Set to `true`"); whether `True` is accepted they do
    # not say, so only the documented spelling is.
    if raw not in ("true", "false"):
        raise TwimlRejected(f"<{element.tag} {name}> must be true or false, not {raw!r}")
    return raw == "true"


def _choice(element: ET.Element, name: str, allowed: tuple[str, ...], default: str) -> str:
    raw = element.get(name)
    if raw is None:
        return default
    if raw not in allowed:
        raise TwimlRejected(f"<{element.tag} {name}> must be one of {', '.join(allowed)}, not {raw!r}")
    return raw


def _interruptible(element: ET.Element, name: str, *, booleans: bool) -> str:
    raw = element.get(name)
    if raw is None:
        return "any"
    # `interruptible`: "For backward compatibility, Boolean values are also accepted: true = any and
    # false = none." The table says nothing of the kind for welcomeGreetingInterruptible.
    if booleans and raw in ("true", "false"):
        return "any" if raw == "true" else "none"
    return _choice(element, name, INPUT_KINDS, "any")


def _relay(element: ET.Element) -> ConversationRelay:
    unknown = set(element.attrib) - RELAY_ATTRIBUTES
    if unknown:
        raise TwimlRejected(f"<ConversationRelay> has attributes Twilio does not know: {sorted(unknown)}")
    url = element.get("url") or ""
    if not url.startswith("wss://"):  # "The URL must begin with wss://."
        raise TwimlRejected(f"<ConversationRelay url> must begin with wss://, not {url!r}")
    provider = _choice(element, "ttsProvider", TTS_PROVIDERS, "ElevenLabs")
    _choice(element, "transcriptionProvider", TRANSCRIPTION_PROVIDERS, "Deepgram")
    hints = element.get("hints")
    parameters = {}
    for child in element:
        if child.tag != "Parameter":
            raise TwimlRejected(f"<ConversationRelay> cannot hold <{child.tag}>")
        parameters[child.get("name") or ""] = child.get("value") or ""
    return ConversationRelay(
        url=url,
        welcome_greeting=element.get("welcomeGreeting"),
        welcome_greeting_interruptible=_interruptible(element, "welcomeGreetingInterruptible", booleans=False),
        interruptible=_interruptible(element, "interruptible", booleans=True),
        report_input_during_agent_speech=_choice(element, "reportInputDuringAgentSpeech", INPUT_KINDS, "none"),
        dtmf_detection=_boolean(element, "dtmfDetection", False),
        preemptible=_boolean(element, "preemptible", False),
        # "A comma-separated list of words or phrases that may appear in the speech."
        hints=tuple(hint.strip() for hint in hints.split(",")) if hints else (),
        language=element.get("language") or "en-US",
        transcription_language=element.get("transcriptionLanguage"),
        tts_provider=provider,
        voice=element.get("voice"),
        parameters=parameters,
    )


def _recording(element: ET.Element) -> Recording:
    events = (element.get("recordingStatusCallbackEvent") or "completed").split()
    if not events or set(events) - RECORDING_EVENTS:
        raise TwimlRejected(f"<Recording recordingStatusCallbackEvent> takes {sorted(RECORDING_EVENTS)}, "
                            f"space-separated, not {element.get('recordingStatusCallbackEvent')!r}")
    return Recording(
        status_callback=element.get("recordingStatusCallback"),
        status_callback_method=_choice(element, "recordingStatusCallbackMethod", ("GET", "POST"), "POST"),
        status_callback_events=frozenset(events),
        trim=_choice(element, "trim", ("trim-silence", "do-not-trim"), "trim-silence"),
        track=_choice(element, "track", ("inbound", "outbound", "both"), "both"),
        channels=_choice(element, "channels", ("mono", "dual"), "dual"),
    )


def _verb(element: ET.Element) -> Verb:
    if element.tag == "Say":
        voice = element.get("voice") or "man"
        if not SAY_VOICE.match(voice):
            raise TwimlRejected(f"<Say voice> {voice!r} is not a voice Twilio offers")
        return Say(element.text or "", voice, element.get("language") or "en-US")
    if element.tag == "Pause":
        return Pause(int(element.get("length") or 1))
    if element.tag == "Hangup":
        return Hangup()
    if element.tag == "Dial":
        return Dial((element.text or "").strip(), element.get("callerId"), element.get("action"),
                    int(element.get("timeout") or 30))
    if element.tag == "Start":
        recordings = [_recording(child) for child in element if child.tag == "Recording"]
        return Start(recordings[0] if recordings else None)
    if element.tag == "Connect":
        relays = [child for child in element if child.tag == "ConversationRelay"]
        if len(relays) != 1:
            raise TwimlRejected("<Connect> must hold exactly one <ConversationRelay>")
        return Connect(_relay(relays[0]), element.get("action"),
                       _choice(element, "method", ("GET", "POST"), "POST"))
    raise TwimlRejected(f"<{element.tag}> is not a verb this stand-in plays")


def read(document: str) -> VoiceDocument:
    """A voice response as Twilio would run it; raises TwimlRejected for what Twilio would refuse."""
    try:
        root = ET.fromstring(document)
    except ET.ParseError as exc:  # Twilio: error 12100, "Document parse failure"
        raise TwimlRejected(f"not well-formed XML: {exc}") from exc
    if root.tag != "Response":
        raise TwimlRejected(f"the root element must be <Response>, not <{root.tag}>")
    return VoiceDocument(tuple(_verb(child) for child in root))
