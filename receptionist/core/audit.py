"""The audit log: who read or changed what, when."""

from __future__ import annotations

from sqlalchemy.orm import Session

from receptionist.core.models import AuditEvent


def record(session: Session, actor: str, action: str, *, account_id: str | None = None,
           call_sid: str | None = None, **detail) -> None:
    session.add(AuditEvent(actor=actor, action=action, account_id=account_id, call_sid=call_sid,
                           detail=detail or None))
