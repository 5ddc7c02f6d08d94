"""The receptionist's small rules on their own: business hours, spoken phone numbers."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from receptionist.agent.hours import BusinessHours, spoken_datetime
from receptionist.core.phone import digits_spoken, find_number, say_digits, to_e164

CHICAGO = ZoneInfo("America/Chicago")
WEEK = {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
        "fri": "08:00-12:30", "sat": "closed"}


def at(*args) -> datetime:
    return datetime(*args, tzinfo=CHICAGO)


def test_hours_are_said_the_way_a_receptionist_says_them():
    hours = BusinessHours(WEEK, "America/Chicago")
    assert hours.describe() == ["Monday to Thursday: 8 AM to 5 PM", "Friday: 8 AM to 12:30 PM",
                                "Saturday and Sunday: closed"]  # a day left out is closed
    assert hours.today(at(2026, 11, 30, 9, 0)) == "We're open now, until 5 PM today."
    assert hours.today(at(2026, 11, 30, 7, 0)) == "We're closed right now; we open today at 8 AM."
    assert hours.today(at(2026, 12, 4, 13, 0)) == "We're closed right now; we open Monday at 8 AM."
    assert hours.today(at(2026, 12, 3, 18, 0)) == "We're closed right now; we open tomorrow at 8 AM."


@pytest.mark.parametrize("after, expected", [
    (at(2026, 11, 28, 10, 0), at(2026, 11, 30, 8, 0)),    # Saturday → Monday's opening
    (at(2026, 11, 30, 10, 7), at(2026, 11, 30, 10, 15)),  # open: the next quarter hour
    (at(2026, 11, 30, 16, 20), at(2026, 12, 1, 8, 0)),    # an hour no longer fits before 5 PM
    (at(2026, 12, 4, 11, 45), at(2026, 12, 7, 8, 0)),     # Friday closes at 12:30
    (at(2026, 3, 7, 12, 0), at(2026, 3, 9, 8, 0)),        # across the switch to daylight time
])
def test_next_open_slot(after, expected):
    slot = BusinessHours(WEEK, "America/Chicago").next_slot(after, 60)
    assert slot == expected and slot.utcoffset() == expected.utcoffset()


def test_a_visit_must_fit_inside_one_days_hours():
    hours = BusinessHours(WEEK, "America/Chicago")
    assert hours.fits(at(2026, 11, 30, 8, 0), 60) and hours.fits(at(2026, 11, 30, 16, 0), 60)
    assert not hours.fits(at(2026, 11, 30, 16, 30), 60)
    assert not hours.fits(at(2026, 11, 28, 10, 0), 60)  # Saturday
    assert not hours.fits(at(2026, 11, 30, 7, 59), 60)
    # The zone decides, not the clock the moment is written in: 14:00 UTC is 8 AM in Chicago.
    assert hours.is_open(datetime.fromisoformat("2026-11-30T14:00:00+00:00"))
    assert spoken_datetime(at(2026, 11, 30, 8, 0)) == "Monday, November 30 at 8 AM"


def test_unknown_hours_refuse_nothing():
    hours = BusinessHours({}, "America/Chicago")
    assert not hours.known and hours.describe() == [] and hours.today(at(2026, 11, 28, 3, 0)) == ""
    assert hours.is_open(at(2026, 11, 28, 3, 0)) and hours.fits(at(2026, 11, 28, 3, 0), 60)


@pytest.mark.parametrize("said, digits", [
    ("five five five, oh one four, two three six seven", "5550142367"),
    ("it's 312-555-0199", "3125550199"),
    ("(312) 555 0199 thanks", "3125550199"),
    ("double five five, zero one four, two three six seven", "5550142367"),
    ("oh, my number is 555 014 2367", "5550142367"),
    ("+44 20 7946 0958", "+442079460958"),
    ("I have 2 dogs and 31 cats", "31"),  # words between digits end a run
])
def test_digits_as_callers_say_them(said, digits):
    assert digits_spoken(said) == digits


def test_callback_numbers():
    caller = "+15550142367"
    assert find_number("call me at 312 555 0199", caller) == "+13125550199"
    assert find_number("1 312 555 0199", caller) == "+13125550199"
    assert find_number("you can use this number", caller) == caller
    assert find_number("the number I'm calling from is fine", caller) == caller
    assert find_number("I have 2 dogs and 3 cats", caller) is None
    assert find_number("555 0199", caller) is None  # seven digits: no area code, not dialable
    assert to_e164("+44 20 7946 0958") == "+442079460958"
    assert to_e164("0199", "1") is None
    assert say_digits("+13125550199") == "312-555-0199"
