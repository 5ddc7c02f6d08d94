"""A throwaway PostgreSQL cluster on loopback: `initdb` into a temp dir, `pg_ctl` on a free port.

For tests and benchmarks that must stop and start the database (an outage) without touching the
machine's shared server. `start()` makes the cluster and starts it; `stop_server()` /
`start_server()` take it down and bring it back on the same port with its data (what a restart of
the database host does to clients: every connection is cut); `stop()` removes it all.

Facts this relies on (PostgreSQL 15, `initdb --help`, `pg_ctl --help`):

* initdb refuses to run as root ("cannot be run as root"), and so does the server; as root the
  cluster is made and run as the `postgres` system user (`run_as`), owning its temp dir.
* `pg_ctl start -w` waits until the server accepts connections; `pg_ctl stop -m fast` disconnects
  every client and shuts down cleanly, `-m immediate` stops without a checkpoint (a crash).
* `unix_socket_directories` defaults to /var/run/postgresql, shared with the machine's server; the
  cluster's own dir is used instead, so nothing leaks outside it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from sandbox.ports import LOOPBACK, free_port
from sandbox.server import LocalServer

STOP_MODES = ("smart", "fast", "immediate")


def find_pg_binary(name: str) -> Path:
    found = shutil.which(name)
    if not found:
        raise RuntimeError(f"`{name}` not found on PATH; install PostgreSQL's server binaries "
                           "(e.g. `apt-get install postgresql`) or put their bin directory on PATH")
    return Path(found)


class LocalPostgres(LocalServer):
    """A PostgreSQL cluster of its own on a free 127.0.0.1 port, trust authentication, user `postgres`."""

    def __init__(self, port: int | None = None, *, run_as: str = "postgres", startup_timeout: float = 60.0,
                 max_connections: int = 200) -> None:
        self._requested_port = port
        self._run_as = run_as
        self._startup_timeout = startup_timeout
        self._max_connections = max_connections
        self._port: int | None = None
        self._dir: Path | None = None
        self._running = False

    # -- where it is ----------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LocalPostgres is not started")
        return self._port

    @property
    def running(self) -> bool:
        return self._running

    @property
    def data_dir(self) -> Path:
        if self._dir is None:
            raise RuntimeError("LocalPostgres is not started")
        return self._dir / "data"

    @property
    def log_path(self) -> Path:
        if self._dir is None:
            raise RuntimeError("LocalPostgres is not started")
        return self._dir / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The URL of `database` on this cluster (as psycopg and RECEPTIONIST_DATABASE_URL take it)."""
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database `name` (must not exist yet) and return its URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError(f"database name {name!r}: letters, digits and underscores only")
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> LocalPostgres:
        """Make the cluster in a new temp dir and start it."""
        if self._dir is not None:
            raise RuntimeError("LocalPostgres is already started")
        self._dir = Path(tempfile.mkdtemp(prefix="receptionist-pg-"))
        try:
            self._port = self._requested_port or free_port()
            self._chown(self._dir)
            self._run([str(find_pg_binary("initdb")), "-D", str(self.data_dir), "-U", "postgres", "-A", "trust",
                       "-E", "UTF8", "--no-sync", "--no-instructions"], timeout=120)
            self.start_server()
        except BaseException:
            self.stop()
            raise
        return self

    def start_server(self) -> None:
        """Start the cluster's server (again), on the same port; returns once it accepts connections."""
        if self._dir is None:
            raise RuntimeError("LocalPostgres is not started")
        if self._running:
            return
        options = " ".join([
            f"-p {self.port}", f"-c listen_addresses={LOOPBACK}", f"-c unix_socket_directories={self._dir}",
            f"-c max_connections={self._max_connections}",
            # A throwaway cluster: durability across a power cut is not what it is for.
            "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
        ])
        try:
            self._run([str(find_pg_binary("pg_ctl")), "start", "-D", str(self.data_dir), "-l", str(self.log_path),
                       "-w", "-t", str(int(self._startup_timeout)), "-o", options],
                      timeout=self._startup_timeout + 10)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\nserver log tail:\n{self.log_tail()}") from None
        self._running = True

    def stop_server(self, mode: str = "fast") -> None:
        """Stop the server, keeping the cluster: `fast` cuts every client and shuts down cleanly,
        `immediate` is a crash (recovery runs at the next start)."""
        if mode not in STOP_MODES:
            raise ValueError(f"mode is one of {', '.join(STOP_MODES)}")
        if self._dir is None or not self._running:
            return
        self._run([str(find_pg_binary("pg_ctl")), "stop", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60"],
                  timeout=70)
        self._running = False

    def stop(self) -> None:
        """Stop the server and delete the cluster. Safe to call twice."""
        if self._dir is not None:
            try:
                self.stop_server("immediate")
            except RuntimeError:
                self._kill_postmaster()
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir, self._port, self._running = None, None, False

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    # -- helpers --------------------------------------------------------------------------------
    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _chown(self, path: Path) -> None:
        if self._as_root():
            user = pwd.getpwnam(self._run_as)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _run(self, argv: list[str], timeout: float) -> None:
        options: dict = {}
        if self._as_root():
            user = pwd.getpwnam(self._run_as)
            options = dict(user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                           env={**os.environ, "HOME": str(self._dir), "USER": self._run_as})
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self._dir,
                                stdin=subprocess.DEVNULL, **options)
        if result.returncode != 0:
            raise RuntimeError(f"{Path(argv[0]).name} {argv[1]} failed ({result.returncode}): "
                               f"{(result.stderr or result.stdout).strip()}")

    def _kill_postmaster(self) -> None:
        """Last resort when pg_ctl cannot stop it: SIGKILL the postmaster named in its pid file."""
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
            os.kill(pid, 9)
            time.sleep(0.2)
        except (OSError, ValueError, IndexError):
            pass
