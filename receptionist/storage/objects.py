"""Object storage: the only code that knows S3 keys, tags and encryption.

Every object is written with server-side encryption (SSE-KMS when a key id is configured, else
AES256) and with the three tags lifecycle rules and the training export rely on. Writes are
idempotent: an object that is already stored with the same content is not written again, so a job
re-run after a crash never leaves a second copy (or, on a versioned bucket, a second version).

Deletion always means every version: on a versioned bucket a plain DELETE only hides an object
behind a delete marker, which would keep an erased caller's audio on disk.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode

from botocore.exceptions import ClientError

from receptionist.settings import Settings
from receptionist.storage.client import make_s3_client
from receptionist.storage.encryption import Encryption

CONTENT_SHA256 = "content-sha256"  # object metadata key carrying our own digest of the body
PRESIGNED_TTL_S = 900  # a recording link works for 15 minutes, then must be asked for again


def recording_key(account_id: str, call_sid: str, ext: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/recording.{ext}"


def transcript_key(account_id: str, call_sid: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/transcript.json"


def call_prefix(account_id: str, call_sid: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/"


def account_prefix(account_id: str) -> str:
    return f"accounts/{account_id}/"


ACCOUNTS_PREFIX = "accounts/"


@dataclass(frozen=True)
class CallKey:
    account_id: str
    call_sid: str
    name: str  # "recording.wav", "transcript.json"


def parse_key(key: str) -> CallKey | None:
    """The account and call an object key belongs to; None for a key outside our layout."""
    parts = key.split("/")
    if len(parts) != 5 or parts[0] != "accounts" or parts[2] != "calls" or not all(parts[1:]):
        return None
    return CallKey(parts[1], parts[3], parts[4])


# The tags every object carries: lifecycle rules filter on the retention tag (receptionist.storage.bucket),
# the training export reads the training tag.
RETENTION_TAG, TRAINING_TAG, ACCOUNT_TAG = "retention-days", "training", "account"
TRAINING_ALLOWED, TRAINING_OPTED_OUT = "allowed", "opted-out"


@dataclass(frozen=True)
class ObjectTags:
    account_id: str
    retention_days: int
    training_opt_out: bool

    def as_dict(self) -> dict[str, str]:
        return {
            RETENTION_TAG: str(self.retention_days),
            TRAINING_TAG: TRAINING_OPTED_OUT if self.training_opt_out else TRAINING_ALLOWED,
            ACCOUNT_TAG: self.account_id,
        }


def tags_from_dict(tags: dict[str, str]) -> ObjectTags | None:
    """The tags as written by this code, or None when any of the three is missing or malformed."""
    try:
        training = {TRAINING_ALLOWED: False, TRAINING_OPTED_OUT: True}[tags[TRAINING_TAG]]
        return ObjectTags(tags[ACCOUNT_TAG], int(tags[RETENTION_TAG]), training)
    except (KeyError, ValueError):
        return None


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object, or a delete marker; `version_id` is "null" on an unversioned bucket."""

    key: str
    version_id: str
    is_delete_marker: bool = False
    last_modified: datetime | None = None
    size: int = 0


@dataclass(frozen=True)
class VersionPage:
    versions: list[ObjectVersion]
    # Where the next page starts (key marker, version-id marker), or None after the last page.
    next_marker: tuple[str, str] | None


@dataclass(frozen=True)
class StoredObject:
    key: str
    written: bool  # False when an identical copy was already there
    server_side_encryption: str | None


