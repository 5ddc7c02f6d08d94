"""A real HTTPS webhook receiver for the tests: a certificate from a throwaway CA (trustme), every
request's signature verified with the PyPI `standardwebhooks` package, answers on command.

`plan` holds what the next requests get, in order: an HTTP status, (status, headers), or "timeout"
(hold the request longer than the sender waits). After the plan, 200. Every request is recorded
with what it was answered; `accepted` lists the webhook-ids the receiver took (answered 2xx)."""

from __future__ import annotations

import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.tls import TlsFiles


@dataclass
class Received:
    path: str
    webhook_id: str | None
    headers: dict
    body: bytes
    verified: bool
    answered: int | str
    host: str | None

    @property
    def event(self) -> dict:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    tls: TlsFiles
    hold_s: float = 3.0
    secrets: dict[str, str] = field(default_factory=dict)  # path → the secret that must have signed
    plan: list = field(default_factory=list)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                secret = receiver.secrets.get(self.path)
                try:
                    Webhook(secret).verify(body, headers)
                    verified = True
                except (WebhookVerificationError, TypeError, ValueError):
                    verified = False
                with receiver._lock:
                    answer = receiver.plan.pop(0) if receiver.plan else 200
                status, extra = (answer if isinstance(answer, tuple) else (answer, {}))
                if not verified and status == 200:
                    status = 401
                receiver.received.append(Received(self.path, headers.get("webhook-id"), headers, body, verified,
                                                  status, headers.get("host")))
                if status == "timeout":
                    time.sleep(receiver.hold_s)
                    status = 200  # too late: the sender has given this attempt up
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = self.tls.server_context().wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, host: str = "localhost") -> str:
        return f"https://{host}:{self.port}{path}"

    def accepted(self, path: str | None = None) -> list[str]:
        return [r.webhook_id for r in self.received if r.answered in range(200, 300) and r.verified
                and (path is None or r.path == path)]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
