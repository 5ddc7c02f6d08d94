"""Telling an account's owners that one of their webhook endpoints was disabled (it failed for a day).

Sent to the account's alert emails and its owners', once per disabling (the job that disabled it
sends it; the endpoint stays disabled until someone turns it on again)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from sqlalchemy import select

from receptionist.core.db import Database
from receptionist.core.models import Account, User, WebhookEndpoint
from receptionist.core.templates import Templates
from receptionist.notify.mailer import Mailer

log = logging.getLogger(__name__)


def recipients(session, account: Account) -> list[str]:
    owners = session.scalars(select(User.email).where(User.account_id == account.id, User.role == "owner")).all()
    return list(dict.fromkeys([*(account.alert_emails or []), *owners]))


def endpoint_disabled(db: Database, mailer: Mailer, templates: Templates, from_email: str, endpoint_id: str) -> int:
    """Email the owners; how many messages were sent."""
    with db.session() as session:
        endpoint = session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.enabled:
            return 0
        account = session.get(Account, endpoint.account_id)
        text = templates.render("webhook_disabled_email.txt", url=endpoint.url, business_name=account.name,
                                failing_since=endpoint.failing_since.strftime("%Y-%m-%d %H:%M UTC"),
                                reason=endpoint.disabled_reason)
        to = recipients(session, account)
    subject, _, body = text.partition("\n")
    sent = 0
    for recipient in to:
        message = EmailMessage()
        message["Subject"] = subject.removeprefix("Subject: ").strip()
        message["From"], message["To"] = from_email, recipient
        message["Date"], message["Message-ID"] = formatdate(localtime=False), make_msgid("webhook")
        message.set_content(body.strip() + "\n")
        try:
            mailer.send(message)
            sent += 1
        except Exception as exc:  # the endpoint stays disabled and shown as such; the email is best effort
            log.warning("could not tell %s that webhook %s was disabled: %s", recipient, endpoint_id, exc)
    return sent
