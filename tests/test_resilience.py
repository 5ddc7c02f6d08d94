"""The voice webhook keeps answering through a database restart, and the demo runs end to end."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from tests.support.service import repo_root
from tests.support.world import BUSINESS_NUMBER, CALLER_NUMBER


def test_voice_webhook_survives_dropped_database_connections(pg_service):
    pg_service.create_account()
    pg_service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)  # warm the pools
    database = pg_service.settings.database_url.rsplit("/", 1)[1]
    admin = pg_service.settings.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:  # what a PostgreSQL restart does to our pools
        dropped = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (database,),
        ).fetchone()[0]
    assert dropped >= 1
    call = pg_service.player.start(CALLER_NUMBER, BUSINESS_NUMBER)
    assert "<Say voice=" in call.twiml
    assert pg_service.count("calls") == 2


def test_demo_command_plays_a_whole_call(tmp_path):
    result = subprocess.run([sys.executable, "-m", "receptionist.cli", "demo"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=240, env={"PATH": "/usr/bin:/bin", "COLUMNS": "200",
                                                                              "HOME": str(tmp_path)} | _python_env())
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "<Say voice=" in output and "<Start><Recording" in output and "ConversationRelay" in output
    assert "AES256" in output and "retention-days=90" in output and "training=allowed" in output
    assert "water heater" in output.lower()
    assert "Subject: URGENT — Maria Lopez, my water heater is leaking all over the basement" in output
    assert "receptionist-demo-" not in subprocess.run(["ls", "/tmp"], capture_output=True, text=True).stdout


def _python_env() -> dict[str, str]:
    import os

    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "TMPDIR")}
    keep["PATH"] = os.path.dirname(sys.executable) + ":" + keep.get("PATH", "/usr/bin:/bin")
    keep["PYTHONPATH"] = str(repo_root())
    return keep


@pytest.mark.slow
def test_a_sixty_second_call_end_to_end(pg_service, make_context, twilio_api, smtp, tmp_path):
    from sandbox.speech import long_call_turns, synthesize_call
    from tests.support.calls import play_call, run_burst

    audio = synthesize_call(long_call_turns(60), tmp_path / "long.wav")
    pg_service.create_account()
    ctx = make_context(pg_service.settings)
    call = play_call(pg_service, twilio_api, audio.path.read_bytes(), round(audio.duration_s))
    run_burst(ctx)
    detail = pg_service.call(call.call_sid)
    assert detail["processing_status"] == "done"
    assert len([s for s in detail["transcript"] if s["speaker"] == "caller"]) >= 4
    assert len(smtp.wait_for(1)) == 1
