"""Business hours: is the business open at a moment, when is the next open slot, how to say the hours.

`business.hours` maps `mon`…`sun` to `"HH:MM-HH:MM"` or `"closed"`, in the account's IANA timezone.
Once an account gives any hours, a day it leaves out is closed (the business did not say it opens
then). An account with no hours at all has unknown hours: nothing is refused for being outside them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from receptionist.agent.lines import Lines

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SLOT_STEP_MIN = 15  # proposed slots start on the quarter hour
LOOK_AHEAD_DAYS = 14


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def spoken_time(minutes: int) -> str:
    """`8 AM`, `5:30 PM`, `noon`, `midnight`: how a receptionist says a time of day."""
    minutes %= 24 * 60
    if minutes == 0:
        return "midnight"
    if minutes == 12 * 60:
        return "noon"
    hour, minute = divmod(minutes, 60)
    suffix = "AM" if hour < 12 else "PM"
    hour = hour % 12 or 12
    return f"{hour} {suffix}" if minute == 0 else f"{hour}:{minute:02d} {suffix}"


def spoken_datetime(moment: datetime) -> str:
    """`Tuesday, June 3 at 10 AM` (in the moment's own timezone)."""
    return f"{DAY_NAMES[moment.weekday()]}, {moment:%B} {moment.day} at {spoken_time(moment.hour * 60 + moment.minute)}"


class BusinessHours:
    def __init__(self, hours: dict[str, str] | None, timezone: str, lines: Lines | None = None):
        self.lines = lines or Lines.packaged()  # how the hours are said (prompts/receptionist_lines.txt)
        self.zone = ZoneInfo(timezone or "UTC")
        self.known = bool(hours)
        # Day index (0 = Monday) → (opens, closes) in minutes after local midnight, or None when closed.
        self.spans: list[tuple[int, int] | None] = []
        for day in DAYS:
            span = (hours or {}).get(day, "closed")
            if not span or span == "closed":
                self.spans.append(None)
            else:
                opens, closes = span.split("-")
                self.spans.append((_minutes(opens), _minutes(closes)))

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def is_open(self, moment: datetime) -> bool:
        """True inside the hours; always True when the hours are unknown."""
        if not self.known:
            return True
        local = self.local(moment)
        span = self.spans[local.weekday()]
        minute = local.hour * 60 + local.minute
        return span is not None and span[0] <= minute < span[1]

    def fits(self, start: datetime, minutes: int) -> bool:
        """Does a visit of `minutes` starting at `start` lie inside one day's opening hours?"""
        if not self.known:
            return True
        local = self.local(start)
        span = self.spans[local.weekday()]
        begin = local.hour * 60 + local.minute
        return span is not None and span[0] <= begin and begin + minutes <= span[1]

    def next_slot(self, after: datetime, minutes: int) -> datetime | None:
        """The earliest start at or after `after` (rounded up to the quarter hour) that fits."""
        local = self.local(after)
        if not self.known:
            return local
        first_day = local.date()
        for offset in range(LOOK_AHEAD_DAYS + 1):
            day = first_day + timedelta(days=offset)
            span = self.spans[day.weekday()]
            if span is None or span[1] - span[0] < minutes:
                continue
            earliest = span[0]
            if offset == 0:
                now_minute = local.hour * 60 + local.minute + (1 if local.second or local.microsecond else 0)
                earliest = max(earliest, -(-now_minute // SLOT_STEP_MIN) * SLOT_STEP_MIN)
            if earliest + minutes <= span[1]:
                return self._at(day, earliest)
        return None

    def _at(self, day: date, minute: int) -> datetime:
        return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=self.zone)

    def describe(self) -> list[str]:
        """The week as a receptionist says it, runs of equal days joined: `Monday to Friday: 8 AM to 5 PM`."""
        if not self.known:
            return []
        lines: list[str] = []
        index = 0
        while index < 7:
            end = index
            while end + 1 < 7 and self.spans[end + 1] == self.spans[index]:
                end += 1
            days = self.lines("days", first=DAY_NAMES[index], last=DAY_NAMES[end], count=end - index + 1)
            span = self.spans[index]
            lines.append(self.lines("day_closed", days=days) if span is None else
                         self.lines("day_hours", days=days, opens=spoken_time(span[0]), closes=spoken_time(span[1])))
            index = end + 1
        return lines

    def today(self, moment: datetime) -> str:
        """`We're open now, until 5 PM today.`, `… we open Monday at 8 AM.`: what "are you open?" needs."""
        if not self.known:
            return ""
        local = self.local(moment)
        span = self.spans[local.weekday()]
        minute = local.hour * 60 + local.minute
        if span is not None and span[0] <= minute < span[1]:
            return self.lines("open_now", until=spoken_time(span[1]))
        upcoming = self.next_slot(moment, 0)
        if upcoming is None:
            return self.lines("closed_now")
        return self.lines("closed_until", days_ahead=(upcoming.date() - local.date()).days,
                          weekday=DAY_NAMES[upcoming.weekday()], at=spoken_time(upcoming.hour * 60 + upcoming.minute))
