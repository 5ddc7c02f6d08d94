"""The only code that calls an LLM (through the `openai` client, to any OpenAI-compatible endpoint).

`LlmClients` is the one factory of clients a process builds from settings: an async client for the
live conversation, a sync one for the worker's structured calls; whoever built it closes it.

`ChatModel.stream` yields the reply's text as the model produces it (so the caller hears the first
words while the rest is still being written) and then, if the model asked for tools, one
`ToolRequests` with the complete, parsed calls. Everything that makes the model unusable for this
turn (timeout, connection error, 5xx, 429, a broken stream, a malformed tool call) is raised as
`ModelUnavailable`, so the conversation can apologise and carry on without it.

`JsonModel.complete` asks for one answer constrained by a JSON schema (the call's summary and lead).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2  # the HTTP client openai 3.x is built on
import openai
from openai import AsyncOpenAI, OpenAI

from receptionist.settings import Settings

log = logging.getLogger(__name__)

JSON_CONTENT = {"Content-Type": "application/json"}


class ModelUnavailable(Exception):
    """The model cannot answer this turn; `reason` says why, for the log."""


@dataclass(frozen=True)
class ToolRequest:
    id: str
    name: str
    arguments: dict
    raw_arguments: str


@dataclass(frozen=True)
class ToolRequests:
    calls: tuple[ToolRequest, ...]


def build_streaming_client(settings: Settings) -> AsyncOpenAI | None:
    """The live conversation's client, or None when no LLM is configured (the offline receptionist answers)."""
    if not settings.llm_configured:
        return None
    timeout = openai.Timeout(settings.relay_llm_timeout_s, connect=min(settings.relay_llm_timeout_s, 3.0))
    return AsyncOpenAI(
        api_key=settings.openai_api_key or "not-needed",  # local OpenAI-compatible servers take any key
        base_url=settings.openai_base_url or None,
        # A caller is waiting in silence: no retries with backoff. The read timeout bounds the wait for
        # the first token and every pause between tokens.
        max_retries=0,
        timeout=timeout,
        # aiohttp underneath (openai's `aiohttp` extra): httpx's own pool probes every idle connection's
        # socket on each request, which at a connection per live call made the pool the relay's single
        # biggest cost at 200 concurrent calls (measured). Each call streams one reply at a time, so
        # the pool holds about one connection per concurrent call.
        http_client=openai.DefaultAioHttpClient(
            timeout=timeout,
            limits=httpx2.Limits(max_connections=2000, max_keepalive_connections=2000, keepalive_expiry=30.0),
        ),
    )


def build_structured_client(settings: Settings) -> OpenAI | None:
    """The worker's client for structured answers: a few retries with backoff are fine here (nobody
    is waiting on the line), and its timeout is the summary's, not a caller's patience."""
    if not settings.llm_configured:
        return None
    return OpenAI(api_key=settings.openai_api_key or "not-needed", base_url=settings.openai_base_url or None,
                  timeout=settings.llm_timeout_s, max_retries=2)


