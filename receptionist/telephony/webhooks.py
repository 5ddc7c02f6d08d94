"""Twilio's HTTP webhooks: voice, call status and recording status.

Every request is signature-checked before anything is read or written; a failure answers 403.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from receptionist.calls import records as calls
from receptionist.core.phone import masked
from receptionist.core.queue import QueueUnavailable
from receptionist.telephony import events, twiml
from receptionist.web.deps import services
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["twilio"])

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


async def signed_form(request: Request, svc: AppServices = Depends(services)) -> dict[str, str]:
    """The webhook's form parameters, once `X-Twilio-Signature` has been checked against them."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in FORM_TYPES:
        # Twilio always posts forms; anything else is not Twilio (and cannot carry a valid signature).
        raise ApiError(403 if "x-twilio-signature" not in request.headers else 415,
                       "expected a signed Twilio form post")
    try:
        form = await request.form()
    except Exception as exc:
        raise ApiError(400, f"unreadable form body: {exc}") from exc
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    signature = request.headers.get("x-twilio-signature")
    if not request.app.state.twilio_signatures.is_valid(request.url.path, request.url.query, params, signature):
        log.warning("rejected %s: bad or missing Twilio signature", request.url.path)
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
    svc.call_starts.record(event, account)
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
                    "is stored", event.call_sid)
    with svc.db.session() as session:
        outcome = calls.settle_outcome(session, event.call_sid, event.unanswered_outcome)
        if outcome == "missed":
            calls.owe_followup(session, event.call_sid, calls.FOLLOWUP_CALL_ENDED)
    if outcome == "missed":  # after the commit, so the job sees the outcome
        _enqueue(lambda: svc.queue.enqueue_call_ended(event.call_sid), f"missed call {event.call_sid}")
    return _xml(twiml.empty())


@router.post("/recording", response_class=Response)
def recording(form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    event = _parse(events.recording_status, form)
    if event.status == "absent":
        # No recording will come (silence or a hang-up at once): alert from what the relay heard.
        with svc.db.session() as session:
            known = calls.owe_followup(session, event.call_sid, calls.FOLLOWUP_ALERT)
        if known:
            _enqueue(lambda: svc.queue.enqueue_alert_without_recording(event.call_sid),
                     f"the alert for call {event.call_sid}")
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
        svc.queue.enqueue_finish_erasure(event.call_sid)
        return _xml(twiml.empty())
    # After the commit: the worker must find the row when it picks the job up.
    if needs_work:
        _enqueue(lambda: svc.queue.enqueue_recording(event.recording_sid), f"recording {event.recording_sid}")
    return _xml(twiml.empty())
