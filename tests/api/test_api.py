"""The first slice of the API: accounts and calls behind the admin token."""

from __future__ import annotations

import secrets

from tests.support.service import own_numbers
from tests.support.world import ACCOUNT
from tests.support.world import BUSINESS_NUMBER as BUSINESS
from tests.support.world import CALLER_NUMBER as CALLER


def test_healthz(service):
    assert service.http.get("/healthz").json()["status"] == "ok"


def test_account_roundtrip(service):
    created = service.create_account(alert_sms=["+13125550199"], retention_days=365, training_opt_out=True)
    assert created["name"] == "Acme Plumbing"
    assert created["phone_numbers"] == ACCOUNT["phone_numbers"]
    assert created["business"]["service_areas"] == ["Springfield", "Shelbyville"]
    assert created["retention_days"] == 365 and created["training_opt_out"] is True
    assert created["status"] == "active" and created["id"]


def test_defaults(service):
    created = service.create_account(phone_numbers=["+15550100300"], alert_emails=[])
    assert created["retention_days"] == 90
    assert created["training_opt_out"] is False and created["missed_call_text_back"] is False


def test_admin_token_required(service):
    assert service.http.post("/api/accounts", json=ACCOUNT).status_code == 401
    response = service.http.post("/api/accounts", json=ACCOUNT, headers={"Authorization": "Bearer wrong"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"
    assert service.http.get("/api/calls/CA123").status_code == 401
    assert service.count("accounts") == 0


def test_validation_errors_are_json_422(service):
    cases = {
        "phone_numbers": ["555-1234"],
        "timezone": "Mars/Olympus",
        "retention_days": 45,
        "alert_emails": ["not-an-email"],
        "business": {"hours": {"mon": "9-5"}},
    }
    for field, value in cases.items():
        response = service.http.post("/api/accounts", json={**ACCOUNT, field: value}, headers=service.admin())
        assert response.status_code == 422, field
        error = response.json()["error"]
        assert error["code"] == "invalid" and field in error["message"]
    tier_error = service.http.post("/api/accounts", json={**ACCOUNT, "retention_days": 45}, headers=service.admin())
    assert "7, 30, 60, 90, 180, 365, 730, 2555" in tier_error.json()["error"]["message"]
    assert service.count("accounts") == 0


def test_malformed_json_is_a_4xx_json_error(service):
    response = service.http.post("/api/accounts", content=b"{not json", headers={**service.admin(),
                                                                              "content-type": "application/json"})
    assert response.status_code == 422
    assert "error" in response.json()


def test_a_number_belongs_to_one_account(service):
    service.create_account()
    response = service.http.post("/api/accounts", json={**ACCOUNT, "name": "Other"}, headers=service.admin())
    assert response.status_code == 409
    assert ACCOUNT["phone_numbers"][0] in response.json()["error"]["message"]


def test_unknown_call_is_404(service):
    response = service.http.get("/api/calls/CA0000", headers=service.admin())
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


# -- roles, users, accounts ------------------------------------------------------------------

def add_user(service, account_id: str, role: str, token: str | None = None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else service.admin()
    response = service.http.post(f"/api/accounts/{account_id}/users", headers=headers,
                                 json={"email": f"{role}-{account_id[:6]}@example.com", "role": role})
    assert response.status_code == 201, response.text
    return response.json()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_user_tokens_are_shown_once_and_stored_hashed(service):
    from receptionist.core.models import User

    account = service.create_account()
    owner = add_user(service, account["id"], "owner")
    assert owner["token"].startswith("rcp_") and len(owner["token"]) > 40
    with service.app.state.services.db.session() as session:
        stored = session.get(User, owner["id"])
        assert stored.token_hash != owner["token"] and owner["token"] not in stored.token_hash
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(owner["token"])).status_code == 200


def test_owner_adds_a_member_who_can_read_but_not_write(service):
    account = service.create_account()
    owner = add_user(service, account["id"], "owner")
    member = add_user(service, account["id"], "member", token=owner["token"])
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(member["token"])).status_code == 200
    response = service.http.patch(f"/api/accounts/{account['id']}", json={"name": "X"}, headers=bearer(member["token"]))
    assert response.status_code == 403
    response = service.http.post(f"/api/accounts/{account['id']}/users", headers=bearer(member["token"]),
                                 json={"email": "x@example.com", "role": "owner"})
    assert response.status_code == 403


def test_owner_edits_the_profile_but_not_retention(service):
    account = service.create_account()
    owner = add_user(service, account["id"], "owner")
    patch = {"greeting": "Rivertown Plumbing, Maria speaking.", "alert_emails": ["new@example.com"],
             "business": {"services": ["boilers"], "hours": {"mon": "07:00-15:00"}}}
    response = service.http.patch(f"/api/accounts/{account['id']}", json=patch, headers=bearer(owner["token"]))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["greeting"] == patch["greeting"] and body["alert_emails"] == ["new@example.com"]
    assert body["business"]["hours"] == {"mon": "07:00-15:00"}
    response = service.http.patch(f"/api/accounts/{account['id']}", json={"retention_days": 365},
                                  headers=bearer(owner["token"]))
    assert response.status_code == 403
    bad = service.http.patch(f"/api/accounts/{account['id']}", json={"retention_days": 100}, headers=service.admin())
    assert bad.status_code == 422 and "7, 30, 60, 90, 180, 365, 730, 2555" in bad.json()["error"]["message"]


def test_a_changed_greeting_is_what_the_next_caller_hears(service):
    account = service.create_account()
    service.player.start(CALLER, BUSINESS)
    service.http.patch(f"/api/accounts/{account['id']}", json={"greeting": "Hello from the new greeting."},
                       headers=service.admin())
    assert "Hello from the new greeting." in service.player.start(CALLER, BUSINESS).twiml


def test_a_closed_account_stops_answering_but_keeps_its_calls(service):
    account = service.create_account()
    call = service.player.start(CALLER, BUSINESS)
    response = service.http.delete(f"/api/accounts/{account['id']}", headers=service.admin())
    assert response.status_code == 200 and response.json()["status"] == "closed"
    assert "<Hangup" in service.player.start(CALLER, BUSINESS).twiml
    assert service.call(call.call_sid)["call_sid"] == call.call_sid


def test_call_list_pages_and_filters(service):
    account = service.create_account()
    sids = [service.player.start(CALLER if i % 2 else "+15550142000", BUSINESS).call_sid for i in range(5)]
    url = f"/api/accounts/{account['id']}/calls"
    page = service.http.get(url, params={"limit": 2}, headers=service.admin()).json()
    assert page["total"] == 5 and [c["call_sid"] for c in page["items"]] == sids[::-1][:2]
    assert page["next_offset"] == 2
    last = service.http.get(url, params={"limit": 2, "offset": 4}, headers=service.admin()).json()
    assert [c["call_sid"] for c in last["items"]] == [sids[0]] and last["next_offset"] is None
    mine = service.http.get(url, params={"caller": CALLER}, headers=service.admin()).json()
    assert {c["from"] for c in mine["items"]} == {CALLER} and mine["total"] == 2
    future = service.http.get(url, params={"since": "2100-01-01T00:00:00Z"}, headers=service.admin()).json()
    assert future["total"] == 0
    assert service.http.get(url, params={"since": "2020-01-01T00:00:00"}, headers=service.admin()).status_code == 422
    assert service.http.get(url, params={"caller": "5551234"}, headers=service.admin()).status_code == 422


def test_recording_redirects_to_a_short_lived_presigned_url_and_is_audited(service):
    import httpx

    from receptionist.core.models import AuditEvent, Call, Recording
    from receptionist.storage.objects import ObjectTags, recording_key

    account = service.create_account()
    call = service.player.start(CALLER, BUSINESS)
    svc = service.app.state.services
    key = recording_key(account["id"], call.call_sid, "wav")
    svc.store.put(key, b"RIFF-audio-bytes", "audio/wav", ObjectTags(account["id"], 90, False))
    assert service.http.get(f"/api/calls/{call.call_sid}/recording", headers=service.admin()).status_code == 404
    with svc.db.session() as session:
        row = session.query(Call).filter_by(call_sid=call.call_sid).one()
        session.add(Recording(recording_sid="RE1" + call.call_sid[3:], call_id=row.id, media_url="", audio_key=key))
    response = service.http.get(f"/api/calls/{call.call_sid}/recording", headers=service.admin(),
                                follow_redirects=False)
    assert response.status_code == 302
    location = response.headers["location"]
    assert "X-Amz-Expires=900" in location
    assert httpx.get(location).content == b"RIFF-audio-bytes"
    assert httpx.get(location.replace("X-Amz-Signature=", "X-Amz-Signature=0")).status_code == 403
    service.call(call.call_sid)
    with svc.db.session() as session:
        actions = [e.action for e in session.query(AuditEvent).filter_by(call_sid=call.call_sid)]
    assert actions.count("recording.read") == 1 and actions.count("transcript.read") == 1


def test_readyz_and_metrics(make_settings, database_url, twilio_api):
    from tests.support.service import serve as _serve

    served = _serve(make_settings(database_url, metrics_token=secrets.token_hex(16)), twilio_api)
    service = next(served)
    ready = service.http.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "redis": "ok", "s3": "ok"}
    service.create_account()
    service.player.start(CALLER, BUSINESS)
    metrics = service.http.get("/metrics", headers={"Authorization": f"Bearer {service.settings.metrics_token}"}).text
    served.close()
    assert 'receptionist_calls{outcome="in-progress"} 1.0' in metrics
    assert "receptionist_http_request_duration_seconds_bucket" in metrics
    assert 'route="/twilio/voice"' in metrics
    assert 'receptionist_jobs{queue="recordings",state="queued"}' in metrics


