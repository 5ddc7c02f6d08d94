"""The dashboard over HTTP, against the served app: sessions, CSRF, the pages, and the same
authorisation, validation and audit as the API."""

from __future__ import annotations

import base64
import re
import secrets
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from receptionist.core.models import AuditEvent, Call, User
from receptionist.dashboard.sessions import COOKIE_NAME
from tests.support.dashboard import (
    NUMBER_A,
    NUMBER_B,
    PUBLIC_URL,
    TRANSCRIPT,
    WHEN,
    Team,
    csrf_of,
    make_call,
    make_team,
    sign_in,
)
from tests.support.service import Service
from tests.support.service import serve as _serve

LEAD = {"name": "Dana Whitfield", "callback_number": "+15550142367", "reason": "leaking water heater",
        "urgency": "high"}


def audit_actions(service: Service, call_sid: str) -> list[tuple[str, str, dict | None]]:
    with service.app.state.services.db.session() as session:
        return [(e.actor, e.action, e.detail) for e in session.scalars(
            select(AuditEvent).where(AuditEvent.call_sid == call_sid).order_by(AuditEvent.id))]


def profile_form(csrf: str, **overrides) -> dict:
    form = {
        "csrf": csrf, "name": "Acme Plumbing & Heating", "timezone": "America/Chicago",
        "services": "water heater repair\ndrain cleaning\nboiler service",
        "service_areas": "Springfield\nShelbyville\nCapital City", "staff": "Dana Whitaker\nBob",
        **{f"hours_{day}": "08:00-17:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "hours_sat": "09:00-12:00", "hours_sun": "Closed",
        "faq_question": ["Do you charge for estimates?", ""], "faq_answer": ["No, estimates are free.", ""],
        "greeting": "Thanks for calling Acme, how can we help?",
        "disclosure": "This call is recorded so we can serve you better.",
        "transfer_number": "+13125550109", "voice": "google:en-US-Neural2-F",
        "alert_emails": "owner@acme.example\ndispatch@acme.example", "alert_sms": "+13125550120",
        "missed_call_text_back": ["0", "1"], "training_opt_out": ["0", "1"],
    }
    form.update(overrides)
    return form


@pytest.fixture
def team(make_settings, database_url) -> Iterator[Team]:
    for service in _serve(make_settings(database_url, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


@pytest.fixture
def pg_team(make_settings, pg_database) -> Iterator[Team]:
    for service in _serve(make_settings(pg_database, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


def test_owner_signs_in_and_sees_the_accounts_calls_newest_first(team):
    service = team.service
    oldest = make_call(service, NUMBER_A, "+15550140001", started_at=WHEN - timedelta(days=2), duration_s=5,
                       outcome="missed", summary=None)
    newest = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, lead=LEAD,
                       summary="Dana needs a plumber today.")
    middle = make_call(service, NUMBER_A, "+15550140002", started_at=WHEN - timedelta(days=1), duration_s=125,
                       summary="<b>Sam</b> asks for a quote.")
    foreign = make_call(service, NUMBER_B, "+15550140009", started_at=WHEN)
    with team.signed_in("owner") as http:
        assert http.get("/").headers["location"] == "/calls"
        page = http.get("/calls")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    positions = [html.index(f"/calls/{sid}") for sid in (newest, middle, oldest)]
    assert positions == sorted(positions)
    assert foreign not in html and "+15550140009" not in html
    assert "Dana Whitfield" in html and "(555) 014-0003" in html and "+15550140003" not in html.replace("tel:", "")
    assert 'href="tel:+15550142367">Call (555) 014-2367</a>' in html  # the callback number the caller gave
    assert 'href="tel:+15550140002">Call (555) 014-0002</a>' in html  # no lead: the number they called from
    assert "leaking water heater" in html  # the reason, in a line
    assert "Tue 3 Mar 2026, 09:00 CST" in html  # the account's timezone
    assert "1 min 05 s" in html and "2 min 05 s" in html and "5 s" in html
    assert "answered" in html and "missed" in html and "The caller hung up before speaking." in html
    assert "&lt;b&gt;Sam&lt;/b&gt; asks for a quote." in html and "<b>Sam</b>" not in html
    assert page.headers["cache-control"] == "no-store"
    assert "script-src" not in page.headers["content-security-policy"]  # no scripts at all: default-src 'none'


def test_call_list_pages(pg_team):
    service = pg_team.service
    sids = [make_call(service, NUMBER_A, f"+1555014{i:04d}", started_at=WHEN - timedelta(minutes=i))
            for i in range(27)]
    with pg_team.signed_in("owner") as http:
        first, second = http.get("/calls").text, http.get("/calls", params={"page": 2}).text
        assert http.get("/calls", params={"page": "x"}).status_code == 422
    assert "Page 1 of 2" in first and 'href="/calls?page=2"' in first
    assert all(f"/calls/{sid}" in first for sid in sids[:25]) and sids[25] not in first
    assert f"/calls/{sids[25]}" in second and f"/calls/{sids[26]}" in second and sids[0] not in second


def test_call_page_shows_transcript_lead_recording_and_privacy(team):
    service = team.service
    sid = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, transcript=TRANSCRIPT, lead=LEAD,
                    recording=b"RIFF-dashboard-audio")
    with team.signed_in("owner") as http:
        page = http.get(f"/calls/{sid}")
        assert page.status_code == 200
        html = page.text
        for segment in TRANSCRIPT:
            assert segment["text"] in html
        assert html.index(TRANSCRIPT[0]["text"]) < html.index(TRANSCRIPT[1]["text"])
        # Each time is a link that plays the recording from where those words start.
        assert 'Receptionist <a class="at" href="?at=0#recording" title="Play from 0:00">0:00</a>' in html
        assert 'Caller <a class="at" href="?at=3#recording" title="Play from 0:03">0:03</a>' in html
        seeking = http.get(f"/calls/{sid}", params={"at": 3}).text
        assert f'src="/calls/{sid}/recording#t=3"' in seeking and "autoplay" in seeking
        assert http.get(f"/calls/{sid}", params={"at": -1}).status_code == 404
        assert "<h1>Dana Whitfield</h1>" in html and "leaking water heater" in html
        assert 'href="tel:+15550142367">Call (555) 014-2367</a>' in html
        assert html.index("Call (555) 014-2367") < html.index("leaking water heater") < html.index("Summary")
        assert "Kept 90 days, until Mon 1 Jun 2026" in html
        assert "May be used, anonymised, to improve the AI" in html
        assert f'src="/calls/{sid}/recording"' in html
        recording = http.get(f"/calls/{sid}/recording")
        assert recording.status_code == 302 and "X-Amz-Expires=900" in recording.headers["location"]
        assert httpx.get(recording.headers["location"]).content == b"RIFF-dashboard-audio"
    events = audit_actions(service, sid)
    reads = [(action, detail["via"]) for actor, action, detail in events if actor.endswith("owner@acme.example")]
    assert "Heard live" not in html  # the two hearings agreed
    # Opening the call marks it read for the team, once; every read of the transcript is recorded.
    assert reads == [("transcript.read", "dashboard"), ("call.marked-read", "dashboard"),
                     ("transcript.read", "dashboard"), ("recording.read", "dashboard")]


def test_call_page_shows_both_hearings_where_they_disagree_and_staff(team):
    service = team.service
    transcript = [TRANSCRIPT[0],
                  {**TRANSCRIPT[1], "text": "My water heater is leaking in the masonry.",
                   "live_text": "my water heater is leaking in the basement"},
                  {"speaker": "staff", "start": 9.0, "end": 11.0, "text": "Hi, this is Jordan from the office."}]
    sid = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, transcript=transcript)
    with team.signed_in("owner") as http:
        html = http.get(f"/calls/{sid}").text
    assert html.index("leaking in the masonry.") < html.index("Heard live:") < html.index(
        "my water heater is leaking in the basement") < html.index("Jordan from the office")
    assert html.count("Heard live:") == 1
    assert '<li class="turn staff">' in html and "Staff" in html


def test_training_status_follows_the_account_and_the_call(pg_team):
    service = pg_team.service
    sid = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN)
    with service.app.state.services.db.session() as session:
        session.scalar(select(Call).where(Call.call_sid == sid)).training_opt_out = True
    with pg_team.signed_in("member") as http:
        html = http.get(f"/calls/{sid}").text
    assert "Kept out of AI training (this call is opted out)" in html
    assert "No recording is stored for this call." in html and "<audio" not in html
    assert "being transcribed" not in html


def test_another_accounts_call_is_a_404_page_like_a_missing_one(team):
    service = team.service
    sid = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, transcript=TRANSCRIPT,
                    recording=b"RIFF-secret")
    with team.signed_in("owner_b") as http:
        foreign = http.get(f"/calls/{sid}")
        missing = http.get("/calls/CA" + "0" * 32)
        recording = http.get(f"/calls/{sid}/recording")
        listing = http.get("/calls").text
    assert foreign.status_code == missing.status_code == recording.status_code == 404
    assert foreign.text == missing.text and "Not found" in foreign.text
    assert TRANSCRIPT[1]["text"] not in foreign.text and sid not in listing
    assert "location" not in recording.headers
    assert not [e for e in audit_actions(service, sid) if "bayside" in e[0]]


