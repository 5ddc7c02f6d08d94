"""The one module that speaks HTTP to webhook receivers (httpx).

Each attempt connects to an address the guard has just checked (`addresses.Target`), never to
whatever the name resolves to a moment later: the request goes to that IP, with the host name as
the TLS server name (SNI, and the name the certificate must carry) and as the Host header. The
system's CAs are trusted, plus `RECEPTIONIST_WEBHOOK_CA_BUNDLE`'s. Redirects are not followed (a
redirect is the receiver's answer, recorded as such). Every phase has a timeout.
"""

from __future__ import annotations

import ipaddress
import ssl
import time
from dataclasses import dataclass

import httpx

from receptionist.webhooks.addresses import Target

USER_AGENT = "receptionist-webhooks/1"
MAX_RESPONSE = 4096  # how much of a response body is kept for the delivery log


@dataclass(frozen=True)
class Response:
    status_code: int | None  # None: no response (timeout, connection error, TLS failure)
    error: str | None  # what went wrong, for the log; None for a response
    retry_after: str | None
    duration_ms: int
    transient: bool  # no response at all, from a network or timeout failure


def tls_context(ca_bundle: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


class WebhookTransport:
    def __init__(self, *, timeout_s: float, ca_bundle: str | None = None):
        self.client = httpx.Client(
            verify=tls_context(ca_bundle), follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            limits=httpx.Limits(max_connections=20, max_keepalive_connections=0),
            headers={"user-agent": USER_AGENT},
        )

    def post(self, target: Target, address: str, headers: dict[str, str], body: bytes) -> Response:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        netloc = f"[{ip}]" if ip.version == 6 else str(ip)
        url = f"https://{netloc}:{target.port}{target.path}"
        host_header = target.host if target.port == 443 else f"{target.host}:{target.port}"
        started = time.perf_counter()
        try:
            with self.client.stream("POST", url, content=body, extensions={"sni_hostname": target.host},
                                    headers={**headers, "host": host_header, "content-type": "application/json"}) as r:
                for _ in r.iter_bytes(MAX_RESPONSE):  # read at most a little, then let go
                    break
                return Response(r.status_code, None, r.headers.get("retry-after"), _ms(started), False)
        except httpx.TimeoutException as exc:
            return Response(None, f"timeout: {type(exc).__name__}", None, _ms(started), True)
        except httpx.TransportError as exc:
            return Response(None, f"connection: {type(exc).__name__}: {exc}"[:500], None, _ms(started), True)

    def close(self) -> None:
        self.client.close()


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)
