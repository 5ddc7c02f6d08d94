"""Removing personal details from text before it goes into a training set.

Phone numbers (written or spoken digit by digit), email addresses (written or spoken "at … dot"),
street addresses ("42 Elm Street", "forty two elm street") and stated names ("my name is Jane
Doe", "this is Jane", "Jane here") become placeholders. Values the call already knows (the
caller's number, the lead's name, phone, email and address) are removed wherever they appear,
which catches what the patterns miss. It errs on the side of removing too much.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

PHONE, EMAIL, ADDRESS, NAME = "[PHONE]", "[EMAIL]", "[ADDRESS]", "[NAME]"

_DIGIT_WORDS = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine|double|triple)"
_NUMBER_WORDS = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
                 r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
                 r"eighty|ninety|hundred|thousand)")
_STREET_TYPES = (r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|"
                 r"terrace|circle|cir|parkway|pkwy|highway|hwy|trail|square|sq|crescent|close|row|alley)")

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
SPOKEN_EMAIL_RE = re.compile(
    r"\b[\w.+-]+(?:\s+(?:dot|underscore)\s+[\w-]+)*\s+at\s+[\w-]+(?:\s+dot\s+[\w-]+)*\s+dot\s+"
    r"(?:com|net|org|edu|gov|io|co|us|uk|ca|info|biz)\b", re.IGNORECASE)
# 7 to 15 digits with the usual separators: +1 (555) 014-2367, 555.014.2367, 5550142367, 014 2367
PHONE_RE = re.compile(r"(?<![\w+])\+?\d(?:[\s().-]{0,2}\d){6,14}(?!\w)")
SPOKEN_PHONE_RE = re.compile(rf"\b{_DIGIT_WORDS}(?:[\s,.-]+{_DIGIT_WORDS}){{6,}}\b", re.IGNORECASE)
ADDRESS_RE = re.compile(
    rf"\b(?:\d{{1,6}}[A-Za-z]?|{_NUMBER_WORDS}(?:[\s-]+{_NUMBER_WORDS})*)\s+"
    rf"(?:(?:north|south|east|west|n|s|e|w)\.?\s+)?(?:[A-Za-z][\w'-]*\s+){{1,3}}{_STREET_TYPES}\b\.?",
    re.IGNORECASE)
_NAME = r"[A-Z][a-z'-]+(?:\s+[A-Z][a-z'-]+){0,2}"
# A capitalised name after a phrase that introduces one; the phrase's case is free, the name's is not.
NAME_RE = re.compile(
    rf"(?P<lead>\b(?i:my\s+name\s+is|my\s+name's|name's|this\s+is|it's|it\s+is|i\s+am|i'm|call\s+me|"
    rf"speaking\s+with|talking\s+to|ask\s+for|mister|mr\.?|mrs\.?|ms\.?|miss|dr\.?)\s+)(?P<name>{_NAME})")
NAME_HERE_RE = re.compile(rf"(?P<name>\b{_NAME})(?P<tail>\s+(?:here|speaking|calling)\b)")
# Capitalised words that follow "this is", "I'm" and the like without being anyone's name.
NOT_NAMES = {
    "a", "an", "the", "just", "not", "calling", "looking", "sorry", "here", "so", "very", "really", "urgent",
    "about", "at", "in", "on", "from", "with", "your", "our", "my", "okay", "ok", "fine", "good", "great",
    "yes", "no", "hi", "hello", "thanks", "thank", "please", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "today", "tomorrow", "interested", "wondering", "having", "going",
    "trying", "afraid", "glad", "happy", "available", "home", "back", "still", "also", "actually",
    "i", "i'm", "it", "it's", "this", "that", "that's", "we", "we're", "he", "she", "they", "you", "who",
    "someone", "somebody", "nobody", "everyone", "thank-you",
}


@dataclass
class Redactor:
    """Redacts text; `known` are exact values to remove as well (with their placeholder)."""

    known: list[tuple[str, str]] = field(default_factory=list)
    protected: set[str] = field(default_factory=set)  # names that are not people's (the business's)
    counts: Counter = field(default_factory=Counter)

    def redact(self, text: str) -> str:
        if not text:
            return text
        # Whole email addresses first: a known name inside one must not split it.
        text = self._sub(EMAIL_RE, EMAIL, text)
        text = self._sub(SPOKEN_EMAIL_RE, EMAIL, text)
        for value, placeholder in sorted(self.known, key=lambda item: -len(item[0])):
            text = self._sub(re.compile(rf"(?<!\w){re.escape(value)}(?!\w)", re.IGNORECASE), placeholder, text)
        text = self._sub(ADDRESS_RE, ADDRESS, text)
        text = self._sub(PHONE_RE, PHONE, text)
        text = self._sub(SPOKEN_PHONE_RE, PHONE, text)
        text = NAME_RE.sub(self._name, text)
        text = NAME_HERE_RE.sub(self._name_here, text)
        return text

    def _sub(self, pattern: re.Pattern, placeholder: str, text: str) -> str:
        text, n = pattern.subn(placeholder, text)
        self.counts[placeholder] += n
        return text

    def _is_name(self, name: str) -> bool:
        first = name.split()[0].lower()
        return first not in NOT_NAMES and name.lower() not in self.protected

    def _name(self, match: re.Match) -> str:
        name = match["name"]
        if not self._is_name(name):
            return match[0]
        self.counts[NAME] += 1
        return match["lead"] + NAME

    def _name_here(self, match: re.Match) -> str:
        if not self._is_name(match["name"]):
            return match[0]
        self.counts[NAME] += 1
        return NAME + match["tail"]


def redactor_for_call(from_number: str | None, lead: dict | None, business_name: str | None = None) -> Redactor:
    """A redactor that also removes what this call is known to contain."""
    known: list[tuple[str, str]] = []
    for number in filter(None, [from_number, (lead or {}).get("callback_number"), (lead or {}).get("phone")]):
        digits = re.sub(r"\D", "", str(number))
        known.append((str(number), PHONE))
        if len(digits) >= 7:
            known.append((digits, PHONE))
            known.append((digits[-10:], PHONE))
    lead = lead or {}
    for key, placeholder in (("email", EMAIL), ("address", ADDRESS), ("street_address", ADDRESS)):
        value = lead.get(key)
        if isinstance(value, str) and len(value.strip()) >= 4:
            known.append((value.strip(), placeholder))
    name = lead.get("name") or lead.get("caller_name")
    if isinstance(name, str) and name.strip():
        known.append((name.strip(), NAME))
        known.extend((part, NAME) for part in name.split() if len(part) >= 3 and part.lower() not in NOT_NAMES)
    protected = {business_name.lower()} if business_name else set()
    return Redactor(known=known, protected=protected)
