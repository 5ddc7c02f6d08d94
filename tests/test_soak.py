"""A short chaos soak (bench/soak.py) in the default run: whole calls through the real service over
HTTP, two real worker processes, one of them SIGKILLed and restarted, Redis restarted empty while
jobs wait, S3 and SMTP stopped for a few seconds, the owner's webhook receiver failing twice; on servers of its own (Redis, SeaweedFS, SMTP
capture, a PostgreSQL cluster made with initdb)."""

from __future__ import annotations

import pytest

from bench.soak import Options, run_soak

SHORT = Options(calls=6, seconds=24, workers=2, kill_every=13, s3_outage=4, pg_outage=0, smtp_outage=4,
                hook_failures=2, concurrency=3, baseline_calls=0, drain=150, quiet=25, lease_s=10, reconcile_s=10,
                progress=False)
# About 3.5 minutes on a busy shared 2-core machine (most of it transcription), near the suite's 300 s limit.
pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    result = run_soak(SHORT, tmp_path_factory.mktemp("soak"))
    print("\n".join(result.lines()))  # shown with -s, and with any failure
    return result


def test_the_chaos_happened(report):
    assert report.kills == 1 and report.worker_restarts >= 1
    assert any(f.startswith("redis restarted empty") for f in report.faults)
    assert "s3 down 4 s" in report.faults and "smtp down 4 s" in report.faults
    assert "webhook receiver answered 503 to 2 deliveries" in report.faults
    assert not [f for f in report.faults if "FAILED" in f]
    assert report.calls_played == SHORT.calls + SHORT.baseline_calls
    assert report.accepted == report.calls_played, report.refused  # no outage refuses a callback here


def test_nothing_is_stored_or_alerted_twice(report):
    assert report.duplicates == 0, report.duplicate_calls


def test_every_accepted_call_is_stored_once_and_alerted_once(report):
    assert report.lost == 0, report.lost_calls
    assert report.stored_once == report.accepted
    assert report.alerted_once == report.accepted
    assert report.hooked_once == report.accepted  # its signed call.completed, accepted once
    assert report.unrecovered_kills == 0
