"""Real local servers and synthetic calls for `receptionist demo` and the test-suite.

Everything runs on 127.0.0.1, starts on `start()` / `with`, and is gone again after `stop()`.
"""

from receptionist.local.ports import free_port, wait_for_port
from receptionist.local.redis_server import LocalRedis
from receptionist.local.seaweedfs import LocalS3
from receptionist.local.smtp import CapturedEmail, SmtpCapture
from receptionist.local.speech import CallAudio, TimedTurn, Voice, long_call_turns, synthesize_call, synthesize_speech
from receptionist.local.twilio_api import LocalTwilioApi, SentMessage

__all__ = [
    "CallAudio",
    "CapturedEmail",
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
