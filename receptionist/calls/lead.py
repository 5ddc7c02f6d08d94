"""A call's lead: what the owner needs to act on (name, callback number, address, reason, urgency,
appointment), and the rules that read it out of what the caller said.

The live receptionist and the post-call summary use the same rules, so the lead captured during
the call and the one written afterwards agree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from receptionist.core import phone

Urgency = Literal["low", "normal", "high", "emergency"]


class Appointment(BaseModel):
    # extra="allow": the receptionist's request_appointment tool stores more than the summary asks
    # the LLM for (requested_start, the exact local time); re-saving the lead must not drop it.
    model_config = ConfigDict(extra="allow")
    requested_time: str | None = Field(None, description="when the caller asked to be seen, as they said it")
    requested_start: str | None = Field(None, description="the requested local start, ISO 8601")
    notes: str | None = None


class Lead(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str | None = None
    callback_number: str | None = Field(None, description="E.164, e.g. +15551234567")
    address: str | None = None
    reason: str | None = None
    urgency: Urgency | None = None
    appointment: Appointment | None = None

    @field_validator("callback_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is not None and not phone.is_e164(value):
            raise ValueError(f"callback_number must be E.164 like +15551234567, not {value!r}")
        return value


# --------------------------------------------------------------------------------------------
# Deterministic extraction
#
# Keyword and pattern rules over what the caller said. They read transcripts (Whisper writes
# sentences with capitals and punctuation) and live speech-to-text (which may be all lower case),
# so a rule that leans on capitals has a fallback for text that has none. Every rule is scored on
# the scripted calls in tests/postcall/lead_calls.jsonl (`bench/leads.py` prints the accuracy).

SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MARKS = "\u0300-\u036f"  # combining accents, for names written in decomposed form
_NAME_WORD = rf"[^\W\d_](?:[^\W\d_]|[{_MARKS}]|['\u2019\-](?=[^\W\d_]))*"
_TITLE = r"(?:(?:mr|mrs|ms|miss|mx|dr|doctor)\.?\s+)?"
# "my name is …" says a name follows; "it's …", "this is …", "I'm …", "call me …" often do not
# ("it's urgent", "this is about", "call me back"), so what follows them must look like a name.
NAME_INTRO = re.compile(
    r"\b(?:(?P<strong>my name is|my name's|my names|the name is|the name's|name is|name's|you can call me|i go by)"
    r"|(?P<weak>this is|it's|it is|its|i'm|i am|im|call me|here is|speaking is))\s+" + _TITLE, re.IGNORECASE)
_NAME_RUN = re.compile(rf"{_NAME_WORD}(?:\s+{_NAME_WORD}){{0,4}}")
# Lower-case words that join the parts of a name ("Maria de la Cruz", "Ludwig van Beethoven").
NAME_PARTICLES = {"de", "del", "della", "der", "den", "da", "das", "do", "dos", "di", "du", "la", "le", "van", "von",
                  "bin", "bint", "ibn", "al", "el", "ter", "ten", "st", "y"}
# Words that follow "it's", "I'm", "this is" or "call me" and are not a name.
NOT_NAMES = set("""
back about regarding concerning re urgent important serious bad terrible awful getting gonna going coming calling
looking having hoping wondering trying just not sorry here there fine good great okay ok sure yes yeah yep no nope
in at on from with for to of by the a an my your our his her their this that it its all also still so very really
actually only quite pretty kind sort kinda been being over out up down off done ready home away afraid glad happy
worried interested needing need needs asking after emergency leaking flooding broken busted clogged raining
dripping pouring happening again now today tonight tomorrow later soon late early currently probably maybe
definitely totally almost because since like um uh well hi hello hey thanks thank please me you him them us what
who where when why how best fastest easiest new old first second third last one two three four five six seven eight
nine ten zero oh number phone cell mobile landline message call regular same wet cold hot freezing leaving moving
renting selling buying living staying working stuck locked reaching returning following either anytime whenever
any right wrong available free busy sure curious confused calling just told going supposed water gas heat roof
basement kitchen bathroom sink toilet furnace heater pipe pipes drain ceiling floor house apartment unit suite
and or but if then than as is are was were be am do does did has have had can could would should
must shall let lets let's i i'm it's that's there's we're i've i'll i'd monday tuesday wednesday thursday
friday saturday sunday weekend morning afternoon evening night""".split())
# Words that end a name once it has started ("Tom and my number is …").
NAME_STOP = NOT_NAMES | {"and", "calling", "speaking", "here", "again", "from", "at"}


@dataclass(frozen=True)
class NameFound:
    name: str
    start: int  # where the introduction ("this is") begins in the text
    end: int  # where the name ends


def _is_name_word(word: str, cased: bool) -> bool:
    return not cased or not word[:1].islower()  # scripts without case (Arabic, Chinese…) count as capitalised


def _title(word: str) -> str:
    return word if not word[:1].islower() or word in NAME_PARTICLES else word[:1].upper() + word[1:]


def _name_words(text: str, at: int, cased: bool, strong: bool) -> tuple[list[str], int]:
    """The words of a name starting at `at`, and where the name ends."""
    run = _NAME_RUN.match(text, at)
    if not run:
        return [], at
    kept: list[str] = []
    end = at
    tokens = list(re.finditer(_NAME_WORD, run.group(0)))
    for index, token in enumerate(tokens):
        word = token.group(0)
        lowered = word.lower().replace("\u2019", "'")
        if kept and cased and lowered in NAME_PARTICLES:
            following = next((t.group(0) for t in tokens[index + 1:] if t.group(0).lower() not in NAME_PARTICLES), "")
            if following[:1].isupper():  # "de la Cruz": particles that lead to the rest of the name
                kept.append(word)
                continue
        if lowered in (NOT_NAMES if not kept else NAME_STOP):
            break
        if not _is_name_word(word, cased):
            break
        if not cased and len(kept) >= (3 if strong else 2):
            break
        kept.append(word)
        end = at + token.end()
    while kept and kept[-1].lower() in NAME_PARTICLES:
        kept.pop()
    return kept, end


def find_name(text: str, expecting: bool = False) -> NameFound | None:
    """The caller's name where they introduced themselves ("this is Priya Natarajan", "my name is
    José García"); `expecting` when they were just asked for it, so "it's tom" counts though lower-case."""
    cased = any(c.isupper() for c in text)
    for match in NAME_INTRO.finditer(text):
        strong = match.group("strong") is not None
        first = _NAME_RUN.match(text, match.end())
        if first is None:
            continue
        first_word = re.match(_NAME_WORD, first.group(0)).group(0)
        if not (strong or expecting or not cased) and first_word[:1].islower():
            continue  # "it's leaking", "I'm not sure": only a capitalised word after a weak introduction
        if not cased and not (strong or expecting) and match.group("weak").lower() in ("it's", "it is", "its", "im",
                                                                                      "i'm", "i am", "call me"):
            continue  # in lower-case speech, "it's" and "I'm" are followed by too many ordinary words
        words, end = _name_words(text, match.end(), cased, strong or expecting)
        if words:
            return NameFound(" ".join(_title(w) for w in words), match.start(), end)
    return None


