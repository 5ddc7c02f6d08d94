"""What a call's own TwiML said after the relay session: the receptionist's last lines.

The relay's action URL answers `<Say>` lines of its own (the transfer announcement, the request to
leave a message, its goodbye). They are kept on the call (`Call.said`), in order, so the worker
can show them word for word in the transcript (`postcall.transcript`), and knows where, after a
transfer, the person the call went to starts speaking. A column of their own: the relay session
may still be storing the conversation when the action URL is posted.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from receptionist.calls.records import find_call
from receptionist.core.models import utcnow

KINDS = ("transfer", "take_message", "message_goodbye")


def note_said(session: Session, call_sid: str, lines: list[tuple[str, str]], at: datetime | None = None) -> bool:
    """Append `lines` ((kind, text), in the order the TwiML speaks them) to what the call said.

    The same lines posted again (Twilio retrying the action URL) are not added twice. False when
    the call is unknown.
    """
    unknown = [kind for kind, _ in lines if kind not in KINDS]
    if unknown:
        raise ValueError(f"unknown kinds of <Say> line {unknown}; use {list(KINDS)}")
    call = find_call(session, call_sid)
    if call is None:
        return False
    said = list(call.said or [])
    new = [{"kind": kind, "text": " ".join(text.split()), "at": (at or utcnow()).isoformat()}
           for kind, text in lines if text and text.strip()]
    if new and [(s["kind"], s["text"]) for s in said[-len(new):]] == [(n["kind"], n["text"]) for n in new]:
        return True
    call.said = said + new
    return True
