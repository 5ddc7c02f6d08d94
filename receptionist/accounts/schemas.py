"""What the API, the dashboard and the CLI accept for accounts and users: one set of models, so
none of them can take what another would refuse."""

from __future__ import annotations

import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    field_validator,
)

from receptionist.core.phone import is_e164
from receptionist.settings import DEFAULT_RETENTION_DAYS, RETENTION_TIERS, check_voice

HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Characters no business name, greeting or FAQ needs, which break headers, logs and PostgreSQL
# (NUL): C0 controls except tab and newline, DEL, and C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _e164(value: str) -> str:
    value = value.strip()
    if not is_e164(value):
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


def _plain_text(value: str) -> str:
    if CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


Phone = Annotated[str, AfterValidator(_e164)]
Voice = Annotated[str, AfterValidator(check_voice)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
RetentionDays = Annotated[int, AfterValidator(_retention)]
def _one_line(value: str) -> str:
    if CONTROL.search(value) or "\n" in value or "\r" in value or "\t" in value:
        raise ValueError("must be one line without control characters")
    return value


Text = Annotated[str, AfterValidator(_plain_text)]  # may span lines (a greeting, an FAQ answer)
Line = Annotated[str, AfterValidator(_one_line)]  # a name: it ends up in email headers and SMS


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: Line = Field(min_length=1, max_length=500)
    answer: Text = Field(min_length=1, max_length=2000)


class Business(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[Annotated[Line, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=100)
    service_areas: list[Annotated[Line, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=200)
    hours: dict[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"], str] = Field(default_factory=dict)
    faq: list[FaqEntry] = Field(default_factory=list, max_length=100)
    # People a caller may ask for by name; they also help the live transcription hear those names.
    staff: list[Annotated[Line, Field(min_length=1, max_length=100)]] = Field(default_factory=list, max_length=50)

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
    name: Line = Field(min_length=1, max_length=200)
    phone_numbers: list[Phone] = Field(default_factory=list, max_length=20)
    timezone: TimezoneName = "UTC"
    business: Business = Field(default_factory=Business)
    greeting: Text | None = Field(None, max_length=1000)
    disclosure: Text | None = Field(None, max_length=1000)
    transfer_number: Phone | None = None
    alert_sms: list[Phone] = Field(default_factory=list, max_length=20)
    alert_emails: list[EmailStr] = Field(default_factory=list, max_length=20)
    retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    training_opt_out: bool = False
    missed_call_text_back: bool = False
    voice: Voice | None = Field(None, description="text-to-speech voice, e.g. amazon:Joanna-Neural; "
                                                  "unset means the deployment's RECEPTIONIST_TTS_VOICE")


class AccountUpdate(BaseModel):
    """Fields an owner may change (and an admin, who alone may also change `retention_days`/`status`)."""

    model_config = ConfigDict(extra="forbid")
    name: Line | None = Field(None, min_length=1, max_length=200)
    phone_numbers: list[Phone] | None = Field(None, max_length=20)
    timezone: TimezoneName | None = None
    business: Business | None = None
    greeting: Text | None = Field(None, max_length=1000)
    disclosure: Text | None = Field(None, max_length=1000)
    transfer_number: Phone | None = None
    alert_sms: list[Phone] | None = Field(None, max_length=20)
    alert_emails: list[EmailStr] | None = Field(None, max_length=20)
    retention_days: RetentionDays | None = None
    training_opt_out: bool | None = None
    missed_call_text_back: bool | None = None
    voice: Voice | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Literal["owner", "member"]
