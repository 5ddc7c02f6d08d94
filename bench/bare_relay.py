"""The floor for the relay: a bare FastAPI websocket that answers every ConversationRelay `prompt`
with canned `text` tokens (no model, no database, no conversation). Served by bench/relay.py on the
same uvicorn settings as the service, so the difference is what the receptionist adds."""

from __future__ import annotations

import json
import os
import re

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

TOKENS = re.findall(r"\s*\S+", os.environ.get("BARE_REPLY", "Thanks, I'm listening."))
MESSAGES = [json.dumps({"type": "text", "token": token, "last": False}) for token in TOKENS]
LAST = json.dumps({"type": "text", "token": "", "last": True})

app = FastAPI()


@app.websocket("/twilio/relay")
async def relay(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = json.loads(await websocket.receive_text())
            if message.get("type") == "prompt":
                for text in MESSAGES:
                    await websocket.send_text(text)
                await websocket.send_text(LAST)
    except WebSocketDisconnect:
        pass
