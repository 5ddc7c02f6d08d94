"""Streaming Chat Completions with tools, through the `openai` client: the only code that calls an LLM.

`ChatModel.stream` yields the reply's text as the model produces it (so the caller hears the first
words while the rest is still being written) and then, if the model asked for tools, one
`ToolRequests` with the complete, parsed calls. Everything that makes the model unusable for this
turn (timeout, connection error, 5xx, 429, a broken stream, a malformed tool call) is raised as
`ModelUnavailable`, so the conversation can apologise and carry on without it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx2  # the HTTP client openai 3.x is built on
import openai
from openai import AsyncOpenAI, AsyncStream

from receptionist.settings import Settings

log = logging.getLogger(__name__)


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


def build_client(settings: Settings) -> AsyncOpenAI | None:
    """One client per app, or None when no LLM is configured (the offline receptionist answers)."""
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
        # Each live call streams at most one reply at a time; keep a connection alive per concurrent
        # call instead of reconnecting (the client's default keeps only 100).
        http_client=openai.DefaultAsyncHttpxClient(
            timeout=timeout,
            limits=httpx2.Limits(max_connections=2000, max_keepalive_connections=2000, keepalive_expiry=30.0),
        ),
    )


class ChatModel:
    def __init__(self, client: AsyncOpenAI, model: str, tools: list[dict]):
        self.client = client
        self.model = model
        self.tools = tools
        self.tool_names = frozenset(t["function"]["name"] for t in tools)

    async def stream(self, messages: list[dict]) -> AsyncIterator[str | ToolRequests]:
        body = {"model": self.model, "messages": messages, "stream": True}
        if self.tools:
            body["tools"] = self.tools
        try:
            # The client's raw `post` (same auth, base URL, timeouts and error types as
            # `chat.completions.create`) with chunks left as dicts: the typed path validates the
            # request and builds a pydantic model per chunk, which measured at about 1 ms of CPU per
            # reply — the whole budget from the caller's words to the receptionist's first one.
            response = await self.client.post("/chat/completions", body=body, cast_to=object, stream=True,
                                              stream_cls=AsyncStream[object])
        except openai.APIError as exc:
            raise ModelUnavailable(_describe(exc)) from exc
        pending: dict[int, dict] = {}
        try:
            async for chunk in response:
                choices = chunk.get("choices") if isinstance(chunk, dict) else None
                if not choices:
                    continue
                delta = choices[0].get("delta") or {}
                content = delta.get("content")
                if content:
                    yield content
                for fragment in delta.get("tool_calls") or ():
                    call = pending.setdefault(fragment.get("index", 0), {"id": "", "name": "", "arguments": ""})
                    call["id"] = fragment.get("id") or call["id"]
                    function = fragment.get("function") or {}
                    call["name"] += function.get("name") or ""
                    call["arguments"] += function.get("arguments") or ""
        except openai.APIError as exc:
            raise ModelUnavailable(_describe(exc)) from exc
        except (ValueError, AttributeError, TypeError) as exc:  # undecodable event, unexpected shapes
            raise ModelUnavailable(f"malformed stream: {exc}") from exc
        finally:
            await response.close()
        if pending:
            yield ToolRequests(tuple(self._parse(pending[index]) for index in sorted(pending)))

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


def _describe(exc: openai.APIError) -> str:
    if isinstance(exc, openai.APITimeoutError):
        return "timeout"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}"
    if isinstance(exc, openai.APIConnectionError):
        return f"connection error: {exc}"
    return f"{type(exc).__name__}: {exc}"
