"""`POST /twilio/sms`: inbound texts, for the keywords carriers require (STOP, START, HELP).

Every answer is 200 with TwiML. The consent a keyword gives or takes is always recorded; who
replies is `RECEPTIONIST_SMS_KEYWORD_REPLIES`, so the sender gets one reply, not two:

- `twilio` (the default, as a long code comes): Twilio's default opt-out handling answers STOP,
  START and HELP itself before the webhook is called ("By default, Twilio handles ... STOP,
  UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, and CANCEL ... for long code numbers",
  https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out), so the service answers with
  an empty response, except for a message Twilio's exact matching lets through ("Stop!", which
  this service still reads as STOP): that one the service confirms itself.
- `service`: Twilio's built-in handling is off for the number, and the service answers with its
  own texts (`prompts/sms_*.txt`).

Anything else gets an empty response (nobody reads this inbox).
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

# The keywords Twilio's default handling answers on a long code (the page above; opt-in START, UNSTOP,
# YES and help HELP, INFO from the same page), matched "in a case-insensitive way" on single-word
# messages only. Whether surrounding spaces or punctuation still match the docs do not say: spaces are
# taken to, punctuation not, so a message with punctuation is one the service confirms itself.
TWILIO_ANSWERS = frozenset({"STOP", "UNSUBSCRIBE", "END", "QUIT", "STOPALL", "REVOKE", "OPTOUT", "CANCEL",
                            "START", "UNSTOP", "YES", "HELP", "INFO"})


def twilio_answers(body: str) -> bool:
    return (body or "").strip().upper() in TWILIO_ANSWERS

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
    if svc.settings.sms_keyword_replies == "twilio" and twilio_answers(form.get("Body", "")):
        return _twiml(None)  # Twilio has replied already
    return _twiml(reply)
