"""The bucket's infrastructure: the CloudFormation template passes cfn-lint and says what
`receptionist infra apply` applies; apply on SeaweedFS is idempotent, reads back, and reports
what the server refuses."""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from receptionist.cli import app as cli
from receptionist.cli.privacy import INCOMPLETE
from receptionist.settings import RETENTION_TIERS
from receptionist.storage.bucket import BucketConfig, apply_bucket, lifecycle_rule_id
from receptionist.storage.objects import ObjectStore, ObjectTags

TEMPLATE = Path(__file__).resolve().parents[2] / "infra" / "bucket.yaml"
# Settings SeaweedFS 4.x refuses although AWS accepts them (measured: 501 NotImplemented).
SEAWEEDFS_REFUSES = {"block public access"}


def cfn_lint() -> str:
    found = shutil.which("cfn-lint") or str(Path(sys.executable).parent / "cfn-lint")
    if not Path(found).exists():
        pytest.fail("cfn-lint is not installed: pip install -e '.[test]'")
    return found


def test_template_passes_cfn_lint():
    result = subprocess.run([cfn_lint(), str(TEMPLATE)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def template() -> dict:
    from cfnlint.decode import decode

    decoded, errors = decode(str(TEMPLATE))
    assert not errors, errors
    return decoded


def resolve(value, kms: bool):
    """The template's values with its one condition (HasKmsKey) decided, as plain data."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            _condition, yes, no = value["Fn::If"]
            return resolve(yes if kms else no, kms)
        if set(value) == {"Ref"}:
            return {"KmsKeyArn": "test-key-1", "AWS::NoValue": None}.get(value["Ref"], value)
        resolved = {k: resolve(v, kms) for k, v in value.items()}
        return {k: v for k, v in resolved.items() if v is not None}
    if isinstance(value, list):
        return [resolve(v, kms) for v in value]
    return value


@pytest.mark.parametrize("kms", [False, True], ids=["aes256", "kms"])
def test_template_says_what_apply_applies(kms):
    resources = template()["Resources"]
    bucket = resolve(resources["CallBucket"]["Properties"], kms)
    config = BucketConfig("calls", "test-key-1" if kms else None)

    [rule] = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    wanted = config.encryption_rule()
    assert rule["ServerSideEncryptionByDefault"] == wanted["ApplyServerSideEncryptionByDefault"]
    assert rule["BucketKeyEnabled"] == wanted["BucketKeyEnabled"] == kms

    assert bucket["PublicAccessBlockConfiguration"] == config.public_access_block()

    rules = bucket["LifecycleConfiguration"]["Rules"]
    assert [r["Id"] for r in rules] == [lifecycle_rule_id(d) for d in RETENTION_TIERS]
    for r, days in zip(rules, RETENTION_TIERS):
        # One rule per tier, chosen by the tag alone: no prefix, no rule without a tag filter.
        assert r["TagFilters"] == [{"Key": "retention-days", "Value": str(days)}] and "Prefix" not in r
        assert r["ExpirationInDays"] == days and r["Status"] == "Enabled"
        assert r["NoncurrentVersionExpiration"] == {"NoncurrentDays": 1}
    assert [(r["Filter"]["Tag"]["Value"], r["Expiration"]["Days"]) for r in config.lifecycle_rules()] == [
        (r["TagFilters"][0]["Value"], r["ExpirationInDays"]) for r in rules]

    statements = resolve(resources["CallBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"], kms)
    ours = {s["Sid"]: s for s in config.policy_statements()}
    assert [s["Sid"] for s in statements] == list(ours)
    for statement in statements:
        mine = ours[statement["Sid"]]
        assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
            mine["Effect"], mine["Principal"], mine["Action"])
        assert statement["Condition"] == mine["Condition"]


@pytest.mark.parametrize("kms_key_id", [None, "test-key-1"], ids=["aes256", "kms"])
def test_apply_on_seaweedfs_is_idempotent_reads_back_and_says_what_it_refused(s3, kms_key_id):
    client = s3.client()
    config = BucketConfig.for_endpoint(f"infra-{secrets.token_hex(6)}", s3.endpoint_url, kms_key_id)
    assert config.tls_only is False  # plain http: the TLS-only statement would lock every client out

    first = apply_bucket(client, config)
    statuses = {step.setting: step.status for step in first.steps}
    assert statuses["bucket"] == "created"
    for setting in ("versioning", "default encryption", "bucket policy", "lifecycle rules"):
        assert statuses[setting] == "changed", first.lines()
    refused = {step.setting for step in first.steps if step.status == "refused"}
    print("SeaweedFS refused:", sorted(refused))
    assert refused == SEAWEEDFS_REFUSES
    assert "501" in first.step("block public access").detail
    assert first.step("deny non-TLS requests").status == "skipped"

    second = apply_bucket(client, config)
    assert second.changed == [], second.lines()

    # Read back from the server.
    encryption = client.get_bucket_encryption(Bucket=config.bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert encryption[0]["ApplyServerSideEncryptionByDefault"] == \
        config.encryption_rule()["ApplyServerSideEncryptionByDefault"]
    assert bool(encryption[0].get("BucketKeyEnabled")) == bool(kms_key_id)  # a bucket key with SSE-KMS
    assert client.get_bucket_versioning(Bucket=config.bucket)["Status"] == "Enabled"
    rules = client.get_bucket_lifecycle_configuration(Bucket=config.bucket)["Rules"]
    assert sorted((r["Filter"]["Tag"]["Value"], r["Expiration"]["Days"], r["NoncurrentVersionExpiration"]
                   ["NoncurrentDays"]) for r in rules) == sorted((str(d), d, 1) for d in RETENTION_TIERS)
    assert all(set(r["Filter"]) == {"Tag"} for r in rules)  # no catch-all rule

    # The policy is enforced: only uploads encrypted the configured way get in.
    store = ObjectStore(client, config.bucket, kms_key_id)
    assert store.put("accounts/a/calls/CA1/transcript.json", b"{}", "application/json", ObjectTags("a", 7, False))
    for args in ({}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "test-key-1"} if not kms_key_id
                 else {"ServerSideEncryption": "AES256"}):
        with pytest.raises(ClientError) as denied:
            client.put_object(Bucket=config.bucket, Key="accounts/a/calls/CA1/other.json", Body=b"x", **args)
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_the_tls_only_statement_is_enforced_by_the_server(s3):
    """Applied anyway (--tls-only) on a throwaway bucket: every plain-HTTP request is refused."""
    client = s3.client()
    config = BucketConfig.for_endpoint(f"tls-{secrets.token_hex(6)}", s3.endpoint_url, tls_only=True)
    report = apply_bucket(client, config)
    assert report.step("bucket policy").status == "changed"
    assert "DenyInsecureTransport" in report.step("bucket policy").detail
    for call in (lambda: client.list_objects_v2(Bucket=config.bucket),
                 lambda: client.put_object(Bucket=config.bucket, Key="k", Body=b"x", ServerSideEncryption="AES256")):
        with pytest.raises(ClientError) as denied:
            call()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"


def test_lifecycle_run_keeps_objects_that_are_not_due(s3):
    """SeaweedFS runs the rules on demand: nothing fresh is expired by any tier (no catch-all)."""
    client = s3.client()
    config = BucketConfig.for_endpoint(f"life-{secrets.token_hex(6)}", s3.endpoint_url)
    apply_bucket(client, config)
    store = ObjectStore(client, config.bucket)
    keys = [f"accounts/a/calls/CA{days}/recording.wav" for days in RETENTION_TIERS]
    for key, days in zip(keys, RETENTION_TIERS):
        store.put(key, b"audio", "audio/wav", ObjectTags("a", days, False))
    s3.run_lifecycle()
    assert sorted(store.list_keys("accounts/")) == sorted(keys)


def test_cli_infra_apply(s3, monkeypatch):
    bucket = f"cli-{secrets.token_hex(6)}"
    for name, value in {"RECEPTIONIST_S3_BUCKET": bucket, **s3.env()}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RECEPTIONIST_S3_KMS_KEY_ID", raising=False)

    dry = CliRunner().invoke(cli, ["infra", "apply", "--dry-run"])
    assert dry.exit_code == 0 and "would be created" in dry.output, dry.output
    assert bucket not in [b["Name"] for b in s3.client().list_buckets()["Buckets"]]

    result = CliRunner().invoke(cli, ["infra", "apply"])
    assert result.exit_code == INCOMPLETE, result.output
    assert "block public access: REFUSED" in result.output and "501" in result.output
    assert "deny non-TLS requests: SKIPPED" in result.output
    assert "lifecycle rules: changed" in result.output

    again = CliRunner().invoke(cli, ["infra", "apply", "--allow-incomplete"])
    assert again.exit_code == 0, again.output
    assert not re.search(r": (changed|created)\b", again.output), again.output
