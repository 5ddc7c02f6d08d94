"""Removing personal details from what callers said before it leaves the product (the training export).

The text is what a speech recogniser heard, so details come written ("555-867-5309",
"john.smith@gmail.com", "4111 1111 1111 1111") or spoken ("five fifty five, eight six seven…",
"john dot smith at gmail dot com"), in capitals or not, and sometimes garbled ("it's in Marcus
mail" for "it's Marcus Mehl"). Redaction finds spans, not words: each detector marks what it
recognises, overlapping marks merge, and each span becomes one placeholder.

- The call's own values (the lead's name, first name alone, callback number, address, email, and
  the caller ID) wherever they appear, and near-misses of the name: a token one or two edits away,
  or one that sounds the same (metaphone) next to another part of the name or after "my name is".
- Phone numbers in any grouping, written or spoken ("double five", "fifty five", "eight hundred").
- Emails written or spoken ("at … dot com", "at gmail").
- Card numbers (13 to 19 digits that pass the Luhn check), a card's last four, CVV and expiry.
- Street addresses (a house number with a street type, a unit, a ZIP, or after "I live at"),
  units ("apartment 4B") and ZIP codes.
- Dates of birth (after "born", "date of birth", "birthday", "DOB"; any full numeric date before 2020).
- Names introduced as names ("my name is", "this is", "I'm", "Mr."), capitalised, or lower case
  when they are common first names.

It errs on the side of removing. How well it does is measured on a generated corpus of call speech
(`tests/privacy/redaction_corpus.jsonl`, `bench/redaction.py`).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

import jellyfish

PHONE, EMAIL, ADDRESS, NAME, CARD, DOB, NUMBER = "[PHONE]", "[EMAIL]", "[ADDRESS]", "[NAME]", "[CARD]", "[DOB]", "[NUMBER]"
# When marks of two kinds overlap, the merged span takes the kind of the longest one; on a tie, the first here.
PRIORITY = (EMAIL, CARD, DOB, PHONE, ADDRESS, NAME, NUMBER)

TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*|[^\sA-Za-z0-9]")
EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
NUMERIC_DATE_RE = re.compile(r"(?<![\d/.-])(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])[/.-](?:19\d\d|200\d|201\d)(?![\d/.-])")

UNITS = {"zero": 0, "oh": 0, "o": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
         "eight": 8, "nine": 9}
TEENS = {"ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
         "seventeen": 17, "eighteen": 18, "nineteen": 19}
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
        "ninety": 90}
REPEATS = {"double": 2, "triple": 3}
NUMBER_WORDS = set(UNITS) | set(TEENS) | set(TENS) | {"hundred", "thousand"}
ORDINALS = {"first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
            "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
            "nineteenth", "twentieth", "thirtieth"}
MONTHS = {"january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
          "november", "december", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
SEPARATORS = {",", "-", ".", "(", ")", "/"}
FILLERS = {"uh", "um", "er", "erm", "ah"}

STREET_TYPES = {"street", "st", "avenue", "ave", "road", "rd", "boulevard", "blvd", "lane", "ln", "drive", "dr",
                "court", "ct", "way", "place", "pl", "terrace", "circle", "cir", "parkway", "pkwy", "highway", "hwy",
                "trail", "trl", "square", "sq", "crescent", "row", "alley", "pike", "loop", "run", "path", "plaza",
                "point", "ridge", "hollow", "crossing", "cove"}
UNIT_WORDS = {"apartment", "apt", "unit", "suite", "ste", "#", "flat", "lot", "building", "bldg"}
DIRECTIONS = {"north", "south", "east", "west", "n", "s", "e", "w", "ne", "nw", "se", "sw", "northeast", "northwest",
              "southeast", "southwest"}
STATES = {"alabama", "alaska", "arizona", "arkansas", "california", "colorado", "connecticut", "delaware", "florida",
          "georgia", "hawaii", "idaho", "illinois", "indiana", "iowa", "kansas", "kentucky", "louisiana", "maine",
          "maryland", "massachusetts", "michigan", "minnesota", "mississippi", "missouri", "montana", "nebraska",
          "nevada", "ohio", "oklahoma", "oregon", "pennsylvania", "tennessee", "texas", "utah", "vermont",
          "virginia", "washington", "wisconsin", "wyoming", "il", "ca", "tx", "ny", "fl", "oh", "pa", "mi", "ga",
          "nc", "nj", "va", "wa", "az", "ma", "tn", "in", "mo", "md", "wi", "co", "mn", "sc", "al", "la", "ky",
          "or", "ok", "ct", "ut", "ia", "nv", "ar", "ms", "ks", "nm", "ne", "id", "wv", "hi", "nh", "me", "ri",
          "mt", "de", "sd", "nd", "ak", "vt", "wy", "dc", "ontario", "quebec", "on", "bc", "ab", "qc"}
# What follows a number without making it a house number ("2 days", "50 gallon", "3 bedrooms").
NOT_STREET = {"days", "day", "weeks", "week", "months", "month", "years", "year", "hours", "hour", "minutes",
              "minute", "times", "time", "dollars", "dollar", "bucks", "percent", "gallon", "gallons", "degrees",
              "feet", "foot", "inch", "inches", "pm", "am", "o'clock", "bedroom", "bedrooms", "bathroom",
              "bathrooms", "story", "stories", "kids", "people", "of", "or", "and", "to", "in", "on", "at", "the",
              "my", "your", "our", "his", "her", "their", "it", "this", "that", "these", "those", "from", "for",
              "a", "is", "was", "are", "more", "other", "different", "toilets", "sinks", "units", "rooms"}
ADDRESS_CUES = (("live", "at"), ("live", "on"), ("address", "is"), ("address's",), ("located", "at"),
                ("we're", "at"), ("i'm", "at"), ("out", "at"), ("property", "is", "at"), ("house", "is", "at"),
                ("it's", "at"), ("come", "out", "to"), ("come", "to"), ("located", "on"), ("staying", "at"))
# Words after which four to six digits are part of a phone number ("the number ends in 5309", "extension 204").
PHONE_CUES = {"number", "phone", "cell", "mobile", "callback", "digits", "extension", "ext"}
CARD_CUES = {"card", "visa", "mastercard", "amex", "discover", "credit", "debit"}
CVV_CUES = {"cvv", "cvc", "csc", "cvv2", "security", "verification"}
EXPIRY_CUES = {"expires", "expiration", "expiry", "exp", "expiring", "thru", "through"}
DOB_CUES = (("date", "of", "birth"), ("birth", "date"), ("birthdate",), ("birthday",), ("born", "on"), ("born", "in"),
            ("born",), ("dob",), ("d", "o", "b"))
EMAIL_PROVIDERS = {"gmail", "yahoo", "hotmail", "outlook", "icloud", "aol", "comcast", "protonmail", "msn", "live",
                   "att", "verizon", "me"}
TLDS = {"com", "net", "org", "edu", "gov", "io", "co", "us", "uk", "ca", "info", "biz", "me", "ai", "app", "dev"}
EMAIL_JOINERS = {"dot", "underscore", "dash", "hyphen", "period", ".", "_", "-"}
LOCAL_STOP = {"is", "me", "email", "e-mail", "mail", "address", "it's", "its", "my", "at", "to", "you", "can", "send",
              "reach", "the", "and", "or", "it", "that's", "thats", "write", "contact", "i", "on", "us", "your", "it",
              "a", "an", "for", "from", "with", "that", "this", "be", "by", "of", "best", "also", "just", "okay", "ok",
              "so", "yes", "yeah", "um", "uh", "please", "there", "here", "try", "use", "via"}
NOT_LOCAL = {"me", "us", "email", "e-mail", "mail", "address", "is", "it's", "at", "to", "you", "him", "her", "them"}

# Phrases after which the next capitalised words are a name. "Strong" ones are followed by a name
# even in lower case ("my name is marcus"); after weak ones a lower-case word must be a known first name.
STRONG_NAME_CUES = (("my", "name", "is"), ("my", "name's"), ("name", "is"), ("name's",), ("the", "name", "is"),
                    ("first", "name", "is"), ("last", "name", "is"), ("surname", "is"), ("call", "me"),
                    ("first", "name"), ("last", "name"), ("under", "the", "name"), ("under",),
                    ("names",), ("spelled",), ("mister",), ("mr",), ("mrs",), ("ms",), ("miss",), ("dr",))
WEAK_NAME_CUES = (("this", "is"), ("it's",), ("it", "is"), ("i'm",), ("i", "am"), ("speaking", "with"),
                  ("talking", "to"), ("ask", "for"), ("thanks",), ("thank", "you"), ("hi",), ("hello",), ("hey",),
                  ("for",), ("named",), ("called",), ("wife",), ("husband",), ("son",), ("daughter",),
                  ("tenant",), ("landlord",), ("neighbor",), ("and",), ("or",), ("with",))
CAPITALISED_ONLY = {"and", "or", "with", "for"}  # such cues only introduce a name that is capitalised and known
# Capitalised words that follow "this is", "I'm" and the like without being anyone's name.
NOT_NAMES = {
    "a", "an", "the", "just", "not", "calling", "looking", "sorry", "here", "so", "very", "really", "urgent",
    "about", "at", "in", "on", "from", "with", "your", "our", "my", "okay", "ok", "fine", "good", "great",
    "yes", "no", "hi", "hello", "thanks", "thank", "please", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "today", "tomorrow", "interested", "wondering", "having", "going",
    "trying", "afraid", "glad", "happy", "available", "home", "back", "still", "also", "actually",
    "i", "i'm", "it", "it's", "this", "that", "that's", "we", "we're", "he", "she", "they", "you", "who",
    "someone", "somebody", "nobody", "everyone", "thank-you", "is", "was", "be", "been", "regarding", "for",
    "and", "or", "but", "if", "when", "what", "where", "why", "how", "there", "their", "all", "any", "some",
    "leaking", "broken", "out", "up", "down", "off", "over", "done", "free", "busy", "sure", "right", "wrong",
    "new", "old", "one", "two", "three", "to", "of", "by", "as", "an", "do", "does", "did", "have", "has",
    "had", "can", "could", "would", "will", "should", "may", "might", "must", "me", "him", "her", "them", "us",
    "again", "now", "then", "too", "well", "kind", "sort", "like", "yeah", "uh", "um", "hmm", "oh", "er",
    "correct", "perfect", "awesome", "alright", "ready", "worried", "concerned", "calling", "call", "wait",
    "hold", "speaking", "mister", "mr", "mrs", "ms", "miss", "dr", "sir", "madam", "ma'am", "dear", "name",
    "number", "phone", "email", "address", "street", "apartment", "water", "heater", "plumber", "plumbing",
    "roof", "leak", "drain", "toilet", "sink", "basement", "kitchen", "bathroom", "furnace", "ac", "my",
    "first", "last", "second", "morning", "afternoon", "evening", "night", "week", "weekend", "emergency",
}
# Common first names that are also ordinary words or places: recognised only when capitalised.
WORDLIKE_NAMES = {
    "amber", "angel", "april", "autumn", "bill", "bob", "brandy", "chase", "crystal", "daisy", "dale", "dawn",
    "dean", "destiny", "diamond", "don", "drew", "faith", "frank", "gene", "glen", "grace", "grant", "guy",
    "holly", "hunter", "jack", "jade", "jay", "joy", "lance", "lee", "mark", "mason", "max", "melody", "misty",
    "parker", "penny", "raven", "ray", "robin", "rose", "sandy", "savannah", "summer", "sue", "taylor",
    "carol", "heather", "ebony", "mercedes", "sierra", "sydney", "virginia", "dakota", "jordan", "austin",
    "madison", "chelsea", "brooke", "cole", "kent", "lynn", "mike", "tim", "will", "may", "jean", "pam",
    "shelby", "skip", "rick", "kim", "sally", "cody", "bailey", "riley", "logan", "morgan", "page", "paige",
    "hope", "art", "pat", "christian", "franklin", "eugene", "jackson",
}


@cache
def first_names() -> frozenset[str]:
    text = files("receptionist.privacy").joinpath("first_names.txt").read_text(encoding="utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@dataclass(frozen=True)
class Token:
    text: str
    start: int
    end: int

    @property
    def lower(self) -> str:
        return self.text.lower().replace("’", "'")

    @property
    def alpha(self) -> bool:
        return self.text[:1].isalpha()

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class NumberRun:
    """Consecutive tokens that spell digits, and the digits they spell."""

    first: int  # token indexes, inclusive
    last: int
    digits: str
    plus: bool = False


def tokenize(text: str) -> list[Token]:
    return [Token(m[0], m.start(), m.end()) for m in TOKEN_RE.finditer(text)]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _number_token(token: Token) -> bool:
    return token.text.isdigit() or token.lower in NUMBER_WORDS or token.lower in REPEATS


def number_run(tokens: list[Token], i: int) -> NumberRun | None:
    """The run of number tokens starting at `i` (digits, digit words, "fifty five", "double oh", "eight hundred")."""
    n = len(tokens)
    plus = False
    if tokens[i].text == "+" and i + 1 < n and tokens[i + 1].text.isdigit() and tokens[i].end == tokens[i + 1].start:
        plus, i = True, i + 1
    if not _number_token(tokens[i]):
        return None
    if tokens[i].lower in ("oh", "o"):  # "oh, …" is an interjection unless a number follows
        j = i + 1
        while j < n and tokens[j].text in SEPARATORS:
            j += 1
        if j >= n or not _number_token(tokens[j]):
            return None
    groups: list[str] = []
    value: int | None = None  # the compound number being read ("fifty" + "five")
    stage = ""  # what the compound's last word was: unit, teen, tens, hundred, thousand
    repeat = 1
    first = last = i
    j = i

    def close() -> None:
        nonlocal value, stage
        if value is not None:
            groups.append(str(value))
        value, stage = None, ""

    while j < n:
        t = tokens[j]
        word = t.lower
        if t.text.isdigit():
            close()
            groups.append(t.text * repeat if len(t.text) == 1 else t.text)
            repeat, last = 1, j
        elif word in REPEATS:
            close()
            repeat, last = REPEATS[word], j
        elif word in UNITS:
            if word in ("oh", "o") and stage in ("tens", "hundred", "thousand"):
                close()
            if stage in ("tens", "hundred", "thousand") and word not in ("oh", "o", "zero") and value % 10 == 0:
                value += UNITS[word]
                stage = "unit-in-compound"
            else:
                close()
                if repeat > 1:
                    groups.append(str(UNITS[word]) * repeat)
                    repeat = 1
                else:
                    value, stage = UNITS[word], "unit"
            last = j
        elif word in TEENS:
            if stage in ("hundred", "thousand") and value % 100 == 0:
                value += TEENS[word]
            else:
                close()
                value = TEENS[word]
            stage, last = "teen", j
        elif word in TENS:
            if stage in ("hundred", "thousand") and value % 100 == 0:
                value += TENS[word]
            else:
                close()
                value = TENS[word]
            stage, last = "tens", j
        elif word == "hundred" and stage in ("unit", "teen", "tens"):
            value, stage, last = value * 100, "hundred", j
        elif word == "thousand" and stage in ("unit", "teen", "tens", "hundred", "unit-in-compound"):
            value, stage, last = value * 1000, "thousand", j
        elif (t.text in SEPARATORS or word in FILLERS) and j + 1 < n and (
                _number_token(tokens[j + 1]) or tokens[j + 1].text in SEPARATORS):
            close()  # "555-867", "five five five, eight six seven", "555 (uh) 867"
        else:
            break
        j += 1
    close()
    digits = "".join(groups)
    if not digits:
        return None
    return NumberRun(first - (1 if plus else 0), last, digits, plus)


def _matches(tokens: list[Token], i: int, phrase: tuple[str, ...]) -> bool:
    return i + len(phrase) <= len(tokens) and all(tokens[i + k].lower == w for k, w in enumerate(phrase))


def _ends_with(tokens: list[Token], end: int, phrase: tuple[str, ...]) -> bool:
    """Whether the tokens just before index `end` spell `phrase`."""
    start = end - len(phrase)
    return start >= 0 and _matches(tokens, start, phrase)


def _near(tokens: list[Token], i: int, words: set[str], before: int) -> bool:
    return any(t.lower.strip(".") in words for t in tokens[max(0, i - before):i])


@dataclass(frozen=True)
class KnownName:
    parts: tuple[str, ...]  # lower case, as the lead has them

    def match(self, token: Token) -> str:
        """"exact", "near" (one or two edits), "sounds" (same metaphone) or "" for a token."""
        word = token.lower.removesuffix("'s")
        if not token.alpha or len(word) < 2:
            return ""
        for part in self.parts:
            if word == part:
                return "exact"
        if word in NOT_NAMES or len(word) < 3:
            return ""
        for part in self.parts:
            if len(part) < 4 or abs(len(part) - len(word)) > 2:
                continue
            distance = jellyfish.damerau_levenshtein_distance(word, part)
            if (distance <= 1 and len(part) >= 5) or (distance <= 2 and len(part) >= 8):
                return "near"
        for part in self.parts:
            if len(part) >= 3 and jellyfish.metaphone(word) == jellyfish.metaphone(part) and word[0] == part[0]:
                return "sounds"
            if len(part) >= 4 and word[0] == part[0] and jellyfish.damerau_levenshtein_distance(word, part) <= 2:
                return "sounds"
        return ""


@dataclass
class Redactor:
    """Finds and replaces personal details; the call's own values make it find more (`redactor_for_call`)."""

    names: list[KnownName] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)  # digits of the call's numbers
    literals: list[tuple[str, str]] = field(default_factory=list)  # exact values with their placeholder
    addresses: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)  # (house number digits, street words)
    protected: set[str] = field(default_factory=set)  # lower-case words that are the business's, not a person's
    counts: Counter = field(default_factory=Counter)

    # -- the result --------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        if not text:
            return text
        out, at = [], 0
        for span in self.spans(text):
            out.append(text[at:span.start])
            out.append(span.label)
            self.counts[span.label] += 1
            at = span.end
        out.append(text[at:])
        return "".join(out)

    def spans(self, text: str) -> list[Span]:
        """Every personal detail found in `text`, merged, in order."""
        if not text:
            return []
        tokens = tokenize(text)
        marks: list[Span] = []
        marks += [Span(m.start(), m.end(), EMAIL) for m in EMAIL_RE.finditer(text)]
        marks += [Span(m.start(), m.end(), DOB) for m in NUMERIC_DATE_RE.finditer(text)]
        for value, label in self.literals:
            for m in re.finditer(rf"(?<!\w){re.escape(value)}(?!\w)", text, re.IGNORECASE):
                marks.append(Span(m.start(), m.end(), label))
        marks += self._spoken_emails(tokens)
        marks += self._numbers(tokens)
        marks += self._dates_of_birth(tokens)
        marks += self._addresses(tokens)
        marks += self._names(tokens)
        return _merge(marks)

    # -- detectors ---------------------------------------------------------------------------------
    def _spoken_emails(self, tokens: list[Token]) -> list[Span]:
        found = []
        for i, t in enumerate(tokens):
            if t.lower != "at" and t.text != "@":
                continue
            end = self._email_domain(tokens, i + 1)
            if end is None:
                continue
            start = i
            k = i - 1
            taken = 0
            while k >= 0 and taken < 6:
                word = tokens[k].lower
                spoken = ("dot", "underscore", "dash", "hyphen", "period")  # "a underscore smith", "smith dot it"
                joined = (k + 1 < i and tokens[k + 1].lower in spoken) or (k > 0 and tokens[k - 1].lower in spoken)
                if (word in LOCAL_STOP and not joined) or (not tokens[k].text[:1].isalnum() and word not in EMAIL_JOINERS):
                    break
                start, k, taken = k, k - 1, taken + 1
            while start < i and tokens[start].lower in EMAIL_JOINERS:
                start += 1
            if start == i and i and tokens[i - 1].text[:1].isalnum() and tokens[i - 1].lower not in NOT_LOCAL:
                start = i - 1  # a one-word local part that is also a word: "a at gmail dot com"
            if start < i:
                found.append(Span(tokens[start].start, tokens[end].end, EMAIL))
        return found

    @staticmethod
    def _email_domain(tokens: list[Token], i: int) -> int | None:
        """The index of the domain's last token when one starts at `i` ("gmail dot com", "gmail.com", "gmail")."""
        n = len(tokens)
        if i >= n or not tokens[i].text[:1].isalnum():
            return None
        j, last, dotted = i, i, False
        while j + 2 < n and tokens[j + 1].lower in ("-", "dash", "hyphen") and tokens[j + 2].text[:1].isalnum():
            j += 2  # "acme-mail"
            last = j
        while j + 2 < n + 1 and j + 1 < n and tokens[j + 1].lower in ("dot", ".") and j + 2 < n \
                and tokens[j + 2].text[:1].isalnum():
            j += 2
            last, dotted = j, True
        if dotted and tokens[last].lower in TLDS:
            return last
        if tokens[i].lower in EMAIL_PROVIDERS and tokens[i].lower != "me":
            return last if dotted else i
        return None

    def _numbers(self, tokens: list[Token]) -> list[Span]:
        found: list[Span] = []
        i, n = 0, len(tokens)
        while i < n:
            run = number_run(tokens, i)
            if run is None:
                i += 1
                continue
            label = self._number_label(tokens, run)
            if label:
                first = run.first - (1 if run.first and tokens[run.first - 1].text == "(" else 0)  # "(555) 867-5309"
                found.append(Span(tokens[first].start, tokens[run.last].end, label))
            i = run.last + 1
        found += self._card_expiries(tokens)
        return found

    def _number_label(self, tokens: list[Token], run: NumberRun) -> str | None:
        digits = run.digits
        size = len(digits)
        before = run.first
        if any(known.endswith(digits) or digits.endswith(known[-7:]) for known in self.numbers if size >= 4):
            return PHONE  # the call's own number, whole or in part ("the last four are five three oh nine")
        if size >= 13 and not run.plus:
            return CARD if luhn_ok(digits) or _near(tokens, before, CARD_CUES, 8) else NUMBER
        if size >= 7:
            return PHONE
        if _near(tokens, before, CVV_CUES, 7) and 3 <= size <= 4:
            return CARD
        if _near(tokens, before, CARD_CUES, 8) and size == 4:
            return CARD
        # "ten hundred", "11/22", "$1,250" and "3.50" are amounts and dates, not the digits of a number.
        counted = any(t.lower in ("hundred", "thousand") or t.text in ("/", ".", ",")
                      for t in tokens[run.first:run.last + 1]) or (before and tokens[before - 1].text == "$")
        if size >= 4 and not counted and (_near(tokens, before, PHONE_CUES, 6) or _ends_with(tokens, before, ("last", "four"))
                          or _near(tokens, before, {"four"}, 3) and _near(tokens, before, {"last"}, 4)):
            return PHONE
        if _zip_shaped(tokens, run) and _zip_context(tokens, before):
            return ADDRESS
        return None

    @staticmethod
    def _card_expiries(tokens: list[Token]) -> list[Span]:
        found = []
        for i, t in enumerate(tokens):
            if t.lower not in EXPIRY_CUES:
                continue
            if t.lower in ("thru", "through") and not (i > 0 and tokens[i - 1].lower in ("valid", "good")):
                continue
            j, n = i + 1, len(tokens)
            while j < n and tokens[j].lower in ("date", "is", "on", "in", ":", "of", "the", "it's", "at"):
                j += 1
            start = end = None
            while j < n and (tokens[j].lower in MONTHS or _number_token(tokens[j]) or tokens[j].text in ("/", "-")):
                run = number_run(tokens, j) if _number_token(tokens[j]) else None
                stop = run.last if run else j
                start = tokens[j].start if start is None else start
                end = tokens[stop].end
                j = stop + 1
            if start is not None:
                found.append(Span(start, end, CARD))
        return found

    @staticmethod
    def _dates_of_birth(tokens: list[Token]) -> list[Span]:
        found = []
        n = len(tokens)
        for i in range(n):
            cue = next((c for c in DOB_CUES if _matches(tokens, i, c)), None)
            if cue is None:
                continue
            j = i + len(cue)
            for ahead in range(j, min(n, j + 6)):  # "birthday on the account is …"
                if _date_start(tokens[ahead]):
                    j = ahead
                    break
            else:
                continue
            start = end = None
            saw_number = False
            while j < n:
                word = tokens[j].lower
                if word in MONTHS or word in ORDINALS or re.fullmatch(r"\d{1,2}(st|nd|rd|th)", word):
                    saw_number = saw_number or word not in MONTHS
                    stop = j
                elif _number_token(tokens[j]):
                    run = number_run(tokens, j)
                    if run is None:
                        break
                    saw_number, stop = True, run.last
                elif word in ("of", "the", ",", "/", "-", ".") and start is not None:
                    stop = j
                else:
                    break
                start = tokens[j].start if start is None else start
                end = tokens[stop].end
                j = stop + 1
            if start is not None and (saw_number or cue != ("born",)):
                # Trailing joiners belong to the sentence, not the date.
                while end is not None and text_of(tokens, end) in (",", ".", "-", "/", "of", "the"):
                    end = _previous_end(tokens, end)
                found.append(Span(start, end, DOB))
        return found

    def _addresses(self, tokens: list[Token]) -> list[Span]:
        found: list[Span] = []
        n = len(tokens)
        i = 0
        while i < n:
            t = tokens[i]
            if t.lower in UNIT_WORDS and i + 1 < n:
                end = _unit_id_end(tokens, i + 1)
                if end is not None:
                    found.append(Span(t.start, tokens[end].end, ADDRESS))
                    i = end + 1
                    continue
            if t.lower == "zip" or (t.lower == "postal" and i + 1 < n and tokens[i + 1].lower == "code"):
                j = i + 1
                while j < n and tokens[j].lower in ("code", "is", "it's", ":", "of"):
                    j += 1
                run = number_run(tokens, j) if j < n else None
                if run is not None and _zip_shaped(tokens, run):
                    found.append(Span(tokens[run.first].start, tokens[run.last].end, ADDRESS))
                    i = run.last + 1
                    continue
            span = self._street(tokens, i)
            if span is not None:
                found.append(span[0])
                i = span[1] + 1
                continue
            i += 1
        return found

    def _street(self, tokens: list[Token], i: int) -> tuple[Span, int] | None:
        """An address whose house number starts at token `i`: (its span, its last token index)."""
        n = len(tokens)
        t = tokens[i]
        if re.fullmatch(r"\d{1,6}[A-Za-z]?", t.text):
            number_end, house = i, re.sub(r"\D", "", t.text)
        else:
            run = number_run(tokens, i) if t.lower in NUMBER_WORDS else None
            if run is None or run.last - run.first > 5 or len(run.digits) > 6:
                return None
            number_end, house = run.last, run.digits
        cued = any(_ends_with(tokens, i, cue) for cue in ADDRESS_CUES)
        known = [words for digits, words in self.addresses if digits == house]
        j = number_end + 1
        if j < n and tokens[j].lower in DIRECTIONS and j + 1 < n and tokens[j + 1].alpha:
            j += 1
        words = []
        while j < n and len(words) < 4 and tokens[j].alpha and tokens[j].lower not in NOT_STREET \
                and tokens[j].lower not in UNIT_WORDS and tokens[j].lower not in NUMBER_WORDS:
            words.append(j)
            if tokens[j].lower.strip(".") in STREET_TYPES and len(words) > 1:
                break
            j += 1
        if not words:
            return None
        end = None
        typed = [k for k in words if tokens[k].lower.strip(".") in STREET_TYPES]
        if typed and typed[0] != words[0]:
            end = typed[0]
        elif any(_same_word(tokens[words[0]].lower, street[0]) for street in known if street):
            end = words[0] + max(0, min(len(words), len(next(s for s in known if s))) - 1)
        elif cued:
            end = words[-1]
        else:
            nxt = words[0] + 1
            probe = nxt + (1 if nxt < n and tokens[nxt].text == "," else 0)
            if probe < n and tokens[probe].lower in UNIT_WORDS and _unit_id_end(tokens, probe + 1) is not None:
                end = words[0]
            elif _zip_follows(tokens, words[0] + 1):
                end = words[0]
        if end is None:
            return None
        # The rest of the address: a direction, a unit, then the town's ZIP if one comes.
        k = end + 1
        if k < n and tokens[k].lower in DIRECTIONS:
            end, k = k, k + 1
        probe = k + (1 if k < n and tokens[k].text == "," else 0)
        if probe < n and tokens[probe].lower in UNIT_WORDS:
            unit_end = _unit_id_end(tokens, probe + 1)
            if unit_end is not None:
                end, k = unit_end, unit_end + 1
        zip_end = _zip_follows(tokens, k)
        if zip_end is not None:
            end = zip_end
        return Span(tokens[i].start, tokens[end].end, ADDRESS), end

    def _names(self, tokens: list[Token]) -> list[Span]:
        found: list[Span] = []
        n = len(tokens)
        hits = [""] * n
        for i, t in enumerate(tokens):
            if t.lower in self.protected:
                continue
            for known in self.names:
                kind = known.match(t)
                if kind and (not hits[i] or kind == "exact"):
                    hits[i] = kind
        for i in range(n):
            if hits[i] in ("exact", "near"):
                found.append(Span(tokens[i].start, tokens[i].end, NAME))
            elif hits[i] == "sounds":
                neighbours = hits[max(0, i - 2):i] + hits[i + 1:i + 3]
                if any(h in ("exact", "near") for h in neighbours) or self._after_cue(tokens, i, strong_only=True):
                    found.append(Span(tokens[i].start, tokens[i].end, NAME))
        for i in range(n):
            strong = any(_ends_with(tokens, i, cue) for cue in STRONG_NAME_CUES)
            weak = not strong and any(_ends_with(tokens, i, cue) for cue in WEAK_NAME_CUES)
            if not (strong or weak):
                continue
            cue_word = tokens[i - 1].lower if i else ""
            taken = []
            j = i
            while j < n and len(taken) < 3:
                t = tokens[j]
                word = t.lower.removesuffix("'s")
                if not t.alpha or word in NOT_NAMES or word in self.protected:
                    break
                if word in NUMBER_WORDS or word in MONTHS or word in STREET_TYPES:
                    break
                if not taken and cue_word in CAPITALISED_ONLY and not (t.capitalised and word in first_names()):
                    break
                if t.capitalised and (len(taken) or word not in NOT_NAMES):
                    taken.append(j)
                elif strong and not taken and word not in WORDLIKE_NAMES | NOT_NAMES:
                    taken.append(j)
                elif taken and strong and len(taken) == 1 and word not in NOT_NAMES and word not in STREET_TYPES \
                        and not _common_word(word):
                    taken.append(j)  # "my name is marcus mehl"
                elif word in first_names() and word not in WORDLIKE_NAMES:
                    taken.append(j)
                else:
                    break
                j += 1
            if taken:
                found.append(Span(tokens[taken[0]].start, tokens[taken[-1]].end, NAME))
        for i, t in enumerate(tokens):
            # A common first name is a name wherever it stands (lower case too: "it's in luis mehl"),
            # and so is the surname-like word after it.
            if t.lower in first_names() and t.lower not in WORDLIKE_NAMES and t.lower not in self.protected:
                following = tokens[i + 1] if i + 1 < n else None
                surname = following is not None and following.alpha and following.lower not in self.protected \
                    and following.lower not in NOT_NAMES and not _common_word(following.lower) \
                    and (following.capitalised or not t.capitalised)
                found.append(Span(t.start, (following if surname else t).end, NAME))
        for i in range(1, n):
            previous = tokens[i - 1]
            lower_first = previous.lower in first_names() and previous.lower not in WORDLIKE_NAMES
            if tokens[i].lower in ("here", "speaking", "calling") and (previous.capitalised or lower_first) \
                    and tokens[i - 1].alpha and tokens[i - 1].lower not in NOT_NAMES \
                    and tokens[i - 1].lower not in self.protected and (i < 2 or tokens[i - 2].text in ",.!?"
                                                                         or tokens[i - 2].lower in ("hi", "hey", "yeah", "yes", "oh", "hello")):
                found.append(Span(tokens[i - 1].start, tokens[i - 1].end, NAME))
        found += _spelled_out(tokens)
        return found

    @staticmethod
    def _after_cue(tokens: list[Token], i: int, strong_only: bool) -> bool:
        cues = STRONG_NAME_CUES if strong_only else STRONG_NAME_CUES + WEAK_NAME_CUES
        return any(_ends_with(tokens, k, cue) for k in (i, i - 1) for cue in cues if k >= 0)


