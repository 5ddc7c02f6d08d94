"""The app served by uvicorn on the real test services, and the handles tests drive it through."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import select, text

from receptionist.app import create_app
from receptionist.core.db import Database
from receptionist.core.models import Base
from receptionist.settings import Settings
from sandbox import LocalTwilioApi
from sandbox.call_player import CallPlayer
from sandbox.served_app import ServedApp
from tests.support.world import ACCOUNT


def clean(url: str, *, forget_deployment: bool = False) -> None:
    """Empty every table of the database at `url`. It stays the deployment it was (so an app served
    again in one test still matches its bucket's marker) unless `forget_deployment`."""
    db = Database(url)
    with db.engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name != "deployment" or forget_deployment:
                conn.execute(text(f"DELETE FROM {table.name}"))
    db.dispose()


@dataclass
class Service:
    """The app served by uvicorn on real services, plus handles tests need."""

    settings: Settings
    url: str
    http: httpx.Client
    player: CallPlayer
    app: object

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.admin_token}"}

    def create_account(self, **overrides) -> dict:
        body = {**ACCOUNT, **overrides}
        own_numbers(self.settings, body.get("phone_numbers") or [])
        response = self.http.post("/api/accounts", json=body, headers=self.admin())
        assert response.status_code == 201, response.text
        return response.json()

    def call_account(self, account_id: str) -> dict:
        response = self.http.get(f"/api/accounts/{account_id}", headers=self.admin())
        assert response.status_code == 200, response.text
        return response.json()

    def call(self, call_sid: str) -> dict:
        response = self.http.get(f"/api/calls/{call_sid}", headers=self.admin())
        assert response.status_code == 200, response.text
        return response.json()

    def hear(self, call_sid: str, turns: list[tuple[str, str]]) -> None:
        """Store live turns on the call as the ConversationRelay session does while the caller talks."""
        from receptionist.core.models import Call

        with self.app.state.services.db.session() as session:
            call = session.scalar(select(Call).where(Call.call_sid == call_sid))
            call.conversation = [{"speaker": speaker, "text": text_, "at": call.started_at.isoformat()}
                                 for speaker, text_ in turns]
            call.relay_attempt = max(call.relay_attempt or 0, 1)  # a relay session claimed the call to store them

    def said(self, call_sid: str) -> list[dict]:
        """The `<Say>` lines the call's TwiML spoke after the relay (`calls.said`), as stored."""
        from receptionist.core.models import Call

        with self.app.state.services.db.session() as session:
            return list(session.scalar(select(Call.said).where(Call.call_sid == call_sid)) or [])

    def count(self, table: str) -> int:
        db = self.app.state.services.db
        with db.engine.connect() as conn:
            return conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()


def own_numbers(settings: Settings, numbers: list[str]) -> None:
    """Buy `numbers` into the Twilio account (the stand-in's), as an operator does before an admin
    assigns them: an account may only route numbers its deployment's Twilio account owns."""
    from twilio.rest import Client

    client = Client(settings.twilio_account_sid, settings.twilio_auth_token)
    client.edge = client.region = None
    client.api.base_url = settings.twilio_api_url
    owned = {n.phone_number for n in client.incoming_phone_numbers.list()}
    for number in numbers:
        if number not in owned:
            client.incoming_phone_numbers.create(phone_number=number)


def serve(settings: Settings, twilio: LocalTwilioApi | None = None) -> Iterator[Service]:
    """Serve the app on an emptied database; a generator, so `yield from serve(...)` in a fixture.
    With the REST stand-in `twilio`, the player can also report recordings and deliver texts."""
    clean(settings.database_url)
    app = create_app(settings)
    with ServedApp(app) as served, httpx.Client(base_url=served.url, timeout=30.0) as http:
        # Twilio signs over the public URL; the proxy in front of us forwards to the served port.
        player = CallPlayer(served.url, settings.twilio_account_sid, settings.twilio_auth_token,
                            public_url=settings.public_url, client=http, twilio=twilio)
        yield Service(settings, served.url, http, player, app)


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]
