"""Erasure and export through the API: nothing left in S3 or the database but the tombstone,
Twilio's copy deleted at the Twilio stand-in, a recording erased while its job waits never comes
back; the export is a zip of JSON records and audio."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from sqlalchemy import select, text

from receptionist.api.routes.privacy import twilio_rest
from receptionist.core.models import AuditEvent, Tombstone
from receptionist.postcall import pipeline
from receptionist.storage.objects import (
    ObjectTags,
    account_prefix,
    recording_key,
    transcript_key,
)
from receptionist.telephony.rest import TwilioRest
from tests.support.privacy import PrivacyWorld
from tests.support.world import BUSINESS_NUMBER, CALL_TURNS, CALLER_NUMBER
from workers.worker import run_worker

OTHER_CALLER = "+15550177001"


def world_of(service, make_context, twilio_api) -> PrivacyWorld:
    ctx = make_context(service.settings)
    svc = service.app.state.services
    return PrivacyWorld(service.settings, ctx.db, ctx.store, svc.queue.redis, svc.queue, ctx.twilio, twilio_api, ctx)


def play(service, twilio_api, audio: bytes, caller: str = CALLER_NUMBER):
    call = service.player.start(caller, BUSINESS_NUMBER)
    service.hear(call.call_sid, CALL_TURNS)
    recording_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(recording_sid, audio, call_sid=call.call_sid)
    service.player.end(call, duration_s=10)
    service.player.recording_ready(call, twilio_api.recording_url(recording_sid), 10, recording_sid)
    return call, recording_sid


def rows_mentioning(service, needle: str) -> dict[str, int]:
    """Tables that still hold a row carrying `needle` (a call's sid, a caller's number), and how many."""
    found = {}
    with service.app.state.services.db.engine.connect() as conn:
        for table in ("accounts", "calls", "recordings", "deliveries", "text_backs", "sms_consents", "tombstones",
                      "audit_events"):
            hits = sum(1 for row in conn.execute(text(f"SELECT * FROM {table}")) if any(needle in str(v) for v in row))
            if hits:
                found[table] = hits
    return found


def only_the_tombstone_remains(service, call_sid: str, caller: str) -> None:
    # The tombstone, and the audit log's lines naming the call (who read or erased it, never what
    # it said); the caller's number is nowhere.
    assert set(rows_mentioning(service, call_sid)) == {"tombstones", "audit_events"}
    assert rows_mentioning(service, call_sid)["tombstones"] == 1
    assert rows_mentioning(service, caller) == {}


@pytest.fixture
def processed(pg_service, make_context, twilio_api, call_audio, smtp):
    """A versioned bucket, one account, and a call transcribed, summarised and alerted for real."""
    account = pg_service.create_account()
    world = world_of(pg_service, make_context, twilio_api).versioned()
    call, recording_sid = play(pg_service, twilio_api, call_audio.path.read_bytes())
    assert pipeline.process_recording(world.ctx, recording_sid) == "done"
    assert len(smtp.wait_for(1)) == 1
    return account, world, call, recording_sid


def test_erasing_a_call_leaves_nothing_but_the_tombstone(pg_service, processed, twilio_api):
    account, world, call, recording_sid = processed
    # A second version of the transcript, as a re-processed call would leave on a versioned bucket.
    world.store.put(transcript_key(account["id"], call.call_sid), b"{}", "application/json",
                    ObjectTags(account["id"], 90, False))
    assert len(world.call_versions(account["id"], call.call_sid)) == 3
    assert pg_service.call(call.call_sid)["summary"]

    response = pg_service.http.delete(f"/api/calls/{call.call_sid}", headers=pg_service.admin())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complete"] and body["object_versions_deleted"] == 3
    assert sorted(body["objects_deleted"]) == sorted([recording_key(account["id"], call.call_sid, "wav"),
                                                      transcript_key(account["id"], call.call_sid)])

    assert world.versions(account_prefix(account["id"])) == []  # no version, no delete marker
    only_the_tombstone_remains(pg_service, call.call_sid, CALLER_NUMBER)
    with world.db.session() as session:
        tombstone = session.scalar(select(Tombstone).where(Tombstone.call_sid == call.call_sid))
        assert tombstone.erased_by == "admin-token" and tombstone.reason == "request"
        assert tombstone.account_id == account["id"] and tombstone.erased_at is not None
        assert tombstone.removed["twilio_recordings"] == [recording_sid]
        assert set(tombstone.removed["objects"]) == set(body["objects_deleted"])
        assert "transcript" in tombstone.removed["database"]["calls"]
        assert tombstone.removed["database"]["deliveries"] == 1
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "call.erase"))
        assert event.call_sid == call.call_sid and event.actor == "admin-token"
    # Twilio's copy: the DELETE request reached Twilio's API, and the recording is gone there.
    assert ("DELETE", twilio_api.recording_path(recording_sid) + ".json") in twilio_api.requests
    assert recording_sid in twilio_api.deleted_recordings

    assert pg_service.http.get(f"/api/calls/{call.call_sid}", headers=pg_service.admin()).status_code == 404
    again = pg_service.http.delete(f"/api/calls/{call.call_sid}", headers=pg_service.admin())
    assert again.status_code == 200 and again.json()["already_erased"] is True
    assert pg_service.http.delete("/api/calls/CAnope", headers=pg_service.admin()).status_code == 404


def test_erasing_a_caller_erases_every_call_of_that_caller_and_no_other(pg_service, make_context, twilio_api):
    account = pg_service.create_account()
    world = world_of(pg_service, make_context, twilio_api)
    theirs = [world.call(account["id"], caller=CALLER_NUMBER) for _ in range(2)]
    other = world.call(account["id"], caller=OTHER_CALLER)
    elsewhere_account = world.account()
    elsewhere = world.call(elsewhere_account, caller=CALLER_NUMBER)  # same caller, another business
    with world.db.session() as session:
        session.execute(text("INSERT INTO text_backs (account_id, caller, day, status, created_at) "
                             "VALUES (:a, :c, '2026-03-02', 'sent', CURRENT_TIMESTAMP)"),
                        {"a": account["id"], "c": CALLER_NUMBER})

    response = pg_service.http.delete(f"/api/accounts/{account['id']}/callers/{CALLER_NUMBER}",
                                      headers=pg_service.admin())
    assert response.status_code == 200, response.text
    assert sorted(c["call_sid"] for c in response.json()["calls"]) == sorted(theirs)
    for sid in theirs:
        assert world.call_row(sid) is None and world.call_versions(account["id"], sid) == []
        assert world.tombstone(sid).reason == "caller-erasure"
        assert "RE" + sid[2:] in twilio_api.deleted_recordings
    assert world.call_row(other) is not None and len(world.call_versions(account["id"], other)) == 2
    assert world.call_row(elsewhere) is not None
    assert pg_service.count("text_backs") == 0

    bad = pg_service.http.delete(f"/api/accounts/{account['id']}/callers/555-0142",
                                 headers=pg_service.admin())
    assert bad.status_code == 422


def test_a_recording_erased_while_its_job_waits_never_reappears(pg_service, make_context, twilio_api, call_audio,
                                                                smtp):
    account = pg_service.create_account()
    world = world_of(pg_service, make_context, twilio_api).versioned()
    call, recording_sid = play(pg_service, twilio_api, call_audio.path.read_bytes())
    assert world.queue.queue.count == 1  # the transcription job waits

    assert pg_service.http.delete(f"/api/calls/{call.call_sid}", headers=pg_service.admin()).status_code == 200
    run_worker(world.ctx, world.redis, world.settings.queue_name, burst=True, with_scheduler=False)

    assert world.versions(account_prefix(account["id"])) == []
    assert world.call_row(call.call_sid) is None
    only_the_tombstone_remains(pg_service, call.call_sid, CALLER_NUMBER)
    assert smtp.messages == []  # nor was anyone alerted about it


@pytest.mark.parametrize("moment", ["while transcribing", "just before storing", "just after storing"])
def test_an_erasure_racing_the_job_leaves_nothing(pg_service, make_context, twilio_api, call_audio, smtp, moment,
                                                  monkeypatch):
    account = pg_service.create_account()
    world = world_of(pg_service, make_context, twilio_api).versioned()
    call, recording_sid = play(pg_service, twilio_api, call_audio.path.read_bytes())

    def erase():
        response = pg_service.http.delete(f"/api/calls/{call.call_sid}", headers=pg_service.admin())
        assert response.status_code == 200, response.text

    ctx = world.ctx
    if moment == "while transcribing":
        transcribe = ctx.transcriber.transcribe_call  # the model is shared by the session: patch it back after
        monkeypatch.setattr(ctx.transcriber, "transcribe_call", lambda *a, **k: (erase(), transcribe(*a, **k))[1])
    elif moment == "just before storing":
        # The erasure lists the call's objects before the job's writes land: the job must notice.
        put = ctx.store.put
        erased = []
        monkeypatch.setattr(ctx.store, "put", lambda *a, **k: (erased or erased.append(erase()), put(*a, **k))[1])
    else:
        put_json = ctx.store.put_json  # right after the job's last write
        monkeypatch.setattr(ctx.store, "put_json", lambda *a, **k: (put_json(*a, **k), erase())[0])
    assert pipeline.process_recording(ctx, recording_sid) == "gone"

    assert world.versions(account_prefix(account["id"])) == []
    assert world.call_row(call.call_sid) is None
    assert smtp.messages == []


def test_twilio_down_answers_202_and_a_job_finishes_the_erasure(pg_service, make_context, twilio_api):
    account = pg_service.create_account()
    world = world_of(pg_service, make_context, twilio_api)
    sid = world.call(account["id"])
    impatient = TwilioRest(twilio_api.base_url, twilio_api.account_sid, twilio_api.auth_token, retry_window_s=0.3)
    pg_service.app.dependency_overrides[twilio_rest] = lambda: impatient
    twilio_api.fail_next(50, status=503)
    try:
        response = pg_service.http.delete(f"/api/calls/{sid}", headers=pg_service.admin())
    finally:
        pg_service.app.dependency_overrides.clear()
        impatient.close()
        with twilio_api._lock:  # Twilio is back
            twilio_api._failures.clear()
    assert response.status_code == 202, response.text
    assert response.json()["twilio_recordings_pending"] == ["RE" + sid[2:]]
    assert world.call_versions(account["id"], sid) == [] and world.call_row(sid) is None  # ours is gone already

    world.run_jobs()
    assert "RE" + sid[2:] in twilio_api.deleted_recordings


def test_export_is_a_zip_of_json_records_and_audio(pg_service, processed, twilio_api):
    account, world, call, recording_sid = processed
    other = world.call(account["id"], caller=OTHER_CALLER)

    response = pg_service.http.get(f"/api/accounts/{account['id']}/export", headers=pg_service.admin())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert "attachment" in response.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    names = set(archive.namelist())
    for sid in (call.call_sid, other):
        assert {f"calls/{sid}/call.json", f"calls/{sid}/recording.wav", f"calls/{sid}/transcript.json"} <= names
    record = json.loads(archive.read(f"calls/{call.call_sid}/call.json"))
    detail = pg_service.call(call.call_sid)
    assert record["from"] == CALLER_NUMBER and record["transcript"] == detail["transcript"]
    assert record["summary"] == detail["summary"] and record["lead"] == detail["lead"]
    assert archive.read(f"calls/{call.call_sid}/recording.wav") == world.store.get(
        recording_key(account["id"], call.call_sid, "wav"))
    manifest = json.loads(archive.read("export.json"))
    assert set(manifest["calls"]) == {call.call_sid, other}
    assert json.loads(archive.read("account.json"))["id"] == account["id"]

    # One caller's data only: "+" unencoded in the query arrives as a space and is understood.
    for query in (f"?caller=%2B{OTHER_CALLER[1:]}", f"?caller=+{OTHER_CALLER[1:]}"):
        response = pg_service.http.get(f"/api/accounts/{account['id']}/export{query}", headers=pg_service.admin())
        assert response.status_code == 200, response.text
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert json.loads(archive.read("export.json"))["calls"] == [other]
        assert not any(call.call_sid in name for name in archive.namelist())
        assert "account.json" not in archive.namelist() and "sms.json" in archive.namelist()
    with world.db.session() as session:
        exports = session.scalars(select(AuditEvent).where(AuditEvent.action == "account.export")).all()
        assert len(exports) == 3 and all(OTHER_CALLER not in json.dumps(e.detail) for e in exports)
    assert pg_service.http.get(f"/api/accounts/{account['id']}/export?caller=12",
                               headers=pg_service.admin()).status_code == 422


def test_an_owner_erases_and_exports_their_own_account_only(pg_service, make_context, twilio_api):
    mine = pg_service.create_account(phone_numbers=["+15550100201"], name="Acme Plumbing")
    theirs = pg_service.create_account(phone_numbers=["+15550100202"], name="Bayside Roofing")
    world = world_of(pg_service, make_context, twilio_api)
    tokens = {}
    for name, account, role in (("owner", mine, "owner"), ("member", mine, "member")):
        response = pg_service.http.post(f"/api/accounts/{account['id']}/users", headers=pg_service.admin(),
                                        json={"email": f"{name}@example.com", "role": role})
        tokens[name] = {"Authorization": f"Bearer {response.json()['token']}"}
    their_call = world.call(theirs["id"])
    my_call = world.call(mine["id"])

    assert pg_service.http.delete(f"/api/calls/{their_call}", headers=tokens["owner"]).status_code == 404
    assert pg_service.http.get(f"/api/accounts/{theirs['id']}/export", headers=tokens["owner"]).status_code == 404
    assert pg_service.http.delete(f"/api/calls/{my_call}", headers=tokens["member"]).status_code == 403
    assert pg_service.http.delete(f"/api/calls/{my_call}").status_code == 401
    assert world.call_row(their_call) is not None and world.call_row(my_call) is not None
    assert pg_service.http.delete(f"/api/calls/{my_call}", headers=tokens["owner"]).status_code == 200
    with world.db.session() as session:
        assert session.scalar(select(Tombstone.erased_by).where(Tombstone.call_sid == my_call)).startswith("user:")
    assert world.call_row(my_call) is None


def test_a_recording_reported_after_its_call_was_erased_is_deleted_at_twilio(pg_service, make_context, twilio_api,
                                                                           smtp, redis_conn):
    from receptionist.core.models import Tombstone
    from tests.support.calls import run_burst

    pg_service.create_account()
    call = pg_service.player.start("+15550142367", "+15550100200")
    response = pg_service.http.delete(f"/api/calls/{call.call_sid}", headers=pg_service.admin())
    assert response.status_code in (200, 202), response.text
    late_sid = "RE" + call.call_sid[2:]
    twilio_api.add_recording(late_sid, b"RIFF-late", call_sid=call.call_sid)
    pg_service.player.recording_ready(call, twilio_api.recording_url(late_sid), 5, late_sid)
    run_burst(make_context(pg_service.settings))
    assert late_sid in twilio_api.deleted_recordings
    assert pg_service.count("recordings") == 0 and pg_service.count("calls") == 0
    with pg_service.app.state.services.db.session() as session:
        tombstone = session.query(Tombstone).filter_by(call_sid=call.call_sid).one()
        assert late_sid in tombstone.removed["twilio_recordings"]
