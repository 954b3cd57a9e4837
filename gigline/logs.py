"""Logging set-up: phone numbers never reach a log in clear, whoever writes the line
(Gigline, or twilio-python, which logs every request's parameters at INFO when its
logger is turned up)."""

from __future__ import annotations

import logging
import re
from pathlib import Path

# E.164 numbers, as written or URL-encoded (+ is %2B), and bare mainland mobiles.
_E164 = re.compile(r"(?P<plus>\+|%2B)(?P<head>\d{5})\d{2,6}(?P<tail>\d{4})(?!\d)")
_MOBILE = re.compile(r"(?<![\d+])(?P<head>1[3-9]\d)\d{4}(?P<tail>\d{4})(?!\d)")
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def mask_phone_numbers(text: str) -> str:
    """+8613800138000 -> +86138****8000; 13800138000 -> 138****8000."""
    text = _E164.sub(lambda m: f"{m['plus']}{m['head']}****{m['tail']}", text)
    return _MOBILE.sub(lambda m: f"{m['head']}****{m['tail']}", text)


class MaskPhoneNumbers(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_phone_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=FORMAT)
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskPhoneNumbers())
    # Lines nobody reads, written all day: twilio-python logs ten INFO lines a REST request
    # (its parameters: message bodies, a redirect's TwiML), 136 µs of the event loop's CPU
    # a request and 1.4 s for a fan-out of 10,000 alerts; APScheduler two for every run of
    # every sweep (~30 a second in the IVR benchmark: each message queued wakes the
    # outbox's). The outbox keeps what was sent, Gigline logs what failed, and their
    # warnings and errors (a sweep that raised, a run missed) still come through.
    for chatty in ("twilio", "apscheduler.executors"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))


def log_to_file(path: Path, terminal_level: int = logging.WARNING) -> None:
    """Every record goes to `path` (appended); the terminal keeps only `terminal_level` and
    up. For the terminal phone, whose prompts log lines would otherwise break up."""
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in root.handlers:
        handler.setLevel(terminal_level)
    to_file = logging.FileHandler(path, encoding="utf-8")
    to_file.setFormatter(logging.Formatter(FORMAT))
    to_file.addFilter(MaskPhoneNumbers())
    root.addHandler(to_file)
    root.setLevel(logging.INFO)
