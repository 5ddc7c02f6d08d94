"""Twilio ConversationRelay: `WS /twilio/relay` and `POST /twilio/relay/action`.

The only code that knows ConversationRelay's JSON messages. In: `setup` (who is calling), `prompt`
(what the caller said), `interrupt` (the caller cut in; `utteranceUntilInterrupt` is what they had
heard), `dtmf`, `error`. Out: `text` tokens, streamed, the last one with `"last": true`, and `end`
with `handoffData`, which Twilio posts back to the `<Connect>` action URL. Everything in between is
plain events for the agent (`receptionist.agent.events`).

A relay is bound to its call three times over. The URL the TwiML gave Twilio carries a signed,
expiring token for that call (`relay_token`), and the upgrade's `X-Twilio-Signature` covers that
URL, so a captured upgrade opens nothing for another call. The `setup` must then name the token's
call, with the call's own numbers, for our Twilio account, on an active account, not yet ended.
And only one session at a time owns the call's conversation: a second socket is refused. Whatever
is refused gets a clear reason, and nothing is stored.

When a session fails (the socket dropped: `SessionStatus=failed`), the action answers one new
`<ConversationRelay>` without the greeting; the receptionist resumes from the stored turns. A
second failure takes a message.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from urllib.parse import parse_qsl

import anyio.to_thread
from fastapi import APIRouter, Depends, Request, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from receptionist.agent.events import (
    CallerEvent,
    CallerInterrupted,
    CallerPressed,
    CallerSaid,
    Ending,
)
from receptionist.agent.lines import Lines
from receptionist.agent.profile import vocabulary
from receptionist.agent.receptionist import VoiceClosed
from receptionist.agent.session import open_session
from receptionist.calls import outcome
from receptionist.calls.conversations import Claim, LiveCall, new_session_id
from receptionist.calls.said import note_said
from receptionist.telephony import twiml
from receptionist.telephony.relay_token import InvalidRelayToken, RelayPass
from receptionist.telephony.webhooks import signed_form
from receptionist.web.deps import services
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)


router = APIRouter(prefix="/twilio", tags=["twilio"])

SETUP_TIMEOUT_S = 10.0  # Twilio sends `setup` as soon as the socket is open
POLICY_VIOLATION = 1008  # websocket close code for a refused relay
TWILIO_CLOSE_WAIT_S = 10.0  # after `end`, Twilio closes the socket; don't hold it open longer
MAX_ATTEMPTS = 2  # the answer's relay and one reconnect


class RelayRefused(Exception):
    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RelaySetup:
    session_id: str
    call_sid: str
    account_sid: str
    from_number: str
    to_number: str

    @classmethod
    def from_message(cls, message: dict) -> RelaySetup:
        if message.get("type") != "setup":
            raise RelayRefused("expected a setup message first")
        call_sid = message.get("callSid")
        if not isinstance(call_sid, str) or not call_sid:
            raise RelayRefused("setup without a callSid")
        return cls(str(message.get("sessionId") or ""), call_sid, str(message.get("accountSid") or ""),
                   str(message.get("from") or ""), str(message.get("to") or ""))


def _milliseconds(value) -> int | None:
    # The docs print durationUntilInterruptMs as 460 in one revision and "460" in another.
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def caller_event(message: dict) -> CallerEvent | None:
    """A ConversationRelay message as an agent event (None for what the agent does not act on)."""
    kind = message.get("type")
    if kind == "prompt":
        return CallerSaid(str(message.get("voicePrompt") or ""))
    if kind == "interrupt":
        return CallerInterrupted(str(message.get("utteranceUntilInterrupt") or ""),
                                 _milliseconds(message.get("durationUntilInterruptMs")))
    if kind == "dtmf":
        return CallerPressed(str(message.get("digit") or ""))
    return None


class RelayVoice:
    """The agent's `Voice` over the ConversationRelay socket."""

    def __init__(self, websocket: WebSocket):
        self.websocket = websocket
        self.ended = asyncio.Event()

    async def speak(self, text: str, last: bool) -> None:
        await self._send({"type": "text", "token": text, "last": last})

    async def end(self, ending: Ending) -> None:
        await self._send({"type": "end", "handoffData": json.dumps(ending.handoff_data())})
        self.ended.set()

    async def _send(self, message: dict) -> None:
        try:
            await self.websocket.send_text(json.dumps(message))
        except Exception as exc:  # disconnected (WebSocketDisconnect, a closed transport, …)
            raise VoiceClosed(str(exc)) from exc


def check_setup(setup: RelaySetup, relay_pass: RelayPass, call: LiveCall | None, account_sid: str) -> None:
    """The setup must match the live call the relay URL was issued for; raises RelayRefused otherwise."""
    if setup.call_sid != relay_pass.call_sid:
        raise RelayRefused("the relay URL was issued for another call")
    if call is None:
        raise RelayRefused("unknown call")
    if not call.account_active:
        raise RelayRefused("the call's account is not active")
    if account_sid and setup.account_sid != account_sid:
        raise RelayRefused("the call belongs to another Twilio account")
    if call.ended:
        raise RelayRefused("the call has ended")
    if setup.from_number != call.from_number or setup.to_number != call.to_number:
        raise RelayRefused("setup does not match the call")


