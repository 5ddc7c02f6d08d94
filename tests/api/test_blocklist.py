"""The blocklist and `spam_screening` through the API (who may do what: tests/api/test_authz.py)."""

from __future__ import annotations

from tests.support.world import BUSINESS_NUMBER


def test_numbers_are_stored_as_e164_listed_and_removed(service):
    account = service.create_account()
    url = f"/api/accounts/{account['id']}/blocklist"
    added = service.http.post(url, json={"number": "(312) 555-0177"}, headers=service.admin())
    assert added.status_code == 201 and added.json()["number"] == "+13125550177"
    again = service.http.post(url, json={"number": "+1 312 555 0177"}, headers=service.admin())
    assert again.status_code == 200 and again.json()["created_at"] == added.json()["created_at"]
    assert [row["number"] for row in service.http.get(url, headers=service.admin()).json()] == ["+13125550177"]
    assert service.http.delete(f"{url}/+13125550177", headers=service.admin()).status_code == 204
    missing = service.http.delete(f"{url}/+13125550177", headers=service.admin())
    assert missing.status_code == 404 and "not on this account's blocklist" in missing.json()["error"]["message"]
    assert service.http.get(url, headers=service.admin()).json() == []


def test_what_is_not_a_number_is_a_clear_422(service):
    account = service.create_account()
    url = f"/api/accounts/{account['id']}/blocklist"
    for body in ({"number": "not a number"}, {"number": "12"}, {"number": ""}, {}, {"number": "+1", "extra": 1}):
        response = service.http.post(url, json=body, headers=service.admin())
        assert response.status_code == 422, (body, response.text)
        assert set(response.json()["error"]) == {"code", "message"}
    own = service.http.post(url, json={"number": BUSINESS_NUMBER}, headers=service.admin())
    assert own.status_code == 422 and "own numbers" in own.json()["error"]["message"]
    assert service.http.get(url, headers=service.admin()).json() == []


def test_spam_screening_defaults_to_flag_and_takes_only_its_three_values(service):
    account = service.create_account()
    assert account["spam_screening"] == "flag"
    url = f"/api/accounts/{account['id']}"
    assert service.http.patch(url, json={"spam_screening": "block"}, headers=service.admin()).json()[
        "spam_screening"] == "block"
    refused = service.http.patch(url, json={"spam_screening": "sometimes"}, headers=service.admin())
    assert refused.status_code == 422 and "spam_screening" in refused.json()["error"]["message"]
    assert service.call_account(account["id"])["spam_screening"] == "block"
