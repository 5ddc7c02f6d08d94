"""The account page in sections, each saved on its own: hours from time pickers, the timezone from
the IANA list, the standard greeting and disclosure shown where the boxes are empty."""

from __future__ import annotations

import re
from collections.abc import Iterator
from zoneinfo import available_timezones

import pytest

from tests.support.dashboard import PUBLIC_URL, Team, csrf_of, make_team
from tests.support.service import serve as _serve

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@pytest.fixture
def team(make_settings, database_url) -> Iterator[Team]:
    for service in _serve(make_settings(database_url, public_url=PUBLIC_URL, allow_plain_http=True)):
        yield make_team(service)


def account_of(team: Team) -> dict:
    return team.service.http.get(f"/api/accounts/{team.account['id']}", headers=team.service.admin()).json()


def hours_form(csrf: str, **days) -> dict:
    form = {"csrf": csrf, "section": "hours"}
    for day in DAYS:
        opens, closes, closed = days.get(day, ("", "", False))
        form.update({f"hours_{day}_open": opens, f"hours_{day}_close": closes,
                     f"hours_{day}_closed": ["0", "1"] if closed else "0"})
    return form


def test_each_section_has_its_own_form_and_save_button(team):
    with team.signed_in("owner") as http:
        html = http.get("/account").text
    forms = re.findall(r'<form method="post" action="/account" class="section" id="(\w+)"', html)
    assert forms == ["business", "hours", "words", "alerts", "screening", "privacy"]
    for label in ("Save business", "Save hours", "Save what callers hear", "Save alerts", "Save privacy",
                  "Add user", "New token", "Remove"):
        assert label in html
    # The standard words are shown in the empty boxes, for this business.
    assert 'placeholder="Hi, you&#39;ve reached Acme Plumbing. How can I help you today?"' in html
    assert 'placeholder="Thanks for calling Acme Plumbing. This call may be recorded' in html
    zones = re.findall(r"<option(?: selected)?>([^<]+)</option>", html)
    assert "America/Chicago" in zones and "Europe/Berlin" in zones and set(zones) <= available_timezones()
    assert "<option selected>America/Chicago</option>" in html  # the account's own
    assert 'type="time" name="hours_mon_open"' in html


def test_saving_one_section_leaves_the_others_as_they_are(team):
    before = account_of(team)
    with team.signed_in("owner") as http:
        csrf = csrf_of(http.get("/account").text)
        saved = http.post("/account", data=hours_form(csrf, mon=("08:00", "17:00", False), sat=("09:00", "00:00", False),
                                                      sun=("", "", True)))
        assert saved.status_code == 303 and saved.headers["location"] == "/account?saved=hours#hours"
        page = http.get("/account", params={"saved": "hours"}).text
        hours_part = page[page.index('id="hours"'):page.index('id="words"')]
        assert "Saved." in hours_part and page.count("Saved.") == 1
        assert 'name="hours_sat_close" value="00:00"' in page  # midnight, shown as a picker shows it
        words = http.post("/account", data={"csrf": csrf, "section": "words", "greeting": "Acme here, go ahead.",
                                            "disclosure": "", "transfer_number": "", "voice": ""})
        assert words.headers["location"] == "/account?saved=words#words"
        zone = http.post("/account", data={"csrf": csrf, "section": "business", "timezone": "Europe/Berlin",
                                           "name": "Acme Plumbing"})
        assert zone.status_code == 303
    after = account_of(team)
    assert after["business"]["hours"] == {"mon": "08:00-17:00", "sat": "09:00-24:00", "sun": "closed"}
    assert after["greeting"] == "Acme here, go ahead." and after["disclosure"] is None
    assert after["timezone"] == "Europe/Berlin"
    for untouched in ("alert_emails", "alert_sms", "training_opt_out", "missed_call_text_back", "transfer_number"):
        assert after[untouched] == before[untouched]
    assert after["business"]["services"] == before["business"]["services"]


def test_a_bad_section_is_refused_with_its_problem_shown_there_and_nothing_saved(team):
    before = account_of(team)
    with team.signed_in("owner") as http:
        csrf = csrf_of(http.get("/account").text)
        half = http.post("/account", data=hours_form(csrf, mon=("08:00", "", False), tue=("17:00", "08:00", False)))
        assert half.status_code == 422
        hours_part = half.text[half.text.index('id="hours"'):half.text.index('id="words"')]
        assert "Nothing was saved" in hours_part and "Nothing was saved" not in half.text[:half.text.index('id="hours"')]
        assert "Hours: mon: give both the opening and the closing time, or neither" in hours_part
        backwards = http.post("/account", data=hours_form(csrf, tue=("17:00", "08:00", False)))
        assert backwards.status_code == 422 and "closing time 08:00 is not after opening time 17:00" in backwards.text
        zone = http.post("/account", data={"csrf": csrf, "section": "business", "timezone": "Mars/Olympus_Mons"})
        assert zone.status_code == 422 and "is not an IANA timezone name" in zone.text
        assert http.post("/account", data={"csrf": csrf, "section": "billing", "name": "X"}).status_code == 400
    assert account_of(team) == before


def test_members_see_no_forms_and_cannot_post_a_section(team):
    before = account_of(team)
    with team.signed_in("member") as http:
        html = http.get("/account").text
        assert 'class="section"' not in html and "Save hours" not in html and "Add user" not in html
        refused = http.post("/account", data=hours_form(csrf_of(html), mon=("07:00", "19:00", False)))
        assert refused.status_code == 403
    assert account_of(team) == before
