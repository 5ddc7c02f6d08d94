"""`WS /twilio/relay` under load: from a caller's `prompt` to the receptionist's first `text` token.

The service (one uvicorn worker, PostgreSQL, `receptionist serve`) streams its answers from the
local Chat Completions stand-in (its own process, answering at once) through the `openai` client,
and stores every turn. It is compared with three floors (bench/bare_relay.py), bare FastAPI
websockets on the same uvicorn settings that answer each prompt with: the same canned tokens
(`bare`, the floor the target is set against); the stand-in's reply over plain aiohttp (`+http`);
the stand-in's reply through the `openai` client with the receptionist's own `ChatModel`
(`+openai`). Each step prices one part of the stack. All are measured in the same run, by the same
client: one process, asyncio + `websockets`, signed upgrades and real `setup` messages for calls
the service answered through `POST /twilio/voice`.

Each session is one call of 2 + 10 turns (about a real call's length: the history the model is sent
grows with every turn). At N sessions every session sends its prompt at the same moment (a
synchronized burst, the worst case for N callers), reads the whole answer, and the round repeats;
latency is timed per session from just before its prompt is sent to the arrival of its first
`text` token. The single session plays 40 such calls one after another.

    python bench/relay.py [--sessions 200] [--turns 10] [--single-calls 40]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import ACCOUNT, percentile, service_env  # noqa: E402
from bench.webhook import start_server, stop_server, wait_http  # noqa: E402
from receptionist.core.db import Database  # noqa: E402
from sandbox import LocalRedis, LocalS3  # noqa: E402
from sandbox.call_player import CallPlayer  # noqa: E402
from sandbox.ports import free_port, wait_for_port  # noqa: E402
from sandbox.relay_client import upgrade_signature  # noqa: E402

PUBLIC_URL = "https://receptionist.example.com"
PG_ADMIN = os.environ.get("RECEPTIONIST_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BUSINESS = ACCOUNT["phone_numbers"][0]
# The floors (bench/bare_relay.py), each one more part of the relay's stack than the one before.
FLOORS = (("bare", "canned"), ("+http", "aiohttp"), ("+openai", "openai"))
REPLY = "Thanks for calling Acme Plumbing. How can I help you today?"
PROMPT = "Hi, what are your hours on Saturday?"


class Session:
    """One caller: a signed websocket, a setup, then prompts timed to the first token."""

    def __init__(self, url: str, call_sid: str, from_number: str, account_sid: str, signature: str):
        self.url, self.call_sid, self.from_number = url, call_sid, from_number
        self.account_sid, self.signature = account_sid, signature
        self.latencies_ms: list[float] = []
        self.errors = 0

    async def open(self) -> None:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, additional_headers={"X-Twilio-Signature": self.signature},
                                open_timeout=30, max_queue=None, compression=None)
        await self.ws.send(json.dumps({
            "type": "setup", "sessionId": "VX" + secrets.token_hex(16), "accountSid": self.account_sid,
            "callSid": self.call_sid, "from": self.from_number, "to": BUSINESS, "direction": "inbound",
            "callType": "PSTN", "callStatus": "IN-PROGRESS", "customParameters": {}}))

    async def turn(self, record: bool) -> None:
        prompt = json.dumps({"type": "prompt", "voicePrompt": PROMPT, "lang": "en-US", "last": True})
        started = time.perf_counter()
        await self.ws.send(prompt)
        first = None
        try:
            while True:
                message = json.loads(await asyncio.wait_for(self.ws.recv(), 30))
                if message.get("type") != "text":
                    continue
                if first is None:
                    first = time.perf_counter()
                if message.get("last"):
                    break
        except Exception:
            self.errors += 1
            return
        if record and first is not None:
            self.latencies_ms.append((first - started) * 1000)

    async def close(self) -> None:
        await self.ws.close()


async def measure(url: str, calls: list[tuple[str, str, str, str]], account_sid: str, sessions: int,
                  turns: int, warmup: int, mode: str) -> dict:
    """`sessions` callers at once, each on its own call for `warmup` + `turns` turns; calls are taken
    from `calls` in order, as many groups of callers as it holds.

    burst: every caller of the group speaks at the same moment, round after round.
    steady: each caller speaks again as soon as it has heard the whole answer (saturation).
    """
    latencies: list[float] = []
    errors = 0
    for start in range(0, len(calls) - sessions + 1, sessions):
        # Each call's own relay URL (its token) from the TwiML it was answered with, signed as Twilio signs it.
        group = [Session(url + query, sid, caller, account_sid, signature)
                 for sid, caller, query, signature in calls[start:start + sessions]]
        for batch in range(0, len(group), 50):  # connect in batches, like calls arriving
            await asyncio.gather(*(s.open() for s in group[batch:batch + 50]))
        await asyncio.sleep(0.2)
        # The load generator's own collections of its heap would be counted as server latency.
        gc.collect()
        gc.freeze()
        if mode == "burst":
            for index in range(warmup + turns):
                await asyncio.gather(*(s.turn(record=index >= warmup) for s in group))
        else:
            async def talk(session: Session) -> None:
                for index in range(warmup + turns):
                    await session.turn(record=index >= warmup)

            await asyncio.gather(*(talk(s) for s in group))
        await asyncio.gather(*(s.close() for s in group))
        latencies += [v for s in group for v in s.latencies_ms]
        errors += sum(s.errors for s in group)
    return {"p50": percentile(latencies, 50), "p99": percentile(latencies, 99), "n": len(latencies), "errors": errors}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU used so far by the PostgreSQL server's processes (on the same cores as everything else)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                total += cpu_seconds(int(entry.name))
        except (OSError, ValueError):  # a process that ended meanwhile
            continue
    return total


def run_client(url: str, *args) -> dict:
    try:
        import uvloop

        return uvloop.run(measure(url, *args))
    except ImportError:
        return asyncio.run(measure(url, *args))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--turns", type=int, default=10, help="measured turns per call (after 2 unmeasured ones)")
    parser.add_argument("--single-calls", type=int, default=40, help="calls played one after another for 1 session")
    parser.add_argument("--py-spy", metavar="FILE", help="record the relay during its burst (py-spy raw format)")
    args = parser.parse_args()

    db_name = f"receptionist_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{db_name}"')
    database_url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db_name
    account_sid, auth_token, admin_token = "AC" + secrets.token_hex(16), secrets.token_hex(16), secrets.token_hex(16)
    procs: list[subprocess.Popen] = []
    results: dict[str, dict[str, dict]] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-relay-") as tmp, LocalRedis() as redis, \
                LocalS3(data_dir=Path(tmp) / "s3") as s3:
            tmp = Path(tmp)
            Database(database_url).migrate()
            llm_port, ours_port = free_port(), free_port()
            base_env = {k: v for k, v in os.environ.items() if not k.startswith(("RECEPTIONIST_", "TWILIO_", "OPENAI_"))}
            procs.append(start_server([sys.executable, "-m", "sandbox.llm_api", "--port", str(llm_port),
                                       "--text", REPLY, "--no-record"], base_env, tmp / "llm.log"))
            wait_for_port("127.0.0.1", llm_port, 30)
            ours_env = service_env(database_url=database_url, redis_url=redis.url, s3=s3, account_sid=account_sid,
                                   auth_token=auth_token, public_url=PUBLIC_URL, admin_token=admin_token,
                                   OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1", OPENAI_API_KEY="bench")
            ours = start_server([sys.executable, "-m", "receptionist.cli", "serve", "--port", str(ours_port)],
                                ours_env, tmp / "ours.log")
            procs.append(ours)
            wait_http(f"http://127.0.0.1:{ours_port}/healthz")
            ours_url = f"http://127.0.0.1:{ours_port}"
            httpx.post(f"{ours_url}/api/accounts", json=ACCOUNT,
                       headers={"Authorization": f"Bearer {admin_token}"}).raise_for_status()
            player = CallPlayer(ours_url, account_sid, auth_token, public_url=PUBLIC_URL)
            calls = []
            for index in range(2 * args.sessions + args.single_calls):
                caller = "+1555" + str(2000000 + index)
                call = player.start(caller, BUSINESS)
                relay_url = call.answer.connect.relay.url
                calls.append((call.call_sid, caller, "?" + relay_url.split("?", 1)[1],
                              upgrade_signature(auth_token, relay_url)))
            player.close()

            floors = {}
            for name, mode in FLOORS:
                port = free_port()
                floors[name] = (start_server([sys.executable, "-m", "uvicorn", "--factory", "bench.bare_relay:create_app",
                                              "--port", str(port), "--log-level", "warning", "--no-access-log"],
                                             base_env | {"BARE_MODE": mode, "BARE_REPLY": REPLY,
                                                         "OPENAI_BASE_URL": f"http://127.0.0.1:{llm_port}/v1",
                                                         "OPENAI_API_KEY": "bench"},
                                             tmp / f"{mode}.log"), port)
                procs.append(floors[name][0])
                wait_for_port("127.0.0.1", port, 30)

            phases = [("1", 1, "burst", calls[:args.single_calls])]
            rest = calls[args.single_calls:]
            for mode in ("burst", "steady"):
                phases.append((f"{args.sessions} {mode}", args.sessions, mode, rest[:args.sessions]))
                rest = rest[args.sessions:]
            for name, (proc, port) in [*floors.items(), ("relay", (ours, ours_port))]:
                url = f"ws://127.0.0.1:{port}/twilio/relay"
                for label, sessions, mode, phase_calls in phases:
                    spy = None
                    if args.py_spy and name == "relay" and mode == "burst" and sessions > 1:
                        spy = subprocess.Popen([shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"), "record", "--gil", "-r", "250", "-f", "raw", "-o",
                                                args.py_spy, "-p", str(proc.pid)],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    used, pg_used = cpu_seconds(proc.pid), postgres_cpu_seconds()
                    result = run_client(url, phase_calls, account_sid, sessions, args.turns, 2, mode)
                    turns = max(1, result["n"] * (args.turns + 2) / args.turns)
                    result["cpu_ms"] = (cpu_seconds(proc.pid) - used) * 1000 / turns
                    result["pg_ms"] = max(0.0, postgres_cpu_seconds() - pg_used) * 1000 / turns
                    if spy is not None:
                        spy.send_signal(signal.SIGINT)
                        spy.wait(timeout=60)
                    results.setdefault(name, {})[label] = result
            with psycopg.connect(database_url) as conn:
                stored = conn.execute("SELECT count(*), coalesce(sum(json_array_length(conversation)), 0) FROM calls"
                                      " WHERE conversation IS NOT NULL").fetchone()
            errors_logged = sum(1 for line in (tmp / "ours.log").read_text().splitlines() if "ERROR" in line)
    finally:
        for proc in procs:
            stop_server(proc)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    print(f"WS /twilio/relay, prompt sent -> first text token; one uvicorn worker each, {os.cpu_count()} cores "
          f"shared with the client, the LLM stand-in and PostgreSQL")
    print(f"burst: {args.sessions} callers speak at the same moment; steady: each speaks again as soon as it has "
          f"heard the answer; server CPU per turn includes connecting and setting up the calls, and PostgreSQL's "
          f"CPU per turn is beside it")
    print("bare: canned tokens; +http: streamed from the stand-in over aiohttp; +openai: through the openai client "
          "(ChatModel); relay: the service")
    names = [name for name, _mode in FLOORS] + ["relay"]
    print(f"{'':8}{'sessions':>15}{'p50 ms':>9}{'p99 ms':>9}{'turns':>8}{'errors':>8}{'cpu ms/turn':>13}"
          f"{'postgres':>10}")
    for name in names:
        for label, r in results[name].items():
            print(f"{name:8}{label:>15}{r['p50']:9.2f}{r['p99']:9.2f}{r['n']:8d}{r['errors']:8d}{r['cpu_ms']:13.3f}"
                  f"{r['pg_ms']:10.3f}")
    print("p99 ratios, each server against the bare floor (and against the floor just below it):")
    for label in results["relay"]:
        bare = results["bare"][label]["p99"]
        steps = "  ".join(f"{name} {results[name][label]['p99'] / bare:6.2f} "
                          f"({results[name][label]['p99'] / results[below][label]['p99']:5.2f})"
                          for below, name in zip(names, names[1:]))
        print(f"  {label:>12}: {steps}")
    print(f"targets: relay p99 at 1 session < 2 ms (is {results['relay']['1']['p99']:.2f}); relay within 1.25x of "
          f"bare at {args.sessions} sessions (is {results['relay'][f'{args.sessions} burst']['p99'] / results['bare'][f'{args.sessions} burst']['p99']:.2f}x "
          f"burst, {results['relay'][f'{args.sessions} steady']['p99'] / results['bare'][f'{args.sessions} steady']['p99']:.2f}x steady)")
    print(f"conversations stored by the service: {stored[0]} calls, {stored[1]} turns; errors in its log: {errors_logged}")


if __name__ == "__main__":
    main()
