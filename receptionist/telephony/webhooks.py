"""Twilio's HTTP webhooks: voice, call status and recording status.

Every request is signature-checked before anything is read or written; a failure answers 403.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from receptionist.calls import outcome
from receptionist.calls import records as calls
from receptionist.core.phone import masked
from receptionist.core.queue import QueueUnavailable
from receptionist.telephony import events, twiml
from receptionist.web.deps import services
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["twilio"])


async def signed_form(request: Request) -> dict[str, str]:
    """The webhook's form parameters, once `X-Twilio-Signature` has been checked against them.

    The body arrives bounded and urlencoded (`web.body_limits` refused anything else unread); it is
    split into its parameters only to check the signature over them, and nothing else reads it.
    """
    body = await request.body()
    params = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
    signature = request.headers.get("x-twilio-signature")
    checker = request.app.state.twilio_signatures
    if not checker.is_valid(request.url.path, request.url.query, params, signature):
        # The URL the signature was checked against is what an operator behind a proxy needs to see
        # (Twilio signs the URL it was given); the signature and the token never reach a log.
        log.warning("rejected %s: %s Twilio signature for %s", request.url.path,
                    "a bad" if signature else "no", checker.url_for(request.url.path, request.url.query))
        raise ApiError(403, "invalid Twilio signature")
    return params


def _xml(body: str) -> Response:
    return Response(content=body, media_type="application/xml")


def _enqueue(enqueue, what: str) -> None:
    """Queue the job for a row already committed. Twilio gets its 200 either way: a queue that is
    down loses nothing, because the workers' reconciler queues every row that is still owed work."""
    try:
        enqueue()
    except QueueUnavailable as exc:
        log.warning("%s stays owed in the database; the workers' reconciler will queue it: %s", what, exc)


def _parse(parser, form: dict[str, str]):
    try:
        return parser(form)
    except events.MalformedWebhook as exc:
        raise ApiError(400, str(exc)) from exc


@router.post("/voice", response_class=Response)
def voice(request: Request, form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    event = _parse(events.call_started, form)
    account = svc.directory.route(event.to_number)
    if account is None:
        log.info("call %s to unknown number %s", event.call_sid, masked(event.to_number))
        return _xml(twiml.unknown_number(svc.templates.render("unknown_number.txt"),
                                         twiml.account_voice(None, svc.settings)))
    verdict = svc.screen.screen(account_id=account.id, spam_screening=account.spam_screening,
                                caller=event.from_number, attestation=event.attestation)
    svc.call_starts.record(event, account, verdict)
    if verdict.blocked:
        # A short message and the call ends: nothing recorded, no relay, no alert, no text-back.
        log.info("call %s from %s refused: %s", event.call_sid, masked(event.from_number), verdict.reason)
        return _xml(account.refusal)
    return _xml(account.answer(request.app.state.relay_tokens.issue(event.call_sid, attempt=1)))


# The caller hanging up reaches the service twice, independently: this callback and the relay's
# socket closing. The relay may still be storing the last turns when the callback comes, and what
# the call achieved (missed, so the caller is texted back, or answered) depends on them.
RELAY_SETTLE_WAIT_S = 3.0


@router.post("/status", response_class=Response)
def status(form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    event = _parse(events.call_status, form)
    with svc.db.session() as session:
        recorded = calls.record_status(session, event)
        if recorded is None:
            log.info("status %s for unknown call %s ignored", event.status, event.call_sid)
            return _xml(twiml.empty())
    if not recorded.ended_now:
        return _xml(twiml.empty())
    if not svc.conversations.wait_until_released(event.call_sid, RELAY_SETTLE_WAIT_S):
        log.warning("call %s ended while its relay session still held it; deciding its outcome from what "
                    "is stored and what its recording holds", event.call_sid)
    with svc.db.session() as session:
        decision = outcome.at_final_status(session, event.call_sid, event.unanswered_outcome,
                                           svc.settings.recording_wait_s)
    _queue_owed(svc, event.call_sid, decision.owed)  # after the commit, so the job sees the outcome
    return _xml(twiml.empty())


def _queue_owed(svc: AppServices, call_sid: str, owed: str | None) -> None:
    if owed == calls.FOLLOWUP_CALL_ENDED:
        _enqueue(lambda: svc.queue.enqueue_call_ended(call_sid), f"missed call {call_sid}")
    elif owed == calls.FOLLOWUP_ALERT:
        _enqueue(lambda: svc.queue.enqueue_alert_without_recording(call_sid), f"the alert for call {call_sid}")


@router.post("/recording", response_class=Response)
def recording(form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    event = _parse(events.recording_status, form)
    if event.status == "absent":
        # No recording will come (silence or a hang-up at once): the outcome and the alert are
        # decided from what the relay heard (by the final status, when it has not come yet).
        with svc.db.session() as session:
            decision = outcome.on_recording_absent(session, event.call_sid, svc.settings.recording_wait_s)
        if decision is not None:
            _queue_owed(svc, event.call_sid, decision.owed)
        return _xml(twiml.empty())
    if event.status != "completed":
        log.info("recording %s of call %s is %s; nothing to process", event.recording_sid, event.call_sid, event.status)
        return _xml(twiml.empty())
    with svc.db.session() as session:
        row, _created = calls.register_recording(session, event.ready)
        if row is None:
            erased = calls.note_recording_of_erased_call(session, event.call_sid, event.recording_sid)
        else:
            needs_work = row.status in ("queued", "processing")
    if row is None:
        if not erased:
            raise ApiError(404, f"no call {event.call_sid}")
        # The call was erased before Twilio finished its recording: Twilio's copy goes too.
        _enqueue(lambda: svc.queue.enqueue_finish_erasure(event.call_sid), f"the erasure of call {event.call_sid}")
        return _xml(twiml.empty())
    # After the commit: the worker must find the row when it picks the job up.
    if needs_work:
        _enqueue(lambda: svc.queue.enqueue_recording(event.recording_sid), f"recording {event.recording_sid}")
    return _xml(twiml.empty())
