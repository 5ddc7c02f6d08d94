"""The one LLM module against an OpenAI-compatible server (the stand-in, over HTTP, through the real
`openai` client): streamed tool calls put back together whatever framing the server uses."""

from __future__ import annotations

import asyncio

import pytest

from receptionist.agent.llm import LlmClients, ToolRequests
from receptionist.agent.tools import tool_schemas
from receptionist.core.templates import Templates
from receptionist.settings import Settings
from sandbox.llm_api import LocalChatApi, reply

CALLS = (("capture_lead", {"name": "Ann Smith", "reason": "a leaking water heater in the basement"}),
         ("end_call", {"farewell": "Thanks for calling. Goodbye!"}))


@pytest.fixture(scope="module")
def llm():
    with LocalChatApi() as server:
        yield server


def stream(llm) -> tuple[str, ToolRequests | None]:
    async def run():
        clients = LlmClients(Settings(_env_file=None, openai_base_url=llm.base_url, openai_api_key="test",
                                      relay_llm_timeout_s=5.0))
        model = clients.chat_model(tool_schemas(Templates.packaged()))
        text, requests = [], None
        try:
            async for piece in model.stream([{"role": "user", "content": "Hi"}]):
                if isinstance(piece, str):
                    text.append(piece)
                else:
                    requests = piece
        finally:
            await clients.aclose()
        return "".join(text), requests

    return asyncio.run(asyncio.wait_for(run(), 30))


@pytest.mark.parametrize("framing", ["openai", "repeat-name", "one-index", "no-index"])
def test_streamed_tool_calls_survive_every_framing(llm, framing):
    llm.script(reply("One moment.", *CALLS, tool_call_fragments=framing))
    text, requests = stream(llm)
    assert text == "One moment."
    assert [(call.name, call.arguments) for call in requests.calls] == [(name, args) for name, args in CALLS]
    ids = [call.id for call in requests.calls]
    assert len(set(ids)) == 2 and all(ids)


def test_a_name_that_arrives_in_pieces_is_put_together():
    from receptionist.agent.llm import ToolCallAssembly

    calls = ToolCallAssembly(frozenset({"capture_lead", "end_call"}))
    for fragment in ({"index": 0, "id": "call_1", "function": {"name": "capture_", "arguments": ""}},
                     {"index": 0, "function": {"name": "lead", "arguments": '{"name": '}},
                     {"index": 0, "function": {"name": "capture_lead", "arguments": '"Ann"}'}}):
        calls.add(fragment)
    assert calls.calls == [{"id": "call_1", "name": "capture_lead", "arguments": '{"name": "Ann"}'}]
