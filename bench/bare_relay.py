"""Floors for the relay: bare FastAPI websockets that answer every ConversationRelay `prompt` with
`text` tokens and nothing else (no setup check, no agent, no database, no stored conversation).
Served by bench/relay.py on the same uvicorn settings as the service, so each step from one floor to
the next is the price of one part of the stack:

- `canned`: the reply's tokens from memory (what a websocket costs on this machine);
- `aiohttp`: the reply streamed from the Chat Completions stand-in over plain aiohttp, with the
  same kind of request the receptionist sends (a system prompt, the tools, the growing history),
  forwarded one `text` message per network read (what an LLM round trip adds);
- `openai`: the same through the `openai` client, with the receptionist's own `ChatModel`
  (what the client adds).

    uvicorn --factory bench.bare_relay:create_app   (BARE_MODE, BARE_REPLY, OPENAI_BASE_URL)
"""

from __future__ import annotations

import gc
import json
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from receptionist.agent.llm import ChatModel, EventStream, build_streaming_client
from receptionist.agent.tools import tool_schemas
from receptionist.core.templates import Templates
from receptionist.settings import Settings

TEMPLATES = Templates()
SYSTEM_PROMPT = TEMPLATES.env.loader.get_source(TEMPLATES.env, "system_prompt.txt")[0]
TOOLS = tool_schemas(TEMPLATES)
LAST = json.dumps({"type": "text", "token": "", "last": True})


def create_app() -> FastAPI:
    mode = os.environ.get("BARE_MODE", "canned")
    clients: dict = {}  # the HTTP client of the streaming floors, opened and closed on the serving loop

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if mode == "aiohttp":
            import aiohttp

            clients["http"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=2000))
        elif mode == "openai":
            clients["http"] = build_streaming_client(Settings(_env_file=None))
        gc.collect()
        gc.freeze()  # as the service does after start-up (see receptionist.app)
        yield
        if "http" in clients:
            await clients["http"].close()

    app = FastAPI(lifespan=lifespan)

    if mode == "canned":
        # Pre-encoded: the floor of the floors (the original bare server, unchanged).
        tokens = re.findall(r"\s*\S+", os.environ.get("BARE_REPLY", "Thanks, I'm listening."))
        messages = [json.dumps({"type": "text", "token": token, "last": False}) for token in tokens]

        @app.websocket("/twilio/relay")
        async def canned(websocket: WebSocket) -> None:
            await websocket.accept()
            try:
                while True:
                    message = json.loads(await websocket.receive_text())
                    if message.get("type") == "prompt":
                        for text in messages:
                            await websocket.send_text(text)
                        await websocket.send_text(LAST)
            except WebSocketDisconnect:
                pass

        return app
    if mode == "aiohttp":
        url = os.environ["OPENAI_BASE_URL"].rstrip("/") + "/chat/completions"
        headers = {"Content-Type": "application/json", "Authorization": "Bearer bench"}

        async def plain(messages: list[dict]) -> AsyncIterator[str]:
            body = json.dumps({"model": "bench", "messages": messages, "stream": True, "tools": TOOLS}).encode()
            async with clients["http"].post(url, data=body, headers=headers) as response:
                events = EventStream()
                async for block in response.content.iter_any():
                    text = "".join(chunk["choices"][0]["delta"].get("content") or ""
                                   for chunk in events.feed(block) if chunk.get("choices"))
                    if text:
                        yield text

        stream = plain
    elif mode == "openai":
        async def through_client(messages: list[dict]) -> AsyncIterator[str]:
            async for piece in ChatModel(clients["http"], "bench", TOOLS).stream(messages):
                if isinstance(piece, str):
                    yield piece

        stream = through_client
    else:
        raise SystemExit(f"unknown BARE_MODE {mode!r}")

    @app.websocket("/twilio/relay")
    async def streamed(websocket: WebSocket) -> None:
        await websocket.accept()
        history = [{"role": "system", "content": SYSTEM_PROMPT}]
        try:
            while True:
                message = json.loads(await websocket.receive_text())
                if message.get("type") != "prompt":
                    continue
                history.append({"role": "user", "content": message.get("voicePrompt") or ""})
                spoken = []
                async for piece in stream(history):
                    spoken.append(piece)
                    await websocket.send_text(json.dumps({"type": "text", "token": piece, "last": False}))
                await websocket.send_text(LAST)
                history.append({"role": "assistant", "content": "".join(spoken)})
        except WebSocketDisconnect:
            pass

    return app
