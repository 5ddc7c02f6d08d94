"""`receptionist demo`: one whole call on embedded local services, printed as it travels.

Starts a real Redis, a SeaweedFS S3 server, an SMTP capture and a local stand-in of Twilio's REST
API; serves the app with uvicorn; plays a call the way Twilio does: the signed voice webhook, a
ConversationRelay session in which the caller talks with the (offline, profile-driven)
receptionist, the relay's action callback, the status callback, and a dual-channel recording of the
same conversation in synthetic speech, downloaded with basic auth. Then it runs the worker and
shows the transcript, the lead, the stored objects with their encryption and tags, and the owner's
email. Cleans up after itself.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
from redis import Redis
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from receptionist.app import create_app
from receptionist.postcall.pipeline import PipelineContext
from receptionist.settings import Settings
from receptionist.storage.objects import account_prefix
from receptionist.wiring import build_pipeline_context
from sandbox import LocalRedis, LocalS3, LocalTwilioApi, SmtpCapture
from sandbox.call_player import CallPlayer, new_sid
from sandbox.served_app import ServedApp
from sandbox.speech import synthesize_call
from workers.worker import run_worker

BUSINESS_NUMBER = "+15550100200"
CALLER_NUMBER = "+15550142367"
OWNER_EMAIL = "owner@rivertownplumbing.example"

DEMO_ACCOUNT = {
    "name": "Rivertown Plumbing",
    "phone_numbers": [BUSINESS_NUMBER],
    "timezone": "America/Chicago",
    "business": {
        "services": ["water heater repair", "drain cleaning", "leak detection"],
        "service_areas": ["Springfield", "Shelbyville"],
        "hours": {"mon": "08:00-17:00", "tue": "08:00-17:00", "wed": "08:00-17:00", "thu": "08:00-17:00",
                  "fri": "08:00-16:00", "sat": "closed", "sun": "closed"},
        "faq": [{"question": "Do you charge for estimates?", "answer": "Estimates are free."}],
    },
    "alert_emails": [OWNER_EMAIL],
}

# The receptionist's words are "spoken" this fast, so the demo does not wait as long as a caller would.
DEMO_SPEECH_CHARS_PER_S = 400.0

# What the caller says, turn by turn; the receptionist's answers come from the service itself.
CALLER_LINES = [
    "Hi, my water heater is leaking all over the basement. I live in Springfield.",
    "My name is Maria Lopez.",
    "You can reach me at 312 555 0199.",
    "Yes, that's right.",
    "Thank you, goodbye.",
]


def run_demo(keep: bool = False) -> int:
    console = Console()
    workdir = Path(tempfile.mkdtemp(prefix="receptionist-demo-"))
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            console.rule("[bold]AI receptionist demo")
            console.print("Starting local services: Redis, SeaweedFS S3, SMTP capture, Twilio REST stand-in…")
            redis = stack.enter_context(LocalRedis())
            s3 = stack.enter_context(LocalS3(data_dir=workdir / "s3"))
            smtp = stack.enter_context(SmtpCapture())
            account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
            twilio_api = stack.enter_context(LocalTwilioApi(account_sid, auth_token))
            admin_token = secrets.token_urlsafe(24)

            served_port = _port()
            settings = Settings(
                _env_file=None,
                database_url=f"sqlite:///{workdir / 'receptionist.db'}",
                redis_url=redis.url,
                s3_bucket="receptionist-demo",
                s3_endpoint_url=s3.endpoint_url,
                aws_access_key_id=s3.access_key,
                aws_secret_access_key=s3.secret_key,
                aws_region=s3.region,
                twilio_account_sid=account_sid,
                twilio_auth_token=auth_token,
                twilio_api_url=twilio_api.base_url,
                # The demo serves plain HTTP on loopback, which Twilio could never reach; said explicitly,
                # since a real deployment's public URL must be https:// (ConversationRelay needs wss://).
                public_url=f"http://127.0.0.1:{served_port}",
                allow_plain_http=True,
                smtp_url=smtp.url,
                alert_from_email="receptionist@rivertownplumbing.example",
                admin_token=admin_token,
                session_secret=secrets.token_hex(32),
            )
            app = stack.enter_context(ServedApp(create_app(settings), port=served_port))
            console.print(f"Service listening on {app.url}  (SQLite at {workdir / 'receptionist.db'})")

            http = stack.enter_context(httpx.Client(base_url=app.url, timeout=30.0))
            twilio_api.add_incoming_number(BUSINESS_NUMBER)  # only numbers the Twilio account owns are routed
            response = http.post("/api/accounts", json=DEMO_ACCOUNT, headers={"Authorization": f"Bearer {admin_token}"})
            response.raise_for_status()
            account = response.json()
            console.print(f"Created account [bold]{account['name']}[/] ({account['id']}) answering {BUSINESS_NUMBER}")

            player = CallPlayer(app.url, account_sid, auth_token, public_url=settings.public_url, twilio=twilio_api)
            stack.callback(player.close)

            call = player.start(CALLER_NUMBER, BUSINESS_NUMBER)
            console.print(Panel(call.twiml, title=f"POST /twilio/voice → TwiML for {call.call_sid}", expand=False))
            turns, handoff, next_twiml = asyncio.run(_converse(console, player, call))
            console.print(Panel(next_twiml, title="POST /twilio/relay/action → TwiML", expand=False))
            if handoff and handoff.get("say"):
                turns.append(("receptionist", handoff["say"]))

            console.print("Synthesizing the recording of that conversation with espeak-ng (8 kHz, dual channel)…")
            audio = synthesize_call(turns, workdir / "call.wav")
            player.end(call, duration_s=round(audio.duration_s))
            status = player.record(call, audio.path.read_bytes(), recording_sid=new_sid("RE"))
            console.print(f"Recording {call.recording_sid} ({audio.duration_s:.1f} s) reported {status}; job queued. "
                          f"Running the worker…")

            ctx = build_pipeline_context(settings)
            stack.callback(ctx.close)
            worker_started = time.perf_counter()
            run_worker(ctx, Redis.from_url(settings.redis_url), settings.queue_name, burst=True, with_scheduler=False)
            console.print(f"Worker finished in {time.perf_counter() - worker_started:.1f} s "
                          f"(model load {ctx.transcriber.load_seconds:.1f} s).")

            detail = http.get(f"/api/calls/{call.call_sid}", headers={"Authorization": f"Bearer {admin_token}"}).json()
            _print_transcript(console, detail)
            console.print(Panel(f"{detail['summary']}\n\n" + json.dumps(detail["lead"], indent=2),
                                title=f"Summary and lead ({detail['outcome']})", expand=False))
            _print_objects(console, ctx, account["id"], call.call_sid)
            _print_email(console, smtp)
            ok = detail["processing_status"] == "done" and len(smtp.messages) == 1
            console.rule(f"[bold {'green' if ok else 'red'}]{'done' if ok else 'FAILED'} in {time.perf_counter() - started:.1f} s")
            return 0 if ok else 1
    finally:
        if keep:
            console.print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


async def _converse(console: Console, player: CallPlayer, call):
    """Twilio's side of the ConversationRelay session the answer connected: the caller's lines as
    transcribed prompts; then Twilio posts the session's end to the `<Connect action>`."""
    relay = player.relay(call, chars_per_s=DEMO_SPEECH_CHARS_PER_S)
    greeting = relay.relay.welcome_greeting or ""
    turns = [("receptionist", greeting)]
    console.print(f"[bold]Receptionist:[/] {greeting}")
    handoff = None
    async with relay:
        for line in CALLER_LINES:
            console.print(f"[bold]Caller:[/]       {line}")
            turns.append(("caller", line))
            heard = await relay.say(line)
            if heard.text:
                console.print(f"[bold]Receptionist:[/] {heard.text}")
                turns.append(("receptionist", heard.text))
            if heard.end is not None:
                handoff = heard.handoff
                break
    await asyncio.to_thread(player.session_over, call, relay)
    return turns, handoff, call.twiml