_ANSWER_FILLER = re.compile(r"^(?:(?:yes|yeah|yep|sure|ok|okay|oh|um|uh|hi|hello|so|well|of course|it's|it is|its|"
                            r"the name is|name's|that's|that is|this is)\b[,.!]?\s*)+", re.IGNORECASE)


def name_answer(text: str) -> str | None:
    """A name given on its own, as the answer to "may I have your name?" ("Priya Natarajan.", "sure, José")."""
    rest = _ANSWER_FILLER.sub("", " ".join(text.split())).strip(" .!?,")
    words = rest.split()
    if not 1 <= len(words) <= 4 or not all(re.fullmatch(_NAME_WORD + r"\.?", w) for w in words):
        return None
    if words[0].lower() in NOT_NAMES or any(w.lower() in NAME_STOP and w.lower() not in NAME_PARTICLES
                                            for w in words):
        return None
    return " ".join(_title(w.rstrip(".")) for w in words)


ASKS_NAME = re.compile(r"\bname\b[^.!]*\?", re.IGNORECASE)


def answered_name(turns: list[dict]) -> str | None:
    """A name the caller gave on its own right after the receptionist asked for it."""
    for asked, answer in zip(turns, turns[1:]):
        if asked.get("speaker") == "receptionist" and answer.get("speaker") == "caller" \
                and ASKS_NAME.search(asked.get("text") or ""):
            name = name_answer(answer.get("text") or "")
            if name:
                return name
    return None


def plausible_name(value: str | None) -> bool:
    """A name the rules could have taken (a stored "Back" from before they knew better is not)."""
    words = (value or "").split()
    return bool(words) and words[0].lower() not in NOT_NAMES


