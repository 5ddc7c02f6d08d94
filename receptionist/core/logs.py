"""What the service's and the worker's logs may carry: no caller's phone number, ever.

Code that logs a number masks it itself (`core.phone.masked`). This is the net under it: every log
record made in the process, by our loggers and by libraries' (uvicorn, RQ, the HTTP clients), has
its message and its traceback scrubbed before any handler sees it, because an exception's text
(a provider's error quoting the "To" number, a failed job's traceback) is where numbers slip in.
RQ's failure records, kept in Redis for weeks, are scrubbed with the same `scrub`
(`workers.worker.CallWorker`). Keyed digits and what callers say are never logged at all; that
cannot be scrubbed after the fact, so it is kept out at the source.
"""

from __future__ import annotations

import logging
import re
import traceback

# A number with its country code (+1 555 014 2367, +15550142367, +44 20 7946 0958), a bare run
# of 10 or 11 digits (5550142367), or a NANP number written with its usual separators
# ((555) 014-2367, 555-014-2367, 555.014.2367). Dates and times (2026-11-22 04:35) stay readable.
PHONE_IN_TEXT = re.compile(
    r"(?:(?<=%2B)|(?<=%2b))\d{7,15}(?!\w)"  # in a URL's query string: PhoneNumber=%2B15550142367
    r"|(?<![\w+])(?:\+\d(?:[ .()-]{0,2}\d){6,14}"
    r"|\d{10,11}"
    r"|\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4})(?![\w])")


def _mask(match: re.Match) -> str:
    digits = re.sub(r"\D", "", match[0])
    return f"***{digits[-4:]}"


def scrub(text: str) -> str:
    """`text` with every phone number in it masked to its last four digits."""
    return PHONE_IN_TEXT.sub(_mask, text) if text else text


def install_log_scrubbing() -> None:
    """Scrub every log record this process makes from now on (idempotent)."""
    make_record = logging.getLogRecordFactory()
    if getattr(make_record, "scrubs_phone_numbers", False):
        return

    def scrubbed_record(*args, **kwargs) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it to the handler to report, as logging does
            return record
        record.msg, record.args = scrub(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    scrubbed_record.scrubs_phone_numbers = True
    logging.setLogRecordFactory(scrubbed_record)
