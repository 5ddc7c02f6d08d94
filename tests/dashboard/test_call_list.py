"""The call list an owner acts from: urgency first, filters and search kept in the URL, the open,
unread and handled states (audited), and a call page that says what happened in plain words.
Every test runs on PostgreSQL and on SQLite (`database_url`)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from receptionist.calls.listing import CallQuery
from receptionist.core.errors import Invalid
from receptionist.core.models import AuditEvent, Call, Delivery
from tests.support.dashboard import NUMBER_A, NUMBER_B, PUBLIC_URL, WHEN, Team, csrf_of, make_call, make_team
from tests.support.service import serve as _serve


@pytest.fixture
def team(make_settings, database_url) -> Iterator[Team]:
    for service in _serve(make_settings(database_url, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


def lead(urgency: str | None, reason: str, name: str | None = None, callback: str | None = None) -> dict:
    return {"name": name, "callback_number": callback, "reason": reason, "urgency": urgency}


def three_calls(team: Team) -> dict[str, str]:
    """The issue's demo: a no-rush drain, then an emergency, then a missed call, newest last."""
    service = team.service
    return {
        "drain": make_call(service, NUMBER_A, "+15550140001", started_at=WHEN - timedelta(hours=2),
                           lead=lead("low", "Slow kitchen drain, no rush", "Priya Natarajan"),
                           summary="Priya's kitchen drain is slow; no rush.",
                           transcript=[{"speaker": "caller", "start": 1.0, "end": 4.0,
                                        "text": "The kitchen drain is slow, no rush at all."}]),
        "emergency": make_call(service, NUMBER_A, "+15550140002", started_at=WHEN - timedelta(hours=1),
                               lead=lead("emergency", "Water coming through the ceiling", "Dana Whitfield",
                                         "+15550142367"),
                               summary="Dana has water coming through her ceiling right now.",
                               transcript=[{"speaker": "caller", "start": 2.0, "end": 6.0,
                                            "text": "There's water coming through my ceiling right now, it's an "
                                                    "emergency_100%."}]),
        "missed": make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, outcome="missed", summary=None,
                            duration_s=3),
        "other": make_call(service, NUMBER_B, "+15550140009", started_at=WHEN,
                           lead=lead("emergency", "Bayside's own emergency")),
    }


def listed(html: str, sids: dict[str, str]) -> list[str]:
    """The calls on a list page, in the order shown, by their names in `sids`."""
    found = [(html.index(f'href="/calls/{sid}"'), name) for name, sid in sids.items() if f'href="/calls/{sid}"' in html]
    return [name for _, name in sorted(found)]


def test_emergencies_come_first_and_stand_out_with_a_call_button(team):
    sids = three_calls(team)
    with team.signed_in("owner") as http:
        html = http.get("/calls").text
    assert listed(html, sids) == ["emergency", "missed", "drain"]  # urgency first, then newest; never Bayside's
    emergency = html[html.index(f'href="/calls/{sids["emergency"]}"'):html.index(f'href="/calls/{sids["missed"]}"')]
    assert '<span class="badge urgency-emergency">Emergency</span>' in emergency
    assert "Dana Whitfield" in emergency and "Water coming through the ceiling" in emergency
    assert 'href="tel:+15550142367">Call (555) 014-2367</a>' in html
    assert 'class="call urgency-emergency unread"' in html
    assert "urgency-low</span>" not in html and '<span class="badge outcome-missed">missed</span>' in html


