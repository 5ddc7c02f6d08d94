"""Callers' rights: erase a call, erase everything of one caller, export an account's or a caller's data.

An account's owner or an admin may do these (a member may not: these are not reads of one call);
another account's calls answer 404. Erasure answers 200 when everything is gone, 202 when Twilio
could not delete its copy yet (a worker job keeps trying; ours is already gone).

These are the slow requests (every object of a caller or an account): they run in their own lane
(`receptionist.web.lanes`, `RECEPTIONIST_EXPORT_THREADS` at once, on the API's connections), so they
can neither delay the Twilio webhooks nor fill the API's threads.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from receptionist.accounts import auth
from receptionist.accounts.auth import Principal
from receptionist.api.deps import TokenFirst, principal
from receptionist.calls.records import find_call
from receptionist.core.models import Account, Tombstone, utcnow
from receptionist.core.phone import is_e164
from receptionist.core.ports import TelephonyApi
from receptionist.privacy.erasure import ErasureResult, erase_call, erase_caller
from receptionist.privacy.export import write_export
from receptionist.web.deps import services, session
from receptionist.web.errors import ApiError
from receptionist.web.services import AppServices

router = APIRouter(tags=["privacy"], route_class=TokenFirst)

SPOOL_IN_MEMORY = 32 * 1024 * 1024


async def twilio_rest(svc: AppServices = Depends(services)) -> TelephonyApi:
    """The process's Twilio REST client (tests override this dependency to make Twilio fail)."""
    return svc.twilio


def caller_number(value: str) -> str:
    """An E.164 number from a path or query; a query's "+" arrives as a space when not encoded."""
    value = value.strip()
    if value.isdigit():
        value = "+" + value
    if not is_e164(value):
        raise ApiError(422, f"{value!r} is not an E.164 phone number like +15551234567")
    return value


def _finish(results: list[ErasureResult], svc: AppServices, response: Response) -> None:
    pending = [r for r in results if r.twilio_pending]
    for result in pending:
        svc.queue.enqueue_finish_erasure(result.call_sid)
    if pending:
        response.status_code = 202


@router.delete("/api/calls/{call_sid}")
def delete_call(call_sid: str, response: Response, db: Session = Depends(session),
                who: Principal = Depends(principal), svc: AppServices = Depends(services),
                twilio: TelephonyApi = Depends(twilio_rest)) -> dict:
    """Erase the call: every version of its audio and transcript, Twilio's copy of the recording,
    its transcript, summary and lead; a tombstone (who, when, what) stays for the audit log."""
    call = find_call(db, call_sid)
    account_id = ((call.account_id if call is not None else None)
                  or db.scalar(select(Tombstone.account_id).where(Tombstone.call_sid == call_sid)))
    auth.check_account(who, account_id, write=True, what="call")
    db.commit()  # the erasure writes through its own sessions; hold no transaction open meanwhile
    result = erase_call(svc.api_db, svc.store, twilio, call_sid, actor=who.actor, reason="request")
    if result is None:
        raise ApiError(404, "no such call")
    _finish([result], svc, response)
    return result.as_dict()


@router.delete("/api/accounts/{account_id}/callers/{e164}")
def delete_caller(account_id: str, e164: str, response: Response, db: Session = Depends(session),
                  who: Principal = Depends(principal), svc: AppServices = Depends(services),
                  twilio: TelephonyApi = Depends(twilio_rest)) -> dict:
    """Erase every call of this caller to the account, and the texts sent back to them."""
    account = db.get(Account, account_id)
    auth.check_account(who, account.id if account else None, write=True)
    caller = caller_number(e164)
    db.commit()
    results = erase_caller(svc.api_db, svc.store, twilio, account_id, caller, actor=who.actor)
    _finish(results, svc, response)
    return {"account_id": account_id, "caller": caller, "calls": [r.as_dict() for r in results]}


@router.get("/api/accounts/{account_id}/export", response_class=StreamingResponse,
            responses={200: {"content": {"application/zip": {}},
                             "description": "a zip of JSON records and audio files"}})
def export_account(account_id: str,
                   caller: str | None = Query(None, description="only this caller's calls (E.164, +15551234567)"),
                   db: Session = Depends(session), who: Principal = Depends(principal),
                   svc: AppServices = Depends(services)):
    """The account's calls (or one caller's) as a zip: JSON records, transcripts and audio."""
    account = db.get(Account, account_id)
    auth.check_account(who, account.id if account else None, write=True)
    caller = caller_number(caller) if caller else None
    db.commit()
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)
    try:
        write_export(svc.api_db, svc.store, account_id, spool, caller=caller, actor=who.actor)
    except BaseException:
        spool.close()
        raise
    size = spool.tell()
    spool.seek(0)
    stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
    name = f"export-{account_id}{'-caller' if caller else ''}-{stamp}.zip"
    return StreamingResponse(_chunks(spool), media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Content-Length": str(size)})


def _chunks(spool) -> Iterator[bytes]:
    try:
        while chunk := spool.read(1024 * 1024):
            yield chunk
    finally:
        spool.close()
