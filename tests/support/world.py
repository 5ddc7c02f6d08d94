"""The constants tests share: where the test services are, and the business and call they play."""

from __future__ import annotations

import os

PG_ADMIN_URL = os.environ.get("RECEPTIONIST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("RECEPTIONIST_TEST_REDIS", "redis://127.0.0.1:6379/13")

BUSINESS_NUMBER = "+15550100200"
CALLER_NUMBER = "+15550142367"
OWNER_EMAIL = "owner@acme-plumbing.example"

ACCOUNT = {
    "name": "Acme Plumbing",
    "phone_numbers": [BUSINESS_NUMBER],
    "timezone": "America/Chicago",
    "business": {
        "services": ["water heater repair", "drain cleaning"],
        "service_areas": ["Springfield", "Shelbyville"],
        "hours": {"mon": "08:00-17:00", "sat": "closed"},
    },
    "disclosure": "This call is recorded for quality.",
    "alert_emails": [OWNER_EMAIL],
}

CALL_TURNS = [
    ("receptionist", "Thanks for calling Acme Plumbing. How can I help you today?"),
    ("caller", "Hi, my water heater is leaking in the basement. I live in Springfield."),
    ("receptionist", "Sorry to hear that. A plumber will call you back soon. Goodbye."),
]