STREET_TYPES = (r"Street|St|Avenue|Ave|Road|Rd|Drive|Dr|Lane|Ln|Boulevard|Blvd|Court|Ct|Way|Place|Pl|Terrace|Ter|"
                r"Circle|Cir|Parkway|Pkwy|Highway|Hwy|Trail|Square|Sq|Crescent|Close|Alley|Loop|Row|Pike|Plaza")
_UNIT = r"(?i:apartment|apt\.?|unit|suite|ste\.?|flat|#)\s*[A-Za-z]?\d+[A-Za-z]?|(?i:apartment|apt\.?|unit|suite|flat)\s+[A-Za-z]\b"
_TOWN = r"[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2}"
_STATE = r"(?:,?\s+[A-Z]{2}\b)?(?:\s+\d{5}(?:-\d{4})?)?"
# Capitalised street names where the text has capitals; any words where it has none.
STREET_CASED = re.compile(
    rf"\b(?P<number>\d{{1,6}}[A-Za-z]?)\s+(?P<name>(?:(?:[A-Z][\w'.-]*|\d+(?:st|nd|rd|th))\s+){{1,4}}"
    rf"(?:{STREET_TYPES}))\b\.?"
    rf"(?P<unit>,?\s+(?:{_UNIT}))?"
    rf"(?:(?P<sep>,\s*|\s+in\s+|\s+)(?P<town>{_TOWN}){_STATE})?")
STREET_ANY = re.compile(
    rf"\b(?P<number>\d{{1,6}}[a-z]?)\s+(?P<name>(?:[a-z0-9][\w'.-]*\s+){{1,4}}(?:{STREET_TYPES}))\b\.?"
    rf"(?P<unit>,?\s+(?:{_UNIT}))?(?:(?P<sep>,\s*|\s+in\s+)(?P<town>[a-z]+(?: [a-z]+)?))?", re.IGNORECASE)
UNIT_BEFORE = re.compile(rf"\b(?P<unit>{_UNIT})\s*,?\s*(?:at\s+|in\s+|on\s+)?$", re.IGNORECASE)
NOT_TOWNS = {"And", "The", "I", "Please", "Call", "My", "It", "It's", "We", "So", "But", "Thanks", "Thank", "You",
             "There", "That", "This", "Our", "Is", "Near", "Next", "Just", "Right", "Can", "Could", "Apartment",
             "Unit", "Suite", "Apt", "Flat", "Oh", "Um", "Uh", "Yes", "No", "Okay", "Back", "Behind"}
_AREA_CONTEXT = r"\b(?:in|at|from|near|live in|out in|over in|located in|based in)\s+"


def _tidy_unit(unit: str) -> str:
    """ "apartment 3b" → "Apartment 3B", "#5" → "Unit 5"."""
    kind, label = re.match(r"(#|[A-Za-z.]+)\s*(.*)", " ".join(unit.strip(" ,").split())).groups()
    kind = "Unit" if kind == "#" else kind[:1].upper() + kind[1:].lower()
    return f"{kind} {label.upper()}"


def _town(words: list[str], cased: bool) -> str | None:
    kept = []
    for word in words[:3]:
        if word in NOT_TOWNS or word.lower() in NOT_NAMES:
            break
        kept.append(word if cased else word[:1].upper() + word[1:])
    return " ".join(kept) or None


def find_address(text: str, service_areas: list[str] | tuple[str, ...] = ()) -> str | None:
    """Where the job is, with its unit and town: "42 Oak Street, Apartment 3B, Springfield". A street
    said without a town takes the service area the caller named; with no street, that area alone
    when the caller said they are there ("I'm in Shelbyville", not "do you serve Shelbyville?")."""
    cased = any(c.isupper() for c in text)
    areas = [a for a in service_areas if a]
    located = next((a for a in areas if re.search(_AREA_CONTEXT + re.escape(a) + r"\b", text, re.IGNORECASE)), None)
    named = located or next((a for a in areas if re.search(r"\b" + re.escape(a) + r"\b", text, re.IGNORECASE)), None)
    street = None
    for pattern in (STREET_CASED, STREET_ANY) if cased else (STREET_ANY,):
        street = pattern.search(text)
        if street:
            break
    if street is None:
        return located
    name = " ".join(w if cased else w[:1].upper() + w[1:] for w in street.group("name").split())
    parts = [f"{street.group('number').upper()} {name}"]
    unit = street.group("unit")
    if not unit:
        before = UNIT_BEFORE.search(text[max(0, street.start() - 30):street.start()])
        unit = before.group("unit") if before else None
    if unit:
        parts.append(_tidy_unit(unit))
    town = street.group("town")
    if town:
        known = next((a for a in areas if town.lower().startswith(a.lower())), None)
        if known:
            town = known
        elif street.group("sep").strip():
            town = _town(town.split(), cased)
            state = text[street.end("town"):street.end()].strip(" ,") if town and cased else ""
            town = town and (f"{town} {state}" if state else town)
        else:
            town = None  # "42 Oak Street Then …": a sentence the transcript did not punctuate, not a town
    if town:
        parts.append(town)
    elif named:
        parts.append(named)
    return ", ".join(parts)


