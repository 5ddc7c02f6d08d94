"""The floor for `POST /twilio/voice`: a bare FastAPI endpoint that validates the Twilio signature,
inserts one row into the same PostgreSQL database the service uses (its own table, one autocommit
connection per worker thread, as the service's hot path does) and returns the same TwiML our service
returns. Served by bench/webhook.py."""

from __future__ import annotations

import os
import threading

import anyio.to_thread
import psycopg
from fastapi import FastAPI, Request
from fastapi.responses import Response
from twilio.request_validator import RequestValidator

PUBLIC_URL = os.environ["BARE_PUBLIC_URL"]
validator = RequestValidator(os.environ["BARE_AUTH_TOKEN"])
TWIML = os.environ["BARE_TWIML"]
database_url = os.environ["BARE_DATABASE_URL"]
local = threading.local()

app = FastAPI()


def insert(call_sid: str, from_number: str, to_number: str) -> None:
    conn = getattr(local, "conn", None)
    if conn is None:
        conn = local.conn = psycopg.connect(database_url, autocommit=True)
        conn.execute("CREATE TABLE IF NOT EXISTS bare_calls (call_sid TEXT PRIMARY KEY, from_number TEXT, to_number TEXT)")
    conn.execute("INSERT INTO bare_calls VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", (call_sid, from_number, to_number))


@app.post("/twilio/voice")
async def voice(request: Request):
    form = await request.form()
    params = {k: v for k, v in form.items() if isinstance(v, str)}
    if not validator.validate(PUBLIC_URL + "/twilio/voice", params, request.headers.get("x-twilio-signature", "")):
        return Response(status_code=403)
    await anyio.to_thread.run_sync(insert, params["CallSid"], params["From"], params["To"])
    return Response(content=TWIML, media_type="application/xml")
