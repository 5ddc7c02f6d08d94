"""What the storage itself proves: objects are encrypted on the server's disk, and tagged with the
account's tier and the training value, by the real pipeline."""

from __future__ import annotations

import os
import secrets
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from receptionist.postcall import pipeline
from receptionist.privacy.retention import apply_account_settings
from receptionist.storage.objects import (
    ObjectStore,
    ObjectTags,
    recording_key,
    transcript_key,
)
from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER


def marker_on_disk(data_dir: Path, marker: bytes) -> list[Path]:
    """Files under the server's data directory that contain `marker`."""
    found = []
    for path in data_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                if marker in path.read_bytes():
                    found.append(path)
            except OSError:
                continue  # a socket or a file removed meanwhile
    return found


def wait_on_disk(data_dir: Path, marker: bytes, timeout: float = 5.0) -> list[Path]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = marker_on_disk(data_dir, marker)
        if found:
            return found
        time.sleep(0.2)
    return []


def payload(marker: bytes) -> bytes:
    # Incompressible around the marker, and large enough to land in a volume file, so neither
    # compression nor inlining can hide a plaintext marker from the search.
    return os.urandom(96 * 1024) + marker + os.urandom(96 * 1024)


@pytest.mark.parametrize("kms_key_id", [None, "test-key-1"], ids=["sse-s3", "sse-kms"])
def test_objects_are_encrypted_on_the_servers_disk(s3, kms_key_id):
    client = s3.client()
    bucket = f"enc-{secrets.token_hex(6)}"
    store = ObjectStore(client, bucket, kms_key_id)
    store.ensure_bucket()
    tags = ObjectTags("acct", 30, True)

    marker = b"PLAINTEXT-MARKER-" + secrets.token_hex(16).encode()
    stored = store.put("accounts/acct/calls/CA1/recording.wav", payload(marker), "audio/wav", tags)
    head = store.head("accounts/acct/calls/CA1/recording.wav")
    expected = "aws:kms" if kms_key_id else "AES256"
    assert stored.server_side_encryption == head["ServerSideEncryption"] == expected  # the server says so
    assert store.tags("accounts/acct/calls/CA1/recording.wav") == tags.as_dict()

    # The control: the same kind of payload written without encryption is found on disk, so the
    # search below would see a plaintext marker if there were one.
    plain_bucket = f"plain-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=plain_bucket)
    control = b"CONTROL-MARKER-" + secrets.token_hex(16).encode()
    client.put_object(Bucket=plain_bucket, Key="control", Body=payload(control))
    assert wait_on_disk(s3.data_dir, control), "the unencrypted control was not found on disk"

    assert marker_on_disk(s3.data_dir, marker) == []
    assert store.get("accounts/acct/calls/CA1/recording.wav").count(marker) == 1  # and it reads back


def test_pipeline_tags_objects_with_the_accounts_tier_and_training_value(pg_service, make_context, twilio_api,
                                                                         call_audio, smtp):
    account = pg_service.create_account(retention_days=365, training_opt_out=True)
    ctx = make_context(pg_service.settings)
    call = pg_service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    pg_service.hear(call.call_sid, CALL_TURNS)
    recording_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(recording_sid, call_audio.path.read_bytes(), call_sid=call.call_sid)
    pg_service.player.end(call, duration_s=10)
    pg_service.player.recording_ready(call, twilio_api.recording_url(recording_sid), 10, recording_sid)
    assert pipeline.process_recording(ctx, recording_sid) == "done"

    wanted = {"retention-days": "365", "training": "opted-out", "account": account["id"]}
    for key in (recording_key(account["id"], call.call_sid, "wav"), transcript_key(account["id"], call.call_sid)):
        assert ctx.store.tags(key) == wanted
        assert ctx.store.head(key)["ServerSideEncryption"] == "AES256"
    detail = pg_service.call(call.call_sid)
    assert detail["retention_days"] == 365
    started, expires = (datetime.fromisoformat(detail[k]) for k in ("started_at", "expires_at"))
    assert expires - started == timedelta(days=365)


def test_a_change_made_while_the_job_transcribes_reaches_its_objects(pg_service, make_context, twilio_api,
                                                                     call_audio, smtp):
    """The re-tag job may run before the job stores its objects; the job then tags them itself."""
    account = pg_service.create_account()
    ctx = make_context(pg_service.settings)
    svc = pg_service.app.state.services
    call = pg_service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    recording_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(recording_sid, call_audio.path.read_bytes(), call_sid=call.call_sid)
    pg_service.player.end(call, duration_s=10)
    pg_service.player.recording_ready(call, twilio_api.recording_url(recording_sid), 10, recording_sid)

    transcribe = ctx.transcriber.transcribe_call

    def change_then_transcribe(*args, **kwargs):
        with svc.db.session() as session:
            apply_account_settings(session, account["id"], queue=svc.queue, retention_days=7, training_opt_out=True)
        return transcribe(*args, **kwargs)

    ctx.transcriber.transcribe_call = change_then_transcribe
    try:
        assert pipeline.process_recording(ctx, recording_sid) == "done"
    finally:
        del ctx.transcriber.transcribe_call  # the session's shared model gets its own method back
    for key in (recording_key(account["id"], call.call_sid, "wav"), transcript_key(account["id"], call.call_sid)):
        assert ctx.store.tags(key) == {"retention-days": "7", "training": "opted-out", "account": account["id"]}
