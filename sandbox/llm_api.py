"""A local stand-in for an OpenAI-compatible Chat Completions endpoint (the LLM the product calls).

A real HTTP/1.1 server (asyncio, keep-alive) on 127.0.0.1 speaking `POST /v1/chat/completions`:
with `"stream": true` it answers Server-Sent Events, one `data: {chat.completion.chunk}` line per
token and `data: [DONE]` at the end, exactly as the real API does, tool calls included (the first
delta carries the id and name, the following ones fragments of the JSON arguments). Point the real
`openai` client at `base_url` and it cannot tell the difference.

Tests script what the model answers, one `ScriptedReply` per request in order, including the
failures a phone call must survive: an error status (500, 429), a delay before the answer (a
timeout), a pause in the middle of the stream (an interruption), malformed tool-call arguments.
Every request body is recorded, so a test can assert the history the product sent.

    python -m sandbox.llm_api --port 8199 --text "Sure, how can I help?"

serves the same in the foreground (the relay benchmark runs it as its own process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from sandbox.ports import LOOPBACK, free_port

_TOKEN = re.compile(r"\s*\S+")
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


@dataclass(frozen=True)
class ScriptedToolCall:
    name: str
    arguments: dict[str, Any] | str  # a str is sent as is, so a test can send broken JSON


@dataclass(frozen=True)
class ScriptedReply:
    """What the model answers to one request."""

    text: str = ""
    tool_calls: tuple[ScriptedToolCall, ...] = ()
    status: int = 200  # anything else answers an OpenAI-shaped JSON error with this status
    delay_s: float = 0.0  # before the response starts (what a slow or hung model looks like)
    # After `pause_after` text tokens, wait `pause_s` before each further token, so a test can
    # interrupt the receptionist in the middle of an answer.
    pause_after: int | None = None
    pause_s: float = 0.0
    # How tool-call fragments are framed. "openai": the first delta of a call carries its index, id
    # and name, the rest only argument pieces. The others are OpenAI-compatible servers seen in the
    # wild: "repeat-name" sends the id and the whole name again in every fragment (MiniMax through
    # NVIDIA NIM, Fireworks: NousResearch/hermes-agent#8259, #8089); "one-index" gives every call
    # index 0 (Ollama: ollama/ollama#15457, vercel/ai#14277); "no-index" leaves the index out
    # (Gemini's compatible endpoint: openai/openai-python#2806).
    tool_call_fragments: str = "openai"

    def tokens(self) -> list[str]:
        return _TOKEN.findall(self.text)


def reply(text: str = "", *tool_calls: tuple[str, dict | str], **options) -> ScriptedReply:
    """`reply("Sure.", ("capture_lead", {"name": "Ann"}))`: a shorthand for tests."""
    return ScriptedReply(text, tuple(ScriptedToolCall(n, a) for n, a in tool_calls), **options)


@dataclass
class _Served:
    """What one request got, for assertions: its JSON body and whether the client hung up early."""

    body: dict
    reply: ScriptedReply
    completed: bool = False
    cut_off: bool = False


@dataclass
class _Counters:
    started: int = 0
    ids: int = 0


class LocalChatApi:
    """The server, run on its own event loop in a background thread (or in the foreground)."""

    def __init__(self, default: ScriptedReply | None = None, *, host: str = LOOPBACK, port: int | None = None,
                 record: bool = True, model: str = "local-model"):
        self.default = default or ScriptedReply("Thanks, I'm listening.")
        self.host = host
        self.port = port or free_port()
        self.record = record
        self.model = model
        self.served: list[_Served] = []
        self._script: deque[ScriptedReply] = deque()
        self._lock = threading.Lock()
        self._counters = _Counters()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._encoded: dict[int, tuple[bytes, ...]] = {}  # id(reply) -> SSE frames, built once per reply

    # --- what tests use ---------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def script(self, *replies: ScriptedReply) -> None:
        """Queue the answers to the next requests, in order; the default answers once they run out."""
        with self._lock:
            self._script.extend(replies)

    @property
    def requests(self) -> list[dict]:
        return [s.body for s in self.served]

    def messages(self, index: int = -1) -> list[dict]:
        return self.served[index].body["messages"]

    def pending(self) -> int:
        with self._lock:
            return len(self._script)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.served) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.served)} requests reached the model, expected {count}")
            time.sleep(0.01)

    # --- life cycle --------------------------------------------------------------------------
    def start(self) -> LocalChatApi:
        self._thread = threading.Thread(target=self._run_thread, name=f"llm-api-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Chat Completions stand-in did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._loop.is_running():
            try:
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=5)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _shutdown(self) -> None:
        """Stop listening and end every open connection, so no handler outlives the loop."""
        if self._server is not None:
            self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> LocalChatApi:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _run_thread(self) -> None:
        loop = self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._server = loop.run_until_complete(asyncio.start_server(self._connection, self.host, self.port,
                                                                    backlog=1024))
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def serve_forever(self) -> None:
        """Serve in the current event loop until cancelled (the foreground command)."""
        self._server = await asyncio.start_server(self._connection, self.host, self.port, backlog=1024)
        async with self._server:
            await self._server.serve_forever()

    # --- HTTP ----------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    return
                method, path, headers, body = request
                if method != "POST" or path.split("?")[0].rstrip("/") not in ("/v1/chat/completions",
                                                                             "/chat/completions"):
                    _write_json(writer, 404, {"error": {"message": f"no route {method} {path}",
                                                        "type": "invalid_request_error", "code": None}})
                    await writer.drain()
                    continue
                await self._completions(writer, body)
                if headers.get("connection", "").lower() == "close":
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    def _next_reply(self) -> ScriptedReply:
        with self._lock:
            return self._script.popleft() if self._script else self.default

    async def _completions(self, writer: asyncio.StreamWriter, raw: bytes) -> None:
        try:
            body = json.loads(raw)
        except ValueError:
            _write_json(writer, 400, {"error": {"message": "body is not JSON", "type": "invalid_request_error",
                                                "code": None}})
            await writer.drain()
            return
        scripted = self._next_reply()
        served = _Served(body if self.record else {}, scripted)
        if self.record:
            with self._lock:
                self.served.append(served)
        if scripted.delay_s:
            await asyncio.sleep(scripted.delay_s)
        if scripted.status != 200:
            kind = "rate_limit_error" if scripted.status == 429 else "server_error"
            _write_json(writer, scripted.status, {"error": {"message": f"scripted {scripted.status}",
                                                            "type": kind, "code": None}},
                        extra=b"retry-after: 1\r\n" if scripted.status == 429 else b"")
            await writer.drain()
            served.completed = True
            return
        if not body.get("stream"):
            _write_json(writer, 200, self._completion(scripted, body))
            await writer.drain()
            served.completed = True
            return
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
                     b"transfer-encoding: chunked\r\n\r\n")
        frames = self._frames(scripted, body)
        try:
            for index, frame in enumerate(frames):
                if scripted.pause_after is not None and index - 1 >= scripted.pause_after:
                    await writer.drain()
                    await asyncio.sleep(scripted.pause_s)
                writer.write(frame)
                if index < 2:
                    await writer.drain()  # the first token leaves at once
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            served.completed = True
        except ConnectionError:
            served.cut_off = True
            raise

    def _frames(self, scripted: ScriptedReply, body: dict) -> tuple[bytes, ...]:
        """The SSE frames (HTTP chunks) of a reply; built once per scripted reply object."""
        cached = self._encoded.get(id(scripted))
        if cached is not None and cached[0] is scripted:
            return cached[1]
        with self._lock:
            self._counters.ids += 1
            completion_id = f"chatcmpl-local{self._counters.ids}"
        model = body.get("model") or self.model
        created = int(time.time())

        def chunk(delta: dict, finish: str | None = None) -> bytes:
            payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created, "model": model,
                       "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
            data = b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"
            return b"%x\r\n%s\r\n" % (len(data), data)

        frames = [chunk({"role": "assistant", "content": ""})]
        frames += [chunk({"content": token}) for token in scripted.tokens()]
        style = scripted.tool_call_fragments
        for index, call in enumerate(scripted.tool_calls):
            arguments = call.arguments if isinstance(call.arguments, str) else json.dumps(call.arguments)
            call_id = f"call_{completion_id[-6:]}_{index}"
            position = {} if style == "no-index" else {"index": 0 if style == "one-index" else index}
            frames.append(chunk({"tool_calls": [{**position, "id": call_id, "type": "function",
                                                 "function": {"name": call.name, "arguments": ""}}]}))
            # Arguments arrive in fragments, as from the real API.
            for start in range(0, len(arguments), 16):
                fragment = {**position, "function": {"arguments": arguments[start:start + 16]}}
                if style == "repeat-name":
                    fragment = {**position, "id": call_id, "type": "function",
                                "function": {"name": call.name, "arguments": arguments[start:start + 16]}}
                frames.append(chunk({"tool_calls": [fragment]}))
        frames.append(chunk({}, "tool_calls" if scripted.tool_calls else "stop"))
        done = b"data: [DONE]\n\n"
        frames.append(b"%x\r\n%s\r\n" % (len(done), done))
        encoded = tuple(frames)
        self._encoded[id(scripted)] = (scripted, encoded)
        return encoded

    def _completion(self, scripted: ScriptedReply, body: dict) -> dict:
        tool_calls = [{"id": f"call_local_{i}", "type": "function",
                       "function": {"name": c.name,
                                    "arguments": c.arguments if isinstance(c.arguments, str) else json.dumps(c.arguments)}}
                      for i, c in enumerate(scripted.tool_calls)]
        message = {"role": "assistant", "content": scripted.text or None}
        if tool_calls:
            message["tool_calls"] = tool_calls
        return {"id": "chatcmpl-local", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model") or self.model,
                "choices": [{"index": 0, "message": message, "logprobs": None,
                             "finish_reason": "tool_calls" if tool_calls else "stop"}],
                "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}}


async def _read_request(reader: asyncio.StreamReader) -> tuple[str, str, dict[str, str], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _version = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length") or 0)
    body = await reader.readexactly(length) if length else b""
    return method, path, headers, body


def _write_json(writer: asyncio.StreamWriter, status: int, payload: dict, extra: bytes = b"") -> None:
    data = json.dumps(payload).encode()
    writer.write(b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
                 % (status, _REASONS.get(status, "Error").encode(), len(data), extra, data))


def main() -> None:
    parser = argparse.ArgumentParser(description="A local Chat Completions stand-in.")
    parser.add_argument("--host", default=LOOPBACK)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--text", default="Thanks, I'm listening.")
    parser.add_argument("--no-record", action="store_true", help="do not keep request bodies (long benchmarks)")
    args = parser.parse_args()
    api = LocalChatApi(ScriptedReply(args.text), host=args.host, port=args.port, record=not args.no_record)
    try:
        import uvloop

        run = uvloop.run
    except ImportError:
        run = asyncio.run
    try:
        run(api.serve_forever())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
