"""One call's receptionist: turns what the caller does into replies, with the LLM or without it.

A reply runs as its own task so the caller can cut in: on an interruption the task is cancelled at
once and the history keeps only what the caller heard, in the model's messages as in the stored
conversation, so the model never believes it said what was cut off. When the model fails (timeout,
5xx, rate limit, malformed tool call) the caller hears a short apology and the offline intake takes
the call from there; nothing the caller does can crash the conversation.
"""

from __future__ import annotations

import asyncio
import json
import logging
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

log = logging.getLogger(__name__)

MAX_TOOL_ROUNDS = 4  # model calls per reply: tools, then words about their results
HUMAN_DIGIT = "0"


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
        if digit != HUMAN_DIGIT:
            # Never the digit itself: a caller keying a card number must not land in the log.
            log.info("call %s: a key no menu uses was pressed", self.call_sid)
            return
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
        """The call is over (socket closed): stop talking, keep what was said."""
        await self._stop_reply()
        self.ended = True
        self.record.changed()

    # --- replies --------------------------------------------------------------------------------------------
    async def _respond(self, reply: Reply, said: str) -> None:
        try:
            if self.model is not None:
                await self._respond_with_model(reply, said)
            else:
                await self._respond_offline(reply, said)
        except asyncio.CancelledError:
            self._close_reply(reply)
            raise
        except VoiceClosed:
            self._close_reply(reply)
        except Exception:  # a bug must cost one reply, never the call
            log.exception("call %s: reply failed; carrying on offline", self.call_sid)
            try:
                await self._fall_back(reply, said)
            except Exception:
                self._close_reply(reply)

    async def _respond_with_model(self, reply: Reply, said: str) -> None:
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
            await self._fall_back(reply, said)
            return
        await self._finish_reply(reply)
        if ending is not None:
            await self._end(ending)

    async def _respond_offline(self, reply: Reply, said: str) -> None:
        answer = self.offline.respond(said)
        await self._say(reply, answer.text)
        if answer.ending is not None:
            await self._end(answer.ending)

    async def _fall_back(self, reply: Reply, said: str) -> None:
        """Apologise, and let the offline intake answer this turn and the rest of the call."""
        self.model = None
        try:
            answer = self.offline.respond(said)
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