class ObjectStore:
    """The bucket of call audio and transcripts."""

    def __init__(self, client, bucket: str, kms_key_id: str | None = None):
        self.client = client
        self.bucket = bucket
        self.kms_key_id = kms_key_id
        self.encryption = Encryption(kms_key_id or None)

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        return cls(make_s3_client(settings), settings.s3_bucket, settings.s3_kms_key_id)

    def ensure_bucket(self) -> bool:
        """Create the bucket with default encryption when it is missing; True if it was created."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
            return False
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
                raise
        try:
            self.client.create_bucket(Bucket=self.bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        self.client.put_bucket_encryption(
            Bucket=self.bucket,
            ServerSideEncryptionConfiguration={"Rules": [self.encryption.bucket_rule()]},
        )
        return True

    def put(self, key: str, body: bytes, content_type: str, tags: ObjectTags) -> StoredObject:
        digest = hashlib.sha256(body).hexdigest()
        existing = self.head(key)
        if existing is not None and existing.get("Metadata", {}).get(CONTENT_SHA256) == digest:
            return StoredObject(key, False, existing.get("ServerSideEncryption"))
        response = self.client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType=content_type,
            Metadata={CONTENT_SHA256: digest},
            Tagging=urlencode(tags.as_dict()),
            **self.encryption.object_args(),
        )
        return StoredObject(key, True, response.get("ServerSideEncryption"))

    def put_file(self, key: str, path: Path, content_type: str, tags: ObjectTags) -> StoredObject:
        """`put` for a file, read in chunks (a four-hour recording is never whole in memory)."""
        digest = hashlib.sha256()
        with open(path, "rb") as source:
            for chunk in iter(lambda: source.read(1 << 20), b""):
                digest.update(chunk)
        existing = self.head(key)
        if existing is not None and existing.get("Metadata", {}).get(CONTENT_SHA256) == digest.hexdigest():
            return StoredObject(key, False, existing.get("ServerSideEncryption"))
        with open(path, "rb") as body:
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=body, ContentType=content_type,
                Metadata={CONTENT_SHA256: digest.hexdigest()}, Tagging=urlencode(tags.as_dict()),
                **self.encryption.object_args(),
            )
        return StoredObject(key, True, response.get("ServerSideEncryption"))

    def put_json(self, key: str, document, tags: ObjectTags) -> StoredObject:
        body = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        return self.put(key, body, "application/json", tags)

    def head(self, key: str) -> dict | None:
        try:
            return self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def tags(self, key: str) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.bucket, Key=key)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    def version_tags(self, version: ObjectVersion) -> dict[str, str]:
        tag_set = self.client.get_object_tagging(Bucket=self.bucket, Key=version.key,
                                                 VersionId=version.version_id)["TagSet"]
        return {t["Key"]: t["Value"] for t in tag_set}

    def set_tags(self, version: ObjectVersion, tags: ObjectTags) -> bool:
        """Give one version exactly these tags; False when it already had them (nothing written)."""
        wanted = tags.as_dict()
        if self.version_tags(version) == wanted:
            return False
        self.client.put_object_tagging(
            Bucket=self.bucket, Key=version.key, VersionId=version.version_id,
            Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in wanted.items()]},
        )
        return True

    def retag_prefix(self, prefix: str, tags: ObjectTags) -> tuple[int, int]:
        """Tag every version under `prefix`; returns (versions seen, versions changed)."""
        seen = changed = 0
        for version in self.all_versions(prefix):
            if version.is_delete_marker:
                continue
            seen += 1
            changed += self.set_tags(version, tags)
        return seen, changed

    # -- listing ------------------------------------------------------------------------------
    def list_keys(self, prefix: str) -> list[str]:
        """Keys of the current objects under `prefix` (what a reader of the bucket sees)."""
        keys: list[str] = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.extend(item["Key"] for item in page.get("Contents", []))
        return keys

    def versions_page(self, prefix: str, marker: tuple[str, str] | None = None, max_keys: int = 1000) -> VersionPage:
        """One page of every version and delete marker under `prefix`, in key order."""
        args = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if marker is not None:
            args["KeyMarker"] = marker[0]
            if marker[1]:
                args["VersionIdMarker"] = marker[1]
        response = self.client.list_object_versions(**args)
        versions = [ObjectVersion(v["Key"], v.get("VersionId") or "null", False, v.get("LastModified"),
                                  v.get("Size", 0)) for v in response.get("Versions", [])]
        versions += [ObjectVersion(m["Key"], m.get("VersionId") or "null", True, m.get("LastModified"))
                     for m in response.get("DeleteMarkers", [])]
        versions.sort(key=lambda v: v.key)  # stable: versions of one key keep the server's order
        next_marker = None
        if response.get("IsTruncated"):
            next_marker = (response.get("NextKeyMarker") or versions[-1].key, response.get("NextVersionIdMarker") or "")
        return VersionPage(versions, next_marker)

    def iter_versions(self, prefix: str) -> Iterator[ObjectVersion]:
        marker = None
        while True:
            page = self.versions_page(prefix, marker)
            yield from page.versions
            if page.next_marker is None or not page.versions:
                return
            marker = page.next_marker

    def all_versions(self, prefix: str) -> list[ObjectVersion]:
        return list(self.iter_versions(prefix))

    # -- deletion -----------------------------------------------------------------------------
    def delete_versions(self, versions: list[ObjectVersion]) -> list[ObjectVersion]:
        """Permanently delete these versions (and delete markers); returns what was deleted."""
        deleted: list[ObjectVersion] = []
        for start in range(0, len(versions), 1000):  # DeleteObjects takes at most 1000 keys
            batch = versions[start:start + 1000]
            response = self.client.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": v.key, "VersionId": v.version_id} for v in batch], "Quiet": True})
            errors = [e for e in response.get("Errors", []) if e.get("Code") not in ("NoSuchKey", "NoSuchVersion")]
            if errors:
                first = errors[0]
                raise RuntimeError(f"S3 refused to delete {len(errors)} object version(s), e.g. "
                                   f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}")
            deleted.extend(batch)
        return deleted

    def delete_prefix(self, prefix: str) -> list[ObjectVersion]:
        """Delete every version and delete marker under `prefix`, until a listing finds nothing.

        Listing again after each pass catches an object written meanwhile (a job that stored a
        transcript while the call was being erased)."""
        if not (prefix.startswith(ACCOUNTS_PREFIX) and prefix.endswith("/") and len(prefix) > len(ACCOUNTS_PREFIX)):
            raise ValueError(f"refusing to delete under {prefix!r}: not an account's or a call's prefix")
        deleted: list[ObjectVersion] = []
        for _ in range(10):
            versions = self.all_versions(prefix)
            if not versions:
                return deleted
            deleted.extend(self.delete_versions(versions))
        raise RuntimeError(f"objects under {prefix} keep reappearing; giving up after 10 passes")

    def presigned_url(self, key: str, expires_in: int = PRESIGNED_TTL_S) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=expires_in
        )

    def ping(self) -> None:
        self.client.head_bucket(Bucket=self.bucket)


def transcript_document(call_sid: str, account_id: str, segments: list[dict], created_at: datetime) -> dict:
    return {
        "call_sid": call_sid,
        "account_id": account_id,
        "created_at": created_at.isoformat(),
        "segments": segments,
    }