def test_a_bad_token_does_not_sign_in(pg_team):
    with pg_team.client() as http:
        response = sign_in(http, "rcp_" + secrets.token_urlsafe(32))
        assert response.status_code == 401 and "That token is not valid." in response.text
        calls = http.get("/calls")
        assert calls.status_code == 303 and calls.headers["location"].startswith("/signin")
        assert sign_in(http, "").status_code == 401


def test_forms_without_the_csrf_token_are_refused(pg_team):
    service = pg_team.service
    with pg_team.client() as http:
        http.get("/signin")
        refused = http.post("/signin", data={"token": pg_team.tokens["owner"]})
        assert refused.status_code == 403 and COOKIE_NAME not in refused.headers.get("set-cookie", "")
    with pg_team.signed_in("owner") as http:
        csrf = csrf_of(http.get("/account").text)
        form = profile_form(csrf, name="Hijacked")
        del form["csrf"]
        assert http.post("/account", data=form).status_code == 403
        assert http.post("/account", data={**form, "csrf": "x" + csrf[1:]}).status_code == 403
        assert http.post("/signout", data={}).status_code == 403
        assert http.get("/calls").status_code == 200  # still signed in
    with pg_team.signed_in("owner") as other_session:
        # A token from one session is worth nothing in another.
        assert other_session.post("/account", data=profile_form(csrf, name="Hijacked")).status_code == 403
    account = service.http.get(f"/api/accounts/{pg_team.account['id']}", headers=service.admin()).json()
    assert account["name"] == "Acme Plumbing"


