"""The offline receptionist: a profile-driven intake that keeps the line useful without an LLM.

It greets (the welcome greeting), answers questions about hours, services, service areas and the
FAQ from the account's profile, collects the caller's name, callback number and reason (each stored
on the call as soon as it is heard), reads them back, and ends politely. It also takes over a call
whose LLM failed, carrying on from whatever the LLM had already captured.

It is a small dialogue policy, not a language model: keyword and pattern rules over what the caller
said, a stage per missing detail, and a couple of retries before it moves on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from receptionist.agent.events import Ending
from receptionist.agent.lines import Lines, spoken_list
from receptionist.agent.profile import BusinessProfile
from receptionist.agent.record import CallRecord
from receptionist.agent.tools import ToolBox
from receptionist.calls.lead import (
    CONTACT,
    FILLER,
    NAME_INTRO,
    clean_reason,
    extract_phone,
    extract_urgency,
    find_address,
    find_name,
    more_urgent,
    name_answer,
    urgency_signal,
)
from receptionist.core import phone

INTAKE = ("reason", "name", "callback_number")  # the order the details are asked for
MAX_ATTEMPTS = 2  # asks per detail before moving on

_YES = re.compile(r"^(?:yes|yeah|yep|yup|ya|correct|right|that's right|that is right|that's correct|sure|"
                  r"absolutely|exactly|perfect|sounds good|ok|okay|uh huh|mm hmm|definitely|please do|go ahead)\b")
_NO = re.compile(r"^(?:no|nope|nah|not quite|not really|wrong|incorrect|that's wrong|that's not right|actually)\b")
_GOODBYE = re.compile(r"\b(?:bye|goodbye|that's all|that is all|that's it|nothing else|no thanks|no thank you|"
                      r"i'm good|i'm all set|all set|have a good (?:one|day))\b")
_HUMAN = re.compile(r"\b(?:(?:talk|speak|connect|transfer|put) (?:me )?(?:to|with|through to) (?:a |an |the )?"
                    r"(?:someone|somebody|person|human|real person|representative|agent|operator|owner|manager|"
                    r"technician|plumber|live person)|real person|live person|human being|operator|representative)\b")
_HOURS = re.compile(r"\b(?:hours?|open|opening|close|closing|closed|what time|when (?:are|do) you)\b")
_AREAS = re.compile(r"\b(?:areas?|do you (?:serve|cover|service|come (?:out )?to|go to|work in|travel)|come out to|"
                    r"where are you|located|your location)\b")
_SERVICES = re.compile(r"\b(?:services|what (?:do|can) you (?:do|fix|offer|handle)|what kind of (?:work|jobs?)|"
                       r"do you (?:do|offer|fix|repair|install|handle|work on|provide|clean|replace))\b")
_ASKS_SERVICE = re.compile(r"\bdo you (?:do|offer|fix|repair|install|handle|work on|provide|clean|replace)\b")
_QUESTION_START = re.compile(r"^(?:what|when|where|how|who|why|which|do|does|did|are|is|can|could|will|would)\b")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_STOPWORDS = {"a", "an", "the", "do", "does", "you", "your", "i", "my", "me", "we", "our", "is", "are", "to", "for",
              "of", "on", "in", "at", "it", "can", "what", "how", "when", "where", "and", "or", "if", "any", "have",
              "has", "be", "with", "about", "there", "this", "that", "would", "could", "will", "hi", "hello", "so",
              "please", "just", "know", "like", "want", "get", "much"}
_SECOND_PERSON = [(re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"\bi'm\b", "you're"), (r"\bi am\b", "you are"), (r"\bi've\b", "you've"), (r"\bi'd\b", "you'd"),
    (r"\bi\b", "you"), (r"\bmy\b", "your"), (r"\bme\b", "you"), (r"\bmine\b", "yours"), (r"\bour\b", "your"),
    (r"\bwe\b", "you"))]


def _plain(text: str) -> str:
    """Lower case, curly quotes straightened, trailing punctuation dropped: what the patterns match on."""
    return " ".join(text.lower().replace("\u2019", "'").split())


def _words(text: str) -> set[str]:
    words = set()
    for word in re.findall(r"[a-z0-9']+", text.lower()):
        if word in _STOPWORDS:
            continue
        words.add(word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word)
    return words


def second_person(text: str) -> str:
    """The caller's words as the receptionist reads them back: "my heater" → "your heater"."""
    for pattern, replacement in _SECOND_PERSON:
        text = pattern.sub(replacement, text)
    return text


