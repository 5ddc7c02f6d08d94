"""A generated corpus of call speech with planted personal details, and how redaction is scored on it.

Each record is one utterance as a speech recogniser writes it (Whisper's capitals and punctuation,
or a lower-case, unpunctuated recogniser), from a caller with a made-up identity: name, number,
email, address, card, date of birth. Details are written or spoken in the groupings people use,
sometimes garbled the way recognisers garble names ("Marcus Mehl" heard as "Marcus mail"). Half
the utterances carry no detail at all but the numbers, times, prices and names-that-are-words of
ordinary calls, which is what false redaction is measured on. Every record carries the call's
lead (what the summary knew) and marks each planted detail by its character span.

`python -m tests.support.redaction_corpus` rewrites `tests/privacy/redaction_corpus.jsonl` from
the fixed seed; a test checks that the recorded corpus is exactly what the generator makes.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from pathlib import Path

SEED = 20261122
CALLS = 180
CORPUS_PATH = Path(__file__).resolve().parents[1] / "privacy" / "redaction_corpus.jsonl"

FIRST = ["Marcus", "Maria", "John", "Dana", "Priya", "Tom", "Keisha", "Luis", "Hannah", "Derek", "Aisha", "Brian",
         "Elena", "Greg", "Sofia", "Tyrone", "Megan", "Raj", "Carmen", "Colin", "Natalie", "Omar", "Wendy", "Jorge",
         "Rachel", "Steven", "Linda", "Kevin", "Yolanda", "Patrick", "Jessica", "Andre", "Monica", "Travis", "Olivia",
         "Gabriel", "Heidi", "Nathan", "Bianca", "Victor"]
LAST = ["Mehl", "Lopez", "Smith", "Whitfield", "Raman", "Kowalski", "Johnson", "Ortega", "Brennan", "Nguyen",
        "Okafor", "Delgado", "Fischer", "Hartman", "Castillo", "Mbeki", "Sullivan", "Patel", "Reyes", "Gallagher",
        "Novak", "Haddad", "Thornton", "Ibarra", "Lindqvist", "Wojcik", "Abernathy", "Chen", "Morales", "Kaplan"]
# How a recogniser mishears a surname: a sound-alike word, or one letter off.
GARBLED = {"Mehl": "mail", "Lopez": "Lopes", "Smith": "Smyth", "Whitfield": "Whitefield", "Raman": "Ramen",
           "Kowalski": "Kowalsky", "Johnson": "Jonson", "Ortega": "Ortiga", "Brennan": "Brennen", "Nguyen": "Nguen",
           "Okafor": "Okafer", "Delgado": "Delgato", "Fischer": "Fisher", "Hartman": "Heartman", "Castillo": "Castilo",
           "Mbeki": "Mbeky", "Sullivan": "Sullavan", "Patel": "Patell", "Reyes": "Reyez", "Gallagher": "Galagher",
           "Novak": "Novack", "Haddad": "Hadad", "Thornton": "Thorton", "Ibarra": "Ibara", "Lindqvist": "Lindquist",
           "Wojcik": "Voycheck", "Abernathy": "Abernethy", "Chen": "Chan", "Morales": "Moralez", "Kaplan": "Caplan"}
STREETS = ["Oak", "Elm", "Maple", "Cedar", "Pine", "Lincoln", "Washington", "Lakeview", "Hillcrest", "Birch",
           "Willow", "Jefferson", "Sunset", "Highland", "Meadow", "Franklin", "Chestnut", "Ridgeway", "Park", "Walnut"]
STREET_TYPES = ["Street", "Avenue", "Road", "Drive", "Lane", "Court", "Way", "Boulevard", "Place", "Terrace"]
UNIT_WORDS = ["apartment", "apt", "unit", "suite"]
CITIES = [("Springfield", "Illinois", "627"), ("Shelbyville", "Illinois", "625"), ("Decatur", "Illinois", "625"),
          ("Peoria", "Illinois", "616"), ("Champaign", "Illinois", "618")]
AREA_CODES = ["312", "217", "555", "773", "630", "847", "309", "618", "415", "646"]
PROVIDERS = ["gmail", "yahoo", "outlook", "hotmail", "icloud", "comcast"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December"]
DIGIT = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ORDINAL = ["", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth",
           "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth",
           "nineteenth", "twentieth", "twenty first", "twenty second", "twenty third", "twenty fourth",
           "twenty fifth", "twenty sixth", "twenty seventh", "twenty eighth"]

# Ordinary call speech: the numbers, times and prices of real calls, and words that are also names.
ORDINARY = [
    "Hi, I'm calling because my water heater is leaking in the basement.",
    "It's been leaking for two or three days now.",
    "The quote they gave me was four hundred fifty dollars, is that about right?",
    "We have a fifty gallon tank, it's about ten years old.",
    "Can someone come out tomorrow morning around nine thirty?",
    "I'm not sure, it might be the valve.",
    "This is urgent, the kitchen is flooding.",
    "It's a two story house with three bathrooms.",
    "The toilet on the second floor keeps running.",
    "I'll mail you a check once the job is done.",
    "Will the plumber bring the parts with him?",
    "I can be home between one and four in the afternoon.",
    "Do you charge extra on weekends?",
    "The drain in the shower is clogged again.",
    "We grant access through the side gate.",
    "The water rose about two inches in the basement.",
    "May I ask how long the repair usually takes?",
    "My bill last time was around two hundred and twenty dollars.",
    "Mark the calendar for Thursday if that works.",
    "it's been dripping since last week",
    "yeah the pipe under the sink burst this morning",
    "i'm just wondering if you do free estimates",
    "we need someone before five o'clock if possible",
    "the garbage disposal makes a grinding noise",
    "is there a fee for the first visit",
    "okay that sounds good thank you so much",
    "no that's fine I can wait until Monday",
    "we have twin toddlers so sooner is better",
    "The furnace is about fifteen years old and it makes a loud bang.",
    "Do you service the north side of town?",
    "The last guy charged me ninety five dollars just to look at it.",
    "I think the pressure is around sixty psi.",
    "There are four units in the building and all of them have low pressure.",
    "The roof has been leaking since the storm on Tuesday.",
    "Can you send someone out in the next hour or two?",
    "I already turned the main valve off.",
    "my husband says it's the sump pump",
    "it happens maybe once or twice a day",
    "the repair took three hours last time",
    "Honestly I'd rather not wait until next week.",
    "We moved in about six months ago.",
    "It's the third time this year, to be honest.",
    "So what time would the technician arrive?",
    "Sorry, could you repeat that?",
    "uh let me check, I think it's a forty gallon unit",
    "is a ninety minute window normal for you guys",
    "we're on a budget so maybe one or two hundred at most",
    "the dishwasher backs up into the sink every night",
    "Yes, that's correct.",
    "Perfect, thanks so much for your help.",
    "The water is brown when I first turn on the tap.",
    "I'd like an appointment for Friday afternoon if you have one.",
    "Summer is our busy time, so book early, right?",
    "It's a rental, so the landlord will pay the bill.",
    "Do you take cards or just checks?",
    "the pipes bang when someone flushes upstairs",
    "we got a letter in the mail about a water main",
    "it's the unit on the left side of the house",
    "there's a crack about two feet long in the ceiling",
    "my neighbor used you guys and said you were great",
    # Harder: numbers, dates and capitalised words that look like the details but are not.
    "Can you come on 11/22 at 3:30?",
    "The estimate said $1,250 for the whole job.",
    "We're about 2 blocks from Main Street, by the library.",
    "It's a 2019 model, the warranty is 5 years.",
    "The unit is leaking from the bottom.",
    "Call me back in 10 minutes, I'm driving.",
    "This is about the invoice you sent last week.",
    "I'm calling for my mother, she's 82 and lives alone.",
    "Is 8 to 10 in the morning an option?",
    "The tank holds 40 gallons and the pipes are 3/4 inch.",
    "Thanks, Acme Plumbing has always been great to us.",
    "We're in Springfield, near the high school.",
    "The number on the side of the heater says model 5 something.",
    "Monday works, or Tuesday after 2.",
    "It's the second time it flooded since March.",
    "My kids are 5 and 7, so someone will be home.",
    "Apartment buildings like ours always have old pipes.",
    "the code for the gate is on the door frame",
    "there were like 3 or 4 leaks in the ceiling",
    "it's at least 20 degrees colder in the back room",
    "Frankly I'm just glad someone answered.",
    "Grace period on the warranty ends in June.",
]


@dataclass
class Caller:
    first: str
    last: str
    phone: str  # ten digits
    email_local: str
    provider: str
    house: int
    street: str
    street_type: str
    unit: str
    city: str
    state: str
    zip: str
    card: str
    cvv: str
    exp_month: int
    exp_year: int
    dob: tuple[int, int, int]  # year, month, day


def luhn_complete(prefix: str, rng: random.Random, length: int = 16) -> str:
    digits = prefix + "".join(str(rng.randrange(10)) for _ in range(length - len(prefix) - 1))
    total = 0
    for i, char in enumerate(reversed(digits)):
        d = int(char)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return digits + str((10 - total % 10) % 10)


def caller(rng: random.Random) -> Caller:
    first, last = rng.choice(FIRST), rng.choice(LAST)
    city, state, zip3 = rng.choice(CITIES)
    local = rng.choice([f"{first}.{last}", f"{first[0]}{last}", f"{first}{rng.randrange(10, 99)}",
                        f"{first}_{last}", f"{last}{first[0]}"]).lower()
    return Caller(
        first=first, last=last,
        phone=rng.choice(AREA_CODES) + str(rng.randrange(200, 999)) + f"{rng.randrange(10000):04d}",
        email_local=local, provider=rng.choice(PROVIDERS),
        house=rng.choice([rng.randrange(1, 99), rng.randrange(100, 999), rng.randrange(1000, 9999)]),
        street=rng.choice(STREETS), street_type=rng.choice(STREET_TYPES),
        unit=rng.choice([f"{rng.randrange(1, 30)}{rng.choice('ABCD')}", str(rng.randrange(1, 400)), rng.choice("ABC")]),
        city=city, state=state, zip=zip3 + f"{rng.randrange(100):02d}",
        card=(lambda prefix: luhn_complete(prefix, rng, 15 if prefix == "37" else 16))(rng.choice(["4", "51", "37", "6011"])),
        cvv=f"{rng.randrange(1000):03d}", exp_month=rng.randrange(1, 13), exp_year=rng.randrange(26, 32),
        dob=(rng.randrange(1940, 2005), rng.randrange(1, 13), rng.randrange(1, 29)),
    )


# -- how people say numbers -------------------------------------------------------------------------------

def say_digits(digits: str, rng: random.Random) -> str:
    words = []
    i = 0
    while i < len(digits):
        if i + 1 < len(digits) and digits[i] == digits[i + 1] and rng.random() < 0.3:
            words.append("double " + ("oh" if digits[i] == "0" else DIGIT[int(digits[i])]))
            i += 2
            continue
        words.append("oh" if digits[i] == "0" and rng.random() < 0.6 else DIGIT[int(digits[i])])
        i += 1
    return " ".join(words)


def say_two(number: int) -> str:
    if number < 10:
        return "oh " + DIGIT[number]
    if number < 20:
        return TEENS[number - 10]
    tens, unit = divmod(number, 10)
    return TENS[tens] + ("" if unit == 0 else " " + DIGIT[unit])


def say_number(number: int) -> str:
    """45 → "forty five"; 120 → "one hundred twenty"; 405 → "four oh five"; 1985 → "nineteen eighty five"."""
    if number < 10:
        return DIGIT[number]
    if number < 100:
        return say_two(number)
    if number < 1000:
        hundreds, rest = divmod(number, 100)
        if rest == 0:
            return DIGIT[hundreds] + " hundred"
        return DIGIT[hundreds] + (" " + say_two(rest) if rest % 2 else " hundred " + say_number(rest))
    high, low = divmod(number, 100)
    return say_two(high) + (" hundred" if low == 0 else " " + say_two(low))


def say_area_code(code: str, rng: random.Random) -> str:
    if rng.random() < 0.5:
        return DIGIT[int(code[0])] + " " + say_two(int(code[1:]))  # "five fifty five"
    return say_digits(code, rng)


def phone_forms(phone: str, rng: random.Random) -> str:
    a, b, c = phone[:3], phone[3:6], phone[6:]
    form = rng.randrange(8)
    if form == 0:
        return f"({a}) {b}-{c}"
    if form == 1:
        return f"{a}-{b}-{c}"
    if form == 2:
        return f"{a}.{b}.{c}"
    if form == 3:
        return f"{a} {b} {c}"
    if form == 4:
        return f"+1 {a} {b} {c}"
    if form == 5:
        return f"{say_area_code(a, rng)}, {say_digits(b, rng)}, {say_digits(c, rng)}"
    if form == 6:
        return f"{say_digits(a, rng)} {say_digits(b, rng)} {say_two(int(c[:2]))} {say_two(int(c[2:]))}"
    return f"{a}{b}{c}"


def card_forms(card: str, rng: random.Random) -> str:
    groups = [card[i:i + 4] for i in range(0, len(card), 4)]
    form = rng.randrange(4)
    if form == 0:
        return " ".join(groups)
    if form == 1:
        return "-".join(groups)
    if form == 2:
        return ", ".join(say_digits(g, rng) for g in groups)
    return card


def expiry_forms(month: int, year: int, rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return f"{month:02d}/{year}"
    if form == 1:
        return f"{say_two(month) if month < 10 else say_number(month)} {say_two(year)}"
    if form == 2:
        return f"{MONTHS[month - 1]} twenty {say_two(year)}"
    return f"{month}/20{year}"


def dob_forms(dob: tuple[int, int, int], rng: random.Random) -> tuple[str, str]:
    """(what leads into the date, the date itself)."""
    year, month, day = dob
    form = rng.randrange(5)
    spoken_year = say_two(year // 100) + " " + say_two(year % 100) if year < 2000 else "two thousand " + say_number(year % 100)
    if form == 0:
        return "", f"{MONTHS[month - 1]} {day}, {year}"
    if form == 1:
        return "", f"{month:02d}/{day:02d}/{year}"
    if form == 2:
        return "", f"{MONTHS[month - 1].lower()} {ORDINAL[day]} {spoken_year}"
    if form == 3:
        return "the ", f"{ORDINAL[day]} of {MONTHS[month - 1]}, {year}"
    return "", f"{month}/{day}/{year % 100:02d}"


# -- utterances ----------------------------------------------------------------------------------------

class Utterance:
    """Text built piece by piece, remembering where each planted detail is."""

    def __init__(self) -> None:
        self.text = ""
        self.pii: list[dict] = []

    def say(self, text: str) -> Utterance:
        self.text += text
        return self

    def plant(self, kind: str, text: str) -> Utterance:
        self.pii.append({"start": len(self.text), "end": len(self.text) + len(text), "kind": kind})
        self.text += text
        return self


def _name_utterance(c: Caller, rng: random.Random, garble: bool) -> Utterance:
    u = Utterance()
    last = GARBLED[c.last] if garble else c.last
    form = rng.randrange(9)
    if form == 0:
        return u.say("Hi, my name is ").plant("name", f"{c.first} {last}").say(" and I need a plumber.")
    if form == 1:
        return u.say("yeah this is ").plant("name", c.first.lower()).say(" calling about the leak")
    if form == 2:
        return u.say("It's in ").plant("name", f"{c.first} {last}").say(", I called yesterday.")
    if form == 3:
        return u.say("my name's ").plant("name", f"{c.first.lower()} {last.lower()}")
    if form == 4:
        return u.plant("name", c.first).say(" here, I'm returning your call.")
    if form == 5:
        return u.say("You can ask for ").plant("name", f"{c.first} {last}").say(" when you get here.")
    if form == 6:
        return u.say("The account is under ").plant("name", last).say(", ").plant("name", c.first).say(" ").plant(
            "name", last).say(".")
    if form == 7:
        return u.say("hi i'm ").plant("name", c.first.lower()).say(" and my husband is home all day")
    return u.say("Last name is ").plant("name", last).say(", first name ").plant("name", c.first).say(".")


def _phone_utterance(c: Caller, rng: random.Random) -> Utterance:
    u = Utterance()
    number = phone_forms(c.phone, rng)
    form = rng.randrange(6)
    if form == 0:
        return u.say("You can reach me at ").plant("phone", number).say(".")
    if form == 1:
        return u.say("my cell is ").plant("phone", number).say(" that's the best one")
    if form == 2:
        return u.say("Call me back on ").plant("phone", number).say(" any time after noon.")
    if form == 3:
        return u.say("uh it's ").plant("phone", number)
    if form == 4:
        return u.say("The number is ").plant("phone", number).say(", and the last four are ").plant(
            "phone", say_digits(c.phone[-4:], rng)).say(".")
    return u.say("if I don't pick up text ").plant("phone", number)


def _email_utterance(c: Caller, rng: random.Random) -> Utterance:
    u = Utterance()
    local = c.email_local
    if rng.random() < 0.5:
        spoken_local = local.replace(".", " dot ").replace("_", " underscore ")
        spoken_local = re.sub(r"(\d+)", lambda m: " " + say_number(int(m[1])) + " ", spoken_local)
        spoken_local = re.sub(r"\s+", " ", spoken_local).strip()
        value = f"{spoken_local} at {c.provider} dot com"
    else:
        value = f"{local}@{c.provider}.com"
    form = rng.randrange(4)
    if form == 0:
        return u.say("My email is ").plant("email", value).say(".")
    if form == 1:
        return u.say("send the invoice to ").plant("email", value)
    if form == 2:
        return u.say("You can email me at ").plant("email", value).say(" if that's easier.")
    return u.say("it's ").plant("email", value).say(" all lower case")


def _address_utterance(c: Caller, rng: random.Random) -> Utterance:
    u = Utterance()
    house = str(c.house) if rng.random() < 0.6 else say_number(c.house)
    form = rng.randrange(6)
    if form == 0:
        return u.say("I live at ").plant("address", f"{house} {c.street} {c.street_type}").say(" in ").say(
            c.city).say(".")
    if form == 1:
        unit = c.unit if rng.random() < 0.7 else say_digits(re.sub(r"\D", "", c.unit) or "1", rng)
        return u.say("It's ").plant("address", f"{house} {c.street}, {rng.choice(UNIT_WORDS)} {unit}, {c.city} {c.zip}").say(".")
    if form == 2:
        return u.say("the address is ").plant("address", f"{house} {c.street.lower()} {c.street_type.lower()}").say(
            " ").plant("address", f"{rng.choice(UNIT_WORDS)} {c.unit}")
    if form == 3:
        return u.say("We're at ").plant("address", f"{house} {rng.choice(['North', 'South', 'East', 'West'])} "
                                                     f"{c.street} {c.street_type}").say(", near the school.")
    if form == 4:
        return u.say("zip code is ").plant("address", say_digits(c.zip, rng) if rng.random() < 0.5 else c.zip)
    return u.say("Come out to ").plant("address", f"{house} {c.street} {c.street_type}, {c.city}, {c.state} {c.zip}").say(
        ", the blue house.")


def _card_utterance(c: Caller, rng: random.Random) -> Utterance:
    u = Utterance()
    form = rng.randrange(4)
    if form == 0:
        return u.say("Sure, the card number is ").plant("card", card_forms(c.card, rng)).say(".")
    if form == 1:
        return u.say("it's a visa ").plant("card", card_forms(c.card, rng)).say(" expires ").plant(
            "card", expiry_forms(c.exp_month, c.exp_year, rng)).say(" and the cvv is ").plant(
            "card", c.cvv if rng.random() < 0.5 else say_digits(c.cvv, rng))
    if form == 2:
        return u.say("The security code on the back is ").plant("card", c.cvv).say(".")
    return u.say("Use the card ending in ").plant("card", c.card[-4:] if rng.random() < 0.5
                                                  else say_digits(c.card[-4:], rng)).say(", expiration ").plant(
        "card", expiry_forms(c.exp_month, c.exp_year, rng)).say(".")


def _dob_utterance(c: Caller, rng: random.Random) -> Utterance:
    u = Utterance()
    lead_in, value = dob_forms(c.dob, rng)
    form = rng.randrange(4)
    if form == 0:
        return u.say("My date of birth is " + lead_in).plant("dob", value).say(".")
    if form == 1:
        return u.say("I was born on " + lead_in).plant("dob", value)
    if form == 2:
        return u.say("the birthday on the account is " + lead_in).plant("dob", value)
    return u.say("DOB " + lead_in).plant("dob", value).say(", if you need it.")


KINDS = [_name_utterance, _phone_utterance, _email_utterance, _address_utterance, _card_utterance, _dob_utterance]


def lowercase_asr(u: Utterance) -> None:
    """A recogniser that writes no capitals (the planted spans keep their places: only the case changes)."""
    u.text = u.text.lower()


def generate(seed: int = SEED, calls: int = CALLS) -> list[dict]:
    rng = random.Random(seed)
    records = []
    for n in range(calls):
        c = caller(rng)
        lead_known = rng.random() < 0.6
        lead = {"name": f"{c.first} {c.last}", "callback_number": "+1" + c.phone,
                "address": f"{c.house} {c.street} {c.street_type}"} if lead_known else {}
        utterances = []
        for kind in rng.sample(KINDS, k=4):
            u = kind(c, rng, rng.random() < 0.25) if kind is _name_utterance else kind(c, rng)
            utterances.append(u)
        for _ in range(4):
            u = Utterance().say(rng.choice(ORDINARY))
            utterances.append(u)
        if lead_known and rng.random() < 0.5:
            # The known name alone, mid-sentence, the way callers repeat it.
            utterances.append(Utterance().say("Yes, ").plant("name", c.first).say(" is fine, or my wife."))
        for i, u in enumerate(utterances):
            if rng.random() < 0.3:
                lowercase_asr(u)
            records.append({"id": f"c{n:03d}-{i}", "text": u.text, "pii": u.pii, "lead": lead,
                            "from_number": "+1" + c.phone if rng.random() < 0.5 else "+13125550100"})
    return records


def write(path: Path = CORPUS_PATH) -> None:
    path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in generate()), encoding="utf-8")


def load(path: Path = CORPUS_PATH) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -- scoring -----------------------------------------------------------------------------------------------

WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")


@dataclass
class Score:
    spans: int = 0
    spans_caught: int = 0
    pii_words: int = 0
    pii_words_caught: int = 0
    ordinary_words: int = 0
    ordinary_words_redacted: int = 0
    missed: list | None = None
    over: list | None = None

    @property
    def recall(self) -> float:
        return self.spans_caught / self.spans if self.spans else 1.0

    @property
    def word_recall(self) -> float:
        return self.pii_words_caught / self.pii_words if self.pii_words else 1.0

    @property
    def false_redaction(self) -> float:
        return self.ordinary_words_redacted / self.ordinary_words if self.ordinary_words else 0.0


def score(records: list[dict], spans_of) -> Score:
    """`spans_of(record)` → the (start, end) spans a redactor removes from `record["text"]`."""
    result = Score(missed=[], over=[])
    for record in records:
        text = record["text"]
        removed = [(s, e) for s, e in spans_of(record)]

        def covered(start: int, end: int) -> bool:
            return any(s <= start and end <= e for s, e in removed)

        planted = [(p["start"], p["end"]) for p in record["pii"]]
        for start, end in planted:
            words = [m for m in WORD.finditer(text, start, end)]
            caught = [m for m in words if covered(m.start(), m.end())]
            result.spans += 1
            result.pii_words += len(words)
            result.pii_words_caught += len(caught)
            if len(caught) == len(words):
                result.spans_caught += 1
            else:
                result.missed.append((record["id"], text[start:end], text))
        for m in WORD.finditer(text):
            if any(s <= m.start() and m.end() <= e for s, e in planted):
                continue
            result.ordinary_words += 1
            if covered(m.start(), m.end()):
                result.ordinary_words_redacted += 1
                result.over.append((record["id"], m[0], text))
    return result


if __name__ == "__main__":
    write()
    print(f"wrote {CORPUS_PATH}")
