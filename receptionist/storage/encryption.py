"""Server-side encryption, decided in one place for every object written and for the bucket's default.

SSE-KMS when a key id is configured, else AES256 (SSE-S3). With KMS the bucket key is on: S3 then
derives a bucket-level key from the KMS key instead of calling KMS for every object, which is what
keeps KMS request costs (and throttling) proportional to buckets rather than to calls. AES256 has
no bucket key to enable.
"""

from __future__ import annotations

from dataclasses import dataclass

KMS, AES256 = "aws:kms", "AES256"


@dataclass(frozen=True)
class Encryption:
    kms_key_id: str | None = None

    @property
    def algorithm(self) -> str:
        return KMS if self.kms_key_id else AES256

    def object_args(self) -> dict[str, str]:
        """The PutObject arguments that encrypt one object."""
        if self.kms_key_id:
            return {"ServerSideEncryption": KMS, "SSEKMSKeyId": self.kms_key_id}
        return {"ServerSideEncryption": AES256}

    def bucket_rule(self) -> dict:
        """The bucket's default-encryption rule (PutBucketEncryption)."""
        default = {"SSEAlgorithm": self.algorithm}
        if self.kms_key_id:
            default["KMSMasterKeyID"] = self.kms_key_id
        return {"ApplyServerSideEncryptionByDefault": default, "BucketKeyEnabled": bool(self.kms_key_id)}
