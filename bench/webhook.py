"""`POST /twilio/voice` under load: the service on PostgreSQL against a bare FastAPI endpoint
(signature check + one SQLite insert + the same TwiML), both on one uvicorn worker, same run.

Two measurements per server: the most it serves (wrk, 2 threads, 32 connections, pre-signed
requests with a new CallSid each) and latency at a fixed 200 requests/s (an open-loop generator
that times each request from its scheduled send time, so queueing is counted).

    python bench/webhook.py [--seconds 10] [--rate 200]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ACCOUNT, percentile, service_env  # noqa: E402
from receptionist.core.db import Database  # noqa: E402
from sandbox import LocalRedis, LocalS3  # noqa: E402
from sandbox.ports import free_port  # noqa: E402
from sandbox.signing import TwilioSigner  # noqa: E402

PUBLIC_URL = "https://receptionist.example.com"
PG_ADMIN = os.environ.get("RECEPTIONIST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BUSINESS = ACCOUNT["phone_numbers"][0]


def signed_requests(path: Path, count: int, account_sid: str, signatures: TwilioSigner) -> list[tuple[str, str]]:
    rows = []
    with path.open("w") as out:
        for _ in range(count):
            params = {"AccountSid": account_sid, "CallSid": "CA" + secrets.token_hex(16),
                      "From": "+1555" + str(secrets.randbelow(10**7)).zfill(7), "To": BUSINESS,
                      "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01"}
            signature, body = signatures.sign("/twilio/voice", params), urlencode(params)
            out.write(f"{signature}\t{body}\n")
            rows.append((signature, body))
    return rows


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def run_wrk(url: str, requests_file: Path, seconds: int) -> dict:
    output = subprocess.run(
        ["wrk", "-t2", "-c32", f"-d{seconds}s", "--latency", "-s", str(ROOT / "bench" / "signed.lua"), url,
         "--", str(requests_file), "2"],
        capture_output=True, text=True, check=True,
    ).stdout
    fields = dict(re.findall(r"(\w+)=(\d+)", output.split("RESULT", 1)[1]))
    seconds_run = int(fields["duration_us"]) / 1e6
    return {"rps": int(fields["requests"]) / seconds_run, "p50_ms": int(fields["p50_us"]) / 1000,
            "p99_ms": int(fields["p99_us"]) / 1000, "errors": int(fields["errors"]) + int(fields["non2xx"])}


async def fixed_rate(url: str, rows: list[tuple[str, str]], rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    failures = 0
    total = int(rate * seconds)
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=64), timeout=10.0) as client:
        async def one(i: int, scheduled: float) -> None:
            nonlocal failures
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            signature, body = rows[i]
            response = await client.post("/twilio/voice", content=body, headers={
                "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
            if response.status_code != 200:
                failures += 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "errors": failures}


def start_server(argv: list[str], env: dict, log: Path) -> subprocess.Popen:
    return subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (make system-deps installs it)")

    db_name = f"receptionist_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    account_sid, auth_token = "AC" + secrets.token_hex(16), secrets.token_hex(16)
    signatures = TwilioSigner(auth_token, PUBLIC_URL)
    admin_token = secrets.token_hex(16)
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp, LocalRedis() as redis, \
                LocalS3(data_dir=Path(tmp) / "s3") as s3:
            tmp = Path(tmp)
            Database(database_url).migrate()
            wrk_file = tmp / "wrk.tsv"
            signed_requests(wrk_file, 120_000, account_sid, signatures)
            paced = signed_requests(tmp / "paced.tsv", (int(args.rate * args.seconds) + 100) * 2, account_sid,
                                    signatures)

            # The load generator's own pauses must not count as server latency: 120k pre-signed
            # requests in this process made each full GC pass take tens of milliseconds.
            gc.collect()
            gc.freeze()
            ours_port, bare_port = free_port(), free_port()
            ours_env = service_env(database_url=database_url, redis_url=redis.url, s3=s3, account_sid=account_sid,
                                   auth_token=auth_token, public_url=PUBLIC_URL, admin_token=admin_token)
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_"))}
            ours = start_server([sys.executable, "-m", "receptionist.cli", "serve", "--port", str(ours_port)],
                                ours_env, tmp / "ours.log")
            procs.append(ours)
            wait_http(f"http://127.0.0.1:{ours_port}/healthz")
            httpx.post(f"http://127.0.0.1:{ours_port}/api/accounts", json=ACCOUNT,
                       headers={"Authorization": f"Bearer {admin_token}"}).raise_for_status()
            first = paced[-1]
            twiml = httpx.post(f"http://127.0.0.1:{ours_port}/twilio/voice", content=first[1], headers={
                "X-Twilio-Signature": first[0], "Content-Type": "application/x-www-form-urlencoded"}).text

            bare_env = base_env | {"BARE_PUBLIC_URL": PUBLIC_URL, "BARE_AUTH_TOKEN": auth_token,
                                   "BARE_TWIML": twiml, "BARE_DB": str(tmp / "bare.db")}
            bare = start_server([sys.executable, "-m", "uvicorn", "bench.bare_webhook:app", "--port", str(bare_port),
                                 "--log-level", "warning", "--no-access-log"], bare_env, tmp / "bare.log")
            procs.append(bare)
            wait_http(f"http://127.0.0.1:{bare_port}/twilio/voice")

            # Both paced runs first, then both saturating runs: a saturating run leaves the disk with
            # writes to flush (SQLite's WAL, PostgreSQL's checkpoint), which stalled the next server's
            # commits by 70-110 ms and would be measured as its latency.
            targets = {"bare": (f"http://127.0.0.1:{bare_port}", paced[: len(paced) // 2]),
                       "service": (f"http://127.0.0.1:{ours_port}", paced[len(paced) // 2:])}
            results = {name: {} for name in targets}
            for name, (url, rows) in targets.items():
                asyncio.run(fixed_rate(url, rows[:100], args.rate, 0.5))  # warm-up: connections, pools, caches
                results[name]["paced"] = asyncio.run(fixed_rate(url, rows[100:], args.rate, args.seconds))
            for name, (url, _rows) in targets.items():
                run_wrk(url, wrk_file, 2)  # warm-up
                results[name]["max"] = run_wrk(url, wrk_file, args.seconds)

            with psycopg.connect(database_url) as conn:
                stored = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    finally:
        for proc in procs:
            stop_server(proc)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    print(f"POST /twilio/voice, one uvicorn worker each, wrk -t2 -c32 -d{args.seconds}s; paced at {args.rate:.0f}/s")
    print(f"{'':10}{'max req/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   {'@' + str(int(args.rate)) + '/s p50':>12}{'p99':>8}{'errors':>8}")
    for name, r in results.items():
        m, p = r["max"], r["paced"]
        print(f"{name:10}{m['rps']:12.0f}{m['p50_ms']:9.1f}{m['p99_ms']:9.1f}{m['errors']:8d}   "
              f"{p['p50_ms']:12.1f}{p['p99_ms']:8.1f}{p['errors']:8d}")
    ratio = results["service"]["max"]["rps"] / results["bare"]["max"]["rps"]
    print(f"throughput ratio service/bare {ratio:.2f} (target >= 0.50); "
          f"service p99 at {args.rate:.0f}/s {results['service']['paced']['p99_ms']:.1f} ms (target <= 20 ms)")
    print(f"calls stored by the service on PostgreSQL: {stored}")


if __name__ == "__main__":
    main()
