"""Retrying a step through a passing outage, with capped exponential backoff and jitter."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(Exception):
    """A step failed in a way that may heal by itself (a server down, a 5xx, a timeout)."""


class PermanentError(Exception):
    """A step failed in a way no retry can heal (a corrupt file, a refused address)."""


def with_backoff(
    step: Callable[[], T],
    *,
    what: str,
    is_transient: Callable[[BaseException], bool],
    window_s: float,
    first_delay_s: float = 0.5,
    max_delay_s: float = 15.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `step`, retrying transient failures until `window_s` has passed.

    When the window closes the last failure is raised as `TransientError`, so the job can be
    handed back to the queue for a later retry instead of holding the worker forever.
    """
    deadline = time.monotonic() + window_s
    delay = first_delay_s
    attempt = 0
    while True:
        attempt += 1
        try:
            return step()
        except Exception as exc:
            if not is_transient(exc):
                raise
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TransientError(f"{what} still failing after {attempt} attempts: {exc}") from exc
            pause = min(delay * (0.8 + 0.4 * random.random()), max_delay_s, remaining)
            log.warning("%s failed (attempt %d: %s); retrying in %.1fs", what, attempt, exc, pause)
            sleep(pause)
            delay = min(delay * 2, max_delay_s)
