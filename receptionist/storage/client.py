"""The S3 client (boto3), built from settings, and which of its errors a retry can heal."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from receptionist.settings import Settings


def make_s3_client(settings: Settings):
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        region_name=settings.aws_region,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        verify=settings.s3_ca_bundle or None,  # None: the system's CAs (or AWS_CA_BUNDLE)
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"} if settings.s3_endpoint_url else {},
            retries={"max_attempts": 3, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
        ),
    )


def is_transient(exc: BaseException) -> bool:
    """S3 down, slow or throttling (5xx, SlowDown, a timeout, a dropped connection) heals; a 4xx does not."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or exc.response.get("Error", {}).get("Code") in ("SlowDown", "RequestTimeout")
    return isinstance(exc, (BotoCoreError, OSError))


def is_unreachable(exc: BaseException) -> bool:
    """S3 cannot be reached for now (down, restarting, answering 5xx): worth waiting for at start.
    Unlike `is_transient`, a client-side mistake (no credentials, a malformed endpoint) is not."""
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) >= 500
    return isinstance(exc, (EndpointConnectionError, ConnectTimeoutError, ReadTimeoutError, ConnectionClosedError,
                            ConnectionError, TimeoutError))


def error_code(exc: BaseException) -> str:
    """The S3 error code of a failed request ("" for anything else)."""
    return exc.response.get("Error", {}).get("Code", "") if isinstance(exc, ClientError) else ""
