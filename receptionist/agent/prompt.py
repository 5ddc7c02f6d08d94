"""The LLM's instructions for one call: `prompts/system_prompt.txt` filled from the business profile."""

from __future__ import annotations

from datetime import datetime

from receptionist.agent.hours import DAY_NAMES, spoken_time
from receptionist.agent.profile import BusinessProfile
from receptionist.core.templates import Templates

SYSTEM_TEMPLATE = "system_prompt.txt"


def system_prompt(templates: Templates, profile: BusinessProfile, now: datetime) -> str:
    local = profile.hours.local(now)
    return templates.render(
        SYSTEM_TEMPLATE,
        business_name=profile.name,
        services=list(profile.services),
        service_areas=list(profile.service_areas),
        timezone=profile.timezone,
        hours=profile.hours.describe(),
        open_now=profile.hours.is_open(now),
        # A date the model can resolve "tomorrow" and "next Tuesday" against, in the business's zone.
        now_spoken=f"{DAY_NAMES[local.weekday()]} {local:%Y-%m-%d}, {spoken_time(local.hour * 60 + local.minute)}",
        faq=list(profile.faq),
        transfer_available=bool(profile.transfer_number),
        caller_number=profile.caller_number,
    )
