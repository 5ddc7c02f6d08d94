"""The owner's account form: from posted fields to the API's `AccountUpdate`, and back.

The form is validated by the same schema as `PATCH /api/accounts/{id}` and applied by the same
`accounts.update_account`, so the dashboard cannot accept what the API would refuse. A field the
form did not post is left as it is; a checkbox posts a hidden "0" before its "1", so an unticked
box is a posted "false" and not a missing field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pydantic import ValidationError
from starlette.datastructures import FormData

from receptionist.accounts.schemas import DAYS, AccountUpdate, Business
from receptionist.core.models import Account

# The account page's sections, each a form of its own with its own save button.
SECTIONS = ("business", "hours", "words", "alerts", "screening", "privacy")

TEXT_FIELDS = ("name", "timezone", "spam_screening")
OPTIONAL_TEXT_FIELDS = ("greeting", "disclosure", "transfer_number", "voice")
LIST_FIELDS = ("alert_emails", "alert_sms")
FLAGS = ("training_opt_out", "missed_call_text_back")

LABELS = {
    "name": "Business name", "timezone": "Timezone", "greeting": "Greeting", "disclosure": "Recording disclosure",
    "transfer_number": "Transfer number", "alert_emails": "Alert emails", "alert_sms": "Alert text numbers",
    "training_opt_out": "AI training", "missed_call_text_back": "Missed-call text-back",
    "spam_screening": "Spam screening", "business.services": "Services", "business.service_areas": "Service areas", "business.hours": "Hours",
    "business.faq": "FAQ", "business.staff": "Staff", "business": "Business profile", "voice": "Voice",
}


@dataclass
class AccountForm:
    """What the form shows: values as text, and the problems found in the last submission."""

    values: dict
    errors: dict[str, list[str]] = field(default_factory=dict)

    @property
    def messages(self) -> list[str]:
        return [f"{LABELS.get(where, where)}: {m}" for where, found in self.errors.items() for m in found]


def form_values(account: Account) -> dict:
    """An account as the form's text values."""
    business = Business.model_validate(account.business or {})
    return {
        "name": account.name, "timezone": account.timezone,
        "greeting": account.greeting or "", "disclosure": account.disclosure or "",
        "transfer_number": account.transfer_number or "", "voice": account.voice or "",
        "alert_emails": "\n".join(account.alert_emails or []), "alert_sms": "\n".join(account.alert_sms or []),
        "training_opt_out": account.training_opt_out, "missed_call_text_back": account.missed_call_text_back,
        "spam_screening": account.spam_screening, "services": "\n".join(business.services), "service_areas": "\n".join(business.service_areas),
        "staff": "\n".join(business.staff),
        "hours": {day: business.hours.get(day, "") for day in DAYS},
        "hours_picked": {day: picked(business.hours.get(day, "")) for day in DAYS},
        "faq": [{"question": f.question, "answer": f.answer} for f in business.faq],
    }


def picked(span: str) -> dict:
    """A day's hours as the time pickers show them; a close at 24:00 is midnight, 00:00 on a picker."""
    if span == "closed":
        return {"open": "", "close": "", "closed": True}
    if "-" in span:
        opens, closes = span.split("-", 1)
        return {"open": opens, "close": "00:00" if closes == "24:00" else closes, "closed": False}
    return {"open": "", "close": "", "closed": False}


def _picked_span(form: FormData, day: str) -> str | None:
    """A day from its two time pickers and its "closed" box: "HH:MM-HH:MM", "closed", "" (not set),
    or None when the form did not carry that day's pickers. One time without the other is left as
    it is for the schema to refuse, so the owner sees what was wrong."""
    names = (f"hours_{day}_open", f"hours_{day}_close", f"hours_{day}_closed")
    if not any(name in form for name in names):
        return None
    if f"hours_{day}_closed" in form and form.getlist(f"hours_{day}_closed")[-1] == "1":
        return "closed"
    opens, closes = (str(form.get(names[0]) or "").strip(), str(form.get(names[1]) or "").strip())
    if not opens and not closes:
        return ""
    if closes == "00:00" and opens:
        closes = "24:00"  # closing at midnight
    return f"{opens or '?'}-{closes or '?'}"


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _items(text: str) -> list[str]:
    """Recipients one per line or separated by commas."""
    return [item.strip() for item in re.split(r"[\n,;]", text) if item.strip()]


