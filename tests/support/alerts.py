"""The SMS alert setup the alert and LLM-summary tests share."""

from __future__ import annotations

OWNER_MOBILE = "+13125550101"  # a real range (the fence refuses 555 numbers: no such area code)
ALERTS_FROM = "+15550100000"


def texts_to(twilio_api, number: str) -> list:
    return [m for m in twilio_api.messages if m.to == number]