class LlmClients:
    """A process's LLM clients, each built on first use and closed by whoever built this."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._streaming: AsyncOpenAI | None = None
        self._structured: OpenAI | None = None

    @property
    def configured(self) -> bool:
        return self.settings.llm_configured

    def chat_model(self, tools: list[dict]) -> ChatModel | None:
        """The live conversation's model, or None with no LLM configured. The async client is made on
        first use, so on the event loop that serves the calls (its connections belong to that loop)."""
        if not self.configured:
            return None
        if self._streaming is None:
            self._streaming = build_streaming_client(self.settings)
        return ChatModel(self._streaming, self.settings.llm_model, tools)

    def json_model(self) -> JsonModel | None:
        if not self.configured:
            return None
        if self._structured is None:
            self._structured = build_structured_client(self.settings)
        return JsonModel(self._structured, self.settings.llm_model)

    async def aclose(self) -> None:
        """Close the async client, on the loop it served."""
        if self._streaming is not None:
            await self._streaming.close()
            self._streaming = None

    def close(self) -> None:
        if self._structured is not None:
            self._structured.close()
            self._structured = None


class JsonModel:
    """One answer that must match a JSON schema (OpenAI's structured outputs, strict mode)."""

    def __init__(self, client: OpenAI, model: str):
        self.client = client
        self.model = model

    def complete(self, messages: list[dict], *, name: str, schema: dict) -> str:
        response = self.client.chat.completions.create(
            model=self.model,
            messages=messages,
            temperature=0,
            response_format={"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}},
        )
        return response.choices[0].message.content or ""


class ChatModel:
    def __init__(self, client: AsyncOpenAI, model: str, tools: list[dict]):
        self.client = client
        self.model = model
        self.tools = tools
        self.tool_names = frozenset(t["function"]["name"] for t in tools)

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | ToolRequests]:
        """The reply's text, one piece per network read (what has arrived, never waiting for more),
        then the tool calls if the model made any."""
        body = {"model": self.model, "messages": messages, "stream": True}
        if self.tools:
            body["tools"] = self.tools
        try:
            # The client's `post` (its auth, base URL, headers, timeouts, and errors for non-2xx answers,
            # exactly as `chat.completions.create` uses them), with the event stream read here: the
            # typed path validates the request and builds a pydantic object per chunk, and its SSE
            # decoder yields one event at a time; together they cost more CPU per reply than
            # everything else the relay does (measured). The body goes as bytes because the client
            # deep-copies a dict body (twice) before sending it, and the history grows every turn.
            response = await self.client.post("/chat/completions", content=json.dumps(body).encode(),
                                              options={"headers": JSON_CONTENT}, cast_to=httpx2.Response,
                                              stream=True)
        except openai.APIError as exc:
            raise ModelUnavailable(_describe(exc)) from exc
        calls = ToolCallAssembly(self.tool_names)
        events = EventStream()
        try:
            async for block in response.aiter_bytes():
                text = []
                for chunk in events.feed(block):
                    choices = chunk.get("choices")
                    if not choices:
                        continue
                    if choices[0].get("finish_reason"):
                        events.finished = True
                    delta = choices[0].get("delta") or {}
                    content = delta.get("content")
                    if content:
                        text.append(content)
                    for fragment in delta.get("tool_calls") or ():
                        calls.add(fragment)
                if text:
                    yield "".join(text)
                # After [DONE] the body is read to its end anyway: a connection left half-read
                # cannot be reused for the next reply.
        except httpx2.TimeoutException as exc:
            raise ModelUnavailable("timeout") from exc
        except (httpx2.HTTPError, OSError) as exc:
            raise ModelUnavailable(f"connection error: {exc}") from exc
        except (ValueError, AttributeError, TypeError) as exc:  # undecodable event, unexpected shapes
            raise ModelUnavailable(f"malformed stream: {exc}") from exc
        finally:
            await response.aclose()
        if not (events.done or events.finished):
            raise ModelUnavailable("the stream ended before the reply did")
        if calls.calls:
            yield ToolRequests(tuple(self._parse(call) for call in calls.calls))

    def _parse(self, call: dict) -> ToolRequest:
        if call["name"] not in self.tool_names:
            raise ModelUnavailable(f"malformed tool call: unknown tool {call['name']!r}")
        try:
            arguments = json.loads(call["arguments"] or "{}")
        except ValueError as exc:
            raise ModelUnavailable(f"malformed tool call: arguments of {call['name']} are not JSON") from exc
        if not isinstance(arguments, dict):
            raise ModelUnavailable(f"malformed tool call: arguments of {call['name']} are not an object")
        return ToolRequest(call["id"] or f"call_{call['name']}", call["name"], arguments, call["arguments"])


class ToolCallAssembly:
    """Tool calls put back together from their streamed fragments, in the order they began.

    OpenAI's own stream sends a call's index, id and name in its first fragment and only pieces of
    the arguments after that. OpenAI-compatible servers differ, and each of these shapes is in use
    (the LLM stand-in plays them): the whole name and the id repeated in every fragment, every call
    at index 0, no index at all, a name itself split in pieces. So: a fragment with an id other
    than its slot's starts a new call; one without an index continues the call last begun unless
    it brings a new id; a name is appended to only while it is not yet a complete tool name, and
    never with a repeat of itself.
    """

    def __init__(self, tool_names: frozenset[str]):
        self.tool_names = tool_names
        self.calls: list[dict] = []
        self._slots: dict[int | None, dict] = {}

    def add(self, fragment: dict) -> None:
        index = fragment.get("index")
        fragment_id = fragment.get("id") or ""
        call = self._slots.get(index) if index is not None else (self.calls[-1] if self.calls else None)
        if call is None or (fragment_id and call["id"] and fragment_id != call["id"]):
            call = {"id": fragment_id, "name": "", "arguments": ""}
            self.calls.append(call)
            self._slots[index] = call
        elif fragment_id and not call["id"]:
            call["id"] = fragment_id
        function = fragment.get("function") or {}
        name = function.get("name") or ""
        if name and name != call["name"] and call["name"] not in self.tool_names:
            call["name"] += name
        call["arguments"] += function.get("arguments") or ""


def _describe(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc}"
    return f"{type(exc).__name__}: {exc}"


class EventStream:
    """Server-sent events → the JSON objects in their `data:` lines (`[DONE]` ends the stream)."""

    def __init__(self):
        self.buffer = b""
        self.done = False  # [DONE] arrived
        self.finished = False  # a choice carried its finish_reason

    def feed(self, block: bytes) -> list[dict]:
        self.buffer += block
        if b"\r" in self.buffer:
            self.buffer = self.buffer.replace(b"\r\n", b"\n")
        *complete, self.buffer = self.buffer.split(b"\n\n")
        chunks = []
        if self.done:
            return chunks
        for event in complete:
            data = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
            if not data:
                continue  # a comment or an event without data
            if data == b"[DONE]":
                self.done = True
                break
            chunk = json.loads(data)
            if not isinstance(chunk, dict):
                raise ValueError("an event that is not a JSON object")
            if chunk.get("error"):
                raise ValueError(f"the stream reported an error: {chunk['error']}")
            chunks.append(chunk)
        return chunks
