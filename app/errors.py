"""Domain errors and the one JSON error shape: {"error": code, "message": 中文, "request_id": …}.

The code is stable for clients; the message is Chinese and shown to the user as-is.
"""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, g, jsonify
from sqlalchemy.exc import DataError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: Any = None, status: int | None = None) -> None:
        super().__init__(message or self.message)
        if message:
            self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details

    def to_dict(self) -> dict:
        body = {"error": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return body


class ValidationFailed(AppError):
    status = 422
    code = "validation_failed"
    message = "提交的内容不符合要求"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    message = "请先登录"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "您没有权限进行此操作"


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "内容不存在或您无权查看"


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "操作与当前状态冲突"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "操作太频繁，请稍后再试"


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    message = "服务暂时不可用，请稍后再试"


class DatabaseUnavailable(ServiceUnavailable):
    """The database cannot be reached or dropped the connection (a restart, a failover, a full
    pool). Nothing was written: the request's transaction never committed."""
    code = "database_unavailable"
    message = "数据库暂时无法访问，请稍后重试"


# Seconds a client should wait before retrying after a 503 (a failover or restart takes a few).
RETRY_AFTER_SECONDS = 5


# Chinese messages for the HTTP errors Flask/Werkzeug raise themselves.
_HTTP_MESSAGES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "您没有权限进行此操作"),
    404: ("not_found", "内容不存在或您无权查看"),
    405: ("method_not_allowed", "不支持该请求方式"),
    413: ("payload_too_large", "提交的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("rate_limited", "操作太频繁，请稍后再试"),
}


def error_response(err: AppError):
    body = err.to_dict()
    body["request_id"] = g.get("request_id")
    return jsonify(body), err.status


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(err: AppError):
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        code, message = _HTTP_MESSAGES.get(err.code or 500, ("http_error", "请求失败"))
        body, status = error_response(AppError(message, code=code, status=err.code))
        # werkzeug's own headers (Allow on every 405, WWW-Authenticate, Retry-After) survive.
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                body.headers[name] = value
        return body, status

    @app.errorhandler(OverflowError)
    @app.errorhandler(DataError)
    def _bad_value(err: Exception):
        # Safety net behind the bounds in app/api.py: a value the database cannot hold is the
        # client's mistake (400), not a server error. Nothing was written: the request's
        # session is rolled back on teardown.
        log.warning("value rejected by the database: %s", str(err).splitlines()[0][:200])
        return error_response(AppError("提交的数值超出允许范围", code="value_out_of_range",
                                       status=400))

    @app.errorhandler(PoolTimeout)
    @app.errorhandler(DBAPIError)
    def _database_error(err: Exception):
        # Lost or refused connections (OperationalError, InterfaceError, a disconnect SQLAlchemy
        # recognised) and a full pool are the database being unavailable: 503 with Retry-After,
        # never 500. The session is rolled back on teardown; a disconnect also invalidates the
        # pooled connection, so the next request gets a live one.
        if not (isinstance(err, (OperationalError, InterfaceError, PoolTimeout))
                or getattr(err, "connection_invalidated", False)):
            return _unexpected(err)
        log.warning("database unavailable: %s", str(err).splitlines()[0][:200])
        body, status = error_response(DatabaseUnavailable())
        body.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return body, status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return error_response(AppError("服务器内部错误，请稍后再试", code="internal_error", status=500))