# The words before what the caller needs: greetings, acknowledgements, "I'm calling because".
FILLER = re.compile(
    r"^(?:(?:hi|hello|hey|yeah|yes|yep|yup|so|um|uh|er|oh|well|okay|ok|fine|sure|right|alright|all right|look|listen|"
    r"great|thanks|thank you|hi there|hello there|good (?:morning|afternoon|evening)|basically|anyway|yeah so|and|but)"
    r"\b[,.!]?\s*)+", re.IGNORECASE)
CALLING_BECAUSE = re.compile(
    r"^(?:(?:i'm|i am|i was|we're|we are|we were)\s+(?:just\s+)?(?:calling|ringing|phoning)(?:\s+you)?\s+"
    r"(?:because|about|since|regarding|as|to (?:say|tell you|let you know)(?: that)?)|the reason (?:i'm|i am|i was) "
    r"calling is(?: that| because)?|i wanted to (?:let you know|tell you)(?: that)?|i'm calling,)\s+", re.IGNORECASE)
PROBLEM_WORDS = ("leak", "broke", "broken", "clog", "repair", "install", "replace", "quote", "estimate",
                 "not working", "no hot water", "flood", "overflow", "burst", "backed up", "appointment", "schedule",
                 "noise", "drip", "damage", "need", "problem", "issue", "stopped working", "won't", "water", "ceiling",
                 "emergency", "smell", "sparks", "fire", "sewage", "heat", "roof", "clogged", "dripping", "banging",
                 "crack", "mold", "pipe")
# Sentences that give contact details, not the reason for the call.
CONTACT = re.compile(r"[,;]?\s*\b(?:(?:and|so)\s+)?(?:(?:you can )?call me|number|reach me|text me|address|live at|"
                     r"live in|my name|i'm at|i am at|we're at|located at|the house is at)\b", re.IGNORECASE)


GOODBYE = re.compile(r"^(?:(?:no|nope|nah|ok|okay)\b[,.]?\s*)?(?:that's all|that is all|that's it|nothing else|bye|"
                     r"goodbye|thanks|thank you|no thanks|no thank you)\b", re.IGNORECASE)


def clean_reason(text: str) -> str | None:
    """What the caller needs, without the filler in front ("Fine. There is…" → "There is…"), up to
    200 characters cut at a word, capitalised."""
    reason = " ".join(text.split()).strip(" ,;-")
    if GOODBYE.match(reason):
        return None
    while True:
        stripped = CALLING_BECAUSE.sub("", FILLER.sub("", reason)).strip(" ,;-")
        if stripped == reason:
            break
        reason = stripped
    if len(reason.split()) < 2:
        return None
    if len(reason) > 200:
        reason = reason[:201].rsplit(" ", 1)[0].rstrip(",;:-")
    return reason[:1].upper() + reason[1:]


def _without_contact(sentence: str) -> str:
    """A sentence with the caller's introduction cut out ("Hi, this is Tom, my sink is clogged" → "my sink…")."""
    found = find_name(sentence)
    if found:
        sentence = (sentence[:found.start] + " " + sentence[found.end:]).strip(" ,.")
    return sentence


def extract_reason(sentences: list[str], services: list[str] | tuple[str, ...] = ()) -> str | None:
    """The first thing the caller said about a problem or one of the business's services; else the
    first substantial sentence that is not contact details (callers state their reason early)."""
    topic_words = PROBLEM_WORDS + tuple(w for service in services for w in service.lower().split() if len(w) > 3)
    plain = []
    for sentence in sentences:
        sentence = _without_contact(sentence)
        contact = CONTACT.search(sentence)
        if contact:  # "My sink is clogged, call me back at …": the part before the contact details
            sentence = sentence[:contact.start()]
        if len(sentence.split()) < 3 or len(phone.digits_spoken(sentence).strip("+")) >= 7:
            continue
        cleaned = clean_reason(sentence)
        if cleaned:
            plain.append(cleaned)
    for sentence in plain:
        if any(word in sentence.lower() for word in topic_words):
            return sentence
    candidates = [s for s in plain if len(s.split()) >= 3 and not s.endswith("?")]
    return candidates[0] if candidates else None


