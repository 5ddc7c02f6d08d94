"""What the API, the dashboard and the CLI accept for accounts and users: one set of models, so
none of them can take what another would refuse."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    field_validator,
)

from receptionist.core.phone import is_e164
from receptionist.settings import DEFAULT_RETENTION_DAYS, RETENTION_TIERS, check_voice

HOURS = re.compile(r"^([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# What no business name, greeting or FAQ needs, and what breaks mail headers, SMS, logs and
# PostgreSQL: control characters (NUL included; a Text may hold newlines and tabs), lone
# surrogates, and the bidirectional overrides that make a name read differently than it is stored.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _bad_character(value: str, allowed: str) -> str | None:
    for char in value:
        if char in allowed:
            continue
        if char in BIDI_CONTROLS or unicodedata.category(char) in ("Cc", "Cs") or char in LINE_BREAKS:
            return f"U+{ord(char):04X}"
    return None


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
    value = value.replace("\r\n", "\n")  # a browser's textarea posts CRLF line breaks
    bad = _bad_character(value, "\n\t")
    if bad:
        raise ValueError(f"must not contain control characters (found {bad})")
    return value


Phone = Annotated[str, AfterValidator(_e164)]
Voice = Annotated[str, AfterValidator(check_voice)]
TimezoneName = Annotated[str, AfterValidator(_timezone)]
RetentionDays = Annotated[int, AfterValidator(_retention)]
# What a caller whose caller ID failed its STIR/SHAKEN check gets (calls.screening): "off" ignores the
# check, "flag" answers and flags the call suspected-spam, "block" refuses it. Blocked numbers are
# refused whatever this says.
SpamScreening = Annotated[Literal["off", "flag", "block"],
                          Field(description="off | flag (answer, flag suspected-spam: no SMS alert or text-back)"
                                            " | block (refuse callers whose caller ID failed its STIR/SHAKEN check)")]
def _one_line(value: str) -> str:
    bad = _bad_character(value, "")
    if bad:
        raise ValueError(f"must be one line without control characters (found {bad})")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, AfterValidator(_plain_text)]  # may span lines (a greeting, an FAQ answer)
Line = Annotated[str, AfterValidator(_one_line)]  # a name: it ends up in email headers and SMS


def line(max_length: int):
    """A one-line text of 1 to `max_length` characters (the length checked first, so the message says so)."""
    return Annotated[str, StringConstraints(min_length=1, max_length=max_length), AfterValidator(_one_line)]


def text(max_length: int, min_length: int = 0):
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_plain_text)]


BusinessName = line(200)
Spoken = text(1000)  # a greeting or disclosure, read out on every call
Zone = Annotated[str, StringConstraints(max_length=64), AfterValidator(_timezone)]


class FaqEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: line(500)
    answer: text(2000, min_length=1)


class Business(BaseModel):
    model_config = ConfigDict(extra="forbid")
    services: list[line(200)] = Field(default_factory=list, max_length=100)
    service_areas: list[line(200)] = Field(default_factory=list, max_length=200)
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
    name: BusinessName
    phone_numbers: list[Phone] = Field(default_factory=list, max_length=20)
    timezone: Zone = "UTC"
    business: Business = Field(default_factory=Business)
    greeting: Spoken | None = None
    disclosure: Spoken | None = None
    transfer_number: Phone | None = None
    alert_sms: list[Phone] = Field(default_factory=list, max_length=20)
    alert_emails: list[EmailStr] = Field(default_factory=list, max_length=20)
    retention_days: RetentionDays = DEFAULT_RETENTION_DAYS
    training_opt_out: bool = False
    missed_call_text_back: bool = False
    spam_screening: SpamScreening = "flag"
    voice: Voice | None = Field(None, description="text-to-speech voice, e.g. amazon:Joanna-Neural; "
                                                  "unset means the deployment's RECEPTIONIST_TTS_VOICE")


class AccountUpdate(BaseModel):
    """Fields an owner may change (and an admin, who alone may also change `retention_days`/`status`)."""

    model_config = ConfigDict(extra="forbid")
    name: BusinessName | None = None
    phone_numbers: list[Phone] | None = Field(None, max_length=20)
    timezone: Zone | None = None
    business: Business | None = None
    greeting: Spoken | None = None
    disclosure: Spoken | None = None
    transfer_number: Phone | None = None
    alert_sms: list[Phone] | None = Field(None, max_length=20)
    alert_emails: list[EmailStr] | None = Field(None, max_length=20)
    retention_days: RetentionDays | None = None
    training_opt_out: bool | None = None
    missed_call_text_back: bool | None = None
    spam_screening: SpamScreening | None = None
    voice: Voice | None = None


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailStr
    role: Literal["owner", "member"]
    expires_at: AwareDatetime | None = Field(None, description="when the token stops working (none: never)")


class AdminCreate(BaseModel):
    """A deployment admin, as `receptionist accounts create-admin` takes it."""

    model_config = ConfigDict(extra="forbid")
    email: EmailStr


class BlockedNumberCreate(BaseModel):
    """A number for the account's blocklist, as people write it; stored as E.164 (`normalised`)."""

    model_config = ConfigDict(extra="forbid")
    number: str = Field(min_length=1, max_length=40, description="the caller's number, E.164 or as written locally")


class TokenRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    expires_at: AwareDatetime | None = Field(None, description="when the new token stops working (none: never)")


class WebhookCreate(BaseModel):
    """A webhook endpoint: an https:// URL (public unless the deployment allows private targets) and its events."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2000, description="https:// URL the events are POSTed to")
    events: list[str] = Field(min_length=1, max_length=10,
                              description="any of call.completed, call.missed, lead.captured, call.erased")


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str | None = Field(None, min_length=1, max_length=2000)
    events: list[str] | None = Field(None, min_length=1, max_length=10)
    enabled: bool | None = None
    rotate_secret: bool = Field(False, description="a new secret (answered once); the old one also signs for 24 h")
