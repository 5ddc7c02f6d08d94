"""A local stand-in for the slice of Twilio's 2010-04-01 REST API this product calls.

Pointing the real `twilio` client (9.x) at it: every 2010-04-01 resource is resolved against the
`Api` domain's `base_url`, so after creating the client set

    client = twilio.rest.Client(account_sid, auth_token)
    client.api.base_url = local_twilio.base_url          # e.g. "http://127.0.0.1:43121"

and `client.messages.create(...)`, `client.recordings(sid).fetch()` / `.delete()` all go here.
Leave `edge`/`region` (and TWILIO_EDGE / TWILIO_REGION) unset: with either set, the client
rewrites the host name as product.edge.region.twilio.com, which breaks an IP-address URL.
`LocalTwilioApi.client()` returns a client configured this way. Plain HTTP clients (httpx) use
`base_url` with basic auth (account_sid, auth_token), as with api.twilio.com.

What it models of Twilio, with the page each behaviour comes from:

- Basic auth on every request, a JSON error body `{code, message, more_info, status}` and the
  status codes of https://www.twilio.com/docs/usage/twilios-response (201 for a create, 204 for a
  DELETE, 401 with code 20003).
- Recording media (https://www.twilio.com/docs/voice/api/recording#fetch-a-recording-media-file):
  "If you omit the extension or use `.wav`, Twilio returns a binary WAV file with MIME type
  `audio/x-wav`"; "Appending `.mp3` returns a binary MP3 file with MIME type `audio/mpeg`. MP3 files
  have a bitrate of 32kbps" (a real MP3, made with ffmpeg); `RequestedChannels` for a two-channel
  file of a one-channel recording "results in a `400 Bad Request` error"; "Twilio enforces HTTP
  Basic Authentication for all media URLs". That page does not say the media URL redirects; the
  general status table lists "302 Found ... You can retrieve the resource at the URI in the
  Location header", and recordings are commonly served that way from storage on another origin.
  The stricter reading is the default here: media answers 302 to a second local origin
  (`storage_url`) whose links are signed in their query string, as presigned storage links are, so
  a request that also carries an Authorization header is refused (400, as S3 refuses two auth
  mechanisms) and the credentials a client sent there are recorded (`storage_requests`).
- DELETE of a recording answers 204 with no body; afterwards the media is gone (404).
- Messages.json create requires To, From (or MessagingServiceSid) and Body (or MediaUrl), as
  https://www.twilio.com/docs/messaging/api/message-resource lists them.
- The default opt-out handling on a long code (`receive_text`), with its keywords from
  https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out ("By default, Twilio handles
  ... STOP, UNSUBSCRIBE, END, QUIT, STOPALL, REVOKE, OPTOUT, and CANCEL"; opt-in START, UNSTOP,
  YES; help HELP, INFO; "Twilio matches keywords in a case-insensitive way"), only single-word
  messages, per number pair ("will stop the customer from receiving messages from that particular
  Twilio number", help-center article 223134027). Twilio answers the keyword itself, then passes
  the message on to the webhook; a later send from that number to that recipient is refused with
  error 21610 (https://www.twilio.com/docs/api/errors/21610). The help-center article says the
  refusal is "a 400 response from our API"; the Advanced Opt-Out tutorial says sends "fail with
  Error Code 21610 asynchronously": the synchronous 400 is modelled, the one a product must handle
  at the moment it sends. Twilio's own reply texts are not in its documentation; the ones below are
  as reported by its users. `keyword_handling=False` is an account whose built-in handling Twilio
  support turned off (https://www.twilio.com/docs/api/errors/23002: "reach out to Twilio Support
  ... to disable Twilio's built-in opt-out keyword handling"): no replies, no blocking.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import io
import json
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import wave
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from sandbox.ports import LOOPBACK
from sandbox.server import LocalServer

if TYPE_CHECKING:
    from twilio.rest import Client

API_VERSION = "2010-04-01"
_ACCOUNT = rf"/{API_VERSION}/Accounts/(?P<account>[^/]+)"
_RECORDING_MEDIA = re.compile(_ACCOUNT + r"/Recordings/(?P<sid>RE[0-9a-zA-Z]+)(?P<ext>\.wav|\.mp3)?$")
_RECORDING_JSON = re.compile(_ACCOUNT + r"/Recordings/(?P<sid>RE[0-9a-zA-Z]+)\.json$")
_MESSAGES = re.compile(_ACCOUNT + r"/Messages\.json$")
_MESSAGE = re.compile(_ACCOUNT + r"/Messages/(?P<sid>SM[0-9a-f]+)\.json$")
_INCOMING_NUMBERS = re.compile(_ACCOUNT + r"/IncomingPhoneNumbers\.json$")
# https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource#read-multiple-incomingphonenumber-resources:
# "PageSize ... The default is 50, and the maximum is 1000".
DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE = 50, 1000
MEDIA_LINK_TTL_S = 600  # how long a redirect's storage link stays valid

OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES"})
HELP_WORDS = frozenset({"HELP", "INFO"})
# Twilio's default replies are not in its documentation; these are as its users report them
# (unverified; what matters to the product is that Twilio sends one, so the service must not).
TWILIO_REPLIES = {
    "stop": "You have successfully been unsubscribed. You will not receive any more messages from this number. "
            "Reply START to resubscribe.",
    "start": "You have successfully been re-subscribed to messages from this number. Reply HELP for help. "
             "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
    "help": "Reply STOP to unsubscribe. Msg&Data Rates May Apply.",
}


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass
class Recording:
    sid: str
    data: bytes
    content_type: str
    call_sid: str | None
    channels: int
    duration_s: int
    created: datetime
    deleted: bool = False


@dataclass(frozen=True)
class IncomingNumber:
    """A phone number the Twilio account owns (an IncomingPhoneNumber resource)."""

    sid: str
    phone_number: str
    friendly_name: str
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))


@dataclass(frozen=True)
class SentMessage:
    """An SMS accepted by POST Messages.json; `params` is the full form as sent."""

    sid: str
    to: str
    from_: str
    body: str
    status_callback: str | None
    params: dict[str, str] = field(default_factory=dict)
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc).replace(microsecond=0))


def _twilio_date(moment: datetime) -> str:
    # Twilio renders dates in RFC 2822, e.g. "Tue, 08 Oct 2024 17:03:41 +0000".
    return format_datetime(moment)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(status, json.dumps(payload).encode())


def _error(status: int, code: int, message: str) -> Response:
    return _json(
        status,
        {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status},
    )


def _wav_shape(data: bytes) -> tuple[int, int] | None:
    """(channels, whole seconds) of a WAV file, or None if it is not one."""
    try:
        with wave.open(io.BytesIO(data)) as wav:
            return wav.getnchannels(), round(wav.getnframes() / wav.getframerate())
    except (wave.Error, EOFError, ZeroDivisionError):
        return None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: LocalTwilioApi
    storage: bool = False  # the second origin, where media redirects point

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        super().__init__(address, handler)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Cut kept-alive connections too, or a client's pooled socket would outlive stop()."""
        with self._open_lock:
            open_now = list(self._open)
        for connection in open_now:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive, as the twilio client's requests.Session expects

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        handle = self.server.api._handle_storage if self.server.storage else self.server.api._handle
        response = handle(self.command, self.path, self.headers.get("Authorization"), body)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers:
            self.send_header(name, value)
        self.end_headers()
        if response.body and self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: `requests` records what tests need, and stderr noise would only bury failures."""


class LocalTwilioApi(LocalServer):
    """Twilio REST look-alike on 127.0.0.1: recordings, SMS, basic auth, failure injection."""

    def __init__(self, account_sid: str, auth_token: str, port: int = 0, *, media_redirect: bool = True,
                 keyword_handling: bool = True) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.media_redirect = media_redirect
        self.keyword_handling = keyword_handling
        self._requested_port = port
        self._lock = threading.Lock()
        self._recordings: dict[str, Recording] = {}
        self._messages: list[SentMessage] = []
        self._incoming: dict[str, IncomingNumber] = {}
        self._auto_replies: list[SentMessage] = []
        self._blocked: set[tuple[str, str]] = set()  # (our number, the recipient who sent STOP to it)
        self._deleted: list[str] = []
        self._requests: list[tuple[str, str]] = []
        self._storage_requests: list[tuple[str, bool]] = []
        self._links: dict[str, tuple[float, bytes, str]] = {}
        self._media_cache: dict[tuple[str, str, int], bytes] = {}
        self._failures: list[int] = []
        self._server: _Server | None = None
        self._storage: _Server | None = None
        self._threads: list[threading.Thread] = []

    # -- server lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("LocalTwilioApi is already started")
        # Binding port 0 here (rather than picking a port first) leaves no race with other servers.
        server = _Server((LOOPBACK, self._requested_port), _Handler)
        server.api = self
        self._requested_port = server.server_address[1]  # a restart comes back on the same port
        storage = _Server((LOOPBACK, 0), _Handler)
        storage.api, storage.storage = self, True
        self._server, self._storage = server, storage
        self._threads = [threading.Thread(target=s.serve_forever, name=name, daemon=True)
                         for s, name in ((server, "local-twilio-api"), (storage, "local-twilio-storage"))]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        servers, self._server, self._storage = (self._server, self._storage), None, None
        for server in servers:
            if server is not None:
                server.shutdown()
                server.server_close()
                server.close_connections()
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads = []

    # -- what callers configure and inspect ---------------------------------------------------

    @property
    def port(self) -> int:
        """The listening port; while stopped after a start, the port a restart will reuse."""
        if self._server is not None:
            return self._server.server_address[1]
        if self._requested_port:
            return self._requested_port
        raise RuntimeError("LocalTwilioApi has not been started")

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def requests(self) -> list[tuple[str, str]]:
        """(method, path without query) of every request received, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def messages(self) -> list[SentMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def storage_url(self) -> str:
        """The other origin media redirects point to."""
        if self._storage is None:
            raise RuntimeError("LocalTwilioApi has not been started")
        return f"http://{LOOPBACK}:{self._storage.server_address[1]}"

    @property
    def storage_requests(self) -> list[tuple[str, bool]]:
        """(path, whether it carried an Authorization header) of every request to the storage origin."""
        with self._lock:
            return list(self._storage_requests)

    @property
    def auto_replies(self) -> list[SentMessage]:
        """The texts Twilio's own opt-out handling sent in reply to keywords."""
        with self._lock:
            return list(self._auto_replies)

    def replies_to(self, number: str) -> list[SentMessage]:
        """Every text that went to `number`: Twilio's own replies and the messages the service sent."""
        with self._lock:
            return [m for m in self._auto_replies + self._messages if m.to == number]

    def forget_opt_outs(self) -> None:
        """Start over with no blocked numbers (the server is shared by a whole test session)."""
        with self._lock:
            self._blocked.clear()

    def is_blocked(self, our_number: str, recipient: str) -> bool:
        with self._lock:
            return (our_number, recipient) in self._blocked

    @property
    def deleted_recordings(self) -> list[str]:
        with self._lock:
            return list(self._deleted)

    def env(self) -> dict[str, str]:
        return {
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "RECEPTIONIST_TWILIO_API_URL": self.base_url,
        }

    def client(self) -> Client:
        """A real `twilio.rest.Client` whose 2010-04-01 API calls come to this server."""
        from twilio.rest import Client

        client = Client(self.account_sid, self.auth_token)
        client.edge = None  # see module docstring: edge/region would rewrite the host
        client.region = None
        client.api.base_url = self.base_url
        return client

    def recording_path(self, recording_sid: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/Recordings/{recording_sid}"

    def recording_url(self, recording_sid: str) -> str:
        """The RecordingUrl Twilio puts in a recording status callback (no extension)."""
        return self.base_url + self.recording_path(recording_sid)

    def add_recording(
        self,
        recording_sid: str,
        data: bytes,
        content_type: str = "audio/x-wav",
        *,
        call_sid: str | None = None,
        channels: int | None = None,
        duration_s: int | None = None,
    ) -> None:
        """Make a recording downloadable; channels/duration default to what the WAV header says."""
        shape = _wav_shape(data) if "wav" in content_type else None
        with self._lock:
            self._recordings[recording_sid] = Recording(
                sid=recording_sid,
                data=data,
                content_type=content_type,
                call_sid=call_sid,
                channels=channels if channels is not None else (shape[0] if shape else 1),
                duration_s=duration_s if duration_s is not None else (shape[1] if shape else 0),
                created=datetime.now(timezone.utc).replace(microsecond=0),
            )

    def add_incoming_number(self, phone_number: str, friendly_name: str | None = None) -> str:
        """Make `phone_number` one of the account's IncomingPhoneNumbers (as buying it would); returns its PN sid."""
        with self._lock:
            existing = self._incoming.get(phone_number)
            if existing is not None:
                return existing.sid
            number = IncomingNumber("PN" + secrets.token_hex(16), phone_number, friendly_name or phone_number)
            self._incoming[phone_number] = number
            return number.sid
    def receive_text(self, sender: str, our_number: str, body: str) -> str | None:
        """An inbound text reaches one of our numbers: Twilio's default opt-out handling acts on a
        keyword (blocks or unblocks the pair, replies) before the webhook is called. Returns
        Twilio's reply, or None when it sent none."""
        if not self.keyword_handling:
            return None
        word = body.strip().upper()  # single-word messages only, any case
        if word in OPT_OUT_WORDS:
            kind = "stop"
        elif word in OPT_IN_WORDS:
            kind = "start"
        elif word in HELP_WORDS:
            kind = "help"
        else:
            return None
        reply = SentMessage(sid="SM" + secrets.token_hex(16), to=sender, from_=our_number, body=TWILIO_REPLIES[kind],
                            status_callback=None)
        with self._lock:
            if kind == "stop":
                self._blocked.add((our_number, sender))
            elif kind == "start":
                self._blocked.discard((our_number, sender))
            self._auto_replies.append(reply)
        return reply.body

    def fail_next(self, count: int, status: int = 503) -> None:
        """Answer the next `count` requests, whatever the route, with `status` and a JSON error."""
        with self._lock:
            self._failures.extend([status] * count)

    def clear_failures(self) -> None:
        """Forget failures `fail_next` queued that no request has used yet."""
        with self._lock:
            self._failures.clear()

    # -- request handling ---------------------------------------------------------------------

    def _handle(self, method: str, raw_path: str, authorization: str | None, body: bytes) -> Response:
        parts = urlsplit(raw_path)
        path, query = parts.path, dict(parse_qsl(parts.query))
        with self._lock:
            self._requests.append((method, path))
            injected = self._failures.pop(0) if self._failures else None
        if injected is not None:
            return self._injected_failure(injected)
        if not self._authorized(authorization):
            return Response(
                HTTPStatus.UNAUTHORIZED,
                json.dumps(
                    {
                        "code": 20003,
                        "message": "Authenticate",
                        "more_info": "https://www.twilio.com/docs/errors/20003",
                        "status": 401,
                    }
                ).encode(),
                headers=(("WWW-Authenticate", 'Basic realm="Twilio API"'),),
            )
        for pattern, route in (
            (_RECORDING_JSON, self._recording_json),
            (_RECORDING_MEDIA, self._recording_media),
            (_MESSAGES, self._messages_collection),
            (_MESSAGE, self._message_instance),
            (_INCOMING_NUMBERS, lambda method, match, body, path, query: self._incoming_numbers(method, body, query)),
        ):
            match = pattern.match(path)
            if match:
                if match["account"] != self.account_sid:
                    return self._not_found(path)
                return route(method, match, body, path, query)
        return self._not_found(path)

    def _authorized(self, header: str | None) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        # Constant-time compares, like any credential check should be.
        return hmac.compare_digest(user, self.account_sid) & hmac.compare_digest(password, self.auth_token)

    @staticmethod
    def _injected_failure(status: int) -> Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        # Twilio's API error codes mirror the HTTP status: 20429, 20500, 20503, ...
        return _error(status, 20000 + status if 400 <= status < 600 else 20500, phrase)

    @staticmethod
    def _not_found(path: str) -> Response:
        return _error(404, 20404, f"The requested resource {path} was not found")

    @staticmethod
    def _method_not_allowed() -> Response:
        return _error(405, 20004, "Method not allowed")

    def _live_recording(self, sid: str) -> Recording | None:
        with self._lock:
            recording = self._recordings.get(sid)
        return recording if recording is not None and not recording.deleted else None

    def _recording_media(self, method: str, match: re.Match[str], body: bytes, path: str,
                         query: dict[str, str]) -> Response:
        if method not in ("GET", "HEAD"):
            return self._method_not_allowed()
        recording = self._live_recording(match["sid"])
        if recording is None:
            return self._not_found(path)
        fmt = "mp3" if match["ext"] == ".mp3" else "wav"
        channels = recording.channels
        if query.get("RequestedChannels"):
            try:
                channels = int(query["RequestedChannels"])
            except ValueError:
                return _error(400, 20001, "RequestedChannels must be 1 or 2")
            if channels not in (1, 2) or channels > recording.channels:
                # "Requesting a dual-channel media file for a Recording that isn't dual-channel
                # results in a 400 Bad Request error."
                return _error(400, 20001, f"RequestedChannels={channels} is not available for this recording")
        try:
            data = self._media(recording, fmt, channels)
        except (OSError, subprocess.CalledProcessError) as exc:
            return _error(500, 20500, f"transcoding failed: {exc}")
        content_type = "audio/mpeg" if fmt == "mp3" else recording.content_type
        if not self.media_redirect:
            return Response(200, data, content_type)
        token = secrets.token_urlsafe(24)
        expires = time.time() + MEDIA_LINK_TTL_S
        with self._lock:
            self._links[token] = (expires, data, content_type)
        location = (f"{self.storage_url}/media/{token}/{recording.sid}.{fmt}"
                    f"?Expires={int(expires)}&Signature={secrets.token_urlsafe(18)}")
        return Response(302, b"", "text/plain", headers=(("Location", location),))

    def _media(self, recording: Recording, fmt: str, channels: int) -> bytes:
        """The file in the format asked for; WAV as stored unless it must change (cached)."""
        if fmt == "wav" and channels == recording.channels:
            return recording.data
        key = (recording.sid, fmt, channels)
        with self._lock:
            cached = self._media_cache.get(key)
        if cached is not None:
            return cached
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise OSError("ffmpeg is not on PATH")
        codec = ["-codec:a", "libmp3lame", "-b:a", "32k"] if fmt == "mp3" else ["-codec:a", "pcm_s16le"]
        # A file, not a pipe: a WAV written to a pipe cannot have its header's sizes filled in.
        with tempfile.TemporaryDirectory(prefix="local-twilio-media-") as tmp:
            out = f"{tmp}/media.{fmt}"
            subprocess.run([ffmpeg, "-loglevel", "error", "-i", "pipe:0", "-ac", str(channels), *codec, out],
                           input=recording.data, capture_output=True, check=True, timeout=60)
            with open(out, "rb") as produced:
                data = produced.read()
        with self._lock:
            self._media_cache[key] = data
        return data

    def _handle_storage(self, method: str, raw_path: str, authorization: str | None, body: bytes) -> Response:
        """The storage origin: signed links only, and never a second set of credentials."""
        parts = urlsplit(raw_path)
        with self._lock:
            self._storage_requests.append((parts.path, authorization is not None))
        if method not in ("GET", "HEAD"):
            return Response(405, b"", "text/plain")
        if authorization is not None:
            return Response(400, b"<Error><Code>InvalidArgument</Code><Message>Only one auth mechanism allowed"
                                 b"</Message></Error>", "application/xml")
        token = parts.path.split("/")[2] if parts.path.startswith("/media/") else ""
        with self._lock:
            link = self._links.get(token)
        if link is None or link[0] < time.time():
            return Response(403, b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
                            "application/xml")
        return Response(200, link[1], link[2])

    def _recording_json(self, method: str, match: re.Match[str], body: bytes, path: str,
                        query: dict[str, str]) -> Response:
        sid = match["sid"]
        recording = self._live_recording(sid)
        if recording is None:
            return self._not_found(path)
        if method == "DELETE":
            with self._lock:
                recording.deleted = True
                self._deleted.append(sid)
            return Response(204, b"")
        if method not in ("GET", "HEAD"):
            return self._method_not_allowed()
        return _json(200, self._recording_payload(recording))

    def _recording_payload(self, recording: Recording) -> dict[str, Any]:
        stamp = _twilio_date(recording.created)
        base = self.recording_path(recording.sid)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "call_sid": recording.call_sid,
            "conference_sid": None,
            "date_created": stamp,
            "date_updated": stamp,
            "start_time": stamp,
            "duration": str(recording.duration_s),
            "sid": recording.sid,
            "price": None,
            "price_unit": "USD",
            "status": "completed",
            "channels": recording.channels,
            "source": "StartCallRecordingAPI",
            "error_code": None,
            "uri": f"{base}.json",
            "encryption_details": None,
            "subresource_uris": {
                "add_on_results": f"{base}/AddOnResults.json",
                "transcriptions": f"{base}/Transcriptions.json",
            },
            "media_url": self.base_url + base,
        }

    def _messages_collection(self, method: str, match: re.Match[str], body: bytes, path: str,
                             query: dict[str, str]) -> Response:
        if method != "POST":
            return self._method_not_allowed()
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        to, sender, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not sender and not form.get("MessagingServiceSid"):
            return _error(400, 21603, "A 'From' phone number is required.")
        if not text and not form.get("MediaUrl"):
            return _error(400, 21602, "Message body is required.")
        if self.is_blocked(sender, to):
            return _error(400, 21610, "Attempt to send to unsubscribed recipient")
        message = SentMessage(
            sid="SM" + secrets.token_hex(16),
            to=to,
            from_=sender,
            body=text,
            status_callback=form.get("StatusCallback"),
            params=form,
        )
        with self._lock:
            self._messages.append(message)
        return _json(201, self._message_payload(message))

    def _message_instance(self, method: str, match: re.Match[str], body: bytes, path: str,
                          query: dict[str, str]) -> Response:
        if method not in ("GET", "HEAD"):
            return self._method_not_allowed()
        with self._lock:
            found = next((m for m in self._messages if m.sid == match["sid"]), None)
        if found is None:
            return self._not_found(path)
        return _json(200, self._message_payload(found))

    def _buy_number(self, body: bytes) -> Response:
        """POST IncomingPhoneNumbers.json: "Provision a phone number" with `PhoneNumber` (E.164)
        (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource#create-an-incomingphonenumber-resource).
        Buying by `AreaCode` alone is not modelled: tests always name the number."""
        form = {key: values[-1] for key, values in parse_qs(body.decode("utf-8"), keep_blank_values=True).items()}
        number = form.get("PhoneNumber", "")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", number):
            return _error(400, 21421, "PhoneNumber is invalid")
        with self._lock:
            taken = number in self._incoming
        if taken:  # an owned number is not available to buy again
            return _error(400, 21422, "PhoneNumber is not available")
        self.add_incoming_number(number, form.get("FriendlyName"))
        with self._lock:
            return _json(201, self._incoming_payload(self._incoming[number]))

    def _incoming_numbers(self, method: str, body: bytes, query: dict[str, str]) -> Response:
        """GET IncomingPhoneNumbers.json, filtered and paged as Twilio's list resources are.

        https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource : `PhoneNumber`
        "You can specify partial numbers and use '*' as a wildcard for any digit"; `FriendlyName`
        filters exactly; `PageSize` "The default is 50, and the maximum is 1000". The page carries
        exactly the documented top-level keys: the twilio client takes the one key that is not
        paging metadata as the records, so any extra key breaks it ("Page Records can not be
        deserialized").
        """
        if method == "POST":
            return self._buy_number(body)
        if method not in ("GET", "HEAD"):
            return self._method_not_allowed()
        params = query
        try:
            page_size = int(params.get("PageSize") or DEFAULT_PAGE_SIZE)
            page = int(params.get("Page") or 0)
        except ValueError:
            return _error(400, 20001, "Invalid paging parameter")
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
            return _error(400, 20001, f"PageSize must be between 1 and {MAX_PAGE_SIZE}")
        with self._lock:
            numbers = sorted(self._incoming.values(), key=lambda n: n.created)
        if params.get("PhoneNumber"):
            wanted = re.compile(re.escape(params["PhoneNumber"]).replace(r"\*", r"\d"))
            numbers = [n for n in numbers if wanted.search(n.phone_number)]
        if params.get("FriendlyName"):
            numbers = [n for n in numbers if n.friendly_name == params["FriendlyName"]]
        start = page * page_size
        items = numbers[start:start + page_size]
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers.json"
        filters = {k: v for k, v in params.items() if k in ("PhoneNumber", "FriendlyName", "Beta", "Origin")}

        def page_uri(number: int) -> str:
            return base + "?" + urlencode({**filters, "PageSize": page_size, "Page": number})

        return _json(200, {
            "end": start + max(len(items) - 1, 0),
            "first_page_uri": page_uri(0),
            "incoming_phone_numbers": [self._incoming_payload(n) for n in items],
            "next_page_uri": page_uri(page + 1) if start + page_size < len(numbers) else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        })

    def _incoming_payload(self, number: IncomingNumber) -> dict[str, Any]:
        stamp = _twilio_date(number.created)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/IncomingPhoneNumbers/{number.sid}.json"
        return {
            "account_sid": self.account_sid, "address_requirements": "none", "address_sid": None,
            "api_version": API_VERSION, "beta": False,
            "capabilities": {"voice": True, "sms": True, "mms": True, "fax": False},
            "date_created": stamp, "date_updated": stamp, "emergency_status": "Inactive",
            "emergency_address_sid": None, "emergency_address_status": "unregistered",
            "friendly_name": number.friendly_name, "identity_sid": None, "origin": "twilio",
            "phone_number": number.phone_number, "sid": number.sid, "sms_application_sid": None,
            "sms_fallback_method": "POST", "sms_fallback_url": None, "sms_method": "POST", "sms_url": None,
            "status_callback": None, "status_callback_method": "POST", "trunk_sid": None, "uri": uri,
            "voice_application_sid": None, "voice_caller_id_lookup": False, "voice_fallback_method": "POST",
            "voice_fallback_url": None, "voice_method": "POST", "voice_url": None, "bundle_sid": None,
            "voice_receive_mode": "voice", "status": "in-use", "type": "local",
        }

    def _message_payload(self, message: SentMessage) -> dict[str, Any]:
        stamp = _twilio_date(message.created)
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{message.sid}"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": message.body,
            "date_created": stamp,
            "date_sent": None,
            "date_updated": stamp,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": message.from_,
            "messaging_service_sid": message.params.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": message.sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": message.to,
            "uri": f"{uri}.json",
        }
