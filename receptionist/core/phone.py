"""Callback numbers as callers say them ("five five five, oh one four two…", "this number") → E.164."""

from __future__ import annotations

import re

import phonenumbers

DIGIT_WORDS = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5",
               "six": "6", "seven": "7", "eight": "8", "nine": "9"}
REPEATS = {"double": 2, "triple": 3}
E164 = re.compile(r"\+[1-9]\d{6,14}")  # the one definition: "+", a country code, up to 15 digits in all


def is_e164(value: object) -> bool:
    return isinstance(value, str) and E164.fullmatch(value) is not None
# "this number", "the number I'm calling from", "same number", "you can reach me here"
THIS_NUMBER = re.compile(r"\b(?:this|same|current)\s+(?:phone\s+)?number\b|\bcalling (?:you )?from\b|"
                         r"\bnumber (?:i'?m|i am) (?:calling|on)\b|\breach me (?:here|on this)\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+|\+|\d|[^\sa-z\d]", re.IGNORECASE)


def digits_spoken(text: str) -> str:
    """The digit string in `text`, digit words and "double five" included ("" when there is none).

    Runs of digits are joined across separators (spaces, dashes, dots, commas, brackets) and
    filler words; other words end a run, so "2 dogs and 3 cats" is not a phone number. The longest run wins.
    """
    runs: list[str] = []
    current = ""
    repeat = 1
    for token in _WORD.findall(text):
        lower = token.lower()
        if token.isdigit() or lower in DIGIT_WORDS:
            digit = token if token.isdigit() else DIGIT_WORDS[lower]
            if lower in ("o", "oh") and not current:
                continue  # "oh, …" before any digit is an interjection, not a zero
            current += digit * repeat
            repeat = 1
        elif lower in REPEATS:
            repeat = REPEATS[lower]
        elif token == "+" and not current:
            current = "+"
        elif token in "-.,()/" or lower in ("and", "uh", "um", "dash", "is", "it's"):
            continue
        else:
            if current.strip("+"):
                runs.append(current)
            current, repeat = "", 1
    if current.strip("+"):
        runs.append(current)
    return max(runs, key=len, default="")


def to_e164(raw: str, country_code: str = "1") -> str | None:
    """A dialable E.164 number, assuming the business's country for national numbers."""
    plus = raw.strip().startswith("+")
    digits = re.sub(r"\D", "", raw)
    if plus:
        number = "+" + digits
        return number if E164.fullmatch(number) else None
    if country_code == "1":
        if len(digits) == 11 and digits[0] == "1":
            digits = digits[1:]
        if len(digits) == 10 and digits[0] not in "01":
            return "+1" + digits
        return None
    if 6 <= len(digits) <= 14 and country_code:
        number = "+" + country_code + digits.lstrip("0")
        return number if E164.fullmatch(number) else None
    return None


def country_code_of(number: str) -> str:
    """The country calling code to assume for national numbers (NANP when the business number is +1)."""
    return "1" if number.startswith("+1") else ""


def find_number(text: str, caller_number: str, country_code: str = "1") -> str | None:
    """The callback number in an utterance: a spoken number, or the caller's own when they say "this number"."""
    spoken = digits_spoken(text)
    if len(spoken.strip("+")) >= 7:
        number = to_e164(spoken, country_code)
        if number:
            return number
    if THIS_NUMBER.search(text) and E164.fullmatch(caller_number or ""):
        return caller_number
    return None


def normalise(value: str, caller_number: str, country_code: str = "1") -> str | None:
    """A number a model or a caller gave, as E.164; None when it is not a phone number."""
    value = (value or "").strip()
    if not value:
        return None
    if E164.fullmatch(value):
        return value
    return find_number(value, caller_number, country_code) or to_e164(value, country_code)


def say_digits(number: str) -> str:
    """`+15550142367` → `555-014-2367` for NANP (speech engines read it digit by digit), else the digits."""
    if number.startswith("+1") and len(number) == 12:
        return f"{number[2:5]}-{number[5:8]}-{number[8:]}"
    return " ".join(number.lstrip("+"))


def masked(number: str | None) -> str:
    """A phone number as logs and error messages may show it: only its last four digits."""
    digits = re.sub(r"\D", "", number or "")
    return f"***{digits[-4:]}" if len(digits) > 4 else "***"


def national(number: str | None, home_number: str | None = None) -> str:
    """A number as an owner reads it: the national format of its country ("(312) 555-0199") when it is
    in the same country as `home_number` (the business's), else the international one ("+44 20 7946
    0958"); what libphonenumber cannot parse, as given."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return number
    home = home_number if home_number and home_number.startswith("+") else number
    try:
        same_country = phonenumbers.parse(home, None).country_code == parsed.country_code
    except phonenumbers.NumberParseException:
        same_country = True
    fmt = phonenumbers.PhoneNumberFormat.NATIONAL if same_country else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, fmt)