_THERE_IS = re.compile(r"^(?:there is|there's|there are|we've got|i've got|we have|i have|i got|we got)\s+",
                       re.IGNORECASE)
_URGENT_TAIL = re.compile(r"[,;.]?\s*(?:and\s+)?(?:it's|it is|this is)\s+(?:an?\s+)?(?:emergency|urgent|really urgent)"
                          r"\b.*$|\s+right now\b|[,.]?\s*please\b.*$", re.IGNORECASE)


def short_reason(reason: str | None, limit: int = 60) -> str:
    """The reason as an alert's headline says it: "There is water coming through my ceiling right now,
    it's an emergency." → "water coming through my ceiling" (the urgency is said on its own)."""
    text = SENTENCE.split((reason or "").strip())[0].rstrip(".!")  # its first sentence
    text = _URGENT_TAIL.sub("", _THERE_IS.sub("", text)).strip(" ,;.")
    if not text:
        return ""
    first = text.split()[0]
    if first != "I" and first[1:] == first[1:].lower() and not first.startswith("I'"):
        text = text[:1].lower() + text[1:]
    if len(text) > limit:
        text = text[:limit + 1].rsplit(" ", 1)[0].rstrip(",;:-") + "..."
    return text


# Urgency: what the caller said, most urgent reading first; a denial ("it's not an emergency", "no
# rush") is taken out before the rest is read, and says the call can wait.
CALM = re.compile(r"\b(?:(?:it's |it is |this is |that's )?(?:not|isn't|is not|no|not really)\s+(?:an?\s+|really\s+|"
                  r"that\s+|super\s+)?(?:emergency|urgent|rush|hurry|big deal)|no (?:big )?(?:rush|hurry)|"
                  r"(?:not|no) in (?:a|any) (?:rush|hurry)|whenever (?:is )?(?:convenient|you can|you get a chance|"
                  r"works)|when(?:ever)? you (?:get|have) a (?:chance|minute)|no pressure|at your convenience|"
                  r"sometime next (?:week|month))\b", re.IGNORECASE)
EMERGENCY = re.compile(
    r"\b(?:emergency|flood(?:ing|ed|s)?|burst|gas (?:smell|leak)|smells? (?:of |like )?gas|sparks?|sparking|on fire|"
    r"fire|smoke (?:coming|pouring|everywhere)|(?:smell|see) smoke|sewage|carbon monoxide|co alarm|no heat|"
    r"water (?:is |keeps )?(?:pouring|gushing|spraying)|water (?:is )?coming (?:in )?through|"
    r"through (?:my|the|our) ceiling|ceiling (?:is )?(?:collapsing|caving|falling|coming down)|water everywhere|"
    r"can't (?:shut|turn) (?:it|the water) off|won't stop (?:leaking|running|spraying))\b", re.IGNORECASE)
HIGH = re.compile(r"\b(?:urgent(?:ly)?|asap|a s a p|as soon as (?:possible|you can)|right away|right now|today|tonight|"
                  r"this (?:morning|afternoon|evening)|leak(?:s|ing)?|no hot water|overflow(?:s|ing|ed)?|quickly|straight away)\b",
                  re.IGNORECASE)
URGENCY_RANK = {None: 0, "normal": 1, "low": 2, "high": 3, "emergency": 4}


def urgency_signal(text: str) -> Urgency | None:
    """What the words say about urgency, or None when they say nothing."""
    calm = CALM.search(text)
    rest = CALM.sub(" ", text)
    if EMERGENCY.search(rest):
        return "emergency"
    if HIGH.search(rest):
        return "high"
    return "low" if calm else None


def extract_urgency(text: str) -> Urgency:
    return urgency_signal(text) or "normal"


def more_urgent(first: Urgency | None, second: Urgency | None) -> Urgency | None:
    """The reading that matters when two disagree: an emergency said anywhere in the call stands, and
    "no rush" beats the default "normal"."""
    return first if URGENCY_RANK[first] >= URGENCY_RANK[second] else second


def to_e164(raw: str, default_country: str = "1") -> str | None:
    return phone.to_e164(raw, default_country)


