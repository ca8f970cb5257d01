"""sidecar: structured logs for `birdgen run` (--log-format text|json).

Place in the pipeline: beside it. Every record goes to stderr, one line each. Fields passed as
`extra={"event": ..., "cause": ...}` become JSON keys (or `key=value` pairs in text). What is
logged is chosen so that no secret reaches the log: messages name objects and fields, Password
values print redacted, and the rendered config text (which holds BGP passwords) is never logged.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO

# Keys of `extra` that are copied into the output; anything else in a record is ignored.
FIELDS = ("event", "cause", "summary", "resource", "prefixes", "count")


def _fields(record: logging.LogRecord) -> dict[str, str]:
    return {
        k: str(getattr(record, k)) for k in FIELDS if getattr(record, k, None) not in (None, "")
    }


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, str] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        return f"{text} [{extras}]" if extras else text


def setup(
    log_format: str = "text", level: int = logging.INFO, stream: IO[str] | None = None
) -> None:
    """Route every `birdgen.*` logger to one stderr handler with the chosen format."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger("birdgen")
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
