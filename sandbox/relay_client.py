"""Plays Twilio's side of a ConversationRelay session against the service (tests, demo, benchmark).

It does what Twilio does for the `<ConversationRelay>` the service answered (read by
`sandbox.twiml`), not what a test would like: it connects to that noun's `url` (through the
address the service listens on, as a TLS-terminating proxy would), signs the upgrade as Twilio
signs it, sends the documented `setup`, and then plays the caller. The behaviours, each from
https://www.twilio.com/docs/voice/twiml/connect/conversationrelay (attributes) or
https://www.twilio.com/docs/voice/conversationrelay/websocket-messages (messages):

- The receptionist's `text` tokens are spoken by text-to-speech, one talk cycle (up to `last: true`)
  after another ("preemptible ... Default false": a new cycle waits for the one playing), at a
  speaking rate the test chooses (`chars_per_s`; about 15 for real speech). The welcome greeting
  is the first cycle.
- While the agent speaks, the caller's speech interrupts it only when `interruptible` (for the
  greeting, `welcomeGreetingInterruptible`) allows `speech`; then Twilio sends `interrupt` with what
  had been played (`utteranceUntilInterrupt`, whole words) and the time it took, and the caller's
  words follow as a `prompt`. Otherwise the words reach the service only if
  `reportInputDuringAgentSpeech` allows `speech`, else they are lost (its default is `none`).
- A key press is sent as `dtmf` only with `dtmfDetection="true"` ("ConversationRelay sends this
  message when you turn on DTMF detection"), and during agent speech follows the same two rules
  with `dtmf` in place of `speech`. The docs do not say whether a key that interrupts playback is
  announced by `interrupt`; the stand-in sends one, the reading under which a product that does not
  trim what the caller did not hear is caught.
- Messages from the service are validated as the docs list them; an invalid one is answered with
  an `error` message and not processed ("A failed validation check does not end the session"), and
  after 10 in a row the socket is closed with 1007 "Too many consecutive malformed messages."
- `end` ends the session: Twilio closes the socket and posts the `<Connect action>` with
  `SessionStatus=ended` and the `handoffData`. A caller hanging up ends it as `completed`; a socket
  that drops as `failed` with `ErrorCode`/`ErrorMessage` (`action_params`).
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from sandbox.signing import TwilioSigner
from sandbox.twiml import ConversationRelay

REAL_SPEECH_CHARS_PER_S = 15.0  # about 150 words a minute
MALFORMED_LIMIT = 10  # "the last 10 messages remain unidentified, we will terminate the connection"
DIGITS = re.compile(r"^[0-9w#*]+$")  # sendDigits: "Must only contain the characters 0-9, w, #, and *."


@dataclass
class Heard:
    """One reply as Twilio received it."""

    tokens: list[str] = field(default_factory=list)
    end: dict | None = None  # the `end` message, when the receptionist left the conversation
    complete: bool = False  # a `last: true` token arrived

    @property
    def text(self) -> str:
        return "".join(self.tokens).strip()

    @property
    def handoff(self) -> dict | None:
        return json.loads(self.end["handoffData"]) if self.end and self.end.get("handoffData") else None


@dataclass
class Utterance:
    """One talk cycle as text-to-speech plays it."""

    mode: str  # what may interrupt it: none | dtmf | speech | any
    preemptible: bool
    arrived: float
    start: float
    text: str = ""
    complete: bool = False
    cut_at: float | None = None

    def played(self, now: float, rate: float) -> int:
        moment = min(now, self.cut_at) if self.cut_at is not None else now
        return max(0, min(len(self.text), int((moment - self.start) * rate + 1e-9)))

    def end(self, rate: float) -> float | None:
        if self.cut_at is not None:
            return self.cut_at
        return self.start + len(self.text) / rate if self.complete else None

    def finished(self, now: float, rate: float) -> bool:
        end = self.end(rate)
        return end is not None and now >= end


def whole_words(text: str, played: int) -> str:
    """What the caller heard of `text` after `played` characters: whole words only."""
    if played >= len(text):
        return text.strip()
    heard = text[:played]
    if not text[played].isspace():
        heard = heard[:heard.rfind(" ") + 1] if " " in heard else ""
    return heard.strip()


class Playback:
    """The agent's speech: talk cycles played one after another at `rate` characters a second."""

    def __init__(self, rate: float):
        self.rate = rate
        self.utterances: list[Utterance] = []
        self.changed = asyncio.Event()

    def add(self, token: str, last: bool, *, mode: str, preemptible: bool, now: float) -> None:
        current = self.utterances[-1] if self.utterances else None
        if current is None or current.complete or current.cut_at is not None:
            start = now
            if current is not None:
                end = current.end(self.rate)
                if end is not None and end > now:
                    if current.preemptible:
                        current.cut_at = now  # the next cycle stops it
                    else:
                        start = end  # it waits for the cycle still playing
            current = Utterance(mode, preemptible, now, start)
            self.utterances.append(current)
        current.text += token
        current.complete = current.complete or last
        self.changed.set()

    def playing(self, now: float) -> Utterance | None:
        """The cycle being spoken (or the next one, already queued); None when the agent is silent."""
        for utterance in self.utterances:
            if not utterance.finished(now, self.rate):
                return utterance
        return None

    def cut(self, now: float) -> tuple[str, int]:
        """Stop speaking: what was heard of the cycle playing, and for how long it played (ms)."""
        utterance = self.playing(now)
        if utterance is None:
            return "", 0
        heard = whole_words(utterance.text, utterance.played(now, self.rate))
        duration_ms = max(0, round((now - utterance.start) * 1000))
        for later in self.utterances:
            if not later.finished(now, self.rate):
                later.cut_at = now
        return heard, duration_ms

    async def silence(self, clock, timeout: float) -> None:
        """Wait until the agent has finished speaking (every cycle complete and played)."""
        deadline = clock() + timeout
        while True:
            now = clock()
            utterance = self.playing(now)
            if utterance is None:
                return
            end = utterance.end(self.rate)
            wait = (end - now) if end is not None else None
            if now > deadline:
                raise TimeoutError("the receptionist never finished speaking")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), min(wait, deadline - now) if wait else deadline - now)
            except TimeoutError:
                pass

    async def reach(self, prefix: str, clock, timeout: float) -> float:
        """Wait until the latest cycle has been heard up to `prefix`; the moment it was.

        The moment is the model's, not the wake-up time: a test that cuts in after hearing some
        words gets exactly those words, however late its event loop runs.
        """
        deadline = clock() + timeout
        while True:
            utterance = self.utterances[-1] if self.utterances else None
            if utterance is not None and utterance.text.startswith(prefix):
                moment = utterance.start + len(prefix) / self.rate
                if utterance.cut_at is not None and utterance.cut_at < moment:
                    raise AssertionError(f"the receptionist was cut off before saying {prefix!r}")
                if moment > clock():
                    await asyncio.sleep(moment - clock())
                return moment
            if clock() > deadline:
                raise TimeoutError(f"the receptionist never said {prefix!r}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), 0.05)
            except TimeoutError:
                pass


def upgrade_signature(auth_token: str, relay_url: str) -> str:
    """X-Twilio-Signature of the websocket upgrade to `relay_url` (the TwiML's `url`).

    The docs say only that the handshake is signed "following the same verification mechanism used
    for standard Twilio webhooks" (https://www.twilio.com/docs/voice/conversationrelay/onboarding).
    How a query string is signed they leave open; Twilio's own server code
    (twilio/twilio-agent-connect-python, src/tac/server/signature_validation.py) says "Twilio signs
    the wss:// URL it connects to. Query parameters are passed separately in the params dict for
    signature computation (not appended to the URL)", so that is what this stand-in does.
    """
    parts = urlsplit(relay_url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return TwilioSigner(auth_token, "").sign_url(base, dict(parse_qsl(parts.query, keep_blank_values=True)))


class RelayCaller:
    """Twilio's side of one ConversationRelay session, for the `<ConversationRelay>` in `relay`."""

    def __init__(self, relay: ConversationRelay, connect_to: str, *, call_sid: str, from_number: str,
                 to_number: str, account_sid: str, auth_token: str | None, signature: str | None = None,
                 sign: bool = True, chars_per_s: float = REAL_SPEECH_CHARS_PER_S, clock=time.monotonic):
        self.relay = relay
        parts = urlsplit(relay.url)
        # Twilio connects to the public wss:// URL; here the proxy in front of the service is skipped.
        self.ws_url = connect_to.rstrip("/") + parts.path + (f"?{parts.query}" if parts.query else "")
        self.call_sid, self.from_number, self.to_number = call_sid, from_number, to_number
        self.account_sid = account_sid
        self.headers: dict[str, str] = {}
        if signature is not None:
            self.headers["X-Twilio-Signature"] = signature
        elif sign and auth_token:
            self.headers["X-Twilio-Signature"] = upgrade_signature(auth_token, relay.url)
        self.session_id = "VX" + secrets.token_hex(16)
        self.clock = clock
        self.playback = Playback(chars_per_s)
        self.ws: ClientConnection | None = None
        self.inbox: asyncio.Queue[dict] = asyncio.Queue()
        self.withheld: list[str] = []  # what the caller said or keyed that Twilio did not pass on
        self.rejected: list[dict] = []  # messages from the service that failed Twilio's validation
        self.sent: list[dict] = []  # everything this side sent
        self.end_message: dict | None = None
        self.session_status: str | None = None  # ended | completed | failed, once over
        self.started_at: float | None = None
        self._reader: asyncio.Task | None = None
        self._malformed = 0

    # --- the session -------------------------------------------------------------------------------
    async def connect(self, setup: dict | None = None) -> RelayCaller:
        self.ws = await connect(self.ws_url, additional_headers=self.headers, open_timeout=10, max_size=2**20)
        self.started_at = self.clock()
        # "ConversationRelay sends this message immediately after establishing the WebSocket connection."
        await self.send(setup if setup is not None else self.setup_message())
        if self.relay.welcome_greeting:
            # "The message Twilio plays to the caller after answering a call."
            self.playback.add(self.relay.welcome_greeting, True, mode=self.relay.welcome_greeting_interruptible,
                              preemptible=self.relay.preemptible, now=self.started_at)
        self._reader = asyncio.create_task(self._read(), name=f"twilio-relay-{self.call_sid}")
        return self

    def setup_message(self) -> dict:
        # The documented example, field for field (callStatus is upper case there, parentCallSid empty).
        return {"type": "setup", "sessionId": self.session_id, "accountSid": self.account_sid, "parentCallSid": "",
                "callSid": self.call_sid, "from": self.from_number, "to": self.to_number, "forwardedFrom": "",
                "callType": "PSTN", "callerName": "", "direction": "inbound", "callStatus": "RINGING",
                "customParameters": dict(self.relay.parameters)}

    async def __aenter__(self) -> RelayCaller:
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        """The end of the test's conversation: the caller hangs up if the session is still on."""
        if self.ws is not None and self.session_status is None:
            await self.hang_up()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def hang_up(self) -> None:
        """The caller hangs up: Twilio ends the session (the action callback says `completed`)."""
        self.session_status = self.session_status or "completed"
        await self.ws.close()
        await self._stopped()

    async def drop(self) -> None:
        """The connection fails without a close handshake (the action callback says `failed`)."""
        self.session_status = self.session_status or "failed"
        self.ws.transport.abort()
        await self._stopped()

    async def _stopped(self) -> None:
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait for the service to close the socket; (close code, reason)."""
        if self._reader is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._reader), timeout)
            except (TimeoutError, ConnectionClosed):
                pass
        return self.ws.close_code, self.ws.close_reason or ""

    def action_params(self) -> dict[str, str]:
        """What Twilio posts to the `<Connect action>` URL once this session is over.

        The docs give three examples (https://www.twilio.com/docs/voice/twiml/connect/conversationrelay,
        "Connect action URL callback"): `ended` after the app's `end` (with `HandoffData`), `completed`
        when the caller hung up (CallStatus `completed`), `failed` with `ErrorCode`/`ErrorMessage`.
        Their `ApplicationSid` is left out: a number pointed at a URL has no application. Values
        are form strings (`SessionDuration: "25"`).
        """
        status = self.session_status or "failed"
        params = {"AccountSid": self.account_sid, "CallSid": self.call_sid,
                  "CallStatus": "completed" if status == "completed" else "in-progress",
                  "From": self.from_number, "To": self.to_number, "Direction": "inbound",
                  "SessionId": self.session_id, "SessionStatus": status,
                  "SessionDuration": str(round(self.clock() - (self.started_at or self.clock())))}
        if status == "ended" and self.end_message and self.end_message.get("handoffData") is not None:
            params["HandoffData"] = self.end_message["handoffData"]
        if status == "failed":
            params |= {"ErrorCode": "39001", "ErrorMessage": "Network connection to WebSocket server failed."}
        return params

    # --- what the service sends ------------------------------------------------------------------
    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                try:
                    message = json.loads(raw)
                except ValueError:
                    message = None
                problem = _invalid(message)
                if problem:
                    await self._reject(raw, problem)
                    continue
                self._malformed = 0
                await self._handle(message)
        except ConnectionClosed:
            pass
        finally:
            if self.session_status is None:
                self.session_status = "ended" if self.end_message is not None else "failed"

    async def _reject(self, raw, problem: str) -> None:
        # "If validation fails then Twilio returns error 64107 ... the message will not be processed."
        self.rejected.append({"raw": raw, "problem": problem})
        self._malformed += 1
        await self.send({"type": "error", "description": f"Invalid message received: {raw} ({problem})"})
        if self._malformed >= MALFORMED_LIMIT:
            await self.ws.close(1007, "Too many consecutive malformed messages.")

    async def _handle(self, message: dict) -> None:
        kind = message["type"]
        if kind == "text":
            mode = self.relay.interruptible
            if isinstance(message.get("interruptible"), bool):  # "Overrides the interruptible attribute"
                mode = "any" if message["interruptible"] else "none"
            preemptible = message["preemptible"] if isinstance(message.get("preemptible"), bool) \
                else self.relay.preemptible
            self.playback.add(message["token"], bool(message.get("last")), mode=mode, preemptible=preemptible,
                              now=self.clock())
        elif kind == "end":
            self.end_message = message
            self.session_status = "ended"
            await self.inbox.put(message)
            await self.ws.close()  # Twilio leaves the session and carries on with the call's TwiML
            return
        await self.inbox.put(message)

    async def send(self, message: dict) -> None:
        self.sent.append(message)
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 10.0) -> dict:
        return await asyncio.wait_for(self.inbox.get(), timeout)

    async def hear(self, timeout: float = 10.0, *, ends: bool = False) -> Heard:
        """The next reply, to its `last: true` token (and to `end` too when it `ends`)."""
        heard = Heard()
        while True:
            message = await self.receive(timeout)
            if message["type"] == "text":
                heard.tokens.append(message["token"])
                if message.get("last"):
                    heard.complete = True
                    if not ends:
                        return heard
            elif message["type"] == "end":
                heard.end = message
                return heard

    # --- the caller --------------------------------------------------------------------------------
    async def prompt(self, text: str, *, after_hearing: str | None = None, timeout: float = 10.0) -> bool:
        """The caller speaks now (or once they have heard `after_hearing` of what is being said).

        Returns whether Twilio passed the words on; while the agent speaks that depends on the
        attributes (see the module docstring).
        """
        now = self.clock()
        if after_hearing is not None:
            now = await self.playback.reach(after_hearing, self.clock, timeout)
        if await self._input_during_speech("speech", now, text):
            await self.send({"type": "prompt", "voicePrompt": text, "lang": self.relay.prompt_language,
                             "last": True})
            return True
        return False

    async def silence(self, timeout: float = 10.0) -> None:
        """Wait, as a polite caller does, until the receptionist has finished speaking."""
        await self.playback.silence(self.clock, timeout)

    async def say(self, text: str, timeout: float = 10.0, *, ends: bool = False) -> Heard:
        """A polite caller: waits for the receptionist to finish speaking, speaks, hears the reply."""
        await self.playback.silence(self.clock, timeout)
        await self.prompt(text)
        return await self.hear(timeout, ends=ends)

    async def press(self, digit: str, *, after_hearing: str | None = None, timeout: float = 10.0) -> bool:
        """The caller presses a key; returns whether Twilio sent it to the service."""
        if not self.relay.dtmf_detection:
            self.withheld.append(digit)
            return False
        now = self.clock()
        if after_hearing is not None:
            now = await self.playback.reach(after_hearing, self.clock, timeout)
        if await self._input_during_speech("dtmf", now, digit):
            await self.send({"type": "dtmf", "digit": digit})
            return True
        return False

    async def key_in(self, digits: str) -> None:
        """Key a sequence, one `dtmf` message per key, as the caller presses them."""
        for digit in digits:
            await self.press(digit)

    async def _input_during_speech(self, kind: str, now: float, what: str) -> bool:
        """Whether caller input of `kind` reaches the service now, interrupting the agent if allowed."""
        speaking = self.playback.playing(now)
        if speaking is None:
            return True
        if speaking.mode in (kind, "any"):
            heard, duration_ms = self.playback.cut(now)
            # The docs print durationUntilInterruptMs as 460 in one revision and "460" in another;
            # the string is sent, the form a consumer expecting a number would trip over.
            await self.send({"type": "interrupt", "utteranceUntilInterrupt": heard,
                             "durationUntilInterruptMs": str(duration_ms)})
            return True
        if self.relay.report_input_during_agent_speech in (kind, "any"):
            return True
        self.withheld.append(what)
        return False


def _invalid(message) -> str | None:
    """Why Twilio would refuse a message from the service (None when it is valid)."""
    if not isinstance(message, dict):
        return "not a JSON object"
    kind = message.get("type")
    if kind == "text":
        if not isinstance(message.get("token"), str):
            return "text.token is required and cannot be null"
        for name in ("last", "interruptible", "preemptible"):
            if name in message and not isinstance(message[name], bool):
                return f"text.{name} must be a boolean"
        return None
    if kind == "play":
        source = message.get("source")
        return None if isinstance(source, str) and urlsplit(source).scheme in ("http", "https") \
            else "play.source must be a valid URL"
    if kind == "sendDigits":
        digits = message.get("digits")
        return None if isinstance(digits, str) and DIGITS.match(digits) else "sendDigits.digits must be 0-9, w, #, *"
    if kind == "language":
        return None if message.get("ttsLanguage") or message.get("transcriptionLanguage") \
            else "language needs ttsLanguage or transcriptionLanguage"
    if kind == "end":
        data = message.get("handoffData")
        return None if data is None or isinstance(data, str) else "end.handoffData must be a string"
    return f"unknown message type {kind!r}"