def extract_phone(text: str, default_country: str = "1", caller_number: str = "") -> str | None:
    """The callback number stated in the text (digits or spoken digits) as E.164, the last one said
    winning ("actually, make that …"); else the caller ID when they said "this number"."""
    stated = [n for s in SENTENCE.split(text) if (n := phone.find_number(s, "", default_country))]
    if stated:
        return stated[-1]
    return phone.find_number(text, caller_number, default_country)


def extract_name(text: str) -> str | None:
    found = find_name(text)
    return found.name if found else None


def extract_address(text: str, service_areas: list[str]) -> str | None:
    return find_address(text, service_areas)


def turns_in_order(conversation: list[dict] | None, transcript: list[dict] | None) -> list[dict]:
    """The call's turns as heard: the live conversation when there is one, else the recording's transcript."""
    return list(conversation or []) or sorted(transcript or [], key=lambda s: s.get("start") or 0)


def caller_text(conversation: list[dict] | None, transcript: list[dict] | None) -> str:
    """What the caller said: the live conversation when there is one, plus the recording's transcript."""
    parts = [t["text"] for t in conversation or [] if t.get("speaker") == "caller"]
    parts += [s["text"] for s in transcript or [] if s.get("speaker") == "caller"]
    return " ".join(p.strip() for p in parts if p and p.strip())


def merge_leads(live: dict | None, extracted: Lead) -> Lead:
    """Fields captured live by the receptionist win; extraction fills the gaps. Two exceptions: the
    urgency is the more urgent of the two readings (an "it's an emergency" said after the reason was
    taken still counts), and a live name the rules would not take now (a stored "Back") is dropped."""
    merged = extracted.model_dump()
    for key, value in (live or {}).items():
        if value in (None, "", {}):
            continue
        if key == "name" and not plausible_name(value):
            continue
        if key == "urgency" and value in URGENCY_RANK:
            value = more_urgent(value, extracted.urgency)
        merged[key] = value
    try:
        return Lead.model_validate(merged)
    except ValidationError:
        merged["callback_number"] = extracted.callback_number
        return Lead.model_validate(merged)


# --------------------------------------------------------------------------------------------
# The read-back: the better-supported value where two hearings disagree
#
# The caller's words reach the lead by two hearings: the relay's live speech-to-text (the turns
# the receptionist answered) and Whisper on the recording's caller channel. Where they give
# different names or numbers, the one the receptionist read back and the caller confirmed ("Let
# me read the number back: five five five … Is that right?" "Yes.") is the better supported: the
# caller heard it and said it was right.

AFFIRMS = re.compile(r"^\W*(?:(?:um|uh|oh|well)\W+)?(?:yes|yeah|yep|yup|correct|exactly|perfect|right|that's right|"
                     r"that is right|that's correct|that is correct|that's it|you got it|sure|uh-huh|mm-hmm)\b",
                     re.IGNORECASE)
DENIES = re.compile(r"^\W*(?:no|nope|not quite|actually|wrong)\b", re.IGNORECASE)


def confirmed_read_backs(*sequences: list[dict] | None) -> list[str]:
    """The receptionist's lines the caller answered with a yes, in each sequence of turns (the
    live conversation, the transcript in time order)."""
    confirmed: list[str] = []
    for turns in sequences:
        spoken = [t for t in turns or [] if (t.get("text") or "").strip()]
        for line, answer in zip(spoken, spoken[1:]):
            if line.get("speaker") == "receptionist" and answer.get("speaker") == "caller":
                text = answer.get("text") or ""
                if AFFIRMS.match(text) and not DENIES.match(text):
                    confirmed.append(line["text"])
    return confirmed


def _number_read_back(number: str, lines: list[str]) -> bool:
    national = number.lstrip("+")[len(phone.country_code_of(number)):] if phone.is_e164(number) else number
    return len(national) >= 7 and any(national in phone.digits_spoken(line) for line in lines)


def _name_read_back(name: str, lines: list[str]) -> bool:
    words = [w.lower() for w in re.findall(_NAME_WORD, name)]
    return bool(words) and any(all(re.search(rf"\b{re.escape(w)}\b", line.lower()) for w in words) for line in lines)


def read_back_choice(field: str, candidates: list[str | None], lines: list[str]) -> str | None:
    """The first of `candidates` for `field` ("name" or "callback_number") that a confirmed
    read-back (`lines`) holds; None when none does."""
    holds = _number_read_back if field == "callback_number" else _name_read_back
    return next((value for value in candidates if value and holds(value, lines)), None)
