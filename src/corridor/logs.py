"""Structured logs: every record a JSON object (or a readable line on a terminal), secrets scrubbed on the way out.

The standard library's loggers (every module logs through `logging.getLogger(__name__)`) and uvicorn's are routed
through structlog's formatter, so one configuration covers them all. The scrubber is the last line of defence, not
the first: code never logs a PAN, a CVV2, a PIN block or a key; should one slip into a message anyway, a run of 13 to
19 digits is masked to its first six and last four digits (as a receipt shows a card), an API key to its prefix, a
bearer token and a password in a URL (`scheme://user:password@host`) to asterisks, and a private key PEM removed.
tests/test_no_secrets_in_logs.py runs a representative workload at DEBUG and looks for every secret it used, before
this scrubber and after it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

_DIGITS = re.compile(r"(?<![0-9])([0-9]{6})[0-9]{3,9}([0-9]{4})(?![0-9])")
_API_KEY = re.compile(r"\b(cor_[a-z0-9]+_)[0-9a-f]{8,}\b")
_PEM = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
_BEARER = re.compile(r"\b(Bearer\s+)[^\s\"',;]+", re.I)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)[^@/\s]+@")


def scrub(text: str) -> str:
    """`text` with anything shaped like a card number, an API key, a bearer token, a password in a URL or a private
    key masked."""
    text = _PEM.sub("[private key removed]", text)
    text = _API_KEY.sub(r"\1****", text)
    text = _BEARER.sub(r"\1****", text)
    text = _URL_PASSWORD.sub(r"\1****@", text)
    return _DIGITS.sub(r"\1******\2", text)


def _scrub_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    event.pop("color_message", None)  # uvicorn's copy of the message with terminal colour codes
    for name, value in list(event.items()):
        if isinstance(value, str):
            event[name] = scrub(value)
    return event


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is when a record is emitted, not when the handler was made (a test's capture,
    a daemon's redirected stream)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def configure(*, json: bool, level: int = logging.INFO) -> None:
    """Send every log record to stderr as JSON (`json`) or as a readable line, scrubbed."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.stdlib.ExtraAdder(),
    ]
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _scrub_event,
            renderer,
        ],
    )
    handler = _StderrHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
