"""The training export: only calls that the database and the object tags both allow, redacted,
with a manifest of what was left out and why."""

from __future__ import annotations

import json
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from receptionist.cli import app as cli
from receptionist.privacy.redaction import redactor_for_call
from receptionist.privacy.training import export_training_set
from receptionist.storage.objects import ObjectTags, transcript_key
from tests.support.privacy import T0, read_jsonl

PROPERTY = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                           HealthCheck.too_slow])

# What can happen to a call between the database and its tags: nothing; a flag changed in the
# database whose re-tag has not run yet; a tag changed behind the database's back; the transcript
# object missing.
DRIFT = st.sampled_from(["none", "db-opted-out-tags-stale", "tag-opted-out", "tag-missing", "no-object"])


@PROPERTY
@given(accounts=st.lists(
    st.tuples(st.booleans(), st.sampled_from(["active", "closed"]),  # account opted out, status
              st.lists(st.tuples(st.booleans(), DRIFT), min_size=1, max_size=4)),  # calls: own opt-out, drift
    min_size=1, max_size=3))
def test_no_opted_out_call_ever_appears_in_an_export(privacy, tmp_path_factory, accounts):
    privacy.wipe()
    expected_in, everything = set(), set()
    for opted_out, status, calls in accounts:
        account_id = privacy.account(training_opt_out=opted_out, status=status,
                                     closed_at=T0 if status == "closed" else None)
        for call_opt_out, drift in calls:
            sid = privacy.call(account_id, training_opt_out=call_opt_out, store_objects=drift != "no-object")
            everything.add(sid)
            key = transcript_key(account_id, sid)
            if drift == "db-opted-out-tags-stale":
                with privacy.db.engine.begin() as conn:
                    conn.exec_driver_sql("UPDATE calls SET training_opt_out = %s WHERE call_sid = %s", (True, sid))
                call_opt_out = True
            elif drift == "tag-opted-out":
                privacy.store.client.put_object_tagging(Bucket=privacy.store.bucket, Key=key, Tagging={
                    "TagSet": [{"Key": k, "Value": v}
                               for k, v in ObjectTags(account_id, 90, True).as_dict().items()]})
            elif drift == "tag-missing":
                privacy.store.client.delete_object_tagging(Bucket=privacy.store.bucket, Key=key)
            allowed = status == "active" and not opted_out and not call_opt_out and drift in ("none",)
            if allowed:
                expected_in.add(sid)

    out = tmp_path_factory.mktemp("training")
    export = export_training_set(privacy.db, privacy.store, out)

    records = read_jsonl(out / "training.jsonl")
    assert {r["call_sid"] for r in records} == expected_in
    manifest = json.loads((out / "manifest.json").read_text())
    assert {i["call_sid"] for i in manifest["included"]} == expected_in
    excluded = {e["call_sid"]: e["reason"] for e in manifest["excluded"]}
    assert set(excluded) == everything - expected_in and all(excluded.values())
    assert manifest["counts"] == {"considered": len(everything), "included": len(expected_in),
                                  "excluded": len(everything - expected_in)}
    assert len(export.included) == len(expected_in)


def test_export_redacts_and_explains(privacy, tmp_path):
    account_id = privacy.account(name="Acme Plumbing")
    transcript = [
        {"speaker": "receptionist", "start": 0.0, "end": 2.0, "text": "Thanks for calling Acme Plumbing, this is Acme Plumbing."},
        {"speaker": "caller", "start": 2.0, "end": 9.0,
         "text": "Hi, my name is Maria Lopez, I live at 42 Elm Street in Springfield. My water heater is leaking."},
        {"speaker": "caller", "start": 9.0, "end": 14.0,
         "text": "Call me back on 555-014-2367 or five five five zero one seven seven zero zero one, "
                 "or email maria.lopez@example.com."},
    ]
    sid = privacy.call(account_id, transcript=transcript, caller="+15550142367",
                       lead={"name": "Maria Lopez", "callback_number": "+15550142367", "address": "42 Elm Street"},
                       summary="Maria Lopez at 42 Elm Street: water heater leaking; call +15550142367.")
    opted = privacy.call(account_id, training_opt_out=True)
    old = privacy.call(account_id, started_at=T0 - timedelta(days=3), transcript=[])

    export = export_training_set(privacy.db, privacy.store, tmp_path)
    [record] = read_jsonl(tmp_path / "training.jsonl")
    assert record["call_sid"] == sid
    text = json.dumps(record)
    for secret in ("Maria", "Lopez", "42 Elm", "555-014-2367", "5550142367", "maria.lopez", "five five five"):
        assert secret not in text, secret
    said = [s["text"] for s in record["segments"]]
    assert said[1] == "Hi, my name is [NAME], I live at [ADDRESS] in Springfield. My water heater is leaking."
    assert "[PHONE]" in said[2] and "[EMAIL]" in said[2]
    assert "Acme Plumbing" in said[0]  # the business's own name is not a person's
    assert record["summary"] == "[NAME] at [ADDRESS]: water heater leaking; call [PHONE]."
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert {e["call_sid"]: e["reason"] for e in manifest["excluded"]} == {opted: "call opted out",
                                                                          old: "no transcript"}
    assert manifest["redactions"]["name"] >= 2 and manifest["redactions"]["phone"] >= 3
    assert export.describe().startswith("1 call(s) written")


def test_redaction_patterns():
    redact = redactor_for_call(None, None).redact
    assert redact("reach me at +1 (555) 014-2367 today") == "reach me at [PHONE] today"
    assert redact("it's bob dot smith at gmail dot com") == "it's [EMAIL]"
    assert redact("I'm at one twenty three Oak Avenue") == "I'm at [ADDRESS]"
    assert redact("This is Bob Smith calling.") == "This is [NAME] calling."
    assert redact("Jane here, about the roof.") == "[NAME] here, about the roof."
    assert redact("I'm calling about 3 leaks since 2024.") == "I'm calling about 3 leaks since 2024."


def test_cli_training_export(privacy, tmp_path, monkeypatch):
    for name, value in privacy.settings.to_env().items():
        monkeypatch.setenv(name, value)
    account_id = privacy.account()
    sids = [privacy.call(account_id) for _ in range(3)]
    result = CliRunner().invoke(cli, ["training", "export", "--out", str(tmp_path / "set")])
    assert result.exit_code == 0, result.output
    assert "3 call(s) written" in result.output
    assert {r["call_sid"] for r in read_jsonl(tmp_path / "set" / "training.jsonl")} == set(sids)
    assert json.loads((tmp_path / "set" / "manifest.json").read_text())["counts"]["included"] == 3
