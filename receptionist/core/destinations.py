"""Where this deployment may call or text: the fence against toll fraud.

Every number the service dials or texts on an account's behalf (the transfer number, the alert
numbers, a missed call's caller) must be a valid number of one of the deployment's allowed
countries (`RECEPTIONIST_OUTBOUND_COUNTRIES`, US and CA by default) and of an ordinary type, as
libphonenumber classifies it. Premium-rate, shared-cost, personal, pager, UAN, voicemail-only,
VoIP and unknown ranges are where pumped traffic earns money for whoever rents them, so they are
refused even in an allowed country.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from receptionist.core.errors import Invalid

# Landlines and mobiles; in NANP countries libphonenumber cannot tell them apart (FIXED_LINE_OR_MOBILE).
ORDINARY_TYPES = frozenset({PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
TYPE_NAMES = {value: name.lower().replace("_", "-") for name, value in vars(PhoneNumberType).items()
              if isinstance(value, int)}
DEFAULT_COUNTRIES = ("US", "CA")


@dataclass(frozen=True)
class Destinations:
    """The countries (ISO 3166 alpha-2 region codes) outbound calls and texts may go to."""

    countries: frozenset[str] = frozenset(DEFAULT_COUNTRIES)

    @classmethod
    def of(cls, countries) -> Destinations:
        return cls(frozenset(code.strip().upper() for code in countries if code.strip()))

    def problem(self, number: str) -> str | None:
        """Why `number` may not be called or texted, or None when it may."""
        try:
            parsed = phonenumbers.parse(number, None)
        except phonenumbers.NumberParseException:
            return "is not a phone number in international format"
        if not phonenumbers.is_valid_number(parsed):
            return "is not a number in use anywhere (libphonenumber knows no such range)"
        region = phonenumbers.region_code_for_number(parsed)
        if region not in self.countries:
            allowed = ", ".join(sorted(self.countries)) or "none"
            return f"is in {region or 'no country'}, outside the countries this service calls and texts ({allowed})"
        kind = phonenumbers.number_type(parsed)
        if kind not in ORDINARY_TYPES:
            return f"is a {TYPE_NAMES.get(kind, 'unknown')} number; only landlines and mobiles are called or texted"
        return None

    def check(self, number: str, field: str) -> None:
        """Raise `Invalid` naming the field when `number` is outside the fence."""
        problem = self.problem(number)
        if problem is not None:
            raise Invalid(f"{field}: {number} {problem}")
