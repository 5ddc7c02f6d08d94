"""Request and response bodies of the API, with the contract's validation rules."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, field_validator

from receptionist.settings import DEFAULT_RETENTION_DAYS, RETENTION_TIERS

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _e164(value: str) -> str:
    value = value.strip()
    if not E164.match(value):
        raise ValueError(f"{value!r} is not an E.164 phone number like +15551234567")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA timezone name like America/Chicago") from None
    return value


def _retention(value: int) -> int:
    if value not in RETENTION_TIERS:
        raise ValueError(f"retention_days must be one of {', '.join(map(str, RETENTION_TIERS))}")
    return value


Phone = Annotated[str, AfterValidator(_e164)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
RetentionDays = Annotated[int, AfterValidator(_retention)]


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(min_length=1, max_length=500)
    answer: str = Field(min_length=1, max_length=2000)


class Business(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=100)
    service_areas: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=200)
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], str] = Field(default_factory=dict)
    faq: list[FaqEntry] = Field(default_factory=list, max_length=100)

    @field_validator("hours")
    @classmethod
    def _hours(cls, hours: dict[str, str]) -> dict[str, str]:
        for day, span in hours.items():
            if span == "closed":
                continue
            if not HOURS.match(span):
                raise ValueError(f"hours.{day} must be \"HH:MM-HH:MM\" or \"closed\", not {span!r}")
            opens, closes = span.split("-")
            if closes <= opens:
                raise ValueError(f"hours.{day}: closing time {closes} is not after opening time {opens}")
        return hours


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    phone_numbers: list[Phone] = Field(default_factory=list, max_length=20)
    timezone: TimezoneName = "UTC"
    business: Business = Field(default_factory=Business)
    greeting: str | None = Field(None, max_length=1000)
    disclosure: str | None = Field(None, max_length=1000)
    transfer_number: Phone | None = None
    alert_sms: list[Phone] = Field(default_factory=list, max_length=20)
    alert_emails: list[EmailStr] = Field(default_factory=list, max_length=20)
    retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    training_opt_out: bool = False
    missed_call_text_back: bool = False


class AccountUpdate(BaseModel):
    """Fields an owner may change (and an admin, who alone may also change `retention_days`/`status`)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=200)
    phone_numbers: list[Phone] | None = Field(None, max_length=20)
    timezone: TimezoneName | None = None
    business: Business | None = None
    greeting: str | None = Field(None, max_length=1000)
    disclosure: str | None = Field(None, max_length=1000)
    transfer_number: Phone | None = None
    alert_sms: list[Phone] | None = Field(None, max_length=20)
    alert_emails: list[EmailStr] | None = Field(None, max_length=20)
    retention_days: RetentionDays | None = None
    training_opt_out: bool | None = None
    missed_call_text_back: bool | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Literal["owner", "member"]


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    token: str = Field(description="shown once: only a hash of it is kept")


class AccountOut(BaseModel):
    id: str
    name: str
    phone_numbers: list[str]
    timezone: str
    business: dict
    greeting: str | None
    disclosure: str | None
    transfer_number: str | None
    alert_sms: list[str]
    alert_emails: list[str]
    retention_days: int
    training_opt_out: bool
    missed_call_text_back: bool
    status: str
    created_at: datetime


class TranscriptSegment(BaseModel):
    speaker: str
    start: float
    end: float
    text: str


class ConversationTurn(BaseModel):
    speaker: str
    text: str
    at: str | None = None


class AlertOut(BaseModel):
    channel: str
    recipient: str
    status: str
    attempts: int
    error: str | None
    sent_at: datetime | None


class CallUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    training_opt_out: bool


class CallListItem(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    call_sid: str
    from_: str = Field(alias="from")
    to: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: int | None
    outcome: str | None
    summary: str | None
    processing_status: str


class CallPage(BaseModel):
    items: list[CallListItem]
    total: int
    limit: int
    offset: int
    next_offset: int | None


class CallOut(CallListItem):
    transcript: list[TranscriptSegment]
    lead: dict | None
    training_opt_out: bool
    retention_days: int
    expires_at: datetime | None
    processing_error: str | None
    conversation: list[ConversationTurn]
    handoff: dict | None
    alerts: list[AlertOut]
