"""Object storage: the only code that knows S3 keys, tags and encryption.

Every object is written with server-side encryption (SSE-KMS when a key id is configured, else
AES256) and with the three tags lifecycle rules and the training export rely on. Writes are
idempotent: an object that is already stored with the same content is not written again, so a job
re-run after a crash never leaves a second copy (or, on a versioned bucket, a second version).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from receptionist.settings import Settings

CONTENT_SHA256 = "content-sha256"  # object metadata key carrying our own digest of the body


def recording_key(account_id: str, call_sid: str, ext: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/recording.{ext}"


def transcript_key(account_id: str, call_sid: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/transcript.json"


def call_prefix(account_id: str, call_sid: str) -> str:
    return f"accounts/{account_id}/calls/{call_sid}/"


@dataclass(frozen=True)
class ObjectTags:
    account_id: str
    retention_days: int
    training_opt_out: bool

    def as_dict(self) -> dict[str, str]:
        return {
            "retention-days": str(self.retention_days),
            "training": "opted-out" if self.training_opt_out else "allowed",
            "account": self.account_id,
        }


@dataclass(frozen=True)
class StoredObject:
    key: str
    written: bool  # False when an identical copy was already there
    server_side_encryption: str | None


def make_s3_client(settings: Settings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"} if settings.s3_endpoint_url else {},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


class ObjectStore:
    """The bucket of call audio and transcripts."""

    def __init__(self, client, bucket: str, kms_key_id: str | None = None):
        self.client = client
        self.bucket = bucket
        self.kms_key_id = kms_key_id

    @classmethod
    def from_settings(cls, settings: Settings) -> ObjectStore:
        return cls(make_s3_client(settings), settings.s3_bucket, settings.s3_kms_key_id)

    def encryption_args(self) -> dict[str, str]:
        if self.kms_key_id:
            return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": "AES256"}

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
            ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": self._default_rule()}]},
        )
        return True

    def _default_rule(self) -> dict[str, str]:
        if self.kms_key_id:
            return {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": self.kms_key_id}
        return {"SSEAlgorithm": "AES256"}

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
            **self.encryption_args(),
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

    def presigned_url(self, key: str, expires_in: int = 900) -> str:
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
