"""The missed-call text-back: one friendly text to a caller who hung up before saying anything.

At most one per caller per account per day (the account's day), never to a number that sent
STOP, never about a call screening flagged or refused (`calls.screening`), only when the account turned `missed_call_text_back` on, and only inside the outbound fence
(`notify.outbound`: an allowed country, an ordinary number, the account's daily cap): a caller ID
is whatever the caller's network says it is, so this is the text an attacker can aim.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from receptionist.calls.screening import FLAG_BLOCKED, FLAG_SUSPECTED_SPAM
from receptionist.core import phone
from receptionist.core.db import Database
from receptionist.core.models import Call, TextBack
from receptionist.core.phone import masked
from receptionist.core.ports import TelephonyApi, TextRefused
from receptionist.core.retry import PermanentError
from receptionist.core.templates import Templates
from receptionist.notify import consent
from receptionist.notify.alerts import local_time
from receptionist.notify.outbound import SmsFence

log = logging.getLogger(__name__)


def send_text_back(db: Database, twilio: TelephonyApi, templates: Templates, fence: SmsFence, call_id: int) -> str:
    """What happened: "sent", "disabled", "screened" (a call flagged suspected-spam or blocked), "opted-out", "already-texted-today", "no-number", "suppressed"
    (outside the fence: recorded with the reason), "failed"."""
    with db.session() as session:
        call = session.get(Call, call_id)
        account = call.account
        if not account.missed_call_text_back:
            return "disabled"
        if call.flagged(FLAG_SUSPECTED_SPAM) or call.flagged(FLAG_BLOCKED):
            return "screened"  # a caller ID that may be forged: the text would go to whoever it names
        if not phone.is_e164(call.from_number):
            return "no-number"  # withheld or anonymous caller ID
        if consent.is_opted_out(session, call.from_number):
            return "opted-out"
        day = local_time(call.started_at, account.timezone, "%Y-%m-%d")
        row = session.scalar(select(TextBack).where(TextBack.account_id == account.id,
                                                    TextBack.caller == call.from_number, TextBack.day == day))
        if row is None:
            row = TextBack(account_id=account.id, caller=call.from_number, day=day, call_id=call.id)
            session.add(row)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                return "already-texted-today"
        elif row.call_id != call.id or row.status != "pending":
            return "already-texted-today"
        text_back_id = row.id
        refusal = fence.refusal(session, account.id, call.from_number)
        if refusal is not None:
            row.status, row.error = "suppressed", refusal
            log.warning("missed-call text-back for call %s suppressed: %s", call.call_sid, refusal)
            return "suppressed"
        body = templates.render("text_back.txt", business_name=account.name, business_number=call.to_number)
        to, from_ = call.from_number, call.to_number
    try:
        sent = twilio.send_sms(to, from_, body)
    except PermanentError as exc:
        with db.session() as session:
            row = session.get(TextBack, text_back_id)
            row.status, row.error = "failed", str(exc)
            if isinstance(exc, TextRefused) and exc.opted_out:
                consent.opt_out(session, to, "carrier STOP (the provider refused: unsubscribed)")
        return "failed"
    with db.session() as session:
        row = session.get(TextBack, text_back_id)
        row.status, row.provider_id = "sent", sent.sid
    log.info("missed-call text-back sent to %s for call %s", masked(to), call_id)
    return "sent"