def _posted(form: FormData, values: dict) -> dict:
    """The submission as an `AccountUpdate` body, with only the fields the form carried."""
    body: dict = {}
    for name in TEXT_FIELDS:
        if name in form:
            values[name] = str(form[name])
            body[name] = values[name].strip()
    for name in OPTIONAL_TEXT_FIELDS:
        if name in form:
            values[name] = str(form[name])
            body[name] = values[name].strip() or None
    for name in LIST_FIELDS:
        if name in form:
            values[name] = str(form[name])
            body[name] = _items(values[name])
    for name in FLAGS:
        if name in form:
            values[name] = form.getlist(name)[-1] == "1"
            body[name] = values[name]
    business = dict(values["_business"])
    touched = False
    for name in ("services", "service_areas", "staff"):
        if name in form:
            values[name] = str(form[name])
            business[name] = _lines(values[name])
            touched = True
    spans = {day: _picked_span(form, day) for day in DAYS}
    if any(f"hours_{day}" in form or spans[day] is not None for day in DAYS):
        hours = dict(business.get("hours") or {})
        for day in DAYS:
            span = spans[day]
            if span is None and f"hours_{day}" in form:  # typed as text: "08:00 - 17:00", "Closed"
                span = str(form[f"hours_{day}"]).strip().lower().replace(" ", "").replace("–", "-")
            if span is not None:
                values["hours"][day] = span
                values["hours_picked"][day] = picked(span)
                if span:
                    hours[day] = span
                else:
                    hours.pop(day, None)
        business["hours"] = hours
        touched = True
    if "faq_question" in form or "faq_answer" in form:
        questions, answers = form.getlist("faq_question"), form.getlist("faq_answer")
        pairs = [(str(q).strip(), str(a).strip()) for q, a in zip(questions, answers, strict=False)]
        values["faq"] = [{"question": q, "answer": a} for q, a in pairs if q or a]
        business["faq"] = values["faq"]
        touched = True
    if touched:
        body["business"] = business
    return body


def _where(loc: tuple) -> str:
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts[:1] == ["business"] and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0] if parts else "form"


def parse_account_form(form: FormData, account: Account) -> tuple[AccountForm, dict]:
    """The form to show again and the changes to apply (empty when nothing changed or on errors)."""
    values = form_values(account)
    current_business = Business.model_validate(account.business or {}).model_dump(mode="json")
    values["_business"] = current_business
    body = _posted(form, values)
    del values["_business"]
    shown = AccountForm(values)
    halves = [day for day in DAYS if "?" in values["hours"][day]]
    if halves:  # one time picker set and not the other
        shown.errors["business.hours"] = [f"{day}: give both the opening and the closing time, or neither"
                                          for day in halves]
        return shown, {}
    try:
        update = AccountUpdate.model_validate(body)
    except ValidationError as exc:
        for err in exc.errors():
            message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
            shown.errors.setdefault(_where(tuple(err.get("loc", ()))), []).append(message)
        return shown, {}
    changes = update.model_dump(exclude_unset=True, mode="json")
    current = {
        "name": account.name, "timezone": account.timezone, "greeting": account.greeting,
        "disclosure": account.disclosure, "transfer_number": account.transfer_number, "voice": account.voice,
        "alert_emails": list(account.alert_emails or []), "alert_sms": list(account.alert_sms or []),
        "training_opt_out": account.training_opt_out, "missed_call_text_back": account.missed_call_text_back,
        "spam_screening": account.spam_screening, "business": current_business,
    }
    return shown, {name: value for name, value in changes.items() if value != current.get(name)}