def urgency_of(text: str) -> str:
    """The same reading of urgency as the call's summary, so the live lead and the summary agree."""
    return extract_urgency(text)


@dataclass(frozen=True)
class OfflineReply:
    text: str
    ending: Ending | None = None


class OfflineIntake:
    def __init__(self, profile: BusinessProfile, record: CallRecord, lines: Lines, tools: ToolBox):
        self.profile = profile
        self.record = record
        self.lines = lines
        self.tools = tools
        self.stage = "open"  # open | anything_else | reason | name | callback_number | confirm | correct
        self.attempts: dict[str, int] = {}
        self.skipped: set[str] = set()

    # --- one turn ---------------------------------------------------------------------------------------
    def respond(self, said: str) -> OfflineReply:
        said = " ".join(said.split())
        plain = _plain(said)
        if not plain:
            return OfflineReply(f"{self.lines('not_understood')} {self._ask(self._next_detail())}")
        parts: list[str] = []

        if _HUMAN.search(plain):
            outcome = self.tools.transfer_to_human("the caller asked for a person")
            if outcome.ending is not None:
                return OfflineReply("", outcome.ending)
            parts.append(self.lines("no_one_available"))

        if self.stage == "confirm":
            if _YES.match(plain):
                self._capture(said, plain)  # "yes, and the address is 12 Oak Street"
                return self._finish()
            if _NO.match(plain):
                if self._capture(said, plain, correcting=True):
                    return OfflineReply(self._confirm())
                self.stage = "correct"
                return OfflineReply(self.lines("ask_correction"))
        elif self.stage == "correct":
            detail = self._detail_named(plain)
            if self._capture(said, plain, correcting=True):
                return OfflineReply(self._confirm())
            if detail is not None:
                return OfflineReply(self._ask(detail))  # the answer replaces the detail

        answers = self._answers(said, plain)
        captured = self._capture(said, plain, answered=bool(answers))
        if not answers and self._unanswerable(said, plain):
            answers = [self.lines("dont_know")]
        parts += answers

        if _GOODBYE.search(plain) or (self.stage == "anything_else" and _NO.match(plain) and not captured):
            if not self.record.missing("callback_number"):
                return self._finish(" ".join(parts))
            farewell = self.lines("goodbye", business_name=self.profile.name)
            return OfflineReply(" ".join(parts), Ending("hangup", "caller finished", farewell=farewell))

        if answers and not captured and self.stage in ("open", "anything_else") and not self.record.lead:
            self.stage = "anything_else"
            parts.append(self.lines("ask_anything_else"))
            return OfflineReply(" ".join(parts))

        detail = self._next_detail()
        if detail is not None and detail == self.stage and not captured and not answers:
            # Asked for this detail and did not get it: ask again, then move on.
            self.attempts[detail] = self.attempts.get(detail, 0) + 1
            if self.attempts[detail] >= MAX_ATTEMPTS:
                parts.append(self._give_up(detail))
                detail = self._next_detail()
            else:
                what = {"name": "your name", "callback_number": "the number", "reason": "that"}[detail]
                parts.append(self.lines("ask_again", what=what))
        parts.append(self._confirm() if detail is None else self._ask(detail))
        return OfflineReply(" ".join(p for p in parts if p))

    def keyed_number(self) -> OfflineReply:
        """The caller keyed in a callback number (already on the lead): on to the next detail."""
        detail = self._next_detail()
        return OfflineReply(self._confirm() if detail is None else self._ask(detail))

    def next_question(self) -> str:
        """What to ask next (the intake's current step), e.g. after saying no one can take the call."""
        return self._ask(self._next_detail())

    # --- stages ---------------------------------------------------------------------------------------------
    def _next_detail(self) -> str | None:
        for detail in INTAKE:
            if detail not in self.skipped and self.record.missing(detail):
                return detail
        return None

    def _ask(self, detail: str | None) -> str:
        if detail is None:
            return self._confirm()
        self.stage = detail
        return self.lines({"reason": "ask_reason", "name": "ask_name", "callback_number": "ask_number"}[detail])

    def _give_up(self, detail: str) -> str:
        self.skipped.add(detail)
        if detail == "callback_number" and phone.E164.fullmatch(self.profile.caller_number or ""):
            self._save(callback_number=self.profile.caller_number)
            return self.lines("use_caller_id", number=phone.say_digits(self.profile.caller_number))
        return ""

    def _confirm(self) -> str:
        self.stage = "confirm"
        lead = self.record.lead or {}
        number = lead.get("callback_number") or self.profile.caller_number
        return self.lines("confirm", name=lead.get("name") or "", number=phone.say_digits(number),
                          reason=second_person(lead.get("reason") or "").rstrip(".!"))

    def _finish(self, said_first: str = "") -> OfflineReply:
        lead = self.record.lead or {}
        if not lead.get("callback_number") and phone.E164.fullmatch(self.profile.caller_number or ""):
            self._save(callback_number=self.profile.caller_number)
        self.stage = "done"
        farewell = self.lines("confirmed_goodbye", name=(lead.get("name") or "").split(" ")[0],
                              business_name=self.profile.name)
        return OfflineReply(said_first, Ending("hangup", "message taken", farewell=farewell))

    def _detail_named(self, plain: str) -> str | None:
        if re.search(r"\bname\b", plain):
            return "name"
        if re.search(r"\b(?:number|phone)\b", plain):
            return "callback_number"
        if re.search(r"\b(?:reason|problem|issue|why)\b", plain):
            return "reason"
        return None

    # --- understanding what was said ---------------------------------------------------------------------
    def _save(self, **fields) -> dict:
        changed = self.record.update_lead(**fields)
        if changed:
            self.record.changed()  # stored on the call as soon as it is heard
        return changed

    def _capture(self, said: str, plain: str, *, correcting: bool = False, answered: bool = False) -> dict:
        """Store the details this utterance carries; returns what changed."""
        fields: dict[str, str] = {}
        expecting = self.stage
        number = extract_phone(said, self.profile.country_code, self.profile.caller_number)
        if number is None and expecting == "callback_number" and _YES.match(plain) \
                and phone.E164.fullmatch(self.profile.caller_number or ""):
            number = self.profile.caller_number  # "yes" to "I can use the number you're calling from"
        if number:
            fields["callback_number"] = number
        name, introduction = self._name(said, expecting == "name" or (correcting and "name" in plain))
        if name:
            fields["name"] = name
        address = self._address(said)
        if address:
            fields["address"] = address
        reason = self._reason(said.replace(introduction, "") if introduction else said, expecting, answered, fields)
        if reason:
            fields["reason"] = reason
        # The urgency is read from every utterance, not only the reason's: "it's an emergency" may come later.
        lead = self.record.lead or {}
        if reason or lead.get("reason"):
            urgency = more_urgent(lead.get("urgency"), urgency_signal(said) or ("normal" if reason else None))
            if urgency != lead.get("urgency"):
                fields["urgency"] = urgency
        return self._save(**fields)

    def _name(self, said: str, expecting: bool) -> tuple[str | None, str]:
        """The caller's name, and the words that introduced it ("this is Tom") so they are not the reason.
        The same rules as the call's summary (`calls.lead`), so "call me back" never names anyone "Back"."""
        found = find_name(said, expecting)
        if found:
            return found.name, said[found.start:found.end]
        if expecting:
            name = name_answer(said)
            if name:
                return name, said
        return None, ""

    def _address(self, said: str) -> str | None:
        """A street (with its unit and town) replaces what was heard; a town alone completes a street
        heard before it ("42 Oak Street" then "it's in Springfield")."""
        heard = (self.record.lead or {}).get("address")
        address = find_address(said, self.profile.service_areas)
        if address is None or not heard or any(c.isdigit() for c in address):
            return address
        if any(c.isdigit() for c in heard) and address.lower() not in heard.lower():
            return f"{heard}, {address}"
        return None

    def _reason(self, said: str, expecting: str, answered: bool, found: dict) -> str | None:
        if expecting == "reason":
            contact = CONTACT.search(said)
            if contact and len(said[:contact.start()].split()) >= 3:  # "my sink is clogged, call me at …"
                said = said[:contact.start()]
            text = clean_reason(said)
            if text:
                return text
            rest = FILLER.sub("", said).strip(" .!?,")
            return rest[:1].upper() + rest[1:200] if rest and not found else None
        if expecting not in ("open", "anything_else") or (self.record.lead or {}).get("reason"):
            return None
        kept = []
        for sentence in _SENTENCE.split(said):
            sentence = FILLER.sub("", sentence.strip(" ,;")).strip()
            lowered = _plain(sentence)
            if not re.search(r"\w", sentence) or find_name(sentence) and len(sentence.split()) <= 5:
                continue
            contact = CONTACT.search(sentence)
            if len(phone.digits_spoken(sentence).strip("+")) >= 7 \
                    or contact and len(sentence[:contact.start()].split()) <= 2:
                continue  # "I live in Springfield", "call me at …": details, not what they need
            is_question = sentence.endswith("?") or _QUESTION_START.match(lowered)
            if is_question and answered:
                continue  # a question answered from the profile is not what they need done
            if _GOODBYE.search(lowered) or _HUMAN.search(lowered) or (_YES.match(lowered) and len(sentence.split()) <= 3):
                continue
            kept.append(sentence)
        text = " ".join(kept)
        if len(text.split()) < 3:
            return None
        return clean_reason(text)

    def _answers(self, said: str, plain: str) -> list[str]:
        """Answers from the profile to the questions in this utterance (FAQ first: it is the most specific)."""
        answers: list[str] = []
        asked = _words(said)
        best, best_score = None, 0.0
        for entry in self.profile.faq:
            question = _words(entry.question)
            common = question & asked
            if not question or not common:
                continue
            score = len(common) / len(question)
            if score >= 0.5 and (len(common) >= 2 or len(question) <= 2) and score > best_score:
                best, best_score = entry, score
        if best is not None:
            answers.append(best.answer)
        is_question = "?" in said or bool(_QUESTION_START.match(plain))
        if _HOURS.search(plain) and (is_question or "hours" in plain):
            hours = self.profile.hours
            if hours.known:
                answers.append(self.lines("hours", week="; ".join(hours.describe()),
                                          today=hours.today(self.tools.clock())))
            else:
                answers.append(self.lines("hours_unknown"))
        area = next((a for a in self.profile.service_areas if re.search(r"\b" + re.escape(a.lower()) + r"\b", plain)),
                    None)
        if _AREAS.search(plain) or (area and is_question and re.search(r"\b(?:serve|cover|service|come|go)\b", plain)):
            if area:
                answers.append(self.lines("area_yes", area=area))
            elif self.profile.service_areas:
                answers.append(self.lines("areas", areas=spoken_list(self.profile.service_areas)))
            else:
                answers.append(self.lines("areas_unknown"))
        elif _SERVICES.search(plain) and best is None:
            named = [s for s in self.profile.services if _words(s) and len(_words(s) & asked) * 2 >= len(_words(s))]
            if named:
                answers.append(self.lines("service_yes", service=spoken_list(named)))
            elif not self.profile.services:
                answers.append(self.lines("services_unknown"))
            elif _ASKS_SERVICE.search(plain) and asked:
                answers.append(self.lines("service_unknown", services=spoken_list(self.profile.services)))
            else:
                answers.append(self.lines("services", services=spoken_list(self.profile.services)))
        return answers

    def _unanswerable(self, said: str, plain: str) -> bool:
        """A question the profile cannot answer (the team will, on the callback)."""
        is_question = "?" in said or bool(_QUESTION_START.match(plain))
        return (is_question and self.stage in ("open", "anything_else") and len(plain.split()) >= 3
                and not _HUMAN.search(plain) and not NAME_INTRO.search(said) and not _YES.match(plain))