async def _deny(websocket: WebSocket, message: str) -> None:
    """Refuse the upgrade: closing before accepting answers the handshake with HTTP 403, like the webhooks.

    (Not a denial response with a JSON body: uvicorn's websockets implementation logs such a response
    as an application error, which would put a false alarm in the log for every forged attempt.)
    """
    await websocket.close(code=POLICY_VIOLATION, reason=message)


def _signature_ok(websocket: WebSocket, svc: AppServices) -> bool:
    """The upgrade's X-Twilio-Signature, over the wss:// URL the TwiML named (DESIGN.md: a missing
    signature is refused like a bad one, 403 before the socket opens, nothing stored).

    How Twilio signs a websocket URL's query string its docs do not say. Twilio's own server code
    (twilio/twilio-agent-connect-python, signature_validation.py) validates the URL without its
    query, the query's parameters passed as the signed parameters; the general webhook rule
    (https://www.twilio.com/docs/usage/webhooks/webhooks-security) signs "the full URL ... through
    the end of the query string". Both are HMACs with the auth token over the token-bearing URL,
    so either is accepted.
    """
    signature = websocket.headers.get("x-twilio-signature")
    if not signature:
        return False
    checker = websocket.app.state.twilio_signatures
    query = websocket.url.query
    params = dict(parse_qsl(query, keep_blank_values=True))
    return (checker.is_valid_url(svc.settings.relay_url, params, signature)
            or checker.is_valid_url(svc.settings.relay_url + (f"?{query}" if query else ""), {}, signature))


