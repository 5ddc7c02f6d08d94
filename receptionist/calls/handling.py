"""A call's follow-up by the account's team: read or unread, open or handled.

Any owner or member (and an admin looking at the account) sets these; each change is one
conditional UPDATE, so two people pressing "handled" at once change it once, and only a change is
written to the audit log (`core.audit`). `by` is the name the dashboard shows ("owner@acme.example");
`actor` is the audit log's actor.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session

from receptionist.core import audit
from receptionist.core.models import Call, utcnow


def _change(session: Session, call: Call, column: str, on: bool, *, actor: str, by: str, action: str,
            via: str | None) -> bool:
    at, who = getattr(Call, f"{column}_at"), f"{column}_by"
    if on:
        values, still = {f"{column}_at": utcnow(), who: by[:320]}, at.is_(None)
    else:
        values, still = {f"{column}_at": None, who: None}, at.is_not(None)
    changed = session.execute(update(Call).where(Call.id == call.id, still).values(**values)
                              .execution_options(synchronize_session=False)).rowcount == 1
    if changed:
        detail = {"via": via} if via else {}
        audit.record(session, actor, action, account_id=call.account_id, call_sid=call.call_sid, **detail)
    session.refresh(call)
    return changed


def set_handled(session: Session, call: Call, handled: bool, *, actor: str, by: str, via: str | None = None) -> bool:
    """Mark the call handled (the follow-up is done) or open again. True when that changed it."""
    return _change(session, call, "handled", handled, actor=actor, by=by,
                   action="call.handled" if handled else "call.reopened", via=via)


def set_read(session: Session, call: Call, read: bool, *, actor: str, by: str, via: str | None = None) -> bool:
    """Mark the call read (someone on the team has seen it) or unread again. True when that changed it."""
    return _change(session, call, "read", read, actor=actor, by=by,
                   action="call.marked-read" if read else "call.marked-unread", via=via)
