"""The bucket's configuration, applied through the S3 API: `receptionist infra apply`.

The same settings as `infra/bucket.yaml` (CloudFormation), for any S3 endpoint: default encryption
(SSE-KMS with a bucket key when a key is given, else AES256), Block Public Access, a policy that
denies plain-HTTP requests and unencrypted uploads, versioning, and one lifecycle rule per
retention tier. Each setting is read first and written only when it differs, then read back: a
second run changes nothing, and a server that refuses a setting (SeaweedFS answers 501 to Block
Public Access) or accepts it without keeping it is reported as such, never passed over.

Why a rule per tier filtered by the `retention-days` tag and no rule for the whole bucket: when
several rules match an object S3 applies the shortest expiry, so a bucket-wide default would cut
every longer tier down to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from botocore.exceptions import ClientError

from receptionist.settings import RETENTION_TIERS
from receptionist.storage.encryption import Encryption
from receptionist.storage.objects import RETENTION_TAG

# Noncurrent versions (what an overwrite or a delete leaves on a versioned bucket) go a day later:
# versioning is there to survive a bad write, not to keep what retention deleted.
NONCURRENT_DAYS = 1
# ACLs disabled: access is decided by the policy and IAM alone, so no object can be made public by an ACL.
OBJECT_OWNERSHIP = "BucketOwnerEnforced"
REFUSED_CODES = {"NotImplemented", "NotSupported", "UnsupportedOperation"}


def lifecycle_rule_id(days: int) -> str:
    return f"retention-{days}d"


@dataclass(frozen=True)
class BucketConfig:
    bucket: str
    kms_key_id: str | None = None
    versioning: bool = True
    # Deny every request not made over TLS. Off only for a plain-HTTP endpoint, where it would
    # lock out every client, this one included (see `for_endpoint`).
    tls_only: bool = True

    @classmethod
    def for_endpoint(cls, bucket: str, endpoint_url: str | None, kms_key_id: str | None = None,
                     versioning: bool = True, tls_only: bool | None = None) -> BucketConfig:
        if tls_only is None:
            tls_only = not (endpoint_url or "").lower().startswith("http://")
        return cls(bucket, kms_key_id or None, versioning, tls_only)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{self.bucket}"

    @property
    def encryption(self) -> Encryption:
        return Encryption(self.kms_key_id)

    def encryption_rule(self) -> dict:
        return self.encryption.bucket_rule()

    def public_access_block(self) -> dict:
        return {"BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True}

    def policy_statements(self) -> list[dict]:
        statements = []
        if self.tls_only:
            statements.append({
                "Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [self.arn, f"{self.arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            })
        statements.append({
            "Sid": "DenyUnencryptedObjectUploads", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"{self.arn}/*",
            "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
        })
        statements.append({
            "Sid": "DenyOtherEncryption", "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"{self.arn}/*",
            "Condition": {"StringNotEquals": {
                "s3:x-amz-server-side-encryption": self.encryption.algorithm}},
        })
        return statements

    def policy(self) -> dict:
        return {"Version": "2012-10-17", "Statement": self.policy_statements()}

    def lifecycle_rules(self) -> list[dict]:
        return [{
            "ID": lifecycle_rule_id(days), "Status": "Enabled",
            "Filter": {"Tag": {"Key": RETENTION_TAG, "Value": str(days)}},
            "Expiration": {"Days": days},
            "NoncurrentVersionExpiration": {"NoncurrentDays": NONCURRENT_DAYS},
        } for days in RETENTION_TIERS]


@dataclass
class Step:
    setting: str
    status: str  # unchanged | changed | created | would change | refused | skipped
    detail: str = ""

    @property
    def applied(self) -> bool:
        return self.status in ("unchanged", "changed", "created", "would change")

    def line(self) -> str:
        mark = {"refused": "REFUSED", "skipped": "SKIPPED"}.get(self.status, self.status)
        return f"{self.setting}: {mark}" + (f" - {self.detail}" if self.detail else "")


@dataclass
class ApplyReport:
    bucket: str
    dry_run: bool = False
    steps: list[Step] = field(default_factory=list)

    @property
    def not_applied(self) -> list[Step]:
        return [s for s in self.steps if not s.applied]

    @property
    def changed(self) -> list[Step]:
        return [s for s in self.steps if s.status in ("changed", "created", "would change")]

    def step(self, setting: str) -> Step:
        return next(s for s in self.steps if s.setting == setting)

    def lines(self) -> list[str]:
        return [step.line() for step in self.steps]


def apply_bucket(client, config: BucketConfig, *, dry_run: bool = False) -> ApplyReport:
    """Bring the bucket to `config`; every setting is compared, written if different, read back."""
    report = ApplyReport(config.bucket, dry_run)
    report.steps.append(_ensure_bucket(client, config, dry_run))
    if dry_run and report.steps[0].status == "would change":
        return report  # nothing to read on a bucket that does not exist yet
    report.steps.append(_setting(client, config, "versioning", _read_versioning, _write_versioning,
                                 _wanted_versioning, dry_run))
    report.steps.append(_setting(client, config, "default encryption", _read_encryption, _write_encryption,
                                 lambda c: _norm_encryption(c.encryption_rule()), dry_run))
    report.steps.append(_setting(client, config, "block public access", _read_pab, _write_pab,
                                 lambda c: c.public_access_block(), dry_run))
    report.steps.append(_setting(client, config, "object ownership", _read_ownership, _write_ownership,
                                 lambda c: OBJECT_OWNERSHIP, dry_run))
    report.steps.append(_setting(client, config, "lifecycle rules", _read_lifecycle, _write_lifecycle,
                                 lambda c: _norm_lifecycle(c.lifecycle_rules()), dry_run))
    # The policy goes last: once it denies plain HTTP, a client without TLS can change nothing more.
    report.steps.append(_setting(client, config, "bucket policy", _read_policy, _write_policy,
                                 lambda c: _norm_policy(c.policy()), dry_run))
    if not config.tls_only:
        report.steps.append(Step("deny non-TLS requests", "skipped",
                                 "the endpoint is plain HTTP: S3 servers enforce aws:SecureTransport, so this statement "
                                 "would refuse every request, this command's included. Put TLS in front of the "
                                 "server and apply again (or pass --tls-only to apply it anyway)"))
    return report


# -- one setting --------------------------------------------------------------------------------

def _setting(client, config: BucketConfig, name: str, read, write, wanted, dry_run: bool) -> Step:
    target = wanted(config)
    try:
        current = read(client, config.bucket)
    except ClientError as exc:
        if _refused(exc):
            return Step(name, "refused", _refusal(exc))
        raise
    if current == target:
        return Step(name, "unchanged", _describe(name, current))
    if dry_run:
        return Step(name, "would change", f"{_describe(name, current)} -> {_describe(name, target)}")
    try:
        write(client, config)
    except ClientError as exc:
        if _refused(exc):
            return Step(name, "refused", _refusal(exc))
        raise
    try:
        after = read(client, config.bucket)
    except ClientError as exc:
        if name == "bucket policy" and config.tls_only and _code(exc) == "AccessDenied":
            # Our own request came over plain HTTP: the policy just written is refusing it.
            return Step(name, "changed", f"{_describe(name, current)} -> {_describe(name, target)} (not read back: "
                                         "the server now refuses this plain-HTTP client, as the policy says)")
        raise
    if after != target:
        return Step(name, "refused", f"the server accepted the request but reads back {_describe(name, after)} "
                                     f"instead of {_describe(name, target)}")
    return Step(name, "changed", f"{_describe(name, current)} -> {_describe(name, target)}")


def _refused(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 501 or error.get("Code") in REFUSED_CODES


def _refusal(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return (f"the server does not support this setting ({status} {error.get('Code')}: {error.get('Message')}); "
            "the bucket works without it, but make sure no public ACL or policy is ever put on it")


def _ensure_bucket(client, config: BucketConfig, dry_run: bool) -> Step:
    try:
        client.head_bucket(Bucket=config.bucket)
        return Step("bucket", "unchanged", config.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    if dry_run:
        return Step("bucket", "would change", f"{config.bucket} does not exist and would be created")
    client.create_bucket(Bucket=config.bucket)
    return Step("bucket", "created", config.bucket)


def _code(exc: ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def _read_versioning(client, bucket: str) -> str:
    # "Suspended" and never enabled are the same for us: new objects get no versions.
    return "Enabled" if client.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled" else "Off"


def _wanted_versioning(config: BucketConfig) -> str:
    return "Enabled" if config.versioning else "Off"


def _write_versioning(client, config: BucketConfig) -> None:
    client.put_bucket_versioning(Bucket=config.bucket, VersioningConfiguration={
        "Status": "Enabled" if config.versioning else "Suspended"})


def _read_encryption(client, bucket: str) -> dict | None:
    try:
        rules = client.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        if _code(exc) in ("ServerSideEncryptionConfigurationNotFoundError", "NoSuchEncryptionConfiguration"):
            return None
        raise
    return _norm_encryption(rules[0]) if rules else None


def _norm_encryption(rule: dict) -> dict:
    default = rule.get("ApplyServerSideEncryptionByDefault", {})
    return {"algorithm": default.get("SSEAlgorithm"), "kms_key": default.get("KMSMasterKeyID") or None,
            "bucket_key": bool(rule.get("BucketKeyEnabled", False))}


def _write_encryption(client, config: BucketConfig) -> None:
    client.put_bucket_encryption(Bucket=config.bucket,
                                 ServerSideEncryptionConfiguration={"Rules": [config.encryption_rule()]})


def _read_pab(client, bucket: str) -> dict | None:
    try:
        return client.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as exc:
        if _code(exc) == "NoSuchPublicAccessBlockConfiguration":
            return None
        raise


def _write_pab(client, config: BucketConfig) -> None:
    client.put_public_access_block(Bucket=config.bucket, PublicAccessBlockConfiguration=config.public_access_block())


def _read_ownership(client, bucket: str) -> str | None:
    try:
        rules = client.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    except ClientError as exc:
        if _code(exc) == "OwnershipControlsNotFoundError":
            return None
        raise
    return rules[0]["ObjectOwnership"] if rules else None


def _write_ownership(client, config: BucketConfig) -> None:
    client.put_bucket_ownership_controls(Bucket=config.bucket, OwnershipControls={
        "Rules": [{"ObjectOwnership": OBJECT_OWNERSHIP}]})


def _read_policy(client, bucket: str) -> list | None:
    try:
        return _norm_policy(json.loads(client.get_bucket_policy(Bucket=bucket)["Policy"]))
    except ClientError as exc:
        if _code(exc) == "NoSuchBucketPolicy":
            return None
        raise


def _norm_policy(policy: dict) -> list:
    def as_list(value):
        return sorted(value) if isinstance(value, list) else [value]

    statements = []
    for s in policy.get("Statement", []):
        principal = s.get("Principal")
        if isinstance(principal, dict) and principal.get("AWS") in ("*", ["*"]):
            principal = "*"
        statements.append(json.dumps({"Sid": s.get("Sid"), "Effect": s.get("Effect"), "Principal": principal,
                                      "Action": as_list(s.get("Action")), "Resource": as_list(s.get("Resource")),
                                      "Condition": s.get("Condition")}, sort_keys=True))
    return sorted(statements)


def _write_policy(client, config: BucketConfig) -> None:
    client.put_bucket_policy(Bucket=config.bucket, Policy=json.dumps(config.policy()))


def _read_lifecycle(client, bucket: str) -> list | None:
    try:
        rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except ClientError as exc:
        if _code(exc) == "NoSuchLifecycleConfiguration":
            return None
        raise
    return _norm_lifecycle(rules)


def _norm_lifecycle(rules: list[dict]) -> list:
    normal = []
    for rule in rules:
        filt = rule.get("Filter") or {}
        tags = [filt["Tag"]] if "Tag" in filt else (filt.get("And") or {}).get("Tags", [])
        normal.append({
            "id": rule.get("ID"), "status": rule.get("Status"),
            "prefix": filt.get("Prefix", (filt.get("And") or {}).get("Prefix", rule.get("Prefix"))) or None,
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
            "expiration_days": (rule.get("Expiration") or {}).get("Days"),
            "noncurrent_days": (rule.get("NoncurrentVersionExpiration") or {}).get("NoncurrentDays"),
        })
    return sorted(normal, key=lambda r: (r["expiration_days"] or 0, r["id"] or ""))


def _write_lifecycle(client, config: BucketConfig) -> None:
    client.put_bucket_lifecycle_configuration(Bucket=config.bucket,
                                              LifecycleConfiguration={"Rules": config.lifecycle_rules()})


def _describe(name: str, value) -> str:
    if value is None:
        return "not set"
    if name == "default encryption":
        text = value["algorithm"] or "?"
        if value["kms_key"]:
            text += f" key {value['kms_key']}"
        return text + (" with bucket key" if value["bucket_key"] else "")
    if name == "lifecycle rules":
        return f"{len(value)} rule(s): " + ", ".join(r["id"] or "?" for r in value)
    if name == "bucket policy":
        return f"{len(value)} statement(s): " + ", ".join(json.loads(s)["Sid"] or "?" for s in value)
    if name == "block public access":
        return "all four blocks on" if all(value.values()) else json.dumps(value, sort_keys=True)
    return str(value)