def _date_start(token: Token) -> bool:
    word = token.lower
    return (word in MONTHS and word != "may") or word in ORDINALS or word in TENS or word in TEENS \
        or bool(re.fullmatch(r"\d{1,4}(st|nd|rd|th)?", word)) or word in UNITS or word == "may"


def text_of(tokens: list[Token], end: int) -> str:
    for t in tokens:
        if t.end == end:
            return t.lower
    return ""


def _previous_end(tokens: list[Token], end: int) -> int | None:
    previous = None
    for t in tokens:
        if t.end >= end:
            break
        previous = t.end
    return previous


COMMON_AFTER_NAMES = {"and", "i", "i'm", "calling", "here", "speaking", "from", "at", "in", "my", "we", "the",
                      "about", "again", "please", "thanks", "so", "but", "is", "was", "with", "um", "uh", "yeah",
                      "said", "says", "told", "tells", "asked", "called", "came", "left", "wants", "needs", "thinks",
                      "knows", "will", "would", "can", "could", "should", "has", "had", "is", "isn't", "was", "did",
                      "does", "when", "if", "who", "lives", "works", "gets", "got", "went", "there", "too", "also"}


def _common_word(word: str) -> bool:
    return word in COMMON_AFTER_NAMES or word in NOT_STREET


def _same_word(a: str, b: str) -> bool:
    return a == b or (len(b) >= 4 and jellyfish.damerau_levenshtein_distance(a, b) <= 1)


