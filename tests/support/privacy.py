"""A world for the privacy tests: accounts, calls and their stored objects, made directly on the
real services (PostgreSQL, SeaweedFS, Redis, the Twilio stand-in) without transcribing anything."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from redis import Redis
from sqlalchemy import func, select, text

from receptionist.core.db import Database
from receptionist.core.models import Account, Call, PhoneNumber, Recording, Tombstone
from receptionist.core.queue import JobQueue
from receptionist.postcall.pipeline import PipelineContext
from receptionist.privacy.retention import call_tags
from receptionist.settings import Settings
from receptionist.storage.objects import (
    ObjectStore,
    account_prefix,
    call_prefix,
    recording_key,
    tags_from_dict,
    transcript_document,
    transcript_key,
)
from receptionist.telephony.rest import TwilioRest
from sandbox import LocalTwilioApi
from workers.worker import run_worker

T0 = datetime(2026, 3, 2, 15, 0, tzinfo=timezone.utc)
CALLER = "+15550142367"


def wav_bytes(marker: bytes = b"") -> bytes:
    """A small 'recording': a WAV-like header then incompressible bytes (and a marker if given)."""
    return b"RIFF\x24\x00\x00\x00WAVEfmt " + os.urandom(2048) + marker + os.urandom(2048)


@dataclass
class PrivacyWorld:
    settings: Settings
    db: Database
    store: ObjectStore
    redis: Redis
    queue: JobQueue
    twilio: TwilioRest
    twilio_api: LocalTwilioApi
    ctx: PipelineContext
    numbers: list[str] = field(default_factory=list)

    # -- making things ------------------------------------------------------------------------
    def account(self, *, retention_days: int = 90, training_opt_out: bool = False, status: str = "active",
                closed_at: datetime | None = None, name: str = "Acme Plumbing") -> str:
        number = f"+1555{secrets.randbelow(10**7):07d}"
        with self.db.session() as session:
            account = Account(name=name, retention_days=retention_days, training_opt_out=training_opt_out,
                              status=status, closed_at=closed_at, business={}, alert_emails=[], alert_sms=[])
            account.numbers = [PhoneNumber(number=number)]
            session.add(account)
            session.flush()
            return account.id

    def call(self, account_id: str, *, caller: str = CALLER, started_at: datetime = T0,
             training_opt_out: bool | None = None, transcript: list[dict] | None = None,
             store_objects: bool = True, lead: dict | None = None, summary: str | None = None) -> str:
        """A processed call: rows as the pipeline leaves them, objects tagged as it tags them, and
        Twilio's copy of the recording at the stand-in."""
        call_sid = "CA" + secrets.token_hex(16)
        recording_sid = "RE" + call_sid[2:]
        transcript = transcript if transcript is not None else [
            {"speaker": "caller", "start": 0.0, "end": 2.0, "text": "Hi, my water heater is leaking."}]
        with self.db.session() as session:
            account = session.get(Account, account_id)
            call = Call(call_sid=call_sid, account_id=account_id, from_number=caller,
                        to_number=account.phone_numbers[0], started_at=started_at,
                        ended_at=started_at + timedelta(minutes=2), duration_s=120, twilio_status="completed",
                        outcome="answered", transcript=transcript, summary=summary, lead=lead,
                        training_opt_out=account.training_opt_out if training_opt_out is None else training_opt_out,
                        retention_days=account.retention_days,
                        expires_at=started_at + timedelta(days=account.retention_days), processing_status="done")
            session.add(call)
            session.flush()
            audio, text_key = recording_key(account_id, call_sid, "wav"), transcript_key(account_id, call_sid)
            session.add(Recording(recording_sid=recording_sid, call_id=call.id, media_url="", status="done",
                                  audio_key=audio if store_objects else None,
                                  transcript_key=text_key if store_objects else None))
            tags = call_tags(call, account)
        if store_objects:
            self.store.put(audio, wav_bytes(), "audio/wav", tags)
            self.store.put_json(text_key, transcript_document(call_sid, account_id, transcript, started_at), tags)
        self.twilio_api.add_recording(recording_sid, wav_bytes(), call_sid=call_sid)
        return call_sid

    # -- looking ------------------------------------------------------------------------------
    def versions(self, prefix: str) -> list:
        return self.store.all_versions(prefix)

    def call_versions(self, account_id: str, call_sid: str) -> list:
        return self.versions(call_prefix(account_id, call_sid))

    def account_versions(self, account_id: str) -> list:
        return self.versions(account_prefix(account_id))

    def tags_of(self, version) -> dict:
        return self.store.version_tags(version)

    def call_row(self, call_sid: str) -> Call | None:
        with self.db.session() as session:
            return session.scalar(select(Call).where(Call.call_sid == call_sid))

    def tombstone(self, call_sid: str) -> Tombstone | None:
        with self.db.session() as session:
            return session.scalar(select(Tombstone).where(Tombstone.call_sid == call_sid))

    def count(self, model, *where) -> int:
        with self.db.session() as session:
            return session.scalar(select(func.count()).select_from(model).where(*where))

    def expected_tags(self, call_sid: str) -> dict[str, str]:
        with self.db.session() as session:
            call = session.scalar(select(Call).where(Call.call_sid == call_sid))
            return call_tags(call).as_dict()

    def tags_ok(self, call_sid: str) -> bool:
        call = self.call_row(call_sid)
        wanted = self.expected_tags(call_sid)
        versions = [v for v in self.call_versions(call.account_id, call_sid) if not v.is_delete_marker]
        return bool(versions) and all(self.tags_of(v) == wanted for v in versions)

    # -- running ------------------------------------------------------------------------------
    def run_jobs(self) -> None:
        run_worker(self.ctx, self.redis, self.settings.queue_name, burst=True, with_scheduler=False)

    def versioned(self) -> PrivacyWorld:
        self.store.client.put_bucket_versioning(Bucket=self.store.bucket,
                                                VersioningConfiguration={"Status": "Enabled"})
        return self

    def wipe(self) -> None:
        """Empty the database and the bucket of calls (between hypothesis examples); they stay one
        deployment's (the database's id and the bucket's marker are kept)."""
        with self.db.engine.begin() as conn:
            from receptionist.core.models import Base, Deployment

            for table in reversed(Base.metadata.sorted_tables):
                if table is not Deployment.__table__:
                    conn.execute(text(f"DELETE FROM {table.name}"))
        versions = self.store.all_versions("accounts/")
        if versions:
            self.store.delete_versions(versions)
        self.redis.flushdb()


def stored_tags(store: ObjectStore, key: str):
    return tags_from_dict(store.tags(key))


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