def test_filters_and_search_narrow_the_list_and_stay_in_its_links(team):
    sids = three_calls(team)
    with team.signed_in("member") as http:
        def shown(**params) -> list[str]:
            page = http.get("/calls", params=params)
            assert page.status_code == 200, page.text
            return listed(page.text, sids)

        assert shown(urgency="emergency") == ["emergency"]
        assert shown(urgency="urgent") == ["emergency"]
        assert shown(urgency="low") == ["drain"]
        assert shown(urgency="unknown") == ["missed"]
        assert shown(outcome="missed") == ["missed"]
        assert shown(caller="+15550140001") == ["drain"]
        assert shown(caller="(555) 014-0001") == ["drain"]  # as the owner writes it
        assert shown(q="ceiling") == ["emergency"]  # summary
        assert shown(q="KITCHEN DRAIN IS SLOW") == ["drain"]  # transcript, any case
        assert shown(q="priya") == ["drain"]  # the caller's name
        assert shown(q="emergency_100%") == ["emergency"]  # LIKE's wildcards are plain characters
        assert shown(q="emergency_1000") == []
        assert shown(q="caller") == []  # the transcript's keys and speaker labels are not its words
        assert shown(q="text") == []
        assert shown(sort="newest") == ["missed", "emergency", "drain"]
        assert shown(sort="oldest") == ["drain", "emergency", "missed"]
        # Dates are days in the account's timezone (America/Chicago): WHEN is 09:00 there on 3 March.
        assert shown(since="2026-03-03", until="2026-03-03") == ["emergency", "missed", "drain"]
        assert shown(since="2026-03-04") == [] and shown(until="2026-03-02") == []
        assert shown(outcome="", urgency="", q="") == ["emergency", "missed", "drain"]  # an empty field is unset

        page = http.get("/calls", params={"urgency": "urgent", "q": "water"}).text
        assert 'name="q" value="water"' in page and '<option value="urgent" selected>' in page
        assert '<a href="/calls?state=handled&amp;urgency=urgent&amp;q=water">Handled</a>' in page
        assert 'name="next" value="/calls?urgency=urgent&amp;q=water"' in page  # buttons come back here

        for bad in ({"urgency": "panic"}, {"outcome": "lost"}, {"caller": "my cousin"}, {"since": "yesterday"},
                    {"since": "2026-03-04", "until": "2026-03-03"}, {"sort": "random"}, {"colour": "red"},
                    {"q": "x" * 201}, {"page": "0"}, {"state": "deleted"}):
            refused = http.get("/calls", params=bad)
            assert refused.status_code == 422, bad
            assert "Not valid" in refused.text and f'href="/calls/{sids["drain"]}"' not in refused.text


def audit_of(team: Team, sid: str) -> list[tuple[str, str]]:
    with team.service.app.state.services.db.session() as session:
        return [(e.actor.rsplit(" ", 1)[-1], e.action) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.call_sid == sid, AuditEvent.action.like("call.%"))
            .order_by(AuditEvent.id))]


def test_members_and_owners_mark_calls_handled_and_unread_and_the_open_view_follows(team):
    sids = three_calls(team)
    emergency = sids["emergency"]
    with team.signed_in("member") as member, team.signed_in("owner") as owner:
        listing = member.get("/calls", params={"urgency": "urgent"}).text
        csrf = csrf_of(listing)
        done = member.post(f"/calls/{emergency}/handled",
                           data={"csrf": csrf, "handled": "1", "next": "/calls?urgency=urgent"})
        assert done.status_code == 303 and done.headers["location"] == "/calls?urgency=urgent"
        again = member.post(f"/calls/{emergency}/handled", data={"csrf": csrf, "handled": "1"})  # a double tap
        assert again.status_code == 303 and again.headers["location"] == f"/calls/{emergency}"
        assert listed(owner.get("/calls").text, sids) == ["missed", "drain"]  # open calls: the default view
        assert listed(owner.get("/calls", params={"state": "handled"}).text, sids) == ["emergency"]
        assert listed(owner.get("/calls", params={"state": "all"}).text, sids) == ["emergency", "missed", "drain"]

        page = owner.get(f"/calls/{emergency}").text
        assert "Handled by member@acme.example" in page and ">Reopen</button>" in page
        assert listed(owner.get("/calls", params={"state": "unread"}).text, sids) == ["missed", "drain"]
        owner_csrf = csrf_of(page)
        assert owner.post(f"/calls/{emergency}/handled", data={"csrf": owner_csrf, "handled": "0"}).status_code == 303
        assert owner.post(f"/calls/{emergency}/read", data={"csrf": owner_csrf, "read": "0"}).status_code == 303
        assert listed(owner.get("/calls", params={"state": "unread"}).text, sids) == ["emergency", "missed", "drain"]

        # Refused before anything changes: a forged form, a value that is not 0 or 1, an address off the site.
        assert member.post(f"/calls/{emergency}/handled", data={"csrf": "forged", "handled": "1"}).status_code == 403
        assert member.post(f"/calls/{emergency}/handled", data={"csrf": csrf, "handled": "yes"}).status_code == 400
        elsewhere = member.post(f"/calls/{emergency}/read", data={"csrf": csrf, "read": "1",
                                                                  "next": "//evil.example/calls"})
        assert elsewhere.headers["location"] == "/calls"
    with team.signed_in("owner_b") as stranger:
        refused = stranger.post(f"/calls/{emergency}/handled",
                                data={"csrf": csrf_of(stranger.get("/calls").text), "handled": "1"})
        assert refused.status_code == 404
    assert audit_of(team, emergency) == [
        ("member@acme.example", "call.handled"), ("owner@acme.example", "call.marked-read"),
        ("owner@acme.example", "call.reopened"), ("owner@acme.example", "call.marked-unread"),
        ("member@acme.example", "call.marked-read")]
    with team.service.app.state.services.db.session() as session:
        call = session.scalar(select(Call).where(Call.call_sid == emergency))
        assert call.handled_at is None and call.read_by == "member@acme.example"