def _port() -> int:
    from sandbox.ports import free_port

    return free_port()


def _print_transcript(console: Console, detail: dict) -> None:
    table = Table(title=f"GET /api/calls/{detail['call_sid']}: {detail['outcome']}, {detail['duration_s']} s, "
                        f"processing {detail['processing_status']}")
    table.add_column("start", justify="right")
    table.add_column("speaker")
    table.add_column("text")
    for segment in detail["transcript"]:
        table.add_row(f"{segment['start']:.1f}s", segment["speaker"], segment["text"])
    console.print(table)
    if detail.get("processing_error"):
        console.print(f"[red]processing error: {detail['processing_error']}")


def _print_objects(console: Console, ctx: PipelineContext, account_id: str, call_sid: str) -> None:
    table = Table(title=f"s3://{ctx.store.bucket}")
    for column in ("key", "bytes", "ServerSideEncryption", "tags"):
        table.add_column(column)
    for key in ctx.store.list_keys(account_prefix(account_id)):
        head = ctx.store.head(key)
        tags = ctx.store.tags(key)
        table.add_row(key, str(head.get("ContentLength")), str(head.get("ServerSideEncryption")),
                      ", ".join(f"{k}={v}" for k, v in sorted(tags.items())))
    console.print(table)


def _print_email(console: Console, smtp: SmtpCapture) -> None:
    for captured in smtp.messages:
        message = captured.message
        body = message.get_body(preferencelist=("plain",)).get_content()
        console.print(Panel(f"To: {message['To']}\nSubject: {message['Subject']}\n\n{body}",
                            title="Owner email captured by the local SMTP server", expand=False))
    if not smtp.messages:
        console.print("[red]no email was captured")


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run_demo(keep=bool(os.environ.get("KEEP"))))