async def _receive_json(websocket: WebSocket) -> dict | None:
    """The next message as JSON; None when the socket closed. Unreadable messages are logged and skipped
    (by size only: a caller's keyed digits must never reach a log)."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        raw = message.get("text") if message.get("text") is not None else message.get("bytes")
        try:
            decoded = json.loads(raw)
        except (TypeError, ValueError):
            log.warning("relay: an unreadable message (%d bytes) was ignored", len(raw or ""))
            continue
        if isinstance(decoded, dict):
            return decoded
        log.warning("relay: a message that is not a JSON object was ignored")


@router.websocket("/relay")
async def relay(websocket: WebSocket) -> None:
    svc: AppServices = websocket.app.state.services
    if not _signature_ok(websocket, svc):
        log.warning("relay refused: a bad or missing Twilio signature for %s", svc.settings.relay_url)
        await _deny(websocket, "invalid Twilio signature")
        return
    try:
        relay_pass = websocket.app.state.relay_tokens.read(websocket.query_params.get("token"))
    except InvalidRelayToken as invalid:
        log.warning("relay refused: %s", invalid.reason)
        await _deny(websocket, invalid.reason)
        return
    await websocket.accept()
    session_id = new_session_id()
    try:
        first = await asyncio.wait_for(_receive_json(websocket), SETUP_TIMEOUT_S)
        if first is None:
            return
        setup = RelaySetup.from_message(first)
        call = await anyio.to_thread.run_sync(svc.conversations.load, setup.call_sid)
        check_setup(setup, relay_pass, call, svc.settings.twilio_account_sid)
        claim = await anyio.to_thread.run_sync(svc.conversations.claim, setup.call_sid, relay_pass.attempt,
                                               session_id)
        if claim is not Claim.OWNED:
            raise RelayRefused(claim.value)
        if relay_pass.attempt > 1:  # a reconnect: what the failed session stored, as it is now
            call = await anyio.to_thread.run_sync(svc.conversations.load, setup.call_sid)
    except RelayRefused as refused:
        log.warning("relay refused: %s", refused.reason)
        await websocket.close(code=POLICY_VIOLATION, reason=refused.reason)
        return
    except asyncio.TimeoutError:
        await websocket.close(code=POLICY_VIOLATION, reason="no setup message")
        return
    except WebSocketDisconnect:
        return

    voice = RelayVoice(websocket)
    session = open_session(call, voice, session_id=session_id, templates=svc.templates, llm=svc.llm,
                           writer=svc.conversations.writer, clock=svc.clock, resumed=relay_pass.attempt > 1)
    log.info("relay %s (attempt %d) connected for call %s (%s)", setup.session_id, relay_pass.attempt,
             setup.call_sid, session.receptionist.mode)
    pending_prompt = ""
    try:
        while True:
            if voice.ended.is_set():
                message = await asyncio.wait_for(_receive_json(websocket), TWILIO_CLOSE_WAIT_S)
            else:
                message = await _receive_json(websocket)
            if message is None:
                break
            kind = message.get("type")
            if kind == "prompt" and message.get("last") is False:
                # Partial transcripts (only sent with partialPrompts): act on the finished utterance.
                pending_prompt += str(message.get("voicePrompt") or "")
                continue
            if kind == "prompt" and pending_prompt:
                message = {**message, "voicePrompt": pending_prompt + str(message.get("voicePrompt") or "")}
                pending_prompt = ""
            if kind == "error":
                log.warning("relay %s: Twilio reports an error: %s", setup.session_id, message.get("description"))
                continue
            event = caller_event(message)
            if event is not None:
                await session.receptionist.handle(event)
    except (WebSocketDisconnect, asyncio.TimeoutError):
        pass
    finally:
        await session.close()
        # After the last state is stored: the status callback waits for this to decide the outcome.
        if not await anyio.to_thread.run_sync(svc.conversations.release, setup.call_sid, session_id):
            log.warning("relay %s: call %s was taken over by a newer relay session", setup.session_id,
                        setup.call_sid)
        if voice.ended.is_set():
            try:
                await websocket.close()
            except Exception:
                pass
        log.info("relay %s closed for call %s", setup.session_id, setup.call_sid)


# --- POST /twilio/relay/action ---------------------------------------------------------------------------

def _xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _handoff(raw: str | None) -> dict | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        log.warning("relay action: HandoffData is not JSON")
        return None
    return data if isinstance(data, dict) else None


def _attempt(request: Request) -> int:
    raw = request.query_params.get("attempt") or "1"
    return int(raw) if raw.isdigit() else 1


@router.post("/relay/action", response_class=Response)
def relay_action(request: Request, form: dict[str, str] = Depends(signed_form),
                 svc: AppServices = Depends(services)):
    """What the call does once the relay session is over (and once a transfer's <Dial> is over).

    A transfer dials the account's transfer number (as it is now, not as it was when the call
    started); with no number, or when nobody answers, the caller leaves a message. A session that
    failed (our socket dropped or unreachable) gets one reconnect, then takes a message rather than
    leaving the caller in silence. Twilio's payload is documented only by example
    (https://www.twilio.com/docs/voice/twiml/connect/conversationrelay#connect-action-url-callback):
    `SessionStatus` ended (the receptionist sent `end`), completed (the caller hung up) or failed
    (with `ErrorCode`/`ErrorMessage`).
    """
    call_sid = (form.get("CallSid") or "").strip()
    if not call_sid:
        raise ApiError(400, "missing form parameter CallSid")
    lines = Lines(svc.templates)
    handoff = _handoff(form.get("HandoffData"))
    dial_status = form.get("DialCallStatus")
    session_status = form.get("SessionStatus")
    failed = session_status == "failed" and handoff is None
    account = svc.conversations.account_of(call_sid)
    if account is None:
        log.info("relay action for unknown call %s", call_sid)
        return _xml(twiml.hang_up(twiml.account_voice(None, svc.settings)))
    with svc.db.session() as session:
        # The answer's <Connect> ran, so the <Start><Recording> before it did: the call's outcome
        # waits for that recording even if no relay session ever connected (calls.outcome).
        outcome.note_recording_started(session, call_sid)
    voice = twiml.account_voice(account.voice, svc.settings)
    if session_status == "completed" or form.get("CallStatus") == "completed":
        return _xml(twiml.hang_up(voice))  # the caller hung up: there is no call left to instruct

    attempt = _attempt(request)
    if failed and dial_status is None and attempt < MAX_ATTEMPTS:
        log.warning("call %s: relay session %s failed (%s %s); reconnecting", call_sid, form.get("SessionId"),
                    form.get("ErrorCode") or "no code", form.get("ErrorMessage") or "")
        token = request.app.state.relay_tokens.issue(call_sid, attempt=attempt + 1)
        return _xml(twiml.reconnect(voice=voice, hint_list=twiml.hints(vocabulary(account.business_name,
                                                                                    account.business)),
                                    relay_url=twiml.relay_url(svc.settings.relay_url, token),
                                    relay_action_url=twiml.relay_action_url(svc.settings, attempt + 1)))

    if dial_status is not None or failed or (handoff or {}).get("action") == "transfer":
        if dial_status is not None and dial_status in ("completed", "answered"):
            return _xml(twiml.hang_up(voice))  # the person took the call; it is over
        if handoff is not None and account.transfer_number:
            say = lines("transferring", business_name=account.business_name)
            _said(svc, call_sid, [("transfer", say)])
            return _xml(twiml.transfer(say=say, voice=voice,
                                       number=account.transfer_number, caller_id=account.business_number,
                                       action_url=f"{svc.settings.public_url}/twilio/relay/action"))
        log.info("call %s: %s; taking a message", call_sid,
                 "nobody answered the transfer" if dial_status else "no transfer number" if handoff else
                 f"relay session failed again ({form.get('ErrorCode') or 'no code'})")
        say, goodbye = lines("take_message", business_name=account.business_name), lines("message_goodbye")
        _said(svc, call_sid, [("take_message", say), ("message_goodbye", goodbye)])
        return _xml(twiml.take_message(say=say, goodbye=goodbye, voice=voice))
    return _xml(twiml.hang_up(voice, (handoff or {}).get("say") or None))


def _said(svc: AppServices, call_sid: str, lines: list[tuple[str, str]]) -> None:
    """Keep the `<Say>` lines the answer speaks, for the transcript (`calls.said`). (The farewell of
    a hang-up is in the conversation already: the receptionist recorded it when it ended the call.)"""
    with svc.db.session() as session:
        note_said(session, call_sid, lines)
