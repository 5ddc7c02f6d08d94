"""What an owner's alert says first: the urgency, the caller's name, the reason, the number to call back.

Composition only (the sending, once per recipient, is in test_alerts.py against SMTP and the Twilio
stand-in): the email's subject and text and HTML parts, and the SMS within two segments.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from receptionist.core.models import Account, Call
from receptionist.core.templates import Templates
from receptionist.notify.alerts import AlertSettings, OwnerAlerts
from receptionist.notify.segments import is_gsm7, segments

CALLER = "+13125550142"
BUSINESS_NUMBER = "+13125550100"
PUBLIC_URL = "https://receptionist.example.com"
PRIYA = {"name": "Priya Natarajan", "callback_number": CALLER, "address": "42 Oak Street, Springfield",
         "reason": "There is water coming through my ceiling right now, it's an emergency.", "urgency": "emergency"}


def alerts() -> OwnerAlerts:
    # Composing touches none of the systems the sender needs (database, SMTP, Twilio, the fence).
    return OwnerAlerts(None, None, None, Templates(), AlertSettings(
        from_email="alerts@receptionist.example.com", from_number="+13125550199", public_url=PUBLIC_URL,
        retry_window_s=1.0), None)


def call(lead: dict | None, *, outcome: str = "message-taken", summary: str | None = "The caller needs help.",
         business: str = "Rivertown Plumbing", sid: str = "CA" + "7" * 32) -> Call:
    account = Account(id="acc-1", name=business, timezone="America/Chicago")
    return Call(call_sid=sid, account=account, account_id=account.id, from_number=CALLER, to_number=BUSINESS_NUMBER,
                started_at=datetime(2026, 11, 30, 16, 15, tzinfo=timezone.utc), duration_s=42, outcome=outcome,
                summary=summary, lead=lead, retention_days=90,
                conversation=[{"speaker": "caller", "text": "<b>It's Priya</b> & co"}], transcript=[])


def test_an_emergency_leads_with_the_urgency_the_name_and_the_reason():
    message = alerts().compose_email(call(PRIYA), "owner@example.com")
    assert message["Subject"] == ("EMERGENCY — Priya Natarajan, water coming through my ceiling "
                                  "(Rivertown Plumbing)")
    text = message.get_body(("plain",)).get_content()
    first_lines = [line for line in text.splitlines() if line][:3]
    assert first_lines[0] == "EMERGENCY — Priya Natarajan, water coming through my ceiling"
    assert first_lines[1] == "Call back: (312) 555-0142  <tel:+13125550142>"
    assert first_lines[2] == "Address:   42 Oak Street, Springfield"
    html = message.get_body(("html",)).get_content()
    assert '<a href="tel:+13125550142"' in html and "Call back (312) 555-0142</a>" in html
    assert f'href="{PUBLIC_URL}/calls/{"CA" + "7" * 32}"' in html
    # What the caller said is escaped in the HTML part, never markup.
    assert "&lt;b&gt;It&#39;s Priya&lt;/b&gt; &amp; co" in html and "<b>It's Priya</b>" not in html


@pytest.mark.parametrize("lead, subject", [
    ({**PRIYA, "urgency": "high"}, "URGENT — Priya Natarajan, water coming through my ceiling (Rivertown Plumbing)"),
    ({**PRIYA, "urgency": "normal", "reason": "My kitchen drain is slow."},
     "Priya Natarajan, my kitchen drain is slow (Rivertown Plumbing)"),
    ({"callback_number": CALLER, "reason": "Sewage is backing up into the basement.", "urgency": "emergency"},
     "EMERGENCY — (312) 555-0142, sewage is backing up into the basement (Rivertown Plumbing)"),
    ({"callback_number": CALLER, "reason": "Quote for a new water heater", "urgency": "low"},
     "New call from (312) 555-0142, quote for a new water heater (Rivertown Plumbing)"),
    ({"name": "Nguyễn Thị Lan", "urgency": "normal"}, "Nguyễn Thị Lan called (Rivertown Plumbing)"),
    (None, "New call from (312) 555-0142 (Rivertown Plumbing)"),
])
def test_the_subject_starts_with_what_matters(lead, subject):
    assert alerts().compose_email(call(lead), "owner@example.com")["Subject"] == subject


def test_a_missed_call_says_so_and_a_name_cannot_break_the_header():
    missed = alerts().compose_email(call(None, outcome="missed", summary=None), "owner@example.com")
    assert missed["Subject"] == "Missed call from (312) 555-0142 to Rivertown Plumbing"
    forged = alerts().compose_email(call({**PRIYA, "name": "Priya\nBcc: attacker@example.com"}), "owner@example.com")
    assert forged["Subject"].startswith("EMERGENCY — Priya Bcc: attacker@example.com, water")
    assert forged["Bcc"] is None


def test_the_text_leads_with_the_urgency_and_stays_in_two_gsm7_segments():
    body = alerts().compose_sms(call(PRIYA))
    assert body.startswith("EMERGENCY - Priya Natarajan, water coming through my ceiling. Call back: +13125550142.")
    assert "42 Oak Street, Springfield." in body and "Rivertown Plumbing, Mon 10:15." in body
    assert body.endswith(f"{PUBLIC_URL}/calls/{'CA' + '7' * 32}")
    assert is_gsm7(body) and segments(body) <= 2


def test_a_long_text_gives_way_in_order_but_keeps_the_urgency_name_number_and_link():
    long_reason = ("The water heater in the basement is leaking from the bottom and the pilot light keeps going "
                   "out, and the floor drain next to it is backing up with dirty water as well.")
    lead = {**PRIYA, "urgency": "high", "reason": long_reason,
            "address": "12345 North Lake Shore Drive, Apartment 4711, Shelbyville"}
    body = alerts().compose_sms(call(lead, business="The Very Long Name Plumbing Heating and Cooling Company"))
    assert segments(body) <= 2
    assert body.startswith("URGENT - Priya Natarajan, the water heater in the basement is leaking from")
    assert "+13125550142" in body and body.endswith(f"/calls/{'CA' + '7' * 32}")

    # A name outside GSM-7 makes the text UCS-2 (67 characters a segment): the optional parts give way.
    body = alerts().compose_sms(call({**lead, "name": "Nguyễn Thị Lan"}))
    assert not is_gsm7(body) and segments(body) <= 2
    assert body.startswith("URGENT - Nguyễn Thị Lan") and "+13125550142" in body
    assert body.endswith(f"/calls/{'CA' + '7' * 32}")


def test_a_text_without_a_reason_carries_the_summary_and_a_missed_call_its_number():
    body = alerts().compose_sms(call({"callback_number": CALLER}, summary="Asked whether Saturday works."))
    assert body.startswith("New call from (312) 555-0142. Call back: +13125550142. Asked whether Saturday works.")
    missed = alerts().compose_sms(call(None, outcome="missed", summary=None))
    assert missed.startswith("Missed call from (312) 555-0142 to Rivertown Plumbing at Mon 10:15. "
                             "Call back: +13125550142.")


@pytest.mark.parametrize("text, count", [
    ("a" * 160, 1), ("a" * 161, 2), ("a" * 306, 2), ("a" * 307, 3),
    ("{" * 80, 1), ("{" * 81, 2),  # an extension character takes two
    ("ễ" * 70, 1), ("ễ" * 71, 2), ("ễ" * 134, 2), ("a" * 100 + "—", 2), ("", 0),
])
def test_segments_are_counted_as_twilio_counts_them(text, count):
    assert segments(text) == count


def test_the_text_carries_an_llm_summary_but_not_the_extractive_one_that_repeats_the_reason():
    lead = {**PRIYA, "urgency": "high", "reason": "Leaking water heater", "address": None}
    llm = alerts().compose_sms(call(lead, summary="Priya's water heater leaks; she wants someone today."))
    assert "she wants someone today." in llm
    extractive = alerts().compose_sms(call(lead, summary='Priya Natarajan: "Leaking water heater." Urgency: high.'))
    assert "Urgency: high" not in extractive and extractive.count("eaking water heater") == 1
