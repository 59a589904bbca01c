"""Structured (JSON) logs with a request id on every line; nothing personal in logs."""
from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

from flask import Flask, g, has_request_context, request

_REQUEST_ID_OK = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

# Path arguments that are secrets themselves: an upload's key is what makes its URL private.
_SECRET_PATH_ARGS = frozenset({"key"})


def _loggable_path() -> str:
    """The request path with secret path arguments blanked (ids and names stay)."""
    rule, args = request.url_rule, request.view_args or {}
    if rule is None or not _SECRET_PATH_ARGS & args.keys():
        return request.path
    return re.sub(r"<(?:[^>:]+:)?([^>]+)>",
                  lambda m: "***" if m.group(1) in _SECRET_PATH_ARGS else str(args[m.group(1)]),
                  rule.rule)


# PostgreSQL's error DETAIL quotes the row's values ("Key (phone_hash)=(…) already exists",
# "Failing row contains (…)"): personal data. The engine hides bound parameters
# (hide_parameters); this hides what the server itself echoes.
_PG_DETAIL = re.compile(r"^DETAIL:.*$", re.MULTILINE)


def _without_row_values(text: str) -> str:
    return _PG_DETAIL.sub("DETAIL: (hidden: may quote row values)", text)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "msg": _without_row_values(record.getMessage()),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
        extra = getattr(record, "fields", None)
        if isinstance(extra, dict):
            entry.update(extra)
        if record.exc_info:
            entry["exc"] = _without_row_values(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


_URL_LOGGERS = ("urllib3", "requests", "wechatpy")


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    # At DEBUG, urllib3 logs every request line — WeChat's token URL carries the AppSecret and
    # every API URL the access_token. Never below WARNING, whatever LOG_LEVEL says.
    for noisy in _URL_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def install_request_ids(app: Flask) -> None:
    access = logging.getLogger("app.access")

    @app.before_request
    def _assign_request_id():
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if _REQUEST_ID_OK.match(incoming) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def _log_and_echo(response):
        rid = g.get("request_id")
        if rid:
            response.headers["X-Request-ID"] = rid
        started = g.get("request_started")
        if started is not None:
            access.info(
                "request",
                extra={"fields": {
                    "method": request.method,
                    # The query string may carry codes or tokens: not logged.
                    "path": _loggable_path(),
                    "status": response.status_code,
                    "ms": round((time.perf_counter() - started) * 1000, 1),
                }},
            )
        return response
