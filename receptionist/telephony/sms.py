"""`POST /twilio/sms`: inbound texts, for the keywords carriers require (STOP, START, HELP).

Every answer is 200 with TwiML; a keyword gets its reply as `<Message>`, anything else an empty
response (nobody reads this inbox).
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from twilio.twiml.messaging_response import MessagingResponse

from receptionist.core.phone import masked
from receptionist.notify import consent
from receptionist.telephony.webhooks import signed_form
from receptionist.web.deps import services
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

log = logging.getLogger(__name__)
router = APIRouter(prefix="/twilio", tags=["twilio"])

def _twiml(reply: str | None) -> Response:
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return Response(content=str(response), media_type="application/xml")


@router.post("/sms", response_class=Response)
def inbound_sms(form: dict[str, str] = Depends(signed_form), svc: AppServices = Depends(services)):
    sender, to = (form.get("From") or "").strip(), (form.get("To") or "").strip()
    if not sender or not to:
        raise ApiError(400, "missing form parameter From or To")
    keyword = consent.parse_keyword(form.get("Body", ""))
    if keyword is None:
        return _twiml(None)
    alerts = to == svc.settings.alert_from_number
    account = None if alerts else svc.directory.route(to)
    business_name = account.name if account else svc.templates.render("alerts_sender_name.txt")
    values = {"business_name": business_name, "alerts": alerts or account is None}
    with svc.db.session() as session:
        if keyword.kind == "stop":
            consent.opt_out(session, sender, keyword.word)
            reply = svc.templates.render("sms_stop.txt", **values)
        elif keyword.kind == "start":
            consent.opt_in(session, sender, via=f"keyword {keyword.word} to {to}", keyword=keyword.word)
            reply = svc.templates.render("sms_start.txt", **values)
        else:
            reply = svc.templates.render("sms_help.txt", **values)
    log.info("sms keyword %s from %s to %s", keyword.word, masked(sender), masked(to))
    return _twiml(reply)