def test_readyz_reports_what_is_down(make_settings, sqlite_database):
    from tests.support.service import serve as _serve

    served = _serve(make_settings(sqlite_database, redis_url="redis://127.0.0.1:1/0"))
    service = next(served)
    try:
        response = service.http.get("/readyz")
        assert response.status_code == 503
        checks = response.json()["checks"]
        assert checks["database"] == "ok" and checks["s3"] == "ok" and "ConnectionError" in checks["redis"]
    finally:
        served.close()


def test_openapi_documents_the_api(service):
    schema = service.http.get("/openapi.json").json()
    assert {"/api/accounts", "/api/accounts/{account_id}", "/api/calls/{call_sid}"} <= set(schema["paths"])
    assert service.http.get("/docs").status_code == 200


def test_the_audit_log_names_every_field_a_change_made(service):
    from sqlalchemy import select

    from receptionist.core.models import AuditEvent

    account = service.create_account()
    own_numbers(service.settings, ["+15550100201"])
    changed = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                 json={"phone_numbers": [BUSINESS, "+15550100201"], "greeting": "Hello there."})
    assert changed.status_code == 200, changed.text
    with service.app.state.services.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "account.update")).one()
    assert event.detail["fields"] == ["greeting", "phone_numbers"]
    assert event.detail["phone_numbers"] == {"from": [BUSINESS], "to": [BUSINESS, "+15550100201"]}