def test_member_reads_the_account_but_cannot_edit_it(pg_team):
    service = pg_team.service
    sid = make_call(service, NUMBER_A, "+15550140003", started_at=WHEN, transcript=TRANSCRIPT)
    with pg_team.signed_in("member") as http:
        page = http.get("/account")
        assert page.status_code == 200
        assert 'action="/account"' not in page.text and "Springfield, Shelbyville" in page.text
        assert "owner@acme-plumbing.example" in page.text
        csrf = csrf_of(page.text)  # the sign-out form's
        refused = http.post("/account", data=profile_form(csrf, name="Member Co"))
        assert refused.status_code == 403 and "Not allowed" in refused.text
        assert TRANSCRIPT[0]["text"] in http.get(f"/calls/{sid}").text
    account = service.http.get(f"/api/accounts/{pg_team.account['id']}", headers=service.admin()).json()
    assert account["name"] == "Acme Plumbing"


def test_owner_edits_profile_alerts_and_training_and_the_api_shows_it(team):
    service = team.service
    with team.signed_in("owner") as http:
        form = http.get("/account")
        assert 'action="/account"' in form.text
        saved = http.post("/account", data=profile_form(csrf_of(form.text)))
        assert saved.status_code == 303 and saved.headers["location"] == "/account?saved=true"
        again = http.get(saved.headers["location"]).text
        assert "Saved." in again and "Capital City" in again
        assert 'name="hours_sat_open" value="09:00"' in again and 'name="hours_sat_close" value="12:00"' in again
    account = service.http.get(f"/api/accounts/{team.account['id']}", headers=service.admin()).json()
    assert account["name"] == "Acme Plumbing & Heating"
    assert account["business"] == {
        "services": ["water heater repair", "drain cleaning", "boiler service"],
        "service_areas": ["Springfield", "Shelbyville", "Capital City"],
        "hours": {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
                  "fri": "08:00-17:00", "sat": "09:00-12:00", "sun": "closed"},
        "faq": [{"question": "Do you charge for estimates?", "answer": "No, estimates are free."}],
        "staff": ["Dana Whitaker", "Bob"],
    }
    assert account["voice"] == "google:en-US-Neural2-F"
    assert account["greeting"] == "Thanks for calling Acme, how can we help?"
    assert account["disclosure"] == "This call is recorded so we can serve you better."
    assert account["transfer_number"] == "+13125550109"
    assert account["alert_emails"] == ["owner@acme.example", "dispatch@acme.example"]
    assert account["alert_sms"] == ["+13125550120"]
    assert account["training_opt_out"] is True and account["missed_call_text_back"] is True
    assert account["retention_days"] == 90
    with service.app.state.services.db.session() as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "account.update")
                                .order_by(AuditEvent.id.desc())).first()
    assert event.actor.endswith("owner@acme.example") and "training_opt_out" in event.detail["fields"]

    with team.signed_in("owner") as http:
        # Unticking a box is a change too; what the form leaves alone stays.
        csrf = csrf_of(http.get("/account").text)
        assert http.post("/account", data={"csrf": csrf, "training_opt_out": "0"}).status_code == 303
    account = service.http.get(f"/api/accounts/{team.account['id']}", headers=service.admin()).json()
    assert account["training_opt_out"] is False and account["missed_call_text_back"] is True


