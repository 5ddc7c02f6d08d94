"""The API's response bodies, and the request bodies only it takes (account and user input: accounts.schemas)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_serializer, model_validator


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
    spam_screening: str
    voice: str | None
    status: str
    created_at: datetime


class TranscriptSegment(BaseModel):
    speaker: str  # caller, receptionist or staff (the person a call was transferred to)
    start: float
    end: float
    text: str
    # A caller segment's words as the live speech-to-text heard them, where they differ from the
    # recording's transcription (postcall.transcript); absent where the two agreed, as stored.
    live_text: str | None = None

    @model_serializer(mode="wrap")
    def _as_stored(self, handler):
        data = handler(self)
        if isinstance(data, dict) and data.get("live_text") is None:
            data.pop("live_text", None)
        return data


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
    """What may change on a call: its AI-training flag (owners), and the team's follow-up (members too)."""

    model_config = ConfigDict(extra="forbid")
    training_opt_out: bool | None = None
    handled: bool | None = Field(None, description="true: the follow-up is done; false: open again")
    read: bool | None = Field(None, description="false: unread again for the team")

    @model_validator(mode="after")
    def _something(self) -> CallUpdate:
        if self.training_opt_out is None and self.handled is None and self.read is None:
            raise ValueError("give training_opt_out, handled or read")
        return self


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
    read_at: datetime | None = Field(None, description="when someone on the team first opened the call")
    handled_at: datetime | None = Field(None, description="when the call was marked handled; null while open")
    handled_by: str | None = None
    flags: list[str] = Field(default_factory=list,
                             description="what screening decided: suspected-spam (a caller ID that failed its"
                                         " STIR/SHAKEN check), blocked (refused: the blocklist, or spam_screening"
                                         " block)")


class BlockedNumberOut(BaseModel):
    number: str
    created_at: datetime
    created_by: str | None


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


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    secret: str | None = Field(None, description="shown once: when created, and when rotated")


class WebhookDeliveryOut(BaseModel):
    id: int
    webhook_id: str = Field(description="the event's webhook-id header, the same on every attempt")
    event: str
    call_sid: str | None
    status: str = Field(description="pending | sending | delivered | failed | dropped (its call was erased)")
    attempts: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    delivered_at: datetime | None
    log: list[dict] = Field(description="every attempt: {attempt, at, status_code, error, duration_ms}")
