"""Twilio ConversationRelay: `WS /twilio/relay` and `POST /twilio/relay/action`.

The only code that knows ConversationRelay's JSON messages. In: `setup` (who is calling), `prompt`
(what the caller said), `interrupt` (the caller cut in; `utteranceUntilInterrupt` is what they had
heard), `dtmf`, `error`. Out: `text` tokens, streamed, the last one with `"last": true`, and `end`
with `handoffData`, which Twilio posts back to the `<Connect>` action URL. Everything in between is
plain events for the agent (`receptionist.agent.events`).

The relay is authenticated twice: the upgrade request's `X-Twilio-Signature` (over the `wss://` URL
the answer TwiML gave Twilio, no parameters) is checked whenever Twilio sends one, and the `setup`
must name a call this service created, on an active account, for our Twilio account, still live.
Anything else is refused with a clear reason and nothing is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass

import anyio.to_thread
from fastapi import APIRouter, Depends, WebSocket
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
from receptionist.agent.receptionist import VoiceClosed
from receptionist.agent.session import open_session
from receptionist.calls.conversations import LiveCall
from receptionist.telephony import twiml
from receptionist.telephony.webhooks import signed_form
from receptionist.web.deps import services
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)


router = APIRouter(prefix="/twilio", tags=["twilio"])

SETUP_TIMEOUT_S = 10.0  # Twilio sends `setup` as soon as the socket is open
POLICY_VIOLATION = 1008  # websocket close code for a refused relay
TWILIO_CLOSE_WAIT_S = 10.0  # after `end`, Twilio closes the socket; don't hold it open longer


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


def caller_event(message: dict) -> CallerEvent | None:
    """A ConversationRelay message as an agent event (None for what the agent does not act on)."""
    kind = message.get("type")
    if kind == "prompt":
        return CallerSaid(str(message.get("voicePrompt") or ""))
    if kind == "interrupt":
        after = message.get("durationUntilInterruptMs")
        return CallerInterrupted(str(message.get("utteranceUntilInterrupt") or ""),
                                 int(after) if isinstance(after, (int, float)) else None)
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


def check_setup(setup: RelaySetup, call: LiveCall | None, account_sid: str) -> None:
    """The setup must match a live call this service created; raises RelayRefused otherwise."""
    if call is None:
        raise RelayRefused("unknown call")
    if not call.account_active:
        raise RelayRefused("the call's account is not active")
    if account_sid and setup.account_sid != account_sid:
        raise RelayRefused("the call belongs to another Twilio account")
    if call.ended:
        raise RelayRefused("the call has ended")
    if (setup.from_number and setup.from_number != call.from_number) or \
            (setup.to_number and setup.to_number != call.to_number):
        raise RelayRefused("setup does not match the call")


async def _deny(websocket: WebSocket, message: str) -> None:
    """Refuse the upgrade: closing before accepting answers the handshake with HTTP 403, like the webhooks.

    (Not a denial response with a JSON body: uvicorn's websockets implementation logs such a response
    as an application error, which would put a false alarm in the log for every forged attempt.)
    """
    await websocket.close(code=POLICY_VIOLATION, reason=message)


def _signature_ok(websocket: WebSocket, svc: AppServices) -> bool:
    # The contract: Twilio signs the upgrade over the wss:// URL the TwiML named, and a missing
    # signature is refused like a bad one (403 before the socket opens, nothing stored).
    signature = websocket.headers.get("x-twilio-signature")
    if not signature:
        return False
    query = websocket.url.query
    url = svc.settings.relay_url + (f"?{query}" if query else "")
    return websocket.app.state.twilio_signatures.is_valid_url(url, {}, signature)


async def _receive_json(websocket: WebSocket) -> dict | None:
    """The next message as JSON; None when the socket closed. Unreadable messages are logged and skipped."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return None
        raw = message.get("text") if message.get("text") is not None else message.get("bytes")
        try:
            decoded = json.loads(raw)
        except (TypeError, ValueError):
            # Its length only: a message can carry what the caller said or keyed.
            log.warning("relay: unreadable message of %d characters ignored", len(raw or ""))
            continue
        if isinstance(decoded, dict):
            return decoded
        log.warning("relay: non-object message of %d characters ignored", len(raw or ""))


@router.websocket("/relay")
async def relay(websocket: WebSocket) -> None:
    svc: AppServices = websocket.app.state.services
    if not _signature_ok(websocket, svc):
        log.warning("relay refused: bad Twilio signature")
        await _deny(websocket, "invalid Twilio signature")
        return
    await websocket.accept()
    try:
        first = await asyncio.wait_for(_receive_json(websocket), SETUP_TIMEOUT_S)
        if first is None:
            return
        setup = RelaySetup.from_message(first)
        call = await anyio.to_thread.run_sync(svc.conversations.load, setup.call_sid)
        check_setup(setup, call, svc.settings.twilio_account_sid)
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
    session = open_session(call, voice, templates=svc.templates, llm=svc.llm, writer=svc.conversations.writer,
                           clock=svc.clock)
    log.info("relay %s connected for call %s (%s)", setup.session_id, setup.call_sid, session.receptionist.mode)
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
        log.warning("relay action: HandoffData of %d characters is not JSON", len(raw))
        return None
    return data if isinstance(data, dict) else None


@router.post("/relay/action", response_class=Response)
def relay_action(form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    """What the call does once the relay session is over (and once a transfer's <Dial> is over).

    A transfer dials the account's transfer number (as it is now, not as it was when the call
    started); with no number, or when nobody answers, the caller leaves a message. A session that
    failed (our socket unreachable) also takes a message rather than leaving the caller in silence.
    """
    call_sid = (form.get("CallSid") or "").strip()
    if not call_sid:
        raise ApiError(400, "missing form parameter CallSid")
    lines = Lines(svc.templates)
    handoff = _handoff(form.get("HandoffData"))
    dial_status = form.get("DialCallStatus")
    failed = form.get("SessionStatus") == "failed" and handoff is None

    if dial_status is not None or failed or (handoff or {}).get("action") == "transfer":
        target = svc.conversations.transfer_target(call_sid)
        if target is None:
            log.info("relay action for unknown call %s", call_sid)
            return _xml(twiml.hang_up())
        number, business_number, business_name = target
        if dial_status is not None and dial_status in ("completed", "answered"):
            return _xml(twiml.hang_up())  # the person took the call; it is over
        if handoff is not None and number:
            return _xml(twiml.transfer(say=lines("transferring", business_name=business_name), number=number,
                                       caller_id=business_number,
                                       action_url=f"{svc.settings.public_url}/twilio/relay/action"))
        log.info("call %s: %s; taking a message", call_sid,
                 "nobody answered the transfer" if dial_status else "no transfer number" if handoff else
                 f"relay session failed ({form.get('ErrorCode') or 'no code'})")
        return _xml(twiml.take_message(say=lines("take_message", business_name=business_name),
                                       goodbye=lines("message_goodbye")))
    return _xml(twiml.hang_up((handoff or {}).get("say") or None))
