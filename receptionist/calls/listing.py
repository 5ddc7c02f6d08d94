"""Finding an account's calls: the filters an owner sets (state, outcome, urgency, screening flag,
caller, dates, words), the order (most urgent first, or by time), and one page of the result.

`CallQuery.parse` reads the filters from a URL's query (so a filtered list can be bookmarked and
shared within the team) and refuses what it cannot honour with `Invalid`, before any query runs;
`CallQuery.params` gives back the query string of the same list. `list_calls` runs it, the same SQL
on PostgreSQL and SQLite: urgency is read from the lead's JSON and the words are looked for in the
summary, the lead's name and reason, and each transcript segment's text (not in the JSON's keys).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import ColumnElement, and_, case, exists, func, literal, literal_column, or_, select
from sqlalchemy.orm import Session

from receptionist.core import phone
from receptionist.core.errors import Invalid
from receptionist.core.models import Account, Call

PAGE_SIZE = 25
URGENCIES = ("emergency", "high", "normal", "low")  # calls.lead.Urgency, most urgent first
URGENT = ("emergency", "high")
OUTCOMES = ("answered", "message-taken", "appointment", "transferred", "missed", "failed", "blocked")
STATES = ("open", "unread", "handled", "all")
SORTS = ("urgency", "newest", "oldest")
FILTERS = ("state", "outcome", "urgency", "flag", "caller", "since", "until", "q", "sort", "page")
FLAG_FILTERS = ("suspected-spam", "blocked", "none")  # calls.screening's flags, or calls it flagged nothing

State = Literal["open", "unread", "handled", "all"]
Outcome = Literal["answered", "message-taken", "appointment", "transferred", "missed", "failed", "blocked",
                  "in-progress"]
FlagFilter = Literal["suspected-spam", "blocked", "none"]
UrgencyFilter = Literal["urgent", "emergency", "high", "normal", "low", "unknown"]
Sort = Literal["urgency", "newest", "oldest"]


class CallQuery(BaseModel):
    """One view of the call list. The default is the open calls, the most urgent first."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state: State = "open"
    outcome: Outcome | None = None
    urgency: UrgencyFilter | None = None
    flag: FlagFilter | None = None
    caller: str | None = Field(None, max_length=32)
    since: date | None = None
    until: date | None = None
    q: str | None = Field(None, max_length=200)
    sort: Sort = "urgency"
    page: int = Field(1, ge=1, le=100_000)

    @field_validator("q")
    @classmethod
    def _words(cls, value: str | None) -> str | None:
        return " ".join(value.split()) or None if value is not None else None

    @classmethod
    def parse(cls, params: Mapping[str, str], home_number: str | None = None) -> CallQuery:
        """The query in a URL's parameters; an empty parameter is an unset filter. The caller may
        be given as it is written locally ("(555) 014-2367"), in the country of `home_number`."""
        values = {k: v.strip() for k, v in params.items() if v is not None and v.strip()}
        unknown = sorted(set(values) - set(FILTERS))
        if unknown:
            raise Invalid(f"unknown filter {', '.join(unknown)}; the filters are {', '.join(FILTERS)}")
        if "caller" in values:
            number = phone.normalise(values["caller"], "", phone.country_code_of(home_number or "+1"))
            if number is None:
                raise Invalid(f"caller: {values['caller']!r} is not a phone number")
            values["caller"] = number
        try:
            query = cls.model_validate(values)
        except ValidationError as exc:
            raise Invalid("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        if query.since and query.until and query.until < query.since:
            raise Invalid("until: the last day is before the first")
        return query

    def params(self, **changes) -> dict[str, str]:
        """This query (with `changes`) as URL parameters, defaults left out; a change of filter
        goes back to the first page."""
        data = self.model_dump()
        if changes and "page" not in changes:
            changes["page"] = 1
        data.update(changes)
        defaults = CallQuery()
        return {name: str(value) for name, value in data.items()
                if value is not None and value != getattr(defaults, name)}

    @property
    def filtered(self) -> bool:
        """Anything narrower than the default view."""
        return any(getattr(self, name) is not None
                   for name in ("outcome", "urgency", "flag", "caller", "since", "until", "q"))


@dataclass(frozen=True)
class CallPage:
    calls: list[Call]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // PAGE_SIZE))


def urgency_of(call: Call) -> str | None:
    value = (call.lead or {}).get("urgency") if isinstance(call.lead, dict) else None
    return value if value in URGENCIES else None


def _urgency() -> ColumnElement:
    return Call.lead["urgency"].as_string()


def _like(words: str) -> str:
    escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _contains(expression: ColumnElement, pattern: str) -> ColumnElement:
    return func.lower(expression).like(pattern, escape="\\")


def _transcript_mentions(dialect: str, pattern: str) -> ColumnElement:
    """Some segment's text holds the words: each segment is looked at, not the JSON document."""
    if dialect == "postgresql":
        array = case((func.json_typeof(Call.transcript) == "array", Call.transcript),
                     else_=literal_column("'[]'::json"))
        segments = func.json_array_elements(array).table_valued("value").alias("segment")
        text = segments.c.value.op("->>")("text")
    else:
        segments = func.json_each(Call.transcript).table_valued("value").alias("segment")
        text = func.json_extract(segments.c.value, "$.text")
    return exists(select(literal_column("1")).select_from(segments).where(_contains(text, pattern)))


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


def conditions(query: CallQuery, account: Account, dialect: str) -> list[ColumnElement]:
    where: list[ColumnElement] = [Call.account_id == account.id]
    if query.state == "open":
        where.append(Call.handled_at.is_(None))
    elif query.state == "unread":
        where.append(and_(Call.read_at.is_(None), Call.handled_at.is_(None)))
    elif query.state == "handled":
        where.append(Call.handled_at.is_not(None))
    if query.outcome == "in-progress":
        where.append(Call.outcome.is_(None))
    elif query.outcome:
        where.append(Call.outcome == query.outcome)
    if query.urgency == "urgent":
        where.append(_urgency().in_(URGENT))
    elif query.urgency == "unknown":
        where.append(or_(_urgency().is_(None), _urgency().not_in(URGENCIES)))
    elif query.urgency:
        where.append(_urgency() == query.urgency)
    if query.flag == "none":
        where.append(Call.flags.is_(None))
    elif query.flag:
        # `Call.flags` holds space-separated words: padded with spaces, one LIKE finds a whole word.
        where.append((literal(" ") + Call.flags + literal(" ")).like(f"% {query.flag} %"))
    if query.caller:
        where.append(Call.from_number == query.caller)
    zone = ZoneInfo(account.timezone or "UTC")
    if query.since:
        where.append(Call.started_at >= _day_start(query.since, zone))
    if query.until:
        where.append(Call.started_at < _day_start(query.until + timedelta(days=1), zone))
    if query.q:
        pattern = _like(query.q)
        where.append(or_(_contains(Call.summary, pattern), _contains(Call.lead["name"].as_string(), pattern),
                         _contains(Call.lead["reason"].as_string(), pattern),
                         _transcript_mentions(dialect, pattern)))
    return where


def order(query: CallQuery) -> list[ColumnElement]:
    if query.sort == "oldest":
        return [Call.started_at.asc(), Call.id.asc()]
    newest = [Call.started_at.desc(), Call.id.desc()]
    if query.sort == "newest":
        return newest
    rank = case({u: i for i, u in enumerate(URGENCIES)}, value=_urgency(), else_=len(URGENCIES))
    # Emergencies, then urgent calls, then the rest; a call the urgency of which is not known yet
    # (still transcribing, or missed) sits with the normal ones rather than below the low ones.
    rank = case((rank == len(URGENCIES), URGENCIES.index("normal")), else_=rank)
    return [rank.asc(), *newest]


def list_calls(session: Session, account: Account, query: CallQuery) -> CallPage:
    dialect = session.get_bind().dialect.name
    where = conditions(query, account, dialect)
    total = session.scalar(select(func.count()).select_from(Call).where(*where)) or 0
    rows = session.scalars(select(Call).where(*where).order_by(*order(query))
                           .limit(PAGE_SIZE).offset((query.page - 1) * PAGE_SIZE)).all()
    return CallPage(list(rows), total, query.page)
