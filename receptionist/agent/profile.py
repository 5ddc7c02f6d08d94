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
    staff: tuple[str, ...]
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
            staff=tuple(business.get("staff") or ()),
            transfer_number=transfer_number or None,
            business_number=business_number,
            caller_number=caller_number,
        )

    @property
    def country_code(self) -> str:
        return country_code_of(self.business_number)


@dataclass(frozen=True)
class Vocabulary:
    """The words of a business that speech-to-text would otherwise mishear: the names (the business,
    its staff, the towns it serves) and the services, as the owner wrote them."""

    names: tuple[str, ...]
    phrases: tuple[str, ...]


def vocabulary(name: str, business: dict | None) -> Vocabulary:
    business = business or {}
    names = [name, *(business.get("staff") or ()), *(business.get("service_areas") or ())]
    return Vocabulary(tuple(n for n in names if n), tuple(p for p in business.get("services") or () if p))
