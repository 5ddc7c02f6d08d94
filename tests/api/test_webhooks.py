"""The webhook routes as DESIGN.md names them: the secret shown once, bad URLs refused with the
reason, rotation, the delivery log and "send again"."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from receptionist.core.models import AuditEvent, Call, WebhookDelivery
from receptionist.webhooks import events


@pytest.fixture
def account(pg_service):
    return pg_service.create_account()


def base(account) -> str:
    return f"/api/accounts/{account['id']}/webhooks"


def test_create_shows_the_secret_once_and_lists_without_it(pg_service, account):
    http, admin = pg_service.http, pg_service.admin()
    created = http.post(base(account), headers=admin,
                        json={"url": "https://93.184.215.14/hook", "events": ["call.completed", "lead.captured"]})
    assert created.status_code == 201, created.text
    body = created.json()
    assert set(body) >= {"id", "url", "events", "enabled", "secret"} and body["secret"].startswith("whsec_")
    assert body["enabled"] is True and body["events"] == ["call.completed", "lead.captured"]
    listed = http.get(base(account), headers=admin).json()
    assert [e["id"] for e in listed] == [body["id"]] and "secret" not in listed[0]
    assert "secret" not in http.get(f"{base(account)}/{body['id']}", headers=admin).json()
    with pg_service.app.state.services.db.session() as session:
        details = [a.detail for a in session.scalars(select(AuditEvent).where(AuditEvent.action == "webhook.add"))]
    assert details and body["secret"] not in str(details)


@pytest.mark.parametrize("url, needle", [
    ("http://93.184.215.14/hook", "https"),
    ("https://127.0.0.1/hook", "loopback"),
    ("https://10.0.0.5/hook", "private"),
    ("https://169.254.169.254/latest/meta-data", "metadata"),
    ("https://100.64.0.1/hook", "public"),
])
def test_bad_urls_are_refused_with_the_reason(pg_service, account, url, needle):
    response = pg_service.http.post(base(account), headers=pg_service.admin(), json={"url": url, "events": ["call.missed"]})
    assert response.status_code == 422 and needle in response.json()["error"]["message"]


def test_unknown_events_are_refused(pg_service, account):
    response = pg_service.http.post(base(account), headers=pg_service.admin(),
                                    json={"url": "https://93.184.215.14/", "events": ["call.started"]})
    assert response.status_code == 422 and "call.started" in response.json()["error"]["message"]


def test_patch_rotates_disables_and_delete_removes(pg_service, account):
    http, admin = pg_service.http, pg_service.admin()
    created = http.post(base(account), headers=admin, json={"url": "https://93.184.215.14/", "events": ["call.missed"]}).json()
    rotated = http.patch(f"{base(account)}/{created['id']}", headers=admin, json={"rotate_secret": True}).json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
    off = http.patch(f"{base(account)}/{created['id']}", headers=admin, json={"enabled": False}).json()
    assert off["enabled"] is False and "secret" not in off
    assert http.delete(f"{base(account)}/{created['id']}", headers=admin).status_code == 204
    assert http.get(f"{base(account)}/{created['id']}", headers=admin).status_code == 404


def test_the_delivery_log_and_send_again(pg_service, account):
    http, admin, svc = pg_service.http, pg_service.admin(), pg_service.app.state.services
    created = http.post(base(account), headers=admin, json={"url": "https://93.184.215.14/", "events": ["call.completed"]}).json()
    call = pg_service.player.start("+15550142367", account["phone_numbers"][0])
    with svc.db.session() as session:
        row = session.scalar(select(Call).where(Call.call_sid == call.call_sid))
        row.outcome = "answered"
        [delivery_id] = events.call_ended(session, row, pg_service.settings.public_url)
        delivery = session.get(WebhookDelivery, delivery_id)
        delivery.status, delivery.attempts, delivery.last_status_code, delivery.last_error = "failed", 1, 404, "HTTP 404"
        delivery.log = [{"attempt": 1, "at": "2026-12-01T00:00:00+00:00", "status_code": 404, "error": "HTTP 404",
                         "duration_ms": 12}]
    log = http.get(f"{base(account)}/{created['id']}/deliveries", headers=admin).json()
    assert [(d["event"], d["status"], d["attempts"], d["last_status_code"]) for d in log] == [
        ("call.completed", "failed", 1, 404)]
    assert log[0]["webhook_id"] == events.event_id("call.completed", call.call_sid) and len(log[0]["log"]) == 1
    again = http.post(f"/api/webhook-deliveries/{delivery_id}/retry", headers=admin)
    assert again.status_code == 202 and again.json()["status"] == "pending"
    assert again.json()["webhook_id"] == log[0]["webhook_id"]
    assert svc.queue.queue.fetch_job(f"webhook-{delivery_id}-a1") is not None
    assert http.post("/api/webhook-deliveries/999999/retry", headers=admin).status_code == 404