def _unit_id_end(tokens: list[Token], i: int) -> int | None:
    """The last token of a unit's id starting at `i` ("4B", "12", "four b", "b"), or None."""
    n = len(tokens)
    while i < n and tokens[i].lower in ("number", "#", "no", "num"):
        i += 1
    if i >= n:
        return None
    t = tokens[i]
    if re.fullmatch(r"\d{1,5}[A-Za-z]?|[A-Za-z]\d{0,4}", t.text) and (
            t.text[0].isdigit() or len(t.text) > 1 or t.text.isupper()
            or (t.lower != "i" and (i + 1 >= n or not tokens[i + 1].alpha or tokens[i + 1].capitalised))):
        return i
    run = number_run(tokens, i)
    if run is not None and len(run.digits) <= 5:
        end = run.last
        if end + 1 < n and re.fullmatch(r"[A-Za-z]", tokens[end + 1].text) and tokens[end + 1].lower not in ("a", "i"):
            end += 1
        return end
    return None


def _zip_context(tokens: list[Token], i: int) -> bool:
    """Whether a 5- or 9-digit number at token `i` reads as a ZIP (after a town, a state or "zip")."""
    k = i - 1
    if k >= 0 and tokens[k].text == ",":
        k -= 1
    if k < 0:
        return False
    word = tokens[k].lower
    return word in STATES or word in ("zip", "code") or (tokens[k].capitalised and tokens[k].alpha
                                                         and word not in NOT_NAMES)


