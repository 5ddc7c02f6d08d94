"""The API's response bodies, and the request bodies only it takes (account and user input: accounts.schemas)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    token: str = Field(description="shown once: only a hash of it is kept")


class UserInfo(BaseModel):
    """A member of an account's team as its owners see it (never the token: only its hash is kept)."""

    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime | None = Field(description="when the user's token stops working (null: never)")


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
    voice: str | None
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
