"""One call's receptionist: turns what the caller does into replies, with the LLM or without it.

A reply runs as its own task so the caller can cut in: on an interruption the task is cancelled at
once and the history keeps only what the caller heard, in the model's messages as in the stored
conversation, so the model never believes it said what was cut off. When the model fails (timeout,
5xx, rate limit, malformed tool call) the caller hears a short apology and the offline intake takes
the call from there; nothing the caller does can crash the conversation. Keys pressed on the keypad
make entries (ended by "#" or a pause): "0" alone asks for a person, a phone number becomes the
callback number, and what was keyed never reaches a log.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from receptionist.agent.events import (
    CallerEvent,
    CallerInterrupted,
    CallerPressed,
    CallerSaid,
    Ending,
    Voice,
)
from receptionist.agent.lines import Lines
from receptionist.agent.llm import ChatModel, ModelUnavailable
from receptionist.agent.offline import OfflineIntake, OfflineReply
from receptionist.agent.record import CallRecord
from receptionist.agent.tools import MalformedToolCall, ToolBox
from receptionist.core import phone

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4  # model calls per reply: tools, then words about their results
HUMAN_DIGIT = "0"
# Keys pressed one after another make one entry, ended by "#" or by this pause: "0" alone reaches a
# person, a keyed phone number becomes the lead's callback number. What was keyed is never logged.
KEYPAD_PAUSE_S = 2.0
ENTRY_END = "#"
MIN_NUMBER_DIGITS = 7


class VoiceClosed(Exception):
    """The caller's side is gone (the relay's socket closed); nothing more can be said."""


@dataclass
class Reply:
    """One reply, running or done: what was spoken, and the assistant messages that hold it."""

    spoken: list[str] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    started_at: str | None = None
    turn: dict | None = None  # its conversation turn, once recorded
    closed: bool = False


class Receptionist:
    def __init__(self, *, record: CallRecord, voice: Voice, lines: Lines, tools: ToolBox, offline: OfflineIntake,
                 model: ChatModel | None, system_prompt: str, greeting: str, call_sid: str = ""):
        self.record = record
        self.voice = voice
        self.lines = lines
        self.tools = tools
        self.offline = offline
        self.model = model
        self.system = {"role": "system", "content": system_prompt}
        self.call_sid = call_sid
        self.history: list[dict] = []
        self.ended = False
        self._task: asyncio.Task | None = None
        self._reply: Reply | None = None  # the latest reply: what an interruption cuts
        self._keys = ""  # the keypad entry in progress
        self._keypad: asyncio.Task | None = None  # ends the entry after KEYPAD_PAUSE_S
        for turn in record.conversation:  # a relay reconnecting to a call carries on where it was
            self.history.append({"role": "user" if turn["speaker"] == "caller" else "assistant",
                                 "content": turn["text"]})
        if not record.conversation and greeting:
            # The welcome greeting is spoken by Twilio before the first prompt; it is the first turn.
            message = {"role": "assistant", "content": greeting}
            self.history.append(message)
            self._reply = Reply([greeting], [message], closed=True, turn=record.add_turn("receptionist", greeting))

    @property
    def mode(self) -> str:
        return "llm" if self.model is not None else "offline"

    # --- events -----------------------------------------------------------------------------------------
    async def handle(self, event: CallerEvent) -> None:
        if self.ended:
            return
        if isinstance(event, CallerSaid):
            await self._caller_said(event.text)
        elif isinstance(event, CallerInterrupted):
            await self._interrupted(event.heard)
        elif isinstance(event, CallerPressed):
            await self._pressed(event.digit)

    async def _caller_said(self, text: str) -> None:
        text = " ".join(text.split())
        if not text:
            return
        await self._stop_reply()  # still talking when the caller spoke again: keep what was spoken
        self.record.add_turn("caller", text)
        self.history.append({"role": "user", "content": text})
        reply = self._reply = Reply()
        # Persisting the caller's turn waits for the first token (see _speak): the hot path from the
        # caller's words to the receptionist's first one has no database round trip.
        self._task = asyncio.create_task(self._respond(reply, text), name=f"reply-{self.call_sid}")

    async def _interrupted(self, heard: str) -> None:
        reply = self._reply
        if reply is None:
            return
        await self._stop_reply()
        self._trim(reply, heard)
        self.record.changed()

    async def _pressed(self, digit: str) -> None:
        if digit == ENTRY_END:
            await self._keyed(self._take_keys())
            return
        if len(digit) != 1 or not digit.isdigit():
            return  # "*" and the like: no menu uses them
        self._keys += digit
        if self._keypad is not None and not self._keypad.done():
            self._keypad.cancel()
        self._keypad = asyncio.create_task(self._entry_after_pause(), name=f"keypad-{self.call_sid}")

    def _take_keys(self) -> str:
        keys, self._keys = self._keys, ""
        if self._keypad is not None and not self._keypad.done() and self._keypad is not asyncio.current_task():
            self._keypad.cancel()
        return keys

    async def _entry_after_pause(self) -> None:
        await asyncio.sleep(KEYPAD_PAUSE_S)
        self._keypad = None  # from here on a new key starts a new entry; it must not cancel this one
        if not self.ended:
            await self._keyed(self._take_keys())

    def _keyed_number(self, keys: str) -> str | None:
        if len(keys) < MIN_NUMBER_DIGITS:
            return None
        profile = self.tools.profile
        return phone.to_e164(keys, profile.country_code)

    async def _keyed(self, keys: str) -> None:
        """A finished keypad entry."""
        if not keys or self.ended:
            return
        if keys == HUMAN_DIGIT:
            await self._pressed_for_person()
            return
        number = self._keyed_number(keys)
        if number is None:
            log.info("call %s: a keypad entry of %d keys was not a phone number", self.call_sid, len(keys))
            return
        await self._stop_reply()
        self.record.update_lead(callback_number=number)
        self.record.changed()
        log.info("call %s: the caller keyed in a callback number", self.call_sid)
        spoken = phone.say_digits(number)
        reply = self._reply = Reply()
        if self.model is None:
            answer = self.offline.keyed_number()
            words = f"{self.lines('keyed_number', number=spoken)} {answer.text}".strip()
            self._task = asyncio.create_task(self._say_then(reply, words, answer.ending),
                                             name=f"reply-{self.call_sid}")
            return
        self.history.append({"role": "user", "content": self.tools.notes("keyed_number", number=spoken)})
        self._task = asyncio.create_task(self._respond(reply, "", offline=self.offline.keyed_number),
                                         name=f"reply-{self.call_sid}")

    async def _say_then(self, reply: Reply, words: str, ending: Ending | None) -> None:
        await self._say(reply, words)
        if ending is not None:
            await self._end(ending)

    async def _pressed_for_person(self) -> None:
        await self._stop_reply()
        self.history.append({"role": "user", "content": self.tools.notes("pressed_for_person")})
        outcome = self.tools.transfer_to_human("the caller pressed 0 to reach a person")
        if outcome.ending is not None:
            await self._end(outcome.ending)
            return
        reply = self._reply = Reply()
        words = self.lines("no_one_available")
        if self.model is None:
            words += " " + self.offline.next_question()
        self._task = asyncio.create_task(self._say(reply, words), name=f"reply-{self.call_sid}")

    async def close(self) -> None:
        """The call is over (socket closed): stop talking, keep what was said (and a number the
        caller had just keyed in)."""
        await self._stop_reply()
        number = self._keyed_number(self._take_keys())
        if number is not None and not self.ended:
            self.record.update_lead(callback_number=number)
        self.ended = True
        self.record.changed()

    # --- replies --------------------------------------------------------------------------------------------
    async def _respond(self, reply: Reply, said: str, offline: Callable[[], OfflineReply] | None = None) -> None:
        """Answer what the caller said; `offline` is the offline intake's answer to it, when that is
        not `respond(said)` (a keyed-in number)."""
        offline = offline or (lambda: self.offline.respond(said))
        try:
            if self.model is not None:
                await self._respond_with_model(reply, offline)
            else:
                await self._respond_offline(reply, offline)
        except asyncio.CancelledError:
            self._close_reply(reply)
            raise
        except VoiceClosed:
            self._close_reply(reply)
        except Exception:  # a bug must cost one reply, never the call
            log.exception("call %s: reply failed; carrying on offline", self.call_sid)
            try:
                await self._fall_back(reply, offline)
            except Exception:
                self._close_reply(reply)

    async def _respond_with_model(self, reply: Reply, offline: Callable[[], OfflineReply]) -> None:
        ending: Ending | None = None
        try:
            for _round in range(MAX_TOOL_ROUNDS):
                messages = [self.system, *self.history]
                message = {"role": "assistant", "content": ""}
                self.history.append(message)
                reply.messages.append(message)
                requests = None
                # aclosing: an interruption while a piece is being spoken closes the model's stream at
                # once, not whenever the generator is collected.
                async with aclosing(self.model.stream(messages)) as pieces:
                    async for piece in pieces:
                        if isinstance(piece, str):
                            await self._speak(reply, message, piece)
                        else:
                            requests = piece
                if requests is None:
                    break
                message["tool_calls"] = [{"id": r.id, "type": "function",
                                          "function": {"name": r.name, "arguments": r.raw_arguments}}
                                         for r in requests.calls]
                for request in requests.calls:
                    outcome = self.tools.run(request.name, request.arguments)
                    self.history.append({"role": "tool", "tool_call_id": request.id,
                                         "content": json.dumps(outcome.result)})
                    if outcome.ending is not None and (ending is None or outcome.ending.action == "transfer"):
                        ending = outcome.ending
                if ending is not None:
                    break
            else:
                raise ModelUnavailable(f"still calling tools after {MAX_TOOL_ROUNDS} rounds")
        except (ModelUnavailable, MalformedToolCall) as exc:
            log.warning("call %s: the model failed (%s); the offline receptionist takes over", self.call_sid, exc)
            await self._fall_back(reply, offline)
            return
        await self._finish_reply(reply)
        if ending is not None:
            await self._end(ending)

    async def _respond_offline(self, reply: Reply, offline: Callable[[], OfflineReply]) -> None:
        answer = offline()
        await self._say(reply, answer.text)
        if answer.ending is not None:
            await self._end(answer.ending)

    async def _fall_back(self, reply: Reply, offline: Callable[[], OfflineReply]) -> None:
        """Apologise, and let the offline intake answer this turn and the rest of the call."""
        self.model = None
        try:
            answer = offline()
        except Exception:  # never leave the caller in silence, whatever failed
            log.exception("call %s: the offline intake failed too", self.call_sid)
            answer = OfflineReply(self.lines("not_understood"))
        words = f"{self.lines('apology')} {answer.text}".strip()
        await self._say(reply, " " + words if reply.spoken else words)
        if answer.ending is not None:
            await self._end(answer.ending)

    async def _say(self, reply: Reply, words: str) -> None:
        """A whole reply at once (offline lines, the apology)."""
        message = {"role": "assistant", "content": ""}
        self.history.append(message)
        reply.messages.append(message)
        if words.strip():
            await self._speak(reply, message, words)
        await self._finish_reply(reply)

    async def _speak(self, reply: Reply, message: dict, piece: str) -> None:
        first = not reply.spoken
        if not message["content"] and not first and not reply.spoken[-1][-1:].isspace() and not piece[:1].isspace():
            piece = " " + piece  # words after a tool call start a new sentence, not glued to the last one
        await self.voice.speak(piece, False)
        reply.spoken.append(piece)
        message["content"] += piece
        if first:
            reply.started_at = self.record.now()
            self.record.changed()  # the caller's turn, now that they are hearing the answer

    async def _finish_reply(self, reply: Reply) -> None:
        if reply.spoken:
            await self.voice.speak("", True)
        self._close_reply(reply)
        self.record.changed()

    def _close_reply(self, reply: Reply) -> None:
        """Record the reply as spoken so far (an interruption then trims it to what was heard)."""
        if reply.closed:
            return
        reply.closed = True
        self._drop_empty(reply)
        reply.turn = self.record.add_turn("receptionist", "".join(reply.spoken), at=reply.started_at)

    def _drop_empty(self, reply: Reply) -> None:
        for message in list(reply.messages):
            if message.get("content"):
                continue
            if message.get("tool_calls"):
                message["content"] = None  # a tool call said nothing aloud
            else:
                reply.messages.remove(message)
                self.history.remove(message)

    def _trim(self, reply: Reply, heard: str) -> None:
        """Keep only what the caller heard of `reply`, in the model's history and in the conversation."""
        heard = " ".join(heard.split())
        self._close_reply(reply)
        remaining = heard
        for message in reply.messages:
            content = " ".join((message.get("content") or "").split())
            if not content:
                continue
            if len(content) <= len(remaining):
                kept, remaining = remaining[:len(content)], remaining[len(content):].lstrip()
            else:
                kept, remaining = remaining, ""
            message["content"] = kept
        self._drop_empty(reply)
        if reply.turn is not None:
            reply.turn = self.record.revise_turn(reply.turn, heard)
        elif heard:
            reply.turn = self.record.add_turn("receptionist", heard, at=reply.started_at)

    async def _stop_reply(self) -> None:
        task = self._task
        if task is not None and not task.done() and task is not asyncio.current_task():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass

    async def _end(self, ending: Ending) -> None:
        self.ended = True
        if ending.farewell:
            # Spoken by the call right after the relay ends (the action URL's TwiML, telephony.twiml.hang_up).
            self.history.append({"role": "assistant", "content": ending.farewell})
            self.record.add_turn("receptionist", ending.farewell)
        self.record.changed()
        await self.voice.end(ending)
