"""Tenant isolation: every API route × every kind of caller, generated from the app's route table.

A route added to the app without a line in POLICY fails `test_every_api_route_has_a_policy`, so no
route can escape this matrix. Another account's resources answer 404 (their existence must not
leak), a known user without the role 403, no token or an unknown one 401.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

import pytest
from fastapi.routing import APIRoute

from receptionist.app import create_app
from receptionist.calls import screening
from receptionist.webhooks import endpoints as webhook_endpoints
from receptionist.webhooks import events as webhook_events
from receptionist.core.models import Call, Recording
from receptionist.settings import Settings
from receptionist.storage.objects import ObjectTags, recording_key
from tests.support.service import own_numbers
from tests.support.world import ACCOUNT

PRINCIPALS = ("admin", "owner_a", "member_a", "owner_b", "no_token", "bad_token")
DENIED = {"no_token": 401, "bad_token": 401}

# (method, path with {} for parameters) → (status when allowed, roles allowed on account A's resources)
POLICY: dict[tuple[str, str], tuple[int, set[str]]] = {
    ("POST", "/api/accounts"): (201, {"admin"}),
    ("GET", "/api/accounts/{}"): (200, {"admin", "owner_a", "member_a"}),
    ("PATCH", "/api/accounts/{}"): (200, {"admin", "owner_a"}),
    ("DELETE", "/api/accounts/{}"): (200, {"admin"}),
    ("POST", "/api/accounts/{}/users"): (201, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/calls"): (200, {"admin", "owner_a", "member_a"}),
    ("GET", "/api/calls/{}"): (200, {"admin", "owner_a", "member_a"}),
    ("PATCH", "/api/calls/{}"): (200, {"admin", "owner_a"}),
    ("DELETE", "/api/calls/{}"): (200, {"admin", "owner_a"}),
    ("GET", "/api/calls/{}/recording"): (302, {"admin", "owner_a", "member_a"}),
    ("GET", "/api/accounts/{}/export"): (200, {"admin", "owner_a"}),
    ("DELETE", "/api/accounts/{}/callers/{}"): (200, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/users"): (200, {"admin", "owner_a"}),
    ("DELETE", "/api/accounts/{}/users/{}"): (200, {"admin", "owner_a"}),
    ("POST", "/api/accounts/{}/users/{}/token"): (200, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/blocklist"): (200, {"admin", "owner_a", "member_a"}),
    ("POST", "/api/accounts/{}/blocklist"): (201, {"admin", "owner_a"}),
    ("DELETE", "/api/accounts/{}/blocklist/{}"): (204, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/webhooks"): (200, {"admin", "owner_a", "member_a"}),
    ("POST", "/api/accounts/{}/webhooks"): (201, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/webhooks/{}"): (200, {"admin", "owner_a", "member_a"}),
    ("PATCH", "/api/accounts/{}/webhooks/{}"): (200, {"admin", "owner_a"}),
    ("DELETE", "/api/accounts/{}/webhooks/{}"): (204, {"admin", "owner_a"}),
    ("GET", "/api/accounts/{}/webhooks/{}/deliveries"): (200, {"admin", "owner_a", "member_a"}),
    ("POST", "/api/webhook-deliveries/{}/retry"): (202, {"admin", "owner_a"}),
}


def walk(routes):
    """Every APIRoute, descending into included routers (FastAPI keeps those as their own nodes)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from walk(route.original_router.routes)


def api_routes() -> list[tuple[str, str]]:
    app = create_app(Settings(_env_file=None, public_url="https://receptionist.example.com"), prepare=False)
    found = set()
    for route in walk(app.routes):
        if route.path.startswith("/api/"):
            for method in route.methods - {"HEAD", "OPTIONS"}:
                found.add((method, route.path))
    assert found, "no API routes found: the route walker no longer understands FastAPI's route table"
    return sorted(found)


ROUTES = api_routes()


