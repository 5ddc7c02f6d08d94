"""Plays Twilio's side of a ConversationRelay session against the service (tests, demo, benchmark).

It connects to `WS /twilio/relay` the way Twilio does: the upgrade signed over the public `wss://`
URL, then the `setup` message, then the caller's `prompt`s, `interrupt`s and `dtmf` keys, and it
collects what the receptionist sends back (`text` tokens, `end`).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field

from websockets.asyncio.client import ClientConnection, connect

from sandbox.signing import TwilioSigner


@dataclass
class Heard:
    """One reply as Twilio received it."""

    tokens: list[str] = field(default_factory=list)
    end: dict | None = None  # the `end` message, when the receptionist left the conversation
    complete: bool = False  # a `last: true` token arrived

    @property
    def text(self) -> str:
        return "".join(self.tokens).strip()

    @property
    def handoff(self) -> dict | None:
        return json.loads(self.end["handoffData"]) if self.end and self.end.get("handoffData") else None


class RelayCaller:
    def __init__(self, ws_url: str, *, call_sid: str, from_number: str, to_number: str, account_sid: str,
                 auth_token: str | None = None, public_relay_url: str | None = None, signature: str | None = None,
                 sign: bool = True):
        self.ws_url = ws_url
        self.call_sid = call_sid
        self.from_number = from_number
        self.to_number = to_number
        self.account_sid = account_sid
        self.headers: dict[str, str] = {}
        if signature is not None:
            self.headers["X-Twilio-Signature"] = signature
        elif sign and auth_token:
            # Twilio signs the URL the TwiML named (the public wss:// one), with no parameters.
            self.headers["X-Twilio-Signature"] = TwilioSigner(auth_token, "").sign_url(public_relay_url or ws_url, {})
        self.ws: ClientConnection | None = None
        self.session_id = "VX" + secrets.token_hex(16)

    async def connect(self, setup: dict | None = None) -> RelayCaller:
        self.ws = await connect(self.ws_url, additional_headers=self.headers, open_timeout=10, max_size=2**20)
        await self.send(setup if setup is not None else self.setup_message())
        return self

    def setup_message(self) -> dict:
        return {"type": "setup", "sessionId": self.session_id, "accountSid": self.account_sid, "parentCallSid": "",
                "callSid": self.call_sid, "from": self.from_number, "to": self.to_number, "forwardedFrom": "",
                "callType": "PSTN", "callerName": "", "direction": "inbound", "callStatus": "IN-PROGRESS",
                "customParameters": {}}

    async def __aenter__(self) -> RelayCaller:
        return await self.connect()

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()

    async def send(self, message: dict) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float = 10.0) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    # --- the caller --------------------------------------------------------------------------------------
    async def prompt(self, text: str) -> None:
        await self.send({"type": "prompt", "voicePrompt": text, "lang": "en-US", "last": True})

    async def say(self, text: str, timeout: float = 10.0, *, ends: bool = False) -> Heard:
        """Say something and wait for the whole reply (`last: true`), and for `end` too when it `ends`."""
        await self.prompt(text)
        return await self.hear(timeout, ends=ends)

    async def hear(self, timeout: float = 10.0, *, ends: bool = False) -> Heard:
        heard = Heard()
        while True:
            message = await self.receive(timeout)
            if message.get("type") == "text":
                heard.tokens.append(message.get("token", ""))
                if message.get("last"):
                    heard.complete = True
                    if not ends:
                        return heard
            elif message.get("type") == "end":
                heard.end = message
                return heard

    async def interrupt(self, heard: str, after_ms: int = 1200) -> None:
        await self.send({"type": "interrupt", "utteranceUntilInterrupt": heard, "durationUntilInterruptMs": after_ms})

    async def press(self, digit: str) -> None:
        await self.send({"type": "dtmf", "digit": digit})

    async def closed(self, timeout: float = 10.0) -> tuple[int | None, str]:
        """Wait for the server to close the socket; (close code, reason)."""
        try:
            while True:
                await asyncio.wait_for(self.ws.recv(), timeout)
        except Exception:
            pass
        return self.ws.close_code, self.ws.close_reason or ""
