"""Pick free loopback TCP ports and wait for a server to start listening on one."""

from __future__ import annotations

import socket
import time
from collections.abc import Collection

LOOPBACK = "127.0.0.1"
MAX_PORT = 65535


def port_is_free(port: int) -> bool:
    """True when a server could listen on `port` on loopback right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers (Go, redis, asyncio) bind with SO_REUSEADDR, so connections lingering in
        # TIME_WAIT do not make a port unusable for them; judge the port the same way.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return False
    return True


def free_port(also_free_offset: int | None = None, *, avoid: Collection[int] = (), attempts: int = 200) -> int:
    """A TCP port free on 127.0.0.1.

    With `also_free_offset`, port + offset is free too and within range (SeaweedFS puts each
    gRPC listener at its HTTP port + 10000). Neither the port nor its partner is in `avoid`, so
    several ports picked for one server cannot collide with each other.
    There is an unavoidable window between picking and the server binding; callers that start
    many servers at once should expect a rare "address in use" and retry.
    """
    taken = set(avoid)
    for _ in range(attempts):
        # Port 0 lets the kernel choose, which skips ports other processes already hold.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((LOOPBACK, 0))
            port = sock.getsockname()[1]
        if port in taken:
            continue
        if also_free_offset is None:
            return port
        partner = port + also_free_offset
        if partner > MAX_PORT or partner in taken or not port_is_free(partner):
            continue
        return port
    raise RuntimeError(f"no free loopback port found (offset={also_free_offset}) after {attempts} attempts")


def wait_for_port(host: str, port: int, timeout: float) -> None:
    """Block until a TCP connect to host:port succeeds; TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{host}:{port} not accepting connections after {timeout:.1f}s") from exc
            time.sleep(0.05)
