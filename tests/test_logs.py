"""Logs carry no caller data: a whole call with a known name, number, address and keyed card number, played
through `receptionist serve` and `receptionist worker` as separate processes, leaves none of them in
either process's log; RQ's failure records are scrubbed the same way."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time

import httpx
from redis import Redis
from rq import Queue
from rq.job import Job

from receptionist.core.logs import scrub
from sandbox.call_player import CallPlayer
from sandbox.ports import free_port
from sandbox.process import ManagedProcess
from sandbox.speech import synthesize_call
from tests.support.alerts import ALERTS_FROM, OWNER_MOBILE
from tests.support.service import clean, own_numbers
from tests.support.world import ACCOUNT, BUSINESS_NUMBER

NAME, SURNAME = "Marisol", "Quintero"
CALLER = "+13125550187"
ADDRESS = "418 Birchwood Lane"
CARD = "4111111111111111"
SPOKEN = [
    f"Hi, my name is {NAME} {SURNAME} and my water heater is leaking.",
    "You can reach me at 312 555 0187.",
    f"I live at {ADDRESS}.",
    "Thank you, goodbye.",
]


def _env(settings) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")}
    return {**keep, **settings.to_env(), "PYTHONUNBUFFERED": "1"}


def _wait_ready(url: str, process: ManagedProcess, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.running, process.log_tail()
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"the service did not start: {process.log_tail()}")


async def _talk(player: CallPlayer, call) -> None:
    async with player.relay(call) as relay:
        await relay.say(SPOKEN[0])
        for digit in CARD:  # a caller keying a card number on the keypad
            await relay.press(digit)
        for line in SPOKEN[1:]:
            heard = await relay.say(line)
            if heard.end:
                break


def test_a_whole_call_leaves_no_caller_data_in_the_service_or_worker_logs(make_settings, pg_database, twilio_api,
                                                                         smtp, tmp_path):
    port = free_port()
    settings = make_settings(pg_database, alert_from_number=ALERTS_FROM, openai_api_key=None, openai_base_url=None)
    clean(pg_database)
    own_numbers(settings, [BUSINESS_NUMBER])
    server = ManagedProcess([sys.executable, "-m", "receptionist.cli", "serve", "--port", str(port)],
                            tmp_path / "serve.log", env=_env(settings))
    worker = ManagedProcess([sys.executable, "-m", "receptionist.cli", "worker", "--burst"], tmp_path / "worker.log",
                            env=_env(settings))
    url = f"http://127.0.0.1:{port}"
    server.start()
    try:
        _wait_ready(url, server)
        admin = {"Authorization": f"Bearer {settings.admin_token}"}
        created = httpx.post(url + "/api/accounts", headers=admin, timeout=30,
                             json={**ACCOUNT, "alert_sms": [OWNER_MOBILE], "missed_call_text_back": True})
        assert created.status_code == 201, created.text
        player = CallPlayer(url, settings.twilio_account_sid, settings.twilio_auth_token, public_url=settings.public_url)
        try:
            call = player.start(CALLER, BUSINESS_NUMBER)
            asyncio.run(_talk(player, call))
            player.start(CALLER, "+15550100666")  # a number nobody routes: logged, masked
            player.post("/twilio/sms", {"AccountSid": settings.twilio_account_sid, "MessageSid": "SM" + "1" * 32,
                                        "From": CALLER, "To": BUSINESS_NUMBER, "Body": "HELP"})
            audio = synthesize_call([("receptionist", "Thanks for calling Acme Plumbing.")]
                                    + [("caller", line) for line in SPOKEN], tmp_path / "call.wav")
            recording_sid = "RE" + call.call_sid[2:]
            twilio_api.add_recording(recording_sid, audio.path.read_bytes(), call_sid=call.call_sid)
            player.end(call, duration_s=round(audio.duration_s))
            player.recording_ready(call, twilio_api.recording_url(recording_sid), round(audio.duration_s), recording_sid)
        finally:
            player.close()
        # The worker's start-up check makes one request to Twilio (receptionist.cli.doctor), which is
        # answered first; then the job's first request fails: its retry is logged.
        twilio_api.fail_next(2, 503)
        worker.start()
        deadline = time.monotonic() + 240
        while worker.running and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker.returncode == 0, worker.log_tail(80)
        detail = httpx.get(f"{url}/api/calls/{call.call_sid}", headers=admin, timeout=30).json()
        assert detail["processing_status"] == "done", detail
        transcript = " ".join(s["text"] for s in detail["transcript"]).lower()
        assert "water heater" in transcript  # what the logs must not hold was really said and heard
    finally:
        twilio_api.clear_failures()
        server.stop()
        worker.stop()

    logs = {"service": (tmp_path / "serve.log").read_text(), "worker": (tmp_path / "worker.log").read_text()}
    assert "relay" in logs["service"] and "***0187" in logs["service"]  # the logs were captured, masked
    assert "processed" in logs["worker"] and "retrying" in logs["worker"]
    assert "BEGIN Twilio API Request" not in logs["service"] + logs["worker"]  # the client's request dumps are off
    for process, text in logs.items():
        flat = re.sub(r"\D", "", text)
        for secret in (NAME, SURNAME, ADDRESS, "Birchwood", "3125550187", "312 555 0187", "555-0187", CALLER):
            assert secret.lower() not in text.lower(), f"{secret!r} in the {process} log"
        assert CARD not in flat and "3125550187" not in flat, f"keyed or spoken digits in the {process} log"
        assert "water heater" not in text.lower(), f"what the caller said is in the {process} log"


def failing_job(number: str) -> None:
    raise RuntimeError(f"Twilio refused the text to {number}: unreachable")


def test_rq_failure_records_are_scrubbed(make_context, make_settings, pg_database, redis_conn):
    from workers.worker import CallWorker

    ctx = make_context(make_settings(pg_database))
    queue = Queue("scrub-test", connection=redis_conn)
    job = queue.enqueue(failing_job, "+13125550187")
    CallWorker([queue], connection=redis_conn, pipeline_context=ctx).work(burst=True, with_scheduler=False)
    job = Job.fetch(job.id, connection=Redis.from_url(ctx.settings.redis_url))
    assert job.is_failed
    record = job.latest_result().exc_string
    assert "***0187" in record and "3125550187" not in record and "RuntimeError" in record


def test_scrub_masks_numbers_and_leaves_everything_else():
    assert scrub("text to +13125550187 failed") == "text to ***0187 failed"
    assert scrub("(312) 555-0187, 312.555.0187 or 3125550187") == "***0187, ***0187 or ***0187"
    assert scrub("GET /IncomingPhoneNumbers.json?PhoneNumber=%2B13125550187") == \
        "GET /IncomingPhoneNumbers.json?PhoneNumber=%2B***0187"
    kept = "call CA0123456789abcdef0123456789abcdef at 2026-11-22 04:35:48 took 0.123 s, job 12345"
    assert scrub(kept) == kept
