"""The dashboard's world: two accounts with their users, and finished calls made on the served app."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
from sqlalchemy import select

from receptionist.core.models import Call, Recording
from receptionist.storage.objects import ObjectTags, recording_key
from tests.support.service import Service

# Plain http, as the served test app is: a Secure cookie would never come back to it (so these
# tests say RECEPTIONIST_ALLOW_PLAIN_HTTP, as the demo does).
PUBLIC_URL = "http://receptionist.test"
NUMBER_A, NUMBER_B = "+15550100201", "+15550100202"
WHEN = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
TRANSCRIPT = [
    {"speaker": "receptionist", "start": 0.0, "end": 2.5, "text": "Thanks for calling Acme Plumbing."},
    {"speaker": "caller", "start": 3.0, "end": 7.5, "text": "My water heater is leaking in the basement."},
]


@dataclass
class Team:
    service: Service
    account: dict
    other: dict
    tokens: dict[str, str]

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.service.url, timeout=30.0)

    @contextmanager
    def signed_in(self, who: str) -> Iterator[httpx.Client]:
        with self.client() as http:
            response = sign_in(http, self.tokens[who])
            assert response.status_code == 303, response.text
            yield http


def add_user(service: Service, account_id: str, email: str, role: str) -> str:
    response = service.http.post(f"/api/accounts/{account_id}/users", headers=service.admin(),
                                 json={"email": email, "role": role})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def make_team(service: Service) -> Team:
    account = service.create_account(phone_numbers=[NUMBER_A], name="Acme Plumbing")
    other = service.create_account(phone_numbers=[NUMBER_B], name="Bayside Roofing")
    tokens = {"admin": service.settings.admin_token,
              "owner": add_user(service, account["id"], "owner@acme.example", "owner"),
              "member": add_user(service, account["id"], "member@acme.example", "member"),
              "owner_b": add_user(service, other["id"], "owner@bayside.example", "owner")}
    return Team(service, account, other, tokens)


def make_call(service: Service, to_number: str, caller: str, *, started_at: datetime, duration_s: int = 65,
              outcome: str = "answered", summary: str | None = "Leaking water heater in Springfield.",
              transcript: list | None = None, lead: dict | None = None, recording: bytes | None = None) -> str:
    """A finished, processed call: played in through the voice webhook, then filled in as the worker would."""
    played = service.player.start(caller, to_number)
    svc = service.app.state.services
    with svc.db.session() as session:
        call = session.scalar(select(Call).where(Call.call_sid == played.call_sid))
        call.started_at, call.ended_at = started_at, started_at + timedelta(seconds=duration_s)
        call.duration_s, call.outcome, call.twilio_status = duration_s, outcome, "completed"
        call.summary, call.transcript, call.lead, call.processing_status = summary, transcript, lead, "done"
        call.expires_at = started_at + timedelta(days=call.retention_days)
        if recording is not None:
            key = recording_key(call.account_id, call.call_sid, "wav")
            svc.store.put(key, recording, "audio/wav", ObjectTags(call.account_id, call.retention_days, False))
            session.add(Recording(recording_sid="RE" + call.call_sid[2:], call_id=call.id, media_url="",
                                  status="done", audio_key=key))
    return played.call_sid


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(http: httpx.Client, token: str, next_path: str | None = None) -> httpx.Response:
    form = http.get("/signin")
    assert form.status_code == 200, form.text
    data = {"csrf": csrf_of(form.text), "token": token}
    if next_path:
        data["next"] = next_path
    return http.post("/signin", data=data)