def _zip_follows(tokens: list[Token], i: int) -> int | None:
    """The last token of a ZIP within the next few tokens (a town and a state may come first)."""
    n = len(tokens)
    j, skipped = i, 0
    while j < n and skipped <= 4:
        if tokens[j].text.isdigit() or tokens[j].lower in NUMBER_WORDS:
            run = number_run(tokens, j)
            return run.last if run is not None and _zip_shaped(tokens, run) else None
        if not (tokens[j].alpha or tokens[j].text == ","):
            return None
        if tokens[j].lower in NOT_STREET - STATES:
            return None
        j, skipped = j + 1, skipped + 1
    return None


def _zip_shaped(tokens: list[Token], run: NumberRun) -> bool:
    """62704, 62704-1234 or five spoken digits; not a date or a price."""
    parts = tokens[run.first:run.last + 1]
    if len(run.digits) not in (5, 9) or any(t.text in ("/", ".", ",") for t in parts):
        return False
    written = [t.text for t in parts if t.text.isdigit()]
    if not written:  # spoken, a ZIP is read digit by digit ("six two seven oh four")
        return all(t.lower in UNITS or t.lower in REPEATS or t.lower in FILLERS or t.text == "-" for t in parts)
    return len(written[0]) == 5 and all(len(w) == 4 for w in written[1:])


