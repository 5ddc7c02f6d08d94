"""Screening on the dashboard: "Block this number" on a call's page, the blocklist and the spam
setting on the account page, and the call list filtered by what screening decided. Every test runs on
PostgreSQL and on SQLite (`database_url`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest

from receptionist.core.models import AuditEvent
from tests.support.dashboard import NUMBER_A, PUBLIC_URL, WHEN, Team, csrf_of, make_call, make_team
from tests.support.service import serve as _serve

ROBOCALLER = "+13125550177"


@pytest.fixture
def team(make_settings, database_url) -> Iterator[Team]:
    for service in _serve(make_settings(database_url, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


def blocklist_of(team: Team, account: dict | None = None) -> list[str]:
    account = account or team.account
    response = team.service.http.get(f"/api/accounts/{account['id']}/blocklist", headers=team.service.admin())
    return [row["number"] for row in response.json()]


def test_block_this_number_from_a_calls_page_refuses_the_next_call(team):
    call_sid = make_call(team.service, NUMBER_A, ROBOCALLER, started_at=WHEN)
    with team.signed_in("owner") as http:
        page = http.get(f"/calls/{call_sid}").text
        assert "Block this number" in page
        blocked = http.post(f"/calls/{call_sid}/block", data={"csrf": csrf_of(page), "blocked": "1"})
        assert blocked.status_code == 303 and blocked.headers["location"] == f"/calls/{call_sid}"
        page = http.get(f"/calls/{call_sid}").text
        assert "Unblock this number" in page and "(312) 555-0177 is blocked" in page
    assert blocklist_of(team) == [ROBOCALLER]
    assert blocklist_of(team, team.other) == []
    refused = team.service.player.start(ROBOCALLER, NUMBER_A)
    assert refused.answer.tags == ["Say", "Hangup"]
    with team.service.app.state.services.db.session() as session:
        [event] = session.query(AuditEvent).filter_by(action="blocklist.add").all()
        assert event.detail["via"] == "dashboard" and event.detail["number"] == "***0177"


def test_the_block_form_needs_its_csrf_token_and_an_owner(team):
    call_sid = make_call(team.service, NUMBER_A, ROBOCALLER, started_at=WHEN)
    with team.signed_in("owner") as http:
        http.get(f"/calls/{call_sid}")
        assert http.post(f"/calls/{call_sid}/block", data={"csrf": "forged", "blocked": "1"}).status_code == 403
    with team.signed_in("member") as http:
        page = http.get(f"/calls/{call_sid}").text
        assert "Block this number" not in page
        assert http.post(f"/calls/{call_sid}/block", data={"csrf": csrf_of(page), "blocked": "1"}).status_code == 403
    with team.signed_in("owner_b") as http:
        page = http.get("/calls").text
        assert http.post(f"/calls/{call_sid}/block", data={"csrf": csrf_of(page), "blocked": "1"}).status_code == 404
    assert blocklist_of(team) == []


def test_the_account_page_lists_adds_and_removes_blocked_numbers(team):
    with team.signed_in("owner") as http:
        csrf = csrf_of(http.get("/account").text)
        added = http.post("/account/blocklist", data={"csrf": csrf, "number": "312-555-0177"})
        assert added.status_code == 303
        page = http.get("/account").text
        assert "(312) 555-0177" in page and "Unblock" in page
        bad = http.post("/account/blocklist", data={"csrf": csrf, "number": "tomorrow"})
        assert bad.status_code == 422 and "is not a phone number" in bad.text
        assert http.post("/account/blocklist/remove", data={"csrf": csrf, "number": ROBOCALLER}).status_code == 303
        assert "No number is blocked." in http.get("/account").text
    assert blocklist_of(team) == []
    with team.signed_in("member") as http:
        page = http.get("/account").text
        assert "Blocked numbers" in page and "Spam screening" in page
        assert http.post("/account/blocklist", data={"csrf": csrf_of(page), "number": ROBOCALLER}).status_code == 403
    assert blocklist_of(team) == []


def test_the_spam_setting_is_saved_from_its_own_section(team):
    with team.signed_in("owner") as http:
        page = http.get("/account").text
        assert re.search(r'<option value="flag" selected>', page)
        saved = http.post("/account", data={"csrf": csrf_of(page), "section": "screening", "spam_screening": "block"})
        assert saved.status_code == 303 and saved.headers["location"] == "/account?saved=screening#screening"
        wrong = http.post("/account", data={"csrf": csrf_of(page), "section": "screening", "spam_screening": "x"})
        assert wrong.status_code == 422 and "Spam screening" in wrong.text
    account = team.service.http.get(f"/api/accounts/{team.account['id']}", headers=team.service.admin()).json()
    assert account["spam_screening"] == "block"


def test_the_call_list_filters_by_what_screening_decided(team):
    service = team.service
    plain = make_call(service, NUMBER_A, "+15550140001", started_at=WHEN - timedelta(hours=1))
    suspected = service.player.start("+13125550166", NUMBER_A, stir_verstat="TN-Validation-Failed-A").call_sid
    service.http.post(f"/api/accounts/{team.account['id']}/blocklist", json={"number": ROBOCALLER},
                      headers=service.admin())
    refused = service.player.start(ROBOCALLER, NUMBER_A).call_sid
    with team.signed_in("owner") as http:
        def listed(query: str) -> set[str]:
            response = http.get(f"/calls?state=all&{query}")
            assert response.status_code == 200, response.text
            return set(re.findall(r'href="/calls/(CA\w+)"', response.text)) & {plain, suspected, refused}

        assert listed("") == {plain, suspected, refused}
        assert listed("flag=suspected-spam") == {suspected}
        assert listed("flag=blocked") == {refused}
        assert listed("flag=none") == {plain}
        assert listed("outcome=blocked") == {refused}
        page = http.get("/calls?state=all&flag=blocked").text
        assert '<option value="blocked" selected>' in page and "flag=" not in re.search(
            r'<a href="([^"]*)">Clear filters', page).group(1)
        assert http.get("/calls?state=all").text.count('class="badge flag-suspected-spam"') == 1
        assert http.get("/calls?flag=spammy").status_code == 422
