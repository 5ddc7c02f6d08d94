"""The phone is never behind anything else: a hung S3 behind /readyz, slow exports or a busy API
never delay the Twilio webhooks (nor, for exports, the API), even on a small pool."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest

from receptionist.web.readiness import Readiness
from tests.support.service import serve
from tests.support.tcp_proxy import OutageProxy
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER

VOICE = "/twilio/voice"


@pytest.fixture
def s3_proxy(s3):
    host, port = s3.endpoint_url.removeprefix("http://").split(":")
    proxy = OutageProxy(host, int(port))
    proxy.open()
    yield proxy
    proxy.resume()
    proxy.close()


@pytest.fixture
def small_service(make_settings, database_url, twilio_api, s3_proxy):
    """Four threads and connections for the Twilio edge, two for the API, one for exports: the
    starvation the issue reproduced needed only four slow requests at this size."""
    settings = make_settings(database_url, s3_endpoint_url=f"http://{s3_proxy.address}", db_pool_size=4,
                             api_threads=2, export_threads=1)
    yield from serve(settings, twilio_api)


def ring(service, n: int) -> tuple[httpx.Response, float]:
    params = {"AccountSid": service.settings.twilio_account_sid, "CallSid": f"CA{n:032d}", "From": CALLER_NUMBER,
              "To": BUSINESS_NUMBER, "CallStatus": "ringing"}
    started = time.monotonic()
    response = service.player.post(VOICE, params)
    return response, time.monotonic() - started


def test_a_hung_s3_behind_readyz_delays_neither_the_phone_nor_readyz(small_service, s3_proxy):
    service = small_service
    service.create_account()
    assert ring(service, 1)[0].status_code == 200  # warm: the first call pays for connections and caches
    s3_proxy.stall()  # accepts connections, never answers
    # One client for the flood: it shares this process (and its GIL) with the server under test.
    with ThreadPoolExecutor(12) as pool, httpx.Client(base_url=service.url, timeout=60) as others:
        asked = time.monotonic()
        probes = [pool.submit(others.get, "/readyz") for _ in range(12)]
        time.sleep(0.5)
        response, elapsed = ring(service, 2)
        assert response.status_code == 200, response.text
        assert elapsed < 1.0, f"the voice webhook waited {elapsed:.2f} s behind /readyz"
        answers = [probe.result() for probe in probes]
    waited = time.monotonic() - asked
    assert all(a.status_code == 503 for a in answers)
    assert all(a.json()["checks"]["s3"].startswith("timed out") for a in answers), answers[0].json()
    assert all(a.json()["checks"]["database"] == "ok" and a.json()["checks"]["redis"] == "ok" for a in answers)
    assert waited < 10, f"/readyz took {waited:.1f} s: S3's own timeout, not the probe's"
    started = time.monotonic()
    assert httpx.get(service.url + "/readyz", timeout=60).status_code == 503
    assert time.monotonic() - started < 1.0  # the cached answer


def test_slow_exports_delay_neither_the_phone_nor_the_api(small_service, s3_proxy):
    service = small_service
    account = service.create_account()
    assert ring(service, 1)[0].status_code == 200  # a call, whose folder the export lists in S3
    s3_proxy.stall()
    export = f"{service.url}/api/accounts/{account['id']}/export"
    with ThreadPoolExecutor(6) as pool, httpx.Client(timeout=120) as others:
        exports = [pool.submit(others.get, export, headers=service.admin()) for _ in range(6)]
        time.sleep(1.0)
        assert not any(e.done() for e in exports), "the exports were meant to be stuck on S3"
        for n in (2, 3, 4, 5, 6):  # more calls than the edge has threads
            response, elapsed = ring(service, n)
            assert response.status_code == 200, response.text
            assert elapsed < 1.0, f"the voice webhook waited {elapsed:.2f} s behind exports"
        started = time.monotonic()
        assert service.http.get(f"/api/accounts/{account['id']}", headers=service.admin()).status_code == 200
        assert time.monotonic() - started < 1.0, "the API waited behind exports"
        s3_proxy.resume()  # S3 is back: the exports finish, and answer with the zip as before
        answers = [e.result() for e in exports]
    assert all(a.status_code == 200 and a.headers["content-type"] == "application/zip" for a in answers)
    assert service.count("calls") == 6


def test_readiness_caches_its_answer_and_never_stacks_probes_on_a_hung_one():
    release, calls = threading.Event(), []

    def hung():
        calls.append(time.monotonic())
        release.wait(30)

    now = [0.0]
    readiness = Readiness({"fine": lambda: None, "hung": hung}, timeout_s=0.2, cache_s=5.0, clock=lambda: now[0])

    async def ask(times: int) -> list[dict]:
        async with anyio.create_task_group() as tg:
            answers: list[dict] = []

            async def one():
                answers.append(await readiness.checks())

            for _ in range(times):
                tg.start_soon(one)
        return answers

    try:
        first = anyio.run(ask, 5)
        assert all(a == {"fine": "ok", "hung": "timed out after 0.2 s"} for a in first)
        assert len(calls) == 1  # five askers, one round
        now[0] = 10.0  # the cache has expired, the hung probe still hangs: it is waited on, not doubled
        assert anyio.run(ask, 3)[0]["hung"].startswith("timed out")
        assert len(calls) == 1
        release.set()
        time.sleep(0.1)
        now[0] = 20.0
        assert anyio.run(ask, 1)[0] == {"fine": "ok", "hung": "ok"}
        assert len(calls) == 2
    finally:
        release.set()
