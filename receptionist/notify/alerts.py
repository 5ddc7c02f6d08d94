"""Owner alerts by email and SMS, each (call, channel, recipient) delivered exactly once.

A `Delivery` row is claimed before sending and marked sent right after the server accepts the
message, so a re-run job or a duplicate callback sends nothing new. The only window left is a
crash between the server's acceptance and that commit; an email then carries the same Message-ID
again, which mail systems use to drop the duplicate.

One recipient's trouble never holds up another's: an alert that cannot be composed (an account
name no mail header can carry, a template that fails) fails that recipient permanently with its
reason; a text outside the outbound fence or over the account's daily cap is `suppressed` with
its reason (`notify.outbound`), and so is every text about a call flagged `suspected-spam`
(`calls.screening`: the email says so instead); a call screening refused alerts no one; and a passing outage (SMTP or Twilio down) leaves that delivery
pending while the others are still sent, then hands the job back for a retry.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import formatdate
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from receptionist.calls.lead import short_reason
from receptionist.calls.screening import FLAG_BLOCKED, FLAG_SUSPECTED_SPAM
from receptionist.core import phone
from receptionist.core.db import Database
from receptionist.core.models import Call, Delivery, utcnow
from receptionist.core.phone import masked
from receptionist.core.ports import TelephonyApi, TextRefused
from receptionist.core.retry import PermanentError, with_backoff
from receptionist.core.templates import Templates
from receptionist.notify import consent
from receptionist.notify.mailer import Mailer, is_transient_smtp
from receptionist.notify.outbound import SmsFence
from receptionist.notify.segments import segments

log = logging.getLogger(__name__)

SMS_SEGMENTS = 2  # an alert should fit on a lock screen: 306 GSM-7 characters (notify.segments)
ALERT_LINES = "alert_lines.txt"
DONE = ("sent", "failed", "suppressed")
SUSPECTED_SPAM_SMS = "suspected spam: the caller ID failed its STIR/SHAKEN check (email only)"


def message_id(call_sid: str, channel: str, recipient: str) -> str:
    digest = hashlib.sha256(f"{call_sid}|{channel}|{recipient}".encode()).hexdigest()[:20]
    return f"<{call_sid}.{digest}@receptionist>"


def claim_delivery(db: Database, call_id: int, channel: str, recipient: str) -> Delivery | None:
    """The delivery row if it still needs sending, else None (already sent, given up or suppressed)."""
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
        if delivery.status in DONE:
            return None
        delivery.attempts += 1
        return delivery


def finish_delivery(db: Database, delivery_id: int, status: str, *, error: str | None = None,
                    provider_id: str | None = None) -> None:
    with db.session() as session:
        delivery = session.get(Delivery, delivery_id)
        delivery.status, delivery.error, delivery.provider_id = status, error, provider_id
        if status == "sent":
            delivery.sent_at = utcnow()


def note_delivery_error(db: Database, delivery_id: int, error: str) -> None:
    with db.session() as session:
        session.get(Delivery, delivery_id).error = error[:2000]


def fail_pending_deliveries(db: Database, call_id: int, reason: str) -> None:
    """After the last retry: what is still pending is recorded as failed, with why."""
    with db.session() as session:
        session.execute(update(Delivery).where(Delivery.call_id == call_id, Delivery.status == "pending")
                        .values(status="failed", error=reason[:2000]))


def local_time(moment: datetime, tz_name: str, fmt: str = "%a %d %b %Y %H:%M %Z") -> str:
    try:
        zone = ZoneInfo(tz_name)
    except Exception:
        zone = ZoneInfo("UTC")
    return moment.astimezone(zone).strftime(fmt)


@dataclass(frozen=True)
class AlertSettings:
    from_email: str
    from_number: str | None
    public_url: str
    retry_window_s: float


class OwnerAlerts:
    def __init__(self, db: Database, mailer: Mailer, twilio: TelephonyApi, templates: Templates, config: AlertSettings,
                 fence: SmsFence):
        self.db = db
        self.fence = fence
        self.mailer = mailer
        self.twilio = twilio
        self.templates = templates
        self.config = config

    def call_url(self, call: Call) -> str:
        # The dashboard's call page: a phone opens it in the browser, where the owner signs in once.
        return f"{self.config.public_url}/calls/{call.call_sid}"

    def _lead_values(self, call: Call) -> dict:
        """What an alert leads with: the urgency, the caller's name (else their number as the owner reads
        it), the reason in a few words, and the number to call back (E.164 for the link, national to read)."""
        lead = call.lead or {}
        callback = lead.get("callback_number") or (call.from_number if phone.is_e164(call.from_number) else None)
        one_line = lambda value: " ".join(str(value or "").split())  # noqa: E731 (a header carries one line)
        return dict(
            lines=self.templates.macros(ALERT_LINES),
            business_name=call.account.name,
            missed=call.outcome == "missed",
            suspected_spam=call.flagged(FLAG_SUSPECTED_SPAM),
            lead=lead,
            urgency=lead.get("urgency"),
            caller_name=one_line(lead.get("name")),
            caller=phone.shown(call.from_number, call.to_number),
            reason=one_line(short_reason(lead.get("reason"))),
            address=one_line(lead.get("address")),
            callback=callback,
            callback_national=phone.shown(callback, call.to_number),
            call_url=self.call_url(call),
        )

    def _values(self, call: Call) -> dict:
        return dict(
            self._lead_values(call),
            call=call,
            transcript=call.transcript or [],
            conversation=call.conversation or [],
            started_local=local_time(call.started_at, call.account.timezone),
        )

    # -- email ---------------------------------------------------------------------------------
    def compose_email(self, call: Call, recipient: str) -> EmailMessage:
        values = self._values(call)
        message = EmailMessage()
        message["Subject"] = self.templates.render("email_alert_subject.txt", **values)
        message["From"] = self.config.from_email
        message["To"] = recipient
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = message_id(call.call_sid, "email", recipient)
        message.set_content(self.templates.render("email_alert.txt", **values) + "\n")
        message.add_alternative(self.templates.render("email_alert.html", **values) + "\n", subtype="html")
        return message

    # -- sms -----------------------------------------------------------------------------------
    def compose_sms(self, call: Call) -> str:
        """The text: urgency, name, reason, the number to call back and the call's page, in at most
        `SMS_SEGMENTS` segments when it can be; what gives way first is the summary, then the
        business and time, the address, then the reason (never the urgency, name, number or link)."""
        values = self._lead_values(call)
        lead = call.lead or {}
        # The summary goes along when it says more than the headline: an LLM's, not the extractive one
        # that quotes the reason again (prompts/summary_extractive.txt).
        summary = " ".join((call.summary or "").split())
        reason = " ".join((lead.get("reason") or "").split()).rstrip(".!")
        if reason and f'"{reason}' in summary:
            summary = ""
        one_line_reason = values["reason"]
        short = " ".join(short_reason(lead.get("reason"), limit=40).split())
        variants = [
            dict(summary=summary, with_business=True, reason=one_line_reason),
            dict(summary="", with_business=True, reason=one_line_reason),
            dict(summary="", with_business=False, reason=one_line_reason),
            dict(summary="", with_business=False, reason=short),
            dict(summary="", with_business=False, reason=short, address=""),
            dict(summary="", with_business=False, reason="", address=""),
        ]
        time_local = local_time(call.started_at, call.account.timezone, "%a %H:%M")
        text = ""
        for variant in variants:
            text = " ".join(self.templates.render("sms_alert.txt", **{**values, "time_local": time_local,
                                                                        **variant}).split())
            if segments(text) <= SMS_SEGMENTS:
                break
        return text

    # -- sending -------------------------------------------------------------------------------
    def send_for(self, call: Call) -> int:
        """Send the call's alerts that have not gone out yet; returns how many were sent now.

        Every recipient is tried; when some failed in a way that may heal, the first such failure
        is raised after the others were sent, so the job is retried for what is still pending.
        """
        account = call.account
        sent, transient = 0, None
        if call.flagged(FLAG_BLOCKED):
            return 0  # refused by screening: the owner chose not to hear of these callers
        recipients = [("email", r) for r in account.alert_emails or []] + [("sms", r) for r in account.alert_sms or []]
        for channel, recipient in recipients:
            try:
                sent += self._deliver(call, channel, recipient)
            except Exception as exc:  # stays pending (see _deliver); the others still go out
                transient = transient or exc
        if transient is not None:
            raise transient
        return sent

    def _compose(self, call: Call, channel: str, recipient: str):
        return self.compose_email(call, recipient) if channel == "email" else self.compose_sms(call)

    def _deliver(self, call: Call, channel: str, recipient: str) -> int:
        delivery = claim_delivery(self.db, call.id, channel, recipient)
        if delivery is None:
            return 0
        shown = masked(recipient) if channel == "sms" else recipient
        if channel == "sms" and call.flagged(FLAG_SUSPECTED_SPAM):
            # A caller ID that failed its STIR/SHAKEN check wakes no one's phone; the email carries the flag.
            finish_delivery(self.db, delivery.id, "suppressed", error=SUSPECTED_SPAM_SMS)
            return 0
        if channel == "sms":
            with self.db.session() as session:
                opted_out = consent.is_opted_out(session, recipient)
                refusal = None if opted_out else self.fence.refusal(session, call.account_id, recipient)
            if opted_out:
                finish_delivery(self.db, delivery.id, "suppressed", error="recipient opted out (STOP)")
                return 0
            if refusal is not None:
                finish_delivery(self.db, delivery.id, "suppressed", error=refusal)
                log.warning("sms alert for %s to %s suppressed: %s", call.call_sid, shown, refusal)
                return 0
            if not self.config.from_number:
                finish_delivery(self.db, delivery.id, "failed", error="RECEPTIONIST_ALERT_FROM_NUMBER is not set")
                return 0
        try:
            message = self._compose(call, channel, recipient)
        except Exception as exc:  # the same data composes the same way next time: no retry heals it
            reason = f"the alert could not be composed: {type(exc).__name__}: {exc}"
            finish_delivery(self.db, delivery.id, "failed", error=reason[:2000])
            log.error("%s alert for %s to %s failed: %s", channel, call.call_sid, shown, reason)
            return 0
        try:
            if channel == "email":
                with_backoff(lambda: self.mailer.send(message), what=f"email to {recipient}",
                             is_transient=is_transient_smtp, window_s=self.config.retry_window_s)
                provider_id = message["Message-ID"]
            else:
                provider_id = self.twilio.send_sms(recipient, self.config.from_number, message).sid
        except PermanentError as exc:
            finish_delivery(self.db, delivery.id, "failed", error=str(exc))
            log.error("%s alert for %s to %s failed: %s", channel, call.call_sid, shown, exc)
            if isinstance(exc, TextRefused) and exc.opted_out:
                with self.db.session() as session:
                    # The STOP reached the provider but not us (the provider refused: unsubscribed).
                    consent.opt_out(session, recipient, "STOP (at provider)")
            return 0
        except Exception as exc:
            note_delivery_error(self.db, delivery.id, str(exc))  # stays pending: the job retries it
            raise
        finish_delivery(self.db, delivery.id, "sent", provider_id=provider_id)
        return 1
