"""Webhooks on the account page: owners add (the secret shown once) and delete endpoints and send a
delivery again from its log; members see the endpoints and the log, without the forms."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from receptionist.core.models import Call, WebhookDelivery
from receptionist.webhooks import events
from tests.support.dashboard import NUMBER_A, PUBLIC_URL, WHEN, Team, csrf_of, make_call, make_team
from tests.support.service import serve as _serve


@pytest.fixture
def team(make_settings, pg_database) -> Iterator[Team]:
    for service in _serve(make_settings(pg_database, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


def endpoints_of(team: Team) -> list[dict]:
    return team.service.http.get(f"/api/accounts/{team.account['id']}/webhooks", headers=team.service.admin()).json()


def test_owner_adds_sees_the_log_sends_again_and_deletes(team):
    with team.signed_in("owner") as owner, team.signed_in("member") as member:
        page = owner.get("/account")
        assert "No webhook endpoint." in page.text
        csrf = csrf_of(page.text)
        refused = owner.post("/account/webhooks", data={"csrf": csrf, "url": "https://127.0.0.1/x",
                                                        "event_call.completed": "1"})
        assert refused.status_code == 422 and "loopback" in refused.text and endpoints_of(team) == []
        added = owner.post("/account/webhooks", data={"csrf": csrf, "url": "https://93.184.215.14/hook",
                                                      "event_call.completed": "1", "event_call.erased": "1"})
        assert added.status_code == 200
        secret = re.search(r"<code>(whsec_[^<]+)</code>", added.text).group(1)
        [endpoint] = endpoints_of(team)
        assert endpoint["events"] == ["call.completed", "call.erased"] and "secret" not in endpoint
        assert secret not in owner.get("/account").text  # shown once

        call = make_call(team.service, NUMBER_A, "+15550142367", started_at=WHEN)
        db = team.service.app.state.services.db
        with db.session() as session:
            row = session.scalar(select(Call).where(Call.call_sid == call))
            [delivery_id] = events.call_ended(session, row, PUBLIC_URL)
            delivery = session.get(WebhookDelivery, delivery_id)
            delivery.status, delivery.attempts, delivery.last_status_code = "failed", 1, 410
        page = owner.get("/account")
        assert "call.completed" in page.text and "410" in page.text and "Send again" in page.text
        seen = member.get("/account")
        assert "Send again" not in seen.text and 'action="/account/webhooks"' not in seen.text
        assert member.post(f"/account/webhook-deliveries/{delivery_id}/retry",
                           data={"csrf": csrf_of(seen.text)}).status_code == 403
        again = owner.post(f"/account/webhook-deliveries/{delivery_id}/retry", data={"csrf": csrf})
        assert again.status_code == 303
        with db.session() as session:
            assert session.get(WebhookDelivery, delivery_id).status == "pending"
        assert owner.post(f"/account/webhooks/{endpoint['id']}/remove", data={"csrf": "forged"}).status_code == 403
        gone = owner.post(f"/account/webhooks/{endpoint['id']}/remove", data={"csrf": csrf})
        assert gone.status_code == 303 and endpoints_of(team) == []