def test_invalid_input_is_shown_on_the_form_and_nothing_is_saved(pg_team):
    service = pg_team.service
    with pg_team.signed_in("owner") as http:
        csrf = csrf_of(http.get("/account").text)
        page = http.post("/account", data=profile_form(
            csrf, hours_mon="17:00-08:00", alert_emails="not-an-email", alert_sms="555-1234",
            greeting='<img src=x onerror="alert(1)">'))
    assert page.status_code == 422
    assert "Nothing was saved" in page.text
    assert "closing time 08:00 is not after opening time 17:00" in page.text
    assert "Alert emails:" in page.text and "&#39;555-1234&#39; is not an E.164 phone number" in page.text
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page.text and "<img" not in page.text
    account = service.http.get(f"/api/accounts/{pg_team.account['id']}", headers=service.admin()).json()
    assert account["name"] == "Acme Plumbing" and account["alert_emails"] == ["owner@acme-plumbing.example"]


def test_sign_out_ends_the_session_even_for_a_copied_cookie(pg_team):
    with pg_team.signed_in("owner") as http:
        cookie = http.cookies[COOKIE_NAME]
        csrf = csrf_of(http.get("/calls").text)
        out = http.post("/signout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/signin?notice=signed-out"
        assert COOKIE_NAME not in http.cookies
        assert http.get("/calls").headers["location"].startswith("/signin")
    with pg_team.client() as replay:
        replay.cookies.set(COOKIE_NAME, cookie)
        assert replay.get("/calls").status_code == 303


def test_a_deleted_user_or_a_closed_account_is_signed_out(pg_team):
    service = pg_team.service
    with pg_team.signed_in("member") as member, pg_team.signed_in("owner") as owner:
        with service.app.state.services.db.session() as session:
            session.delete(session.scalar(select(User).where(User.email == "member@acme.example")))
        gone = member.get("/calls")
        assert gone.status_code == 303 and gone.headers["location"].startswith("/signin")
        assert owner.get("/calls").status_code == 200
        closed = service.http.delete(f"/api/accounts/{pg_team.account['id']}", headers=service.admin())
        assert closed.status_code == 200
        response = owner.get("/calls")
        assert response.status_code == 303 and response.headers["location"] == "/signin?notice=closed"
        assert sign_in(owner, pg_team.tokens["owner"]).status_code == 401


def test_session_cookie_is_httponly_samesite_and_never_holds_the_token(pg_team, make_settings, pg_database):
    with pg_team.client() as http:
        response = sign_in(http, pg_team.tokens["owner"])
    header = response.headers["set-cookie"]
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header and "Secure" not in header
    value = http.cookies[COOKIE_NAME]
    payload = base64.urlsafe_b64decode(value.split(".")[0] + "==").decode()
    assert pg_team.tokens["owner"] not in value and pg_team.tokens["owner"] not in payload
    token_part = pg_team.tokens["owner"].removeprefix("rcp_")
    assert token_part[:12] not in payload

    for service in _serve(make_settings(pg_database, public_url="https://receptionist.example.com")):
        token = make_team(service).tokens["owner"]
        with httpx.Client(base_url=service.url) as http:
            form = http.get("/signin")
            assert "Secure" in form.headers["set-cookie"]
            # Behind the TLS proxy the browser sends it back; this plain-http client must be told to.
            cookie = form.headers["set-cookie"].split(";")[0]
            secure = http.post("/signin", data={"csrf": csrf_of(form.text), "token": token}, headers={"Cookie": cookie})
        assert secure.status_code == 303 and "Secure" in secure.headers["set-cookie"]


def test_a_forged_or_tampered_cookie_is_not_a_session(pg_team):
    with pg_team.signed_in("member") as http:
        value = http.cookies[COOKIE_NAME]
    payload, signature = value.split(".")
    body = base64.urlsafe_b64decode(payload + "==").decode().replace('"user:', '"user:x')
    forged = base64.urlsafe_b64encode(body.encode()).decode().rstrip("=") + "." + signature
    with pg_team.client() as http:
        http.cookies.set(COOKIE_NAME, forged)
        assert http.get("/calls").status_code == 303


def test_sign_in_returns_to_the_page_asked_for_and_only_on_this_site(pg_team):
    sid = make_call(pg_team.service, NUMBER_A, "+15550140003", started_at=WHEN, transcript=TRANSCRIPT)
    with pg_team.client() as http:
        asked = http.get(f"/calls/{sid}")
        assert asked.status_code == 303 and asked.headers["location"] == f"/signin?next=%2Fcalls%2F{sid}"
        landed = sign_in(http, pg_team.tokens["owner"], next_path=f"/calls/{sid}")
        assert landed.headers["location"] == f"/calls/{sid}"
    with pg_team.client() as http:
        for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            assert sign_in(http, pg_team.tokens["owner"], next_path=elsewhere).headers["location"] == "/calls"
            http.cookies.clear()


def test_admin_picks_an_account(pg_team):
    service = pg_team.service
    sid = make_call(service, NUMBER_B, "+15550140009", started_at=WHEN)
    with pg_team.signed_in("admin") as http:
        assert http.get("/").headers["location"] == "/accounts"
        listing = http.get("/accounts")
        assert "Acme Plumbing" in listing.text and "Bayside Roofing" in listing.text
        opened = http.post(f"/accounts/{pg_team.other['id']}/open", data={"csrf": csrf_of(listing.text)})
        assert opened.status_code == 303 and opened.headers["location"] == "/calls"
        assert f"/calls/{sid}" in http.get("/calls").text
        assert "Bayside Roofing" in http.get("/account").text
    with pg_team.signed_in("owner") as http:
        assert http.get("/accounts").status_code == 403
        assert http.post(f"/accounts/{pg_team.other['id']}/open",
                         data={"csrf": csrf_of(http.get("/calls").text)}).status_code == 403


def test_dashboard_routes_stay_out_of_the_api_and_its_schema(pg_team):
    from receptionist.dashboard import router

    paths = {route.path for route in router.routes}
    assert {"/", "/signin", "/calls", "/calls/{call_sid}", "/account"} <= paths
    assert not [p for p in paths if p.startswith("/api")]
    schema = pg_team.service.http.get("/openapi.json").json()
    assert not paths & set(schema["paths"])
    css = pg_team.service.http.get("/dashboard.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


def test_session_codec_refuses_old_forged_and_foreign_sessions():
    from receptionist.dashboard.sessions import MAX_AGE_S, SessionCodec, derive_key

    codec, other = SessionCodec(derive_key("one secret")), SessionCodec(derive_key("another secret"))
    data = codec.signed_in("user:u1", "token-hash-1")
    value = codec.dumps(data)
    assert codec.loads(value) == data and codec.matches(data, "token-hash-1")
    assert not codec.matches(data, "token-hash-2")  # the user's token was replaced
    assert other.loads(value) is None  # signed with another secret
    assert codec.loads(value, now=data.issued_at + MAX_AGE_S + 1) is None
    tampered = value[:-1] + ("A" if value[-1] != "A" else "B")
    assert codec.loads(tampered) is None and codec.loads("garbage") is None and codec.loads("a.b.c") is None
    fresh = codec.signed_in("user:u1", "token-hash-1")
    assert codec.check_csrf(data, codec.csrf_token(data)) and not codec.check_csrf(fresh, codec.csrf_token(data))
    assert not codec.check_csrf(data, None) and not codec.check_csrf(None, codec.csrf_token(data))
    assert not codec.check_csrf(data, "é")


def test_owner_manages_the_team_on_the_account_page(pg_team):
    service = pg_team.service
    with pg_team.signed_in("owner") as owner, pg_team.signed_in("member") as member:
        page = owner.get("/account")
        assert page.status_code == 200 and "member@acme.example" in page.text and "Team" in page.text
        assert "<code>" not in page.text  # no token is ever shown again
        csrf = csrf_of(page.text)
        added = owner.post("/account/users", data={"csrf": csrf, "email": "temp@acme.example", "role": "member",
                                                   "valid_days": "30"})
        assert added.status_code == 200 and "shown only once" in added.text
        token = re.search(r"<code>(rcp_[^<]+)</code>", added.text).group(1)
        assert service.http.get(f"/api/accounts/{pg_team.account['id']}", headers={
            "Authorization": f"Bearer {token}"}).status_code == 200
        users = service.http.get(f"/api/accounts/{pg_team.account['id']}/users", headers=service.admin()).json()
        temp = next(u for u in users if u["email"] == "temp@acme.example")
        assert temp["expires_at"] is not None
        bad = owner.post("/account/users", data={"csrf": csrf, "email": "not-an-email", "role": "member"})
        assert bad.status_code == 422 and "email" in bad.text

        member_id = next(u["id"] for u in users if u["email"] == "member@acme.example")
        rotated = owner.post(f"/account/users/{member_id}/token", data={"csrf": csrf, "valid_days": ""})
        assert rotated.status_code == 200 and "old one no longer works" in rotated.text
        ended = member.get("/calls")  # the member's session was tied to the old token
        assert ended.status_code == 303 and ended.headers["location"].startswith("/signin")

        removed = owner.post(f"/account/users/{temp['id']}/remove", data={"csrf": csrf})
        assert removed.status_code == 303 and removed.headers["location"] == "/account?removed=true"
        assert service.http.get(f"/api/accounts/{pg_team.account['id']}", headers={
            "Authorization": f"Bearer {token}"}).status_code == 401
        assert owner.post(f"/account/users/{temp['id']}/remove", data={"csrf": "forged"}).status_code == 403
    with pg_team.client() as http:  # the member's old token no longer signs in
        assert sign_in(http, pg_team.tokens["member"]).status_code == 401


def test_an_expired_token_ends_its_dashboard_session(pg_team):
    from datetime import datetime, timedelta, timezone

    service = pg_team.service
    with pg_team.signed_in("owner") as owner:
        assert owner.get("/calls").status_code == 200
        with service.app.state.services.db.session() as session:
            user = session.scalar(select(User).where(User.email == "owner@acme.example"))
            user.token_expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
        ended = owner.get("/calls")
        assert ended.status_code == 303 and ended.headers["location"] == "/signin?notice=expired"
        assert sign_in(owner, pg_team.tokens["owner"]).status_code == 401
