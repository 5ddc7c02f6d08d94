"""A throwaway `redis-server` on loopback: no persistence, its own temp dir."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

from sandbox.ports import LOOPBACK, free_port
from sandbox.process import ManagedProcess
from sandbox.server import LocalServer


def find_redis_server() -> Path:
    found = shutil.which("redis-server")
    if not found:
        raise RuntimeError("`redis-server` not found on PATH; install it (e.g. `apt-get install redis-server`)")
    return Path(found)


class LocalRedis(LocalServer):
    """redis-server on a free 127.0.0.1 port, ready once it answers PING."""

    def __init__(self, port: int | None = None, startup_timeout: float = 10.0) -> None:
        self._requested_port = port
        self._startup_timeout = startup_timeout
        self._port: int | None = None
        self._dir: Path | None = None
        self._process: ManagedProcess | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalRedis is not started")
        return self._port

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def env(self) -> dict[str, str]:
        return {"RECEPTIONIST_REDIS_URL": self.url}

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("LocalRedis is already started")
        binary = find_redis_server()
        self._port = self._requested_port or free_port()
        self._dir = Path(tempfile.mkdtemp(prefix="receptionist-redis-"))
        argv = [
            str(binary),
            "--port", str(self._port),
            "--bind", LOOPBACK,
            "--save", "",  # no RDB snapshots: tests and demos start from empty every time
            "--appendonly", "no",
            "--dir", str(self._dir),
            "--daemonize", "no",
        ]
        self._process = ManagedProcess(argv, self._dir / "redis.log", cwd=self._dir)
        try:
            self._process.start()
            self._wait_ready()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self._process is not None:
            self._process.stop(timeout=10.0)
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None
        self._port = None

    def _wait_ready(self) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        assert self._process is not None
        # No client-side retries: redis-py's default backoff would hide how fast we poll.
        client = redis.Redis(
            host=LOOPBACK, port=self.port, socket_connect_timeout=0.5, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        deadline = time.monotonic() + self._startup_timeout
        try:
            while True:
                if not self._process.running:
                    raise RuntimeError(
                        f"redis-server exited with code {self._process.returncode}; "
                        f"log tail:\n{self._process.log_tail()}"
                    )
                try:
                    if client.ping():
                        return
                except redis.exceptions.ConnectionError:
                    pass
                if time.monotonic() >= deadline:
                    raise RuntimeError(
                        f"redis-server on port {self.port} did not answer PING within "
                        f"{self._startup_timeout:.0f}s; log tail:\n{self._process.log_tail()}"
                    )
                time.sleep(0.05)
        finally:
            client.close()
