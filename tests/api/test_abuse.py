"""Hard to abuse: who routes numbers, where calls and texts may go, tokens that die, text that cannot break things."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from receptionist.core.models import AuditEvent
from tests.support.service import own_numbers
from tests.support.world import ACCOUNT, BUSINESS_NUMBER


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def add_user(service, account_id: str, role: str = "owner", **extra) -> dict:
    response = service.http.post(f"/api/accounts/{account_id}/users", headers=service.admin(),
                                 json={"email": f"{role}-{len(extra)}@acme.example", "role": role, **extra})
    assert response.status_code == 201, response.text
    return response.json()


# -- numbers belong to whoever the admin says ----------------------------------------------------------------

def test_an_owner_cannot_route_numbers_and_learns_nothing_about_other_tenants(pg_service):
    service = pg_service
    mine = service.create_account()
    theirs = service.create_account(name="Bayside Roofing", phone_numbers=["+15550100202"])
    owner = add_user(service, mine["id"])
    own_numbers(service.settings, ["+15550100203"])
    for numbers in (["+15550100203"], ["+15550100202"], [BUSINESS_NUMBER, "+15550100202"]):
        response = service.http.patch(f"/api/accounts/{mine['id']}", headers=bearer(owner["token"]),
                                      json={"phone_numbers": numbers})
        assert response.status_code == 403, response.text
        assert "+1555" not in response.text and theirs["id"] not in response.text
    assert service.call_account(mine["id"])["phone_numbers"] == [BUSINESS_NUMBER]


def test_an_admin_routes_only_numbers_the_twilio_account_owns(pg_service, twilio_api):
    service = pg_service
    account = service.create_account()
    response = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                  json={"phone_numbers": [BUSINESS_NUMBER, "+15550100777"]})
    assert response.status_code == 422
    assert "+15550100777" in response.json()["error"]["message"] and "Twilio" in response.json()["error"]["message"]
    created = service.http.post("/api/accounts", headers=service.admin(),
                                json={**ACCOUNT, "name": "Other", "phone_numbers": ["+15550100778"]})
    assert created.status_code == 422
    twilio_api.add_incoming_number("+15550100777")
    response = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                  json={"phone_numbers": [BUSINESS_NUMBER, "+15550100777"]})
    assert response.status_code == 200, response.text
    assert response.json()["phone_numbers"] == [BUSINESS_NUMBER, "+15550100777"]
    lookups = [path for method, path in twilio_api.requests if path.endswith("/IncomingPhoneNumbers.json")]
    assert lookups, "the assignment was not checked with Twilio"


def test_a_twilio_outage_during_the_check_changes_nothing(pg_service, twilio_api):
    service = pg_service
    account = service.create_account()
    twilio_api.fail_next(40, 503)
    try:
        response = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                      json={"phone_numbers": [BUSINESS_NUMBER, "+15550100779"]})
    finally:
        twilio_api.clear_failures()
    assert response.status_code == 503
    assert service.call_account(account["id"])["phone_numbers"] == [BUSINESS_NUMBER]


def test_the_standin_lists_incoming_numbers_as_twilio_does(twilio_api):
    """The real twilio client reads the stand-in's pages: exact and partial filters, paging."""
    client = twilio_api.client()
    for n in range(5):
        twilio_api.add_incoming_number(f"+1555019{n:04d}")
    assert [n.phone_number for n in client.incoming_phone_numbers.list(phone_number="+15550190003")] == ["+15550190003"]
    partial = {n.phone_number for n in client.incoming_phone_numbers.list(phone_number="555019000*")}
    assert partial >= {f"+1555019000{n}" for n in range(5)}
    paged = client.incoming_phone_numbers.list(phone_number="+1555019", page_size=2)
    assert len(paged) >= 5 and all(n.sid.startswith("PN") for n in paged)


# -- outbound destinations are fenced ------------------------------------------------------------------------

@pytest.mark.parametrize("field, value, why", [
    ("transfer_number", "+19005551234", "premium-rate"),
    ("transfer_number", "+447911123456", "outside the countries"),
    ("alert_sms", ["+15550142367"], "not a number in use"),
    ("alert_sms", ["+18005551234"], "toll-free"),
    ("transfer_number", "+15005550006", "personal"),
])
def test_transfer_and_alert_numbers_outside_the_fence_are_refused(service, field, value, why):
    response = service.http.post("/api/accounts", headers=service.admin(), json={**ACCOUNT, field: value})
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert field in message and why in message
    assert service.count("accounts") == 0


def test_the_allowed_countries_are_the_deployments_setting(make_settings, pg_database):
    from tests.support.service import serve

    for service in serve(make_settings(pg_database, outbound_countries="US,CA,GB")):
        created = service.create_account(transfer_number="+447400123456", alert_sms=["+14165550123"])
        assert created["transfer_number"] == "+447400123456"
        response = service.http.post("/api/accounts", headers=service.admin(),
                                     json={**ACCOUNT, "name": "Guernsey", "transfer_number": "+447911123456"})
        assert response.status_code == 422 and "GG" in response.json()["error"]["message"]


