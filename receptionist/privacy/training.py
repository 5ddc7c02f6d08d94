"""The training-data export: redacted transcripts of the calls that may be used to improve the AI.

A call is included only when everything that can say "no" says "yes": the account is active and not
opted out, the call is not opted out, and every stored object of the call is tagged
`training=allowed`. The database and the tags are checked independently, so a re-tag job that has
not run yet, or a tag changed by hand, can only keep a call out, never let one in. The transcript
comes from the stored (tagged) object, and is redacted (receptionist.privacy.redaction).

Output: `training.jsonl`, one record per call with its `call_sid` (so a later erasure can be
applied to sets already exported), and `manifest.json`, every call considered, included or
excluded with the reason.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select

from receptionist.core.db import Database
from receptionist.core.models import Account, Call, utcnow
from receptionist.privacy.redaction import redactor_for_call
from receptionist.storage.objects import (
    TRAINING_TAG,
    ObjectStore,
    call_prefix,
    tags_from_dict,
    transcript_key,
)

FORMAT = "receptionist-training/1"
RECORDS = "training.jsonl"
MANIFEST = "manifest.json"


@dataclass
class TrainingExport:
    out_dir: Path
    included: list[dict] = field(default_factory=list)
    excluded: list[dict] = field(default_factory=list)
    redactions: Counter = field(default_factory=Counter)

    @property
    def records_path(self) -> Path:
        return self.out_dir / RECORDS

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / MANIFEST

    def describe(self) -> str:
        reasons = Counter(item["reason"] for item in self.excluded)
        why = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common())
        return (f"{len(self.included)} call(s) written to {self.records_path}; {len(self.excluded)} excluded"
                + (f" ({why})" if why else "") + f"; manifest at {self.manifest_path}")


def exclusion_reason(store: ObjectStore, call: Call, account: Account) -> str | None:
    """Why this call must stay out of a training set, or None when everything allows it."""
    if account.status != "active":
        return "account closed"
    if account.training_opt_out:
        return "account opted out"
    if call.training_opt_out:
        return "call opted out"
    keys = store.list_keys(call_prefix(account.id, call.call_sid))
    if transcript_key(account.id, call.call_sid) not in keys:
        return "no stored transcript"
    for key in keys:
        tags = store.tags(key)
        parsed = tags_from_dict(tags)
        if parsed is None or parsed.training_opt_out:
            return f"object tagged {TRAINING_TAG}={tags.get(TRAINING_TAG) or '(missing)'}"
    return None


def export_training_set(db: Database, store: ObjectStore, out_dir: Path, *, account_id: str | None = None,
                        on_call: Callable[[], None] | None = None,
                        on_total: Callable[[int], None] | None = None) -> TrainingExport:
    """Write the dataset and its manifest into `out_dir` (created; files replaced atomically)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    export = TrainingExport(out_dir)
    where = [] if account_id is None else [Call.account_id == account_id]
    tmp_records = out_dir / (RECORDS + ".partial")
    with db.session() as session, open(tmp_records, "w", encoding="utf-8") as records:
        if on_total is not None:
            on_total(session.scalar(select(func.count(Call.id)).where(*where)))
        query = select(Call).where(*where).order_by(Call.account_id, Call.started_at, Call.id)
        for call in session.scalars(query.execution_options(yield_per=200)):
            account = call.account
            entry = {"call_sid": call.call_sid, "account_id": account.id}
            reason = "no transcript" if not call.transcript else exclusion_reason(store, call, account)
            if reason is None:
                document = json.loads(store.get(transcript_key(account.id, call.call_sid)))
                redactor = redactor_for_call(call.from_number, call.lead, account.name, account.business)
                record = {
                    "call_sid": call.call_sid,
                    "segments": [{"speaker": s.get("speaker"), "start": s.get("start"), "end": s.get("end"),
                                  "text": redactor.redact(s.get("text") or "")}
                                 for s in document.get("segments", [])],
                    "summary": redactor.redact(call.summary) if call.summary else None,
                }
                records.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")
                export.redactions.update(redactor.counts)
                export.included.append(entry)
            else:
                export.excluded.append({**entry, "reason": reason})
            if on_call is not None:
                on_call()
    manifest = {
        "format": FORMAT, "generated_at": utcnow().isoformat(), "records": RECORDS,
        "account_filter": account_id, "included": export.included, "excluded": export.excluded,
        "counts": {"considered": len(export.included) + len(export.excluded), "included": len(export.included),
                   "excluded": len(export.excluded)},
        "redactions": {placeholder.strip("[]").lower(): n for placeholder, n in sorted(export.redactions.items())},
        "rules": ["account active and not opted out", "call not opted out",
                  "every stored object of the call tagged training=allowed",
                  "personal details redacted: the call's own name, numbers and address (near-misses too), "
                  "phone numbers, emails, card numbers with CVV and expiry, street addresses with unit and ZIP, "
                  "dates of birth and names"],
    }
    tmp_manifest = out_dir / (MANIFEST + ".partial")
    tmp_manifest.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp_records, export.records_path)
    os.replace(tmp_manifest, export.manifest_path)
    return export