def _spelled_out(tokens: list[Token]) -> list[Span]:
    """A name spelled letter by letter ("that's m e h l"): three or more single letters in a row."""
    found, i, n = [], 0, len(tokens)
    while i < n:
        j = i
        while j < n and re.fullmatch(r"[A-Za-z]", tokens[j].text) and tokens[j].lower not in ("a", "i", "o"):
            j += 1
        if j - i >= 3:
            found.append(Span(tokens[i].start, tokens[j - 1].end, NAME))
            i = j
        else:
            i += 1
    return found


def _merge(marks: list[Span]) -> list[Span]:
    merged: list[tuple[int, int, dict[str, int]]] = []
    for span in sorted(marks, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1][1]:
            start, end, sizes = merged[-1]
            sizes[span.label] = max(sizes.get(span.label, 0), span.end - span.start)
            merged[-1] = (start, max(end, span.end), sizes)
        else:
            merged.append((span.start, span.end, {span.label: span.end - span.start}))
    result = []
    for start, end, sizes in merged:
        label = max(sizes, key=lambda lab: (sizes[lab], -PRIORITY.index(lab)))
        result.append(Span(start, end, label))
    return result


def redactor_for_call(from_number: str | None, lead: dict | None, business_name: str | None = None,
                      business: dict | None = None) -> Redactor:
    """A redactor that also removes what this call is known to contain."""
    lead = lead or {}
    numbers, literals, names, addresses = [], [], [], []
    for number in filter(None, [from_number, lead.get("callback_number"), lead.get("phone")]):
        digits = re.sub(r"\D", "", str(number))
        if len(digits) >= 7:
            numbers.append(digits[-10:])
            literals.append((str(number), PHONE))
    for key, placeholder in (("email", EMAIL), ("address", ADDRESS), ("street_address", ADDRESS)):
        value = lead.get(key)
        if isinstance(value, str) and len(value.strip()) >= 4:
            literals.append((value.strip(), placeholder))
            if placeholder == ADDRESS:
                words = [t.lower for t in tokenize(value)]
                if words and words[0].isdigit():
                    street = tuple(w for w in words[1:] if w.isalpha() and w not in STREET_TYPES)[:2]
                    addresses.append((words[0], street))
    name = lead.get("name") or lead.get("caller_name")
    if isinstance(name, str) and name.strip():
        literals.append((name.strip(), NAME))
        parts = tuple(p for p in (t.lower for t in tokenize(name)) if p.isalpha() and p not in NOT_NAMES)
        if parts:
            names.append(KnownName(parts))
    protected = set()
    for words in [business_name or ""] + list((business or {}).get("service_areas") or []):
        protected |= {t.lower for t in tokenize(words) if t.alpha}
    return Redactor(names=names, numbers=numbers, literals=literals, addresses=addresses, protected=protected)
