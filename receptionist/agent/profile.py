"""The business as the receptionist knows it during one call: the account's profile, read once at setup."""

from __future__ import annotations

from dataclasses import dataclass

from receptionist.agent.hours import BusinessHours
from receptionist.agent.lines import Lines
from receptionist.core.phone import country_code_of


@dataclass(frozen=True)
class FaqEntry:
    question: str
    answer: str


@dataclass(frozen=True)
class BusinessProfile:
    name: str
    timezone: str
    services: tuple[str, ...]
    service_areas: tuple[str, ...]
    hours: BusinessHours
    faq: tuple[FaqEntry, ...]
    transfer_number: str | None
    business_number: str  # the number the caller dialled
    caller_number: str

    @classmethod
    def build(cls, *, name: str, timezone: str, business: dict | None, transfer_number: str | None,
              business_number: str, caller_number: str, lines: Lines | None = None) -> BusinessProfile:
        business = business or {}
        return cls(
            name=name,
            timezone=timezone or "UTC",
            services=tuple(business.get("services") or ()),
            service_areas=tuple(business.get("service_areas") or ()),
            hours=BusinessHours(business.get("hours"), timezone or "UTC", lines),
            faq=tuple(FaqEntry(e["question"], e["answer"]) for e in business.get("faq") or ()
                      if e.get("question") and e.get("answer")),
            transfer_number=transfer_number or None,
            business_number=business_number,
            caller_number=caller_number,
        )

    @property
    def country_code(self) -> str:
        return country_code_of(self.business_number)
