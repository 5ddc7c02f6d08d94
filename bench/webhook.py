"""`POST /twilio/voice` under load: the service on PostgreSQL against a bare FastAPI endpoint
(signature check + one insert into the same PostgreSQL database + the same TwiML), both on one
uvicorn worker, same run.

Two measurements per server: the most it serves (wrk, 2 threads, 32 connections, pre-signed
requests with a new CallSid each), then latency at a paced rate, by default 20% of the bare
server's measured maximum (an open-loop generator that times each request from its scheduled send
time, so queueing is counted). A fixed rate was misleading on a shared 2-core machine: 200/s is
light where the benchmark was tuned and close to the service's whole capacity where the cores are
busy with other work, and near capacity every stall queues (p99 in seconds). Relative to the
floor measured in the same run, the rate means the same load everywhere.

To say where a tail comes from, the paced run also prints how late the generator itself sent its
requests (its own lag, which is counted as latency) and the service's in-app time for the same
requests (its Prometheus histogram, as a bucket bound): what is neither is the server's queue
before the app (uvicorn, the event loop, the threads) or the machine.

    python bench/webhook.py [--seconds 10] [--fraction 0.2 | --rate R]
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
from sandbox import LocalRedis, LocalS3, LocalTwilioApi  # noqa: E402
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


WARM_UP_S = 0.5  # paced requests before the measured ones, at the same rate


async def fixed_rate(url: str, rows: list[tuple[str, str]], rate: float, seconds: float) -> dict:
    latencies: list[float] = []
    lags: list[float] = []  # how late the generator sent each request: its own share of the latency
    failures = 0
    total = int(rate * seconds)
    async with httpx.AsyncClient(base_url=url, limits=httpx.Limits(max_connections=64), timeout=10.0) as client:
        async def one(i: int, scheduled: float) -> None:
            nonlocal failures
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append((time.perf_counter() - scheduled) * 1000)
            signature, body = rows[i]
            response = await client.post("/twilio/voice", content=body, headers={
                "X-Twilio-Signature": signature, "Content-Type": "application/x-www-form-urlencoded"})
            if response.status_code != 200:
                failures += 1
            latencies.append((time.perf_counter() - scheduled) * 1000)

        start = time.perf_counter() + 0.2
        await asyncio.gather(*(one(i, start + i / rate) for i in range(total)))
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99), "errors": failures,
            "lag_p99_ms": percentile(lags, 99), "rate": rate}


HISTOGRAM = re.compile(r'receptionist_http_request_duration_seconds_bucket\{([^}]*)\} ([0-9.e+]+)')


def voice_histogram(url: str, metrics_token: str) -> dict[float, float] | None:
    """The service's own latency histogram for POST /twilio/voice (cumulative counts by bucket bound)."""
    response = httpx.get(f"{url}/metrics", headers={"Authorization": f"Bearer {metrics_token}"}, timeout=30)
    if response.status_code != 200:
        return None
    buckets: dict[float, float] = {}
    for labels, count in HISTOGRAM.findall(response.text):
        if 'route="/twilio/voice"' in labels and 'method="POST"' in labels:
            bound = re.search(r'le="([^"]+)"', labels).group(1)
            le = float("inf") if bound == "+Inf" else float(bound)
            buckets[le] = buckets.get(le, 0.0) + float(count)
    return buckets