# -- tokens die ----------------------------------------------------------------------------------------------

def test_closing_an_account_ends_its_users_tokens_everywhere(pg_service):
    service = pg_service
    account = service.create_account()
    owner = add_user(service, account["id"])
    assert service.http.get(f"/api/accounts/{account['id']}/calls", headers=bearer(owner["token"])).status_code == 200
    assert service.http.delete(f"/api/accounts/{account['id']}", headers=service.admin()).status_code == 200
    for method, path in (("GET", f"/api/accounts/{account['id']}/calls"), ("GET", f"/api/accounts/{account['id']}"),
                         ("POST", f"/api/accounts/{account['id']}/users")):
        response = service.http.request(method, path, headers=bearer(owner["token"]),
                                        json={"email": "x@acme.example", "role": "owner"})
        assert response.status_code == 401, (method, path, response.text)
        assert response.json()["error"]["message"] == "the account is closed"
    # The dashboard refuses the same token: tests/dashboard/test_pages.py::test_a_deleted_user_or_a_closed_account_is_signed_out


def test_owners_list_remove_and_rotate_and_every_change_is_audited(pg_service):
    service = pg_service
    account = service.create_account()
    owner = add_user(service, account["id"])
    member = add_user(service, account["id"], role="member")
    base = f"/api/accounts/{account['id']}/users"
    listed = service.http.get(base, headers=bearer(owner["token"]))
    assert listed.status_code == 200
    assert {(u["email"], u["role"]) for u in listed.json()} == {(owner["email"], "owner"), (member["email"], "member")}
    assert "token" not in listed.text
    assert service.http.get(base, headers=bearer(member["token"])).status_code == 403

    rotated = service.http.post(f"{base}/{member['id']}/token", headers=bearer(owner["token"]))
    assert rotated.status_code == 200
    assert set(rotated.json()) == {"id", "email", "role", "token"}
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(member["token"])).status_code == 401
    new = rotated.json()["token"]
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(new)).status_code == 200

    assert service.http.delete(f"{base}/{member['id']}", headers=bearer(owner["token"])).status_code == 200
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(new)).status_code == 401
    last_owner = service.http.delete(f"{base}/{owner['id']}", headers=bearer(owner["token"]))
    assert last_owner.status_code == 409 and "last owner" in last_owner.json()["error"]["message"]
    with service.app.state.services.db.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions.count("user.create") == 2 and "user.token-rotate" in actions and "user.remove" in actions


def test_a_token_with_an_expiry_stops_working_then(pg_service):
    service = pg_service
    account = service.create_account()
    soon = datetime.now(timezone.utc) + timedelta(days=1)
    user = add_user(service, account["id"], expires_at=soon.isoformat())
    assert service.http.get(f"/api/accounts/{account['id']}", headers=bearer(user["token"])).status_code == 200
    from receptionist.core.models import User

    with service.app.state.services.db.session() as session:  # a day later
        session.get(User, user["id"]).token_expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    response = service.http.get(f"/api/accounts/{account['id']}", headers=bearer(user["token"]))
    assert response.status_code == 401 and "expired" in response.json()["error"]["message"]
    past = service.http.post(f"/api/accounts/{account['id']}/users", headers=service.admin(),
                             json={"email": "late@acme.example", "role": "member", "expires_at": "2020-01-01T00:00:00Z"})
    assert past.status_code == 422
    listed = service.http.get(f"/api/accounts/{account['id']}/users", headers=service.admin()).json()
    assert listed[0]["expires_at"] is not None


# -- every text field is validated ----------------------------------------------------------------------------

@pytest.mark.parametrize("body, field", [
    ({"name": "Acme\nPlumbing"}, "name"),
    ({"name": "Acme\u202eevil"}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "   "}, "name"),
    ({"greeting": "Hello\x00"}, "greeting"),
    ({"disclosure": "y" * 1001}, "disclosure"),
    ({"business": {"services": ["drains\r\nand more"]}}, "business.services"),
    ({"business": {"service_areas": ["z" * 201]}}, "business.service_areas"),
    ({"business": {"faq": [{"question": "Free?\u2028", "answer": "Yes"}]}}, "business.faq"),
    ({"business": {"faq": [{"question": "Free?", "answer": "a" * 2001}]}}, "business.faq"),
    ({"timezone": "America/Chicago\n"}, "timezone"),
])
def test_text_fields_refuse_control_characters_and_overlong_values(service, body, field):
    account = service.create_account()
    response = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(), json=body)
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["message"]
    assert service.call_account(account["id"])["name"] == ACCOUNT["name"]


def test_multi_line_text_keeps_its_lines(service):
    account = service.create_account()
    response = service.http.patch(f"/api/accounts/{account['id']}", headers=service.admin(),
                                  json={"greeting": "Hello!\r\nHow can we help?\tThanks."})
    assert response.status_code == 200
    assert response.json()["greeting"] == "Hello!\nHow can we help?\tThanks."
