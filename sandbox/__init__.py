"""Real local servers and synthetic calls for `receptionist demo` and the test-suite.

Everything runs on 127.0.0.1, starts on `start()` / `with`, and is gone again after `stop()`.
"""

from sandbox.ports import free_port, wait_for_port
from sandbox.postgres_server import LocalPostgres
from sandbox.redis_server import LocalRedis
from sandbox.seaweedfs import LocalS3
from sandbox.smtp import CapturedEmail, SmtpCapture
from sandbox.speech import (
    CallAudio,
    TimedTurn,
    Voice,
    long_call_turns,
    synthesize_call,
    synthesize_speech,
)
from sandbox.twilio_api import LocalTwilioApi, SentMessage

__all__ = [
    "CallAudio",
    "CapturedEmail",
    "LocalPostgres",
    "LocalRedis",
    "LocalS3",
    "LocalTwilioApi",
    "SentMessage",
    "SmtpCapture",
    "TimedTurn",
    "Voice",
    "free_port",
    "long_call_turns",
    "synthesize_call",
    "synthesize_speech",
    "wait_for_port",
]