def in_app_p99_ms(before: dict[float, float] | None, after: dict[float, float] | None) -> str:
    """The bucket bound under which 99% of the requests between two scrapes finished, in the app."""
    if not before or not after:
        return "n/a"
    delta = {le: after[le] - before.get(le, 0.0) for le in after}
    total = delta.get(float("inf"), 0.0)
    for le in sorted(delta):
        if total and delta[le] >= 0.99 * total:
            return f"<={le * 1000:g}"
    return "n/a"


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
    parser.add_argument("--fraction", type=float, default=0.2, help="paced rate as a share of the bare maximum")
    parser.add_argument("--rate", type=float, default=None, help="a fixed paced rate instead (requests/s)")
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
    metrics_token = secrets.token_hex(16)  # /metrics is closed unless this is set
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-webhook-") as tmp, LocalRedis() as redis, \
                LocalS3(data_dir=Path(tmp) / "s3") as s3, LocalTwilioApi(account_sid, auth_token) as twilio:
            tmp = Path(tmp)
            twilio.add_incoming_number(BUSINESS)  # an account routes only numbers its Twilio account owns
            Database(database_url).migrate()
            wrk_file = tmp / "wrk.tsv"
            signed_requests(wrk_file, 120_000, account_sid, signatures)

            # The load generator's own pauses must not count as server latency: 120k pre-signed
            # requests in this process made each full GC pass take tens of milliseconds.
            gc.collect()
            gc.freeze()
            ours_port, bare_port = free_port(), free_port()
            ours_env = service_env(database_url=database_url, redis_url=redis.url, s3=s3, account_sid=account_sid,
                                   auth_token=auth_token, public_url=PUBLIC_URL, admin_token=admin_token,
                                   RECEPTIONIST_TWILIO_API_URL=twilio.base_url,
                                   RECEPTIONIST_METRICS_TOKEN=metrics_token)
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_"))}
            ours = start_server([sys.executable, "-m", "receptionist.cli", "serve", "--port", str(ours_port)],
                                ours_env, tmp / "ours.log")
            procs.append(ours)
            try:
                wait_http(f"http://127.0.0.1:{ours_port}/healthz", timeout=90)
            except RuntimeError:
                sys.exit(f"the service did not start:\n{(tmp / 'ours.log').read_text()[-3000:]}")
            httpx.post(f"http://127.0.0.1:{ours_port}/api/accounts", json=ACCOUNT, timeout=60,
                       headers={"Authorization": f"Bearer {admin_token}"}).raise_for_status()
            first = signed_requests(tmp / "first.tsv", 1, account_sid, signatures)[0]
            twiml = httpx.post(f"http://127.0.0.1:{ours_port}/twilio/voice", content=first[1], timeout=60, headers={
                "X-Twilio-Signature": first[0], "Content-Type": "application/x-www-form-urlencoded"}).text

            bare_env = base_env | {"BARE_PUBLIC_URL": PUBLIC_URL, "BARE_AUTH_TOKEN": auth_token,
                                   "BARE_TWIML": twiml, "BARE_DATABASE_URL": database_url}
            bare = start_server([sys.executable, "-m", "uvicorn", "bench.bare_webhook:app", "--port", str(bare_port),
                                 "--log-level", "warning", "--no-access-log"], bare_env, tmp / "bare.log")
            procs.append(bare)
            wait_http(f"http://127.0.0.1:{bare_port}/twilio/voice")

            # Both saturating runs first (the paced rate follows from the bare maximum), then both paced
            # runs. A saturating run leaves writes to flush (PostgreSQL's WAL and checkpoint), which stalled
            # the next server's commits by 70-110 ms: a checkpoint and a pause come between them.
            urls = {"bare": f"http://127.0.0.1:{bare_port}", "service": f"http://127.0.0.1:{ours_port}"}
            results = {name: {} for name in urls}
            load = {"before": os.getloadavg()[0]}
            for name, url in urls.items():
                run_wrk(url, wrk_file, 2)  # warm-up
                results[name]["max"] = run_wrk(url, wrk_file, args.seconds)
            rate = args.rate or round(args.fraction * results["bare"]["max"]["rps"])
            warm = max(100, int(rate * WARM_UP_S) + 1)  # the warm-up's own requests, each used once
            paced = signed_requests(tmp / "paced.tsv", (int(rate * args.seconds) + warm) * 2, account_sid, signatures)
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute("CHECKPOINT")
            time.sleep(3)
            rows_of = {"bare": paced[: len(paced) // 2], "service": paced[len(paced) // 2:]}
            for name, url in urls.items():
                rows = rows_of[name]
                asyncio.run(fixed_rate(url, rows[:warm], rate, WARM_UP_S))  # warm-up: connections, pools, caches
                before = voice_histogram(url, metrics_token) if name == "service" else None
                results[name]["paced"] = asyncio.run(fixed_rate(url, rows[warm:], rate, args.seconds))
                if name == "service":
                    results[name]["paced"]["in_app"] = in_app_p99_ms(before, voice_histogram(url, metrics_token))
            load["after"] = os.getloadavg()[0]

            with psycopg.connect(database_url) as conn:
                stored = conn.execute("SELECT count(*) FROM calls").fetchone()[0]
    finally:
        for proc in procs:
            stop_server(proc)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    rate = results["bare"]["paced"]["rate"]
    how = f"{args.rate:.0f}/s fixed" if args.rate else f"{args.fraction:.0%} of the bare maximum"
    print(f"POST /twilio/voice, one uvicorn worker each, both on PostgreSQL; wrk -t2 -c32 -d{args.seconds}s; "
          f"paced at {rate:.0f}/s ({how})")
    print(f"machine: {os.cpu_count()} cores, load average {load['before']:.1f} before, {load['after']:.1f} after "
          "(shared: other work on these cores counts in every figure)")
    print(f"{'':10}{'max req/s':>12}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}   {'paced p50':>10}{'p99':>8}{'errors':>8}"
          f"{'gen lag p99':>13}{'in-app p99':>12}")
    for name, r in results.items():
        m, p = r["max"], r["paced"]
        print(f"{name:10}{m['rps']:12.0f}{m['p50_ms']:9.1f}{m['p99_ms']:9.1f}{m['errors']:8d}   "
              f"{p['p50_ms']:10.1f}{p['p99_ms']:8.1f}{p['errors']:8d}{p['lag_p99_ms']:13.1f}{p.get('in_app', '-'):>12}")
    ratio = results["service"]["max"]["rps"] / results["bare"]["max"]["rps"]
    tail = results["service"]["paced"]["p99_ms"] / results["bare"]["paced"]["p99_ms"]
    print(f"throughput ratio service/bare {ratio:.2f} (target >= 0.50); "
          f"paced p99 ratio service/bare {tail:.2f} (target <= 2.00)")
    print(f"calls stored by the service on PostgreSQL: {stored}")


if __name__ == "__main__":
    main()
