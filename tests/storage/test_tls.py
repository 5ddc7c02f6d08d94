"""Encrypted in transit, proven on the real S3 server: SeaweedFS serving S3 over TLS (a throwaway CA)
with `receptionist infra apply --tls-only` applied refuses every plain-HTTP request, while the
service (the whole post-call pipeline) works over HTTPS with the CA configured, and refuses a server
it cannot verify."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError, SSLError
from typer.testing import CliRunner

from receptionist.cli import app as cli
from receptionist.core.models import Recording
from receptionist.storage.client import make_s3_client
from receptionist.storage.objects import recording_key, transcript_key
from sandbox import LocalS3
from tests.support.calls import play_call, run_burst
from tests.support.service import serve
from tests.support.tls import TlsFiles, make_tls_files


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_s3(tls_files) -> Iterator[LocalS3]:
    with LocalS3(tls=(tls_files.cert, tls_files.key)) as server:
        yield server


@pytest.fixture
def tls_bucket(tls_s3, tls_files, monkeypatch) -> str:
    """A bucket configured by the CLI over HTTPS with the TLS-only policy."""
    bucket = f"tls-{secrets.token_hex(6)}"
    env = {**tls_s3.env(), "RECEPTIONIST_S3_ENDPOINT_URL": tls_s3.https_endpoint_url,
           "RECEPTIONIST_S3_CA_BUNDLE": str(tls_files.ca), "RECEPTIONIST_S3_BUCKET": bucket}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(cli, ["infra", "apply", "--tls-only", "--allow-incomplete"])
    assert result.exit_code == 0, result.output
    assert "bucket policy: changed" in result.output and "DenyInsecureTransport" in result.output
    return bucket


def test_plain_http_is_refused_and_the_pipeline_works_over_https(tls_bucket, tls_s3, tls_files, make_settings,
                                                                  pg_database, make_context, twilio_api, smtp,
                                                                  call_audio):
    plain = tls_s3.client()
    for request in (lambda: plain.list_objects_v2(Bucket=tls_bucket),
                    lambda: plain.put_object(Bucket=tls_bucket, Key="accounts/x/calls/y/recording.wav", Body=b"x",
                                             ServerSideEncryption="AES256")):
        with pytest.raises(ClientError) as denied:
            request()
        assert denied.value.response["Error"]["Code"] == "AccessDenied"

    settings = make_settings(pg_database, s3_bucket=tls_bucket, s3_endpoint_url=tls_s3.https_endpoint_url,
                             s3_ca_bundle=str(tls_files.ca), aws_access_key_id=tls_s3.access_key,
                             aws_secret_access_key=tls_s3.secret_key)
    for service in serve(settings, twilio_api):
        account = service.create_account()
        call = play_call(service, twilio_api, call_audio.path.read_bytes())
        ctx = make_context(settings)
        run_burst(ctx)
        assert service.call(call.call_sid)["processing_status"] == "done"
        with ctx.db.session() as session:
            stored = session.query(Recording).one()
        assert stored.audio_key == recording_key(account["id"], call.call_sid, "wav")
        assert stored.transcript_key == transcript_key(account["id"], call.call_sid)
        head = ctx.store.head(stored.audio_key)  # read back over TLS
        assert head["ServerSideEncryption"] == "AES256"
        assert len(smtp.wait_for(1)) == 1


def test_a_server_the_ca_does_not_vouch_for_is_refused(tls_s3, make_settings, pg_database, tmp_path):
    stranger = make_tls_files(tmp_path).ca  # another CA, which never signed the server's certificate
    settings = make_settings(pg_database, s3_endpoint_url=tls_s3.https_endpoint_url, s3_ca_bundle=str(stranger),
                             aws_access_key_id=tls_s3.access_key, aws_secret_access_key=tls_s3.secret_key)
    with pytest.raises(SSLError):
        make_s3_client(settings).list_buckets()