def shape(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def expected(method: str, path: str, who: str) -> int:
    allowed_status, allowed = POLICY[(method, shape(path))]
    if who in DENIED:
        return DENIED[who]
    if who in allowed:
        return allowed_status
    if method == "POST" and shape(path) == "/api/accounts":
        return 403  # no account to hide: creating accounts is simply an admin's job
    if who == "owner_b":
        return 404  # account A's resources do not exist for account B
    return 403


def test_every_api_route_has_a_policy():
    missing = [r for r in ROUTES if (r[0], shape(r[1])) not in POLICY]
    assert not missing, f"routes without a line in POLICY: {missing}"


@dataclass
class Tenants:
    account_a: dict
    account_b: dict
    call_sid: str
    caller: str
    tokens: dict[str, str | None]
    user_id: str  # a member of account A whom the team routes act on
    webhook_id: str  # an endpoint of account A, with one delivery
    delivery_id: int


@pytest.fixture
def tenants(pg_service) -> Tenants:
    service = pg_service
    a = service.create_account(phone_numbers=["+15550100201"], name="Acme Plumbing")
    b = service.create_account(phone_numbers=["+15550100202"], name="Bayside Roofing")
    tokens = {"admin": service.settings.admin_token, "no_token": None, "bad_token": "rcp_" + secrets.token_urlsafe(32)}
    for name, account, role in (("owner_a", a, "owner"), ("member_a", a, "member"), ("owner_b", b, "owner")):
        response = service.http.post(f"/api/accounts/{account['id']}/users", headers=service.admin(),
                                     json={"email": f"{name}@example.com", "role": role})
        assert response.status_code == 201, response.text
        tokens[name] = response.json()["token"]
    target = service.http.post(f"/api/accounts/{a['id']}/users", headers=service.admin(),
                               json={"email": "target@example.com", "role": "member"}).json()
    own_numbers(service.settings, ["+15550100299"])  # what the account-creation request routes
    caller = "+15550142999"
    call = service.player.start(caller, "+15550100201")
    svc = service.app.state.services
    key = recording_key(a["id"], call.call_sid, "wav")
    svc.store.put(key, b"RIFF....WAVE", "audio/wav", ObjectTags(a["id"], 90, False))
    with svc.db.session() as session:
        row = session.query(Call).filter_by(call_sid=call.call_sid).one()
        session.add(Recording(recording_sid="RE" + call.call_sid[2:], call_id=row.id, media_url="", status="done",
                              audio_key=key))
        screening.add_number(session, a["id"], caller, by="test")  # what DELETE .../blocklist/{e164} removes
        endpoint = webhook_endpoints.create(session, a["id"], "https://93.184.215.14/hook", ["call.completed"],
                                            allow_private=False)
        row.outcome = "answered"
        [delivery_id] = webhook_events.call_ended(session, row, service.settings.public_url)
    return Tenants(a, b, call.call_sid, caller, tokens, target["id"], endpoint.id, delivery_id)


def request_for(method: str, path: str, t: Tenants) -> tuple[str, dict | None]:
    url = (path.replace("{account_id}", t.account_a["id"]).replace("{id}", t.account_a["id"])
           .replace("{call_sid}", t.call_sid).replace("{e164}", t.caller).replace("{caller}", t.caller)
           .replace("{user_id}", t.user_id).replace("{webhook_id}", t.webhook_id)
           .replace("{delivery_id}", str(t.delivery_id)))
    assert "{" not in url, f"unknown path parameter in {path}"
    bodies = {
        ("POST", "/api/accounts"): {**ACCOUNT, "phone_numbers": ["+15550100299"], "name": "New Co"},
        ("PATCH", "/api/accounts/{}"): {"name": "Acme Plumbing & Heating"},
        ("POST", "/api/accounts/{}/users"): {"email": "new@example.com", "role": "member"},
        ("PATCH", "/api/calls/{}"): {"training_opt_out": True},
        ("POST", "/api/accounts/{}/blocklist"): {"number": "(312) 555-0199"},
        ("POST", "/api/accounts/{}/webhooks"): {"url": "https://93.184.215.14/other", "events": ["call.missed"]},
        ("PATCH", "/api/accounts/{}/webhooks/{}"): {"events": ["call.missed", "lead.captured"]},
    }
    return url, bodies.get((method, shape(path)))


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("method, path", ROUTES)
def test_route_answers_each_caller_as_the_policy_says(pg_service, tenants, method, path, who):
    url, body = request_for(method, path, tenants)
    token = tenants.tokens[who]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = pg_service.http.request(method, url, json=body, headers=headers, follow_redirects=False)
    want = expected(method, path, who)
    assert response.status_code == want, f"{who} {method} {url}: {response.status_code} {response.text[:300]}"
    if want >= 400:
        assert set(response.json()["error"]) == {"code", "message"}


def test_a_user_of_another_account_is_not_found_through_ones_own(pg_service, tenants):
    """Account B's owner names account B in the path but account A's user: 404, and nothing happens."""
    headers = {"Authorization": f"Bearer {tenants.tokens['owner_b']}"}
    base = f"/api/accounts/{tenants.account_b['id']}/users/{tenants.user_id}"
    assert pg_service.http.delete(base, headers=headers).status_code == 404
    assert pg_service.http.post(base + "/token", headers=headers).status_code == 404
    listed = pg_service.http.get(f"/api/accounts/{tenants.account_a['id']}/users", headers=pg_service.admin()).json()
    assert tenants.user_id in {user["id"] for user in listed}


def test_foreign_and_missing_resources_look_the_same(pg_service, tenants):
    headers = {"Authorization": f"Bearer {tenants.tokens['owner_b']}"}
    foreign = pg_service.http.get(f"/api/calls/{tenants.call_sid}", headers=headers)
    missing = pg_service.http.get("/api/calls/CA" + "0" * 32, headers=headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["error"]["code"] == missing.json()["error"]["code"]
