"""The first slice of the API: accounts and calls behind the admin token."""

from __future__ import annotations

from tests.conftest import ACCOUNT


def test_healthz(service):
    assert service.http.get("/healthz").json()["status"] == "ok"


def test_account_roundtrip(service):
    created = service.create_account(alert_sms=["+15550100999"], retention_days=365, training_opt_out=True)
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
