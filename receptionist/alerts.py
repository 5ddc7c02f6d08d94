"""Owner alerts, each (call, channel, recipient) delivered exactly once.

A `Delivery` row is claimed before sending and marked sent right after the server accepts the
message, so a re-run job or a duplicate callback sends nothing new. The only window left is a
crash between the server's acceptance and that commit; the email then carries the same
Message-ID again, which mail systems use to drop the duplicate.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from receptionist.db import Database
from receptionist.mailer import Mailer, is_transient_smtp
from receptionist.models import Call, Delivery, utcnow
from receptionist.retry import PermanentError, with_backoff
from receptionist.templates import Templates

log = logging.getLogger(__name__)


def message_id(call_sid: str, channel: str, recipient: str) -> str:
    digest = hashlib.sha256(f"{call_sid}|{channel}|{recipient}".encode()).hexdigest()[:20]
    return f"<{call_sid}.{digest}@receptionist>"


def claim_delivery(db: Database, call_id: int, channel: str, recipient: str) -> Delivery | None:
    """The delivery row if it still needs sending, else None (already sent or given up)."""
    with db.session() as session:
        delivery = session.scalar(
            select(Delivery).where(
                Delivery.call_id == call_id, Delivery.channel == channel, Delivery.recipient == recipient
            )
        )
        if delivery is None:
            delivery = Delivery(call_id=call_id, channel=channel, recipient=recipient)
            session.add(delivery)
            try:
                session.flush()
            except IntegrityError:
                session.rollback()
                return None
        if delivery.status in ("sent", "failed"):
            return None
        delivery.attempts += 1
        return delivery


def finish_delivery(db: Database, delivery_id: int, *, error: str | None, provider_id: str | None = None) -> None:
    with db.session() as session:
        delivery = session.get(Delivery, delivery_id)
        if error is None:
            delivery.status, delivery.sent_at, delivery.error = "sent", utcnow(), None
            delivery.provider_id = provider_id
        else:
            delivery.status, delivery.error = "failed", error


def note_delivery_error(db: Database, delivery_id: int, error: str) -> None:
    with db.session() as session:
        session.get(Delivery, delivery_id).error = error


class EmailAlerts:
    def __init__(self, db: Database, mailer: Mailer, templates: Templates, *, from_email: str,
                 public_url: str, retry_window_s: float):
        self.db = db
        self.mailer = mailer
        self.templates = templates
        self.from_email = from_email
        self.public_url = public_url
        self.retry_window_s = retry_window_s

    def compose(self, call: Call, recipient: str) -> EmailMessage:
        account = call.account
        values = dict(
            call=call,
            business_name=account.name,
            missed=call.outcome == "missed",
            transcript=call.transcript or [],
            started_local=_local_time(call.started_at, account.timezone),
            call_url=f"{self.public_url}/api/calls/{call.call_sid}",
        )
        message = EmailMessage()
        message["Subject"] = self.templates.render("email_alert_subject.txt", **values)
        message["From"] = self.from_email
        message["To"] = recipient
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id(call.call_sid, "email", recipient)
        message.set_content(self.templates.render("email_alert.txt", **values) + "\n")
        return message

    def send_for(self, call: Call) -> int:
        """Send the call's email alerts that have not gone out yet; returns how many were sent now."""
        sent = 0
        for recipient in call.account.alert_emails or []:
            delivery = claim_delivery(self.db, call.id, "email", recipient)
            if delivery is None:
                continue
            message = self.compose(call, recipient)
            try:
                with_backoff(lambda: self.mailer.send(message), what=f"email to {recipient}",
                             is_transient=is_transient_smtp, window_s=self.retry_window_s)
            except PermanentError as exc:
                finish_delivery(self.db, delivery.id, error=str(exc))
                log.error("email alert for %s to %s failed: %s", call.call_sid, recipient, exc)
                continue
            except Exception as exc:
                note_delivery_error(self.db, delivery.id, str(exc))  # stays pending: the job retries it
                raise
            finish_delivery(self.db, delivery.id, error=None, provider_id=message["Message-ID"])
            sent += 1
        return sent


def _local_time(moment: datetime, tz_name: str) -> str:
    try:
        zone = ZoneInfo(tz_name)
    except Exception:
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime("%a %d %b %Y %H:%M %Z")
