"""The floor for `POST /twilio/voice`: a bare FastAPI endpoint that validates the Twilio signature,
inserts one row (SQLite) and returns the same TwiML our service returns. Served by bench/webhook.py."""

from __future__ import annotations

import os
import sqlite3
import threading

from fastapi import FastAPI, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

PUBLIC_URL = os.environ["BARE_PUBLIC_URL"]
validator = RequestValidator(os.environ["BARE_AUTH_TOKEN"])
TWIML = os.environ["BARE_TWIML"]
db_path = os.environ["BARE_DB"]
local = threading.local()

app = FastAPI()


def connection() -> sqlite3.Connection:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS calls (call_sid TEXT PRIMARY KEY, from_number TEXT, to_number TEXT)")
    return conn


@app.post("/twilio/voice")
async def voice(request: Request):
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    if not validator.validate(PUBLIC_URL + "/twilio/voice", params, request.headers.get("x-twilio-signature", "")):
        return Response(status_code=403)
    connection().execute("INSERT OR IGNORE INTO calls VALUES (?, ?, ?)", (params["CallSid"], params["From"], params["To"]))
    return Response(content=TWIML, media_type="application/xml")
