"""The API's bodies are limited before they are read, and its token is checked before its body is parsed."""

from __future__ import annotations

import json

import pytest

from tests.support.service import own_numbers
from tests.support.world import ACCOUNT


def big_account(size: int) -> bytes:
    return json.dumps(ACCOUNT | {"greeting": "x" * size}).encode()


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic eDp5"}])
def test_the_token_is_checked_before_the_body_is_parsed(service, headers):
    """A body FastAPI would answer 422 for (not JSON) gets the 401 first: nobody unknown makes it parse."""
    response = service.http.post("/api/accounts", content=b"{not json" * 10_000,
                                 headers=headers | {"Content-Type": "application/json"})
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "unauthorized"
    assert service.count("accounts") == 0


def test_a_known_token_still_gets_the_body_checked(service):
    response = service.http.post("/api/accounts", content=b"{not json",
                                 headers=service.admin() | {"Content-Type": "application/json"})
    assert response.status_code == 422
    assert service.count("accounts") == 0


def test_a_declared_length_over_the_limit_is_413_and_nothing_written(service):
    body = big_account(service.settings.api_max_body)
    response = service.http.post("/api/accounts", content=body,
                                 headers=service.admin() | {"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert service.count("accounts") == 0


def test_a_streamed_body_over_the_limit_is_cut_and_nothing_written(service):
    body = big_account(3 * service.settings.api_max_body)
    response = service.http.post("/api/accounts", content=(body[i:i + 65536] for i in range(0, len(body), 65536)),
                                 headers=service.admin() | {"Content-Type": "application/json"})
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert service.count("accounts") == 0


def test_an_oversized_erasure_request_erases_nothing(service):
    """A route that never reads its body is refused by the declared length before it runs."""
    account = service.create_account()
    response = service.http.request("DELETE", f"/api/accounts/{account['id']}", headers=service.admin(),
                                    content=b"x" * (service.settings.api_max_body + 1))
    assert response.status_code == 413
    assert service.call_account(account["id"])["status"] == "active"


def test_the_twilio_limit_does_not_apply_to_the_api(service):
    """The API's bodies may be larger than a webhook's (here: padded with JSON whitespace)."""
    body = json.dumps(ACCOUNT).encode() + b" " * (2 * service.settings.twilio_max_body)
    assert len(body) < service.settings.api_max_body
    own_numbers(service.settings, ACCOUNT["phone_numbers"])
    response = service.http.post("/api/accounts", content=body,
                                 headers=service.admin() | {"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_every_api_route_checks_its_token_first(service):
    from receptionist.api.deps import TokenFirst
    from receptionist.api.routes import accounts, calls, privacy, webhooks

    routes = [route for module in (accounts, calls, privacy, webhooks) for route in module.router.routes]
    assert all(isinstance(route, TokenFirst) for route in routes)
    served = {path for path in service.app.openapi()["paths"] if path.startswith("/api/")}
    assert served and served == {route.path for route in routes}
