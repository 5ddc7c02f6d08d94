"""What the outbox costs a webhook delivery: N deliveries sent one after another by the workers'
sender (`receptionist.webhooks.delivery`: claim the row, check the address, sign, POST to the checked
address, record the answer) against a baseline measured in the same run: the same signed bodies
POSTed with a bare httpx client to the same local HTTPS receiver (a fresh TLS connection each, as the
sender makes). Prints the median and p95 per delivery and the ratio to the baseline.

    .venv/bin/python bench/webhook_delivery.py [--deliveries 300] [--postgres]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import select  # noqa: E402

from receptionist.core.db import Database  # noqa: E402
from receptionist.core.models import Account, Call, WebhookDelivery  # noqa: E402
from receptionist.webhooks import endpoints, events, signing  # noqa: E402
from receptionist.webhooks.delivery import WebhookSender  # noqa: E402
from receptionist.webhooks.transport import WebhookTransport, tls_context  # noqa: E402
from tests.support.tls import make_tls_files  # noqa: E402
from tests.support.webhook_receiver import WebhookReceiver  # noqa: E402
from tests.support.world import PG_ADMIN_URL  # noqa: E402


def seed(db: Database, receiver: WebhookReceiver, count: int) -> list[int]:
    with db.session() as session:
        account = Account(name="Acme Plumbing")
        session.add(account)
        session.flush()
        endpoint = endpoints.create(session, account.id, receiver.url("/bench"), ["call.completed"], allow_private=True)
        receiver.secrets["/bench"] = endpoint.secret
        ids = []
        for n in range(count):
            call = Call(call_sid=f"CA{n:032d}", account_id=account.id, from_number="+15550142367",
                        to_number="+15550100200", outcome="answered", summary="Water heater leaking in the basement.",
                        lead={"name": "Priya", "reason": "water heater leaking", "urgency": "urgent"})
            session.add(call)
            session.flush()
            ids += events.call_ended(session, call, "https://receptionist.example.com")
        return ids


def stats(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.95) - 1] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=300)
    parser.add_argument("--postgres", action="store_true", help="PostgreSQL (RECEPTIONIST_TEST_PG) instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-webhooks-") as workdir:
        tls = make_tls_files(Path(workdir))
        if args.postgres:
            name = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        else:
            url = f"sqlite:///{workdir}/bench.db"
        db = Database(url)
        db.migrate()
        try:
            with WebhookReceiver(tls) as receiver:
                ids = seed(db, receiver, args.deliveries)
                with db.session() as session:
                    rows = {d.id: (d.event_id, d.payload) for d in session.scalars(select(WebhookDelivery))}
                secret = receiver.secrets["/bench"]
                bodies = [(rows[i][0], json.dumps(rows[i][1], separators=(",", ":")).encode()) for i in ids]

                baseline = []
                with httpx.Client(verify=tls_context(str(tls.ca)), limits=httpx.Limits(max_keepalive_connections=0),
                                  timeout=10.0) as client:
                    for message_id, body in bodies:
                        started = time.perf_counter()
                        response = client.post(receiver.url("/bench"), content=body,
                                               headers=signing.headers([secret], message_id, int(time.time()), body))
                        baseline.append(time.perf_counter() - started)
                        assert response.status_code == 200
                transport = WebhookTransport(timeout_s=10.0, ca_bundle=str(tls.ca))
                sender = WebhookSender(db, transport, allow_private=True)
                sent = []
                for delivery_id in ids:
                    started = time.perf_counter()
                    assert sender.send(delivery_id).status == "delivered"
                    sent.append(time.perf_counter() - started)
                transport.close()
                assert len(receiver.accepted()) == 2 * len(ids) and all(r.verified for r in receiver.received)
        finally:
            db.dispose()
            if args.postgres:
                with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    base_median, base_p95 = stats(baseline)
    median, p95 = stats(sent)
    print(f"{args.deliveries} deliveries on {'PostgreSQL' if args.postgres else 'SQLite'}, one at a time")
    print(f"  baseline (bare httpx POST, signed, new TLS connection): median {base_median:.2f} ms  p95 {base_p95:.2f} ms")
    print(f"  sender (claim, check, sign, POST, record):              median {median:.2f} ms  p95 {p95:.2f} ms")
    print(f"  ratio (median): {median / base_median:.2f}x   ({1000 / median:.0f} deliveries/s per worker)")


if __name__ == "__main__":
    main()
