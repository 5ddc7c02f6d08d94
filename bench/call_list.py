"""How fast the dashboard's call list answers on a busy account, on SQLite and PostgreSQL.

Seeds one account with N finished calls (leads with every urgency, ten-segment transcripts), plus
as many calls of another account, then times each view of `receptionist.calls.listing` (a page of
25 and its count) against a baseline measured in the same run: the list as it was before filters,
the account's calls newest first. Prints the median and the ratio to the baseline.

    .venv/bin/python bench/call_list.py [--calls 5000] [--repeat 15] [--postgres]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from receptionist.calls.listing import CallQuery, list_calls  # noqa: E402
from receptionist.core.db import Database  # noqa: E402
from receptionist.core.models import Account, Call  # noqa: E402
from tests.support.world import PG_ADMIN_URL  # noqa: E402

WORDS = ("water heater drain leak basement kitchen ceiling quote estimate tomorrow morning pipe sink toilet "
         "boiler pressure noise garage upstairs bathroom shower valve").split()
URGENCIES = ("emergency", "high", "normal", "normal", "normal", "low", None)
VIEWS = {
    "open, most urgent first (default)": {},
    "emergencies only": {"urgency": "emergency"},
    "one caller": {"caller": "+15550140042"},
    "date range (a week)": {"since": "2026-02-01", "until": "2026-02-07", "state": "all"},
    "search a transcript word": {"q": "ceiling", "state": "all"},
    "search a word nowhere": {"q": "xylophone", "state": "all"},
}


def seed(db: Database, calls: int) -> Account:
    rng = random.Random(16)
    start = datetime(2026, 3, 3, 15, 0, tzinfo=timezone.utc)
    with db.session() as session:
        accounts = [Account(name=name, timezone="America/Chicago") for name in ("Acme Plumbing", "Bayside Roofing")]
        session.add_all(accounts)
        session.flush()
        for account in accounts:
            for i in range(calls):
                sentence = lambda: " ".join(rng.choice(WORDS) for _ in range(12))  # noqa: E731
                urgency = rng.choice(URGENCIES)
                session.add(Call(
                    call_sid=f"CA{uuid.uuid4().hex}", account_id=account.id, from_number=f"+1555014{i % 1000:04d}",
                    to_number="+15550100201", started_at=start - timedelta(minutes=37 * i), duration_s=60,
                    outcome=rng.choice(("answered", "message-taken", "missed")), summary=sentence(),
                    lead={"name": "Dana Whitfield", "reason": sentence(), "urgency": urgency} if urgency else None,
                    transcript=[{"speaker": ("receptionist", "caller")[k % 2], "start": 3.0 * k, "end": 3.0 * k + 2,
                                 "text": sentence()} for k in range(10)],
                    handled_at=start if rng.random() < 0.5 else None, processing_status="done"))
        return accounts[0]


def baseline(session, account: Account) -> None:
    """The list before this change: the account's calls, newest first, and their count."""
    where = Call.account_id == account.id
    session.scalar(select(func.count()).select_from(Call).where(where))
    session.scalars(select(Call).where(where).order_by(Call.started_at.desc(), Call.id.desc()).limit(25)).all()


def timed(run, repeat: int) -> float:
    run()  # warm
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def measure(db: Database, account_id: str, repeat: int, label: str) -> None:
    with db.session() as session:
        account = session.get(Account, account_id)
        base = timed(lambda: baseline(session, account), repeat)
        print(f"[{label}] baseline: newest first, no filters            {base:8.2f} ms")
        for name, params in VIEWS.items():
            query = CallQuery.parse(params, home_number="+15550100201")
            found = list_calls(session, account, query)
            ms = timed(lambda q=query: list_calls(session, account, q), repeat)
            print(f"[{label}] {name:44s} {ms:8.2f} ms  x{ms / base:5.2f}  ({found.total} calls)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per account")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--postgres", action="store_true", help="also on a fresh PostgreSQL database")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        db = Database(f"sqlite:///{Path(workdir) / 'bench.db'}")
        db.migrate()
        account = seed(db, args.calls)
        measure(db, account.id, args.repeat, f"sqlite, {args.calls} calls")
        db.dispose()
    if args.postgres:
        name = f"receptionist_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            db = Database(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
            db.migrate()
            account = seed(db, args.calls)
            with db.session() as session:
                session.execute(select(func.count()).select_from(Call))
            measure(db, account.id, args.repeat, f"postgresql, {args.calls} calls")
            db.dispose()
        finally:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