def test_a_missed_call_says_so_plainly_and_promises_nothing(team):
    sids = three_calls(team)
    with team.signed_in("owner") as http:
        html = http.get(f"/calls/{sids['missed']}").text
    assert "The caller hung up before speaking" in html
    assert 'href="tel:+15550140003">Call (555) 014-0003</a>' in html and "<h1>(555) 014-0003</h1>" in html
    for promise in ("being transcribed", "processed", "Retention", "Kept 90 days", "AI training", "<audio"):
        assert promise not in html


def test_alert_problems_are_plain_words_for_owners_and_the_reason_only_for_admins(team):
    sids = three_calls(team)
    sid = sids["emergency"]
    reason = "still failing after 7 attempts: [Errno -2] Name or service not known"
    with team.service.app.state.services.db.session() as session:
        call = session.scalar(select(Call).where(Call.call_sid == sid))
        session.add_all([
            Delivery(call_id=call.id, channel="email", recipient="owner@acme.example", status="pending", attempts=7,
                     error=reason),
            Delivery(call_id=call.id, channel="email", recipient="old@acme.example", status="failed", attempts=9,
                     error="gave up after the last retry: 550 no such user"),
            Delivery(call_id=call.id, channel="sms", recipient="+13125550120", status="sent", attempts=1),
        ])
    with team.signed_in("owner") as http:
        owner_view = http.get(f"/calls/{sid}").text
    assert ("The email to owner@acme.example could not be delivered yet; we keep trying until about "
            "Tue 3 Mar, 10:") in owner_view
    assert "The email to old@acme.example could not be delivered, and we have stopped trying." in owner_view
    assert "The text message to (312) 555-0120 was delivered." in owner_view
    assert "Errno" not in owner_view and "550 no such user" not in owner_view and "PENDING" not in owner_view
    with team.signed_in("admin") as http:
        listing = http.get("/accounts").text
        http.post(f"/accounts/{team.account['id']}/open", data={"csrf": csrf_of(listing)})
        admin_view = http.get(f"/calls/{sid}").text
    assert "Technical reason: " + reason in admin_view and "550 no such user" in admin_view


def test_the_query_reads_and_writes_its_url():
    query = CallQuery.parse({"urgency": "urgent", "q": "  burst   pipe ", "page": "2", "outcome": ""})
    assert (query.urgency, query.q, query.page, query.outcome) == ("urgent", "burst pipe", 2, None)
    assert query.params() == {"urgency": "urgent", "q": "burst pipe", "page": "2"}
    assert query.params(state="handled") == {"state": "handled", "urgency": "urgent", "q": "burst pipe"}
    assert CallQuery.parse({}).params() == {} and CallQuery.parse({}).state == "open"
    assert CallQuery.parse({"caller": "555-014-2367"}, home_number=NUMBER_A).caller == "+15550142367"
    with pytest.raises(Invalid, match="unknown filter colour"):
        CallQuery.parse({"colour": "red"})


def test_the_api_shows_and_sets_the_handled_state_beside_the_dashboard(team):
    sids = three_calls(team)
    service, sid = team.service, sids["drain"]
    member = {"Authorization": f"Bearer {team.tokens['member']}"}
    before = service.http.get(f"/api/calls/{sid}", headers=member).json()
    assert before["handled_at"] is None and before["read_at"] is None and before["call_sid"] == sid
    done = service.http.patch(f"/api/calls/{sid}", headers=member, json={"handled": True})
    assert done.status_code == 200 and done.json()["handled_at"] is not None
    assert done.json()["handled_by"] == "member@acme.example"
    assert service.http.patch(f"/api/calls/{sid}", headers=member, json={}).status_code == 422
    assert service.http.patch(f"/api/calls/{sid}", headers=member, json={"handled": "maybe"}).status_code == 422
    # Members still may not change what owners decide.
    assert service.http.patch(f"/api/calls/{sid}", headers=member, json={"training_opt_out": True}).status_code == 403
    page = service.http.get(f"/api/accounts/{team.account['id']}/calls", headers=member).json()
    assert {item["call_sid"]: item["handled_at"] is not None for item in page["items"]}[sid] is True
    with team.signed_in("owner") as http:
        assert sid not in http.get("/calls").text and sid in http.get("/calls", params={"state": "handled"}).text
    assert audit_of(team, sid) == [("member@acme.example", "call.handled")]
