"""Export of an account's call data, or of one caller's, as a zip of JSON records and audio.

Layout of the zip (portable and machine-readable, the promise to people who ask for their data):

    export.json                       what this export is: account, caller filter, when, which calls
    account.json                      the account's settings (whole-account exports only)
    calls/<call_sid>/call.json         the call record: numbers, times, outcome, transcript, summary, lead, ...
    calls/<call_sid>/recording.wav     the stored audio, as stored
    calls/<call_sid>/transcript.json   the stored transcript document, as stored
    sms.json                          texts sent back to the caller, and their STOP state (caller exports)
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import select

from receptionist.core.db import Database
from receptionist.core.models import (
    Account,
    AuditEvent,
    Call,
    SmsConsent,
    TextBack,
    utcnow,
)
from receptionist.storage.objects import ObjectStore, call_prefix

FORMAT = "receptionist-export/1"


@dataclass
class ExportSummary:
    account_id: str
    caller: str | None
    calls: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def call_record(call: Call) -> dict:
    return {
        "call_sid": call.call_sid, "from": call.from_number, "to": call.to_number,
        "started_at": _iso(call.started_at), "ended_at": _iso(call.ended_at), "duration_s": call.duration_s,
        "outcome": call.outcome, "transcript": call.transcript or [], "summary": call.summary, "lead": call.lead,
        "conversation": call.conversation or [], "handoff": call.handoff,
        "training_opt_out": call.training_opt_out, "retention_days": call.retention_days,
        "expires_at": _iso(call.expires_at),
    }


def account_record(account: Account) -> dict:
    return {
        "id": account.id, "name": account.name, "phone_numbers": account.phone_numbers,
        "timezone": account.timezone, "business": account.business or {}, "greeting": account.greeting,
        "disclosure": account.disclosure, "transfer_number": account.transfer_number,
        "alert_sms": list(account.alert_sms or []), "alert_emails": list(account.alert_emails or []),
        "retention_days": account.retention_days, "training_opt_out": account.training_opt_out,
        "missed_call_text_back": account.missed_call_text_back, "spam_screening": account.spam_screening,
        "status": account.status,
        "created_at": _iso(account.created_at), "closed_at": _iso(account.closed_at),
    }


def write_export(db: Database, store: ObjectStore, account_id: str, out: BinaryIO, *, caller: str | None = None,
                 actor: str = "system") -> ExportSummary:
    """Write the zip to `out`; the export itself is recorded in the audit log."""
    summary = ExportSummary(account_id, caller)
    with db.session() as session, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        account = session.get(Account, account_id)
        if account is None:
            raise LookupError(f"no account {account_id}")
        query = select(Call).where(Call.account_id == account_id).order_by(Call.started_at, Call.id)
        if caller is not None:
            query = query.where(Call.from_number == caller)
        if caller is None:
            _write_json(archive, "account.json", account_record(account), summary)
        for call in session.scalars(query):
            summary.calls.append(call.call_sid)
            folder = f"calls/{call.call_sid}/"
            _write_json(archive, folder + "call.json", call_record(call), summary)
            for key in store.list_keys(call_prefix(account_id, call.call_sid)):
                name = key.rsplit("/", 1)[-1]
                # Audio is already compressed or incompressible; storing it saves time for nothing lost.
                compress = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                archive.writestr(zipfile.ZipInfo(folder + name, _zip_time()), store.get(key), compress_type=compress)
                summary.files.append(folder + name)
        if caller is not None:
            texts = session.scalars(select(TextBack).where(TextBack.account_id == account_id,
                                                            TextBack.caller == caller).order_by(TextBack.id)).all()
            consent = session.get(SmsConsent, caller)
            _write_json(archive, "sms.json", {
                "text_backs": [{"day": t.day, "status": t.status, "sent_at": _iso(t.created_at)} for t in texts],
                "consent": None if consent is None else {
                    "opted_out": consent.opted_out, "opted_out_at": _iso(consent.opted_out_at),
                    "opted_in_at": _iso(consent.opted_in_at), "opted_in_via": consent.opted_in_via,
                    "last_keyword": consent.last_keyword},
            }, summary)
        _write_json(archive, "export.json", {
            "format": FORMAT, "account_id": account_id, "caller": caller, "generated_at": utcnow().isoformat(),
            "calls": summary.calls, "files": sorted(summary.files),
        }, summary)
        # Who exported what is itself recorded; the caller's number is not copied into the log.
        session.add(AuditEvent(actor=actor, action="account.export", account_id=account_id,
                               detail={"caller_filter": caller is not None, "calls": summary.calls}))
    return summary


def _write_json(archive: zipfile.ZipFile, name: str, document: dict, summary: ExportSummary) -> None:
    data = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode()
    archive.writestr(zipfile.ZipInfo(name, _zip_time()), data, compress_type=zipfile.ZIP_DEFLATED)
    summary.files.append(name)


def _zip_time() -> tuple[int, int, int, int, int, int]:
    now = utcnow()
    return (now.year, now.month, now.day, now.hour, now.minute, now.second)


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
