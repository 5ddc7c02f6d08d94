"""Who may be texted: STOP/START/HELP keywords and opt-in records.

A number that sent STOP (or a synonym) gets nothing from this service (no alert, no text-back)
until it sends START (or a synonym). Keywords are matched on the whole message, ignoring case,
spaces and trailing punctuation, as carriers do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from receptionist.core.models import SmsConsent, utcnow

STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})


@dataclass(frozen=True)
class Keyword:
    kind: str  # "stop" | "start" | "help"
    word: str


def parse_keyword(body: str) -> Keyword | None:
    word = re.sub(r"[\s.!?,;:'\"]+", "", body or "").upper()
    if word in STOP_WORDS:
        return Keyword("stop", word)
    if word in START_WORDS:
        return Keyword("start", word)
    if word in HELP_WORDS:
        return Keyword("help", word)
    return None


def _consent(session: Session, phone: str) -> SmsConsent:
    consent = session.get(SmsConsent, phone)
    if consent is None:
        consent = SmsConsent(phone=phone, opted_out=False)
        session.add(consent)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            consent = session.get(SmsConsent, phone)
    return consent


def opt_out(session: Session, phone: str, keyword: str) -> None:
    consent = _consent(session, phone)
    consent.opted_out, consent.opted_out_at, consent.last_keyword = True, utcnow(), keyword


def opt_in(session: Session, phone: str, via: str, keyword: str | None = None) -> None:
    """Record an explicit opt-in (a START keyword): it lifts an earlier STOP."""
    consent = _consent(session, phone)
    consent.opted_out, consent.opted_in_at, consent.opted_in_via = False, utcnow(), via
    if keyword:
        consent.last_keyword = keyword


def record_alert_opt_in(session: Session, phone: str, via: str) -> None:
    """An owner added as an alert recipient. Never lifts a STOP the number itself sent."""
    consent = _consent(session, phone)
    if consent.opted_in_at is None and not consent.opted_out:
        consent.opted_in_at, consent.opted_in_via = utcnow(), via


def is_opted_out(session: Session, phone: str) -> bool:
    return bool(session.scalar(select(SmsConsent.opted_out).where(SmsConsent.phone == phone)))
