"""Building what a process needs from its settings: the only place clients are constructed.

Each process has one composition root (the web app in `receptionist.app`, the worker in
`workers.worker`, the CLI's commands) and every one of them builds its services here, so the
database, the job queue, the object store, the one Twilio REST client and the one LLM client factory
are made the same way everywhere, and whoever built them closes them (`close`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

from receptionist.accounts.service import AccountRules
from receptionist.agent.llm import LlmClients
from receptionist.calls.conversations import ConversationStore
from receptionist.calls.directory import AccountDirectory
from receptionist.calls.records import CallStarts
from receptionist.calls.screening import CallScreen
from receptionist.core.db import Database
from receptionist.core.destinations import Destinations
from receptionist.core.queue import JobQueue
from receptionist.webhooks.delivery import RetryPolicy, WebhookSender
from receptionist.webhooks.transport import WebhookTransport
from receptionist.core.templates import Templates
from receptionist.notify.alerts import AlertSettings, OwnerAlerts
from receptionist.notify.mailer import Mailer
from receptionist.notify.outbound import SmsFence
from receptionist.postcall.pipeline import PipelineContext
from receptionist.postcall.summary import LlmSummarizer, Summarizer
from receptionist.postcall.transcriber_process import TranscriberProcess
from receptionist.postcall.transcription import Transcriber
from receptionist.settings import Settings
from receptionist.storage.objects import ObjectStore
from receptionist.telephony import twiml
from receptionist.telephony.rest import TwilioRest
from receptionist.web.services import AppServices

# A web request deletes Twilio's copy (an erasure) for a few seconds at most, then leaves it to a job.
WEB_TWILIO_RETRY_S = 10.0
CLI_TWILIO_RETRY_S = 30.0


@dataclass
class Common:
    """The services every process builds: database, queue, object store, Twilio, LLM, words."""

    settings: Settings
    db: Database
    queue: JobQueue
    store: ObjectStore
    twilio: TwilioRest | None  # None without Twilio credentials (nothing can be fetched or deleted there)
    llm: LlmClients
    templates: Templates

    @property
    def destinations(self) -> Destinations:
        return Destinations.of(self.settings.outbound_countries.split(","))

    @property
    def account_rules(self) -> AccountRules:
        """What account changes are checked against: the outbound fence and the Twilio account's numbers."""
        return AccountRules(destinations=self.destinations, telephony=self.twilio)

    def close(self) -> None:
        if self.twilio is not None:
            self.twilio.close()
        self.llm.close()
        self.db.dispose()
        self.queue.redis.close()


def build_twilio(settings: Settings, retry_window_s: float) -> TwilioRest | None:
    if not (settings.twilio_account_sid and settings.twilio_auth_token):
        return None
    return TwilioRest(settings.twilio_api_url, settings.twilio_account_sid, settings.twilio_auth_token,
                      retry_window_s)


def build_database(settings: Settings, pool_size: int) -> Database:
    return Database(settings.database_url, pool_size)


def build_queue(settings: Settings) -> JobQueue:
    return JobQueue.from_url(settings.redis_url, settings.queue_name, settings.job_timeout_s)


def build_store(settings: Settings) -> ObjectStore:
    return ObjectStore.from_settings(settings)


def build_mailer(settings: Settings) -> Mailer:
    return Mailer(settings.smtp_url, ca_file=settings.smtp_ca_bundle)


def build_common(settings: Settings, *, db_pool_size: int, twilio_retry_s: float) -> Common:
    return Common(
        settings=settings,
        db=build_database(settings, db_pool_size),
        queue=build_queue(settings),
        store=build_store(settings),
        twilio=build_twilio(settings, min(settings.step_retry_window_s, twilio_retry_s)),
        llm=LlmClients(settings),
        templates=Templates(),
    )


def build_app_services(settings: Settings) -> AppServices:
    """The web process: the common services plus call routing, call starts and the live conversations."""
    common = build_common(settings, db_pool_size=settings.db_pool_size, twilio_retry_s=WEB_TWILIO_RETRY_S)
    render_answer = partial(twiml.answer_for_account, templates=common.templates, settings=settings)
    render_refusal = partial(twiml.refusal_for_account, templates=common.templates, settings=settings)
    # The rest of the web process has its own pool, so nothing it waits on holds the Twilio edge's connections.
    api_db = Database(settings.database_url, settings.api_threads + settings.export_threads)

    def close() -> None:
        common.close()
        api_db.dispose()

    return AppServices(
        settings=settings, db=common.db, api_db=api_db, queue=common.queue, store=common.store, twilio=common.twilio,
        templates=common.templates, directory=AccountDirectory(common.db, render_answer, render_refusal),
        call_starts=CallStarts(common.db.hot_engine), screen=CallScreen(common.db.hot_engine), conversations=ConversationStore(common.db, public_url=settings.public_url, queue=common.queue), llm=common.llm,
        account_rules=common.account_rules, close=close,
    )


def build_pipeline_context(settings: Settings, transcriber: Transcriber | None = None, *,
                           isolate_transcription: bool = False) -> PipelineContext:
    """The worker process: the common services plus the Whisper model, the summarizer and the alerts.
    `isolate_transcription` (what `receptionist worker` uses) puts the model in a process of its
    own (`postcall.transcriber_process`); without it the model is loaded here, as a benchmark or a
    test that drives jobs in its own process wants."""
    close_transcriber = None
    if transcriber is None:
        model = (settings.whisper_model_path, settings.whisper_compute_type, settings.whisper_beam_size,
                 settings.whisper_threads)
        transcriber = TranscriberProcess(*model) if isolate_transcription else Transcriber(*model)
        close_transcriber = getattr(transcriber, "close", None)
    common = build_common(settings, db_pool_size=4, twilio_retry_s=settings.step_retry_window_s)
    json_model = common.llm.json_model()
    sms_fence = SmsFence(common.destinations, settings.sms_daily_cap)
    webhooks = build_webhook_sender(settings, common.db)
    return PipelineContext(
        settings=settings,
        db=common.db,
        queue=common.queue,
        store=common.store,
        twilio=common.twilio,
        transcriber=transcriber,
        templates=common.templates,
        sms_fence=sms_fence,
        alerts=OwnerAlerts(common.db, build_mailer(settings), common.twilio,
                           common.templates, AlertSettings(
                               from_email=settings.alert_from_email, from_number=settings.alert_from_number,
                               public_url=settings.public_url, retry_window_s=settings.step_retry_window_s),
                           sms_fence),
        summarizer=Summarizer(LlmSummarizer(json_model, common.templates) if json_model else None, common.templates),
        webhooks=webhooks,
        close=partial(_close_all, close_transcriber, webhooks.transport.close, common.close),
    )


def build_webhook_sender(settings: Settings, db: Database) -> WebhookSender:
    transport = WebhookTransport(timeout_s=settings.webhook_timeout_s, ca_bundle=settings.webhook_ca_bundle)
    return WebhookSender(db, transport, allow_private=settings.webhook_allow_private,
                         policy=RetryPolicy(window_s=settings.webhook_retry_window_s),
                         timeout_s=settings.webhook_timeout_s)


def _close_all(*closers) -> None:
    for close in closers:
        if close is not None:
            close()


@contextmanager
def command_services(settings: Settings) -> Iterator[Common]:
    """A CLI command's services, closed when the command is done."""
    common = build_common(settings, db_pool_size=2, twilio_retry_s=CLI_TWILIO_RETRY_S)
    try:
        yield common
    finally:
        common.close()
