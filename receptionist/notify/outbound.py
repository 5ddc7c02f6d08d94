"""The fence around every text this service sends: where it may go, and how many a day.

A text goes only to a number inside the outbound fence (`core.destinations`: the allowed
countries, landlines and mobiles), checked when it is sent as well as when the number was saved
(settings change, old rows stay). And an account sends at most `RECEPTIONIST_SMS_DAILY_CAP` texts
in 24 hours, alerts and missed-call text-backs together: spoofed caller IDs that hang up at once
cannot pump texts out of it. A text refused here is recorded `suppressed`, with the reason.
Concurrent workers may each pass the cap's check for their last text, so the cap can be exceeded
by at most the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from receptionist.core.destinations import Destinations
from receptionist.core.models import Call, Delivery, TextBack, utcnow

WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class SmsFence:
    destinations: Destinations
    daily_cap: int

    def sent_recently(self, session: Session, account_id: str, now: datetime | None = None) -> int:
        since = (now or utcnow()) - WINDOW
        alerts = session.scalar(select(func.count()).select_from(Delivery).join(Call, Call.id == Delivery.call_id)
                                .where(Call.account_id == account_id, Delivery.channel == "sms",
                                       Delivery.status == "sent", Delivery.sent_at >= since))
        text_backs = session.scalar(select(func.count()).select_from(TextBack)
                                    .where(TextBack.account_id == account_id, TextBack.status == "sent",
                                           TextBack.created_at >= since))
        return alerts + text_backs

    def refusal(self, session: Session, account_id: str, to: str) -> str | None:
        """Why this text must not be sent (recorded as the suppression's reason), or None."""
        problem = self.destinations.problem(to)
        if problem is not None:
            return f"outside the outbound fence: the number {problem}"
        if self.sent_recently(session, account_id) >= self.daily_cap:
            return f"the account's cap of {self.daily_cap} texts in 24 hours is reached (RECEPTIONIST_SMS_DAILY_CAP)"
        return None
