"""Declared API endpoints: pydantic request/response models, validation in Chinese, OpenAPI 3.

Usage in a feature's routes.py:

    @endpoint(bp, "/platforms/<int:platform_id>", summary="平台详情", tags=["平台"],
              response=PlatformPublic, auth=None)
    def platform_detail(platform_id: int): ...

`query=` and `body=` models are parsed and passed to the view as keyword arguments `query` and
`body`. The view returns a model (serialised as JSON), a `(model, status)` pair, or a Flask
response. `auth=None` is public; any other value is handed to `app.auth.permissions.authorize`
before the view runs (a login requirement or a permission action name).
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema
from werkzeug.routing import IntegerConverter

from .crypto import mask_public
from .errors import AppError, ValidationFailed

_RULE_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")

# Chinese wording of pydantic's error types (anything else: "格式不正确").
_PYDANTIC_MESSAGES = {
    "missing": "必填",
    "string_too_short": "内容太短",
    "string_too_long": "内容过长",
    "too_short": "数量不足",
    "too_long": "数量过多",
    "int_parsing": "应为整数",
    "int_type": "应为整数",
    "float_parsing": "应为数字",
    "float_type": "应为数字",
    "bool_parsing": "应为是或否",
    "bool_type": "应为是或否",
    "string_type": "应为文字",
    "greater_than": "数值过小",
    "greater_than_equal": "数值过小",
    "less_than": "数值过大",
    "less_than_equal": "数值过大",
    "literal_error": "取值不在允许范围内",
    "enum": "取值不在允许范围内",
    "extra_forbidden": "不支持该字段",
    "string_pattern_mismatch": "格式不正确",
    "date_from_datetime_parsing": "日期格式不正确",
    "date_parsing": "日期格式不正确",
    "datetime_parsing": "时间格式不正确",
    "datetime_type": "时间格式不正确",
    "date_type": "日期格式不正确",
    "model_type": "应为对象",
    "dict_type": "应为对象",
    "list_type": "应为列表",
    "value_error": "格式不正确",
}


def validation_details(exc: ValidationError) -> list[dict]:
    details = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        ctx = err.get("ctx") or {}
        message = _PYDANTIC_MESSAGES.get(err["type"], "格式不正确")
        if err["type"] == "string_too_long" and "max_length" in ctx:
            message = f"内容过长（最多 {ctx['max_length']} 字）"
        elif err["type"] == "value_error" and ctx.get("error"):
            # Our own validators raise ValueError with a Chinese message.
            message = str(ctx["error"])
        details.append({"field": where, "message": message})
    return details


# Every integer column is a 32-bit INTEGER; no id, page or count a client sends may exceed it
# (SQLite would raise OverflowError, PostgreSQL "out of range" — both a 500 without this bound).
MAX_INT = 2**31 - 1


def _refused_value(value: Any, where: str) -> tuple[str, str] | None:
    """The first value no column can take, as (field, message): an integer beyond MAX_INT, or a
    string holding a NUL (PostgreSQL refuses it, SQLite would store it)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return (where, "数值过大") if abs(value) > MAX_INT else None
    if isinstance(value, str):
        return (where, "不能包含空字符") if "\x00" in value else None
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple, set)):
        items = enumerate(value)
    else:
        return None
    for key, item in items:
        found = _refused_value(item, f"{where}.{key}" if where else str(key))
        if found:
            return found
    return None


def _at_most_regex(limit: int) -> str:
    """A regex for the decimal numbers 0…limit (leading zeros allowed within limit's length)."""
    digits = str(limit)
    alternatives = [rf"\d{{1,{len(digits) - 1}}}"] if len(digits) > 1 else []
    for i, d in enumerate(digits):
        if d != "0":
            rest = len(digits) - i - 1
            alternatives.append(digits[:i] + f"[0-{int(d) - 1}]" + (rf"\d{{{rest}}}" if rest else ""))
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class BoundedIntConverter(IntegerConverter):
    """`<int:…>` in every route: a path id above MAX_INT matches nothing (404), never reaching
    the database. Installed by create_app before the blueprints.

    The bound is in the regex, not only in `max`: werkzeug checks `max` after it has chosen a
    rule, and a refusal there reports the other rules at that path as a 405 (issue 10 #12)."""

    regex = _at_most_regex(MAX_INT)

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (werkzeug's name)
        kwargs.setdefault("max", MAX_INT)
        super().__init__(map, *args, **kwargs)


def _fail(details: list[dict]) -> ValidationFailed:
    first = details[0] if details else {"field": "", "message": "格式不正确"}
    return ValidationFailed(
        f"{first['field']}：{first['message']}" if first["field"] else first["message"],
        details=details,
    )


def parse_model(model: type[BaseModel], data: Any, *, strict: bool = False) -> BaseModel:
    """Validate `data` (a query's strings: lax, "3" is 3; a JSON body: `strict=True`, where a
    value must already have its type — "yes" is not true, "3" is not 3 — while JSON's own
    spellings stay valid: ISO 8601 times and dates, enum values)."""
    try:
        if strict:
            parsed = model.model_validate_json(json.dumps(data), strict=True)
        else:
            parsed = model.model_validate(data)
    except ValidationError as exc:
        raise _fail(validation_details(exc)) from None
    refused = _refused_value(parsed.model_dump(), "")
    if refused:
        raise _fail([{"field": refused[0], "message": refused[1]}])
    return parsed


@dataclass
class Operation:
    rule: str
    method: str
    summary: str
    tags: list[str]
    query: type[BaseModel] | None
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    auth: str | None
    description: str = ""
    also: tuple[int, ...] = ()
    produces: str | None = None
    files: tuple[str, ...] = ()
    idempotency_key: bool = False
    conditional: bool = False
    path_params: dict[str, str] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def _query_data(model: type[BaseModel]) -> dict:
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        annotation = model.model_fields.get(key)
        is_list = annotation is not None and "list" in str(annotation.annotation).lower()
        data[key] = values if is_list else values[-1]
    return data


def endpoint(bp: Blueprint, rule: str, *, methods: tuple[str, ...] = ("GET",), summary: str,
             tags: list[str], query: type[BaseModel] | None = None,
             body: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
             status: int = 200, auth: str | None = "login", description: str = "",
             also: tuple[int, ...] = (), produces: str | None = None,
             files: tuple[str, ...] = (), conditional: bool = False) -> Callable:
    """`also`: other success statuses the view may answer with the same `response` model (e.g. 200
    for a repeated create); `produces`: the media type(s), comma-separated, of a file the view
    returns instead of JSON; `files`: the multipart/form-data file fields the view reads;
    `conditional`: the view answers 304 to If-None-Match / If-Modified-Since."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(**kwargs):
            if auth is not None:
                from .auth.permissions import authorize

                authorize(auth)
            if query is not None:
                kwargs["query"] = parse_model(query, _query_data(query))
            if body is not None:
                payload = request.get_json(silent=True)
                if not isinstance(payload, dict):
                    raise AppError("请求内容应为 JSON 对象", code="invalid_json", status=400)
                kwargs["body"] = parse_model(body, payload, strict=True)
            result = view(**kwargs)
            return _to_response(result, status, public=auth is None)

        prefix = bp.url_prefix or ""
        full_rule = prefix + rule
        params = {name: (conv or "string") for conv, name in _RULE_PARAM.findall(full_rule)}
        for method in methods:
            OPERATIONS.append(Operation(
                rule=full_rule, method=method.lower(), summary=summary, tags=tags, query=query,
                body=body, response=response, status=status, auth=auth,
                description=description or (view.__doc__ or "").strip(), path_params=params,
                also=tuple(also), produces=produces, files=tuple(files),
                idempotency_key=getattr(view, "honours_idempotency_key", False),
                conditional=conditional,
            ))
        bp.add_url_rule(rule, view.__name__, wrapper, methods=list(methods))
        return wrapper

    return decorate


def _to_response(result: Any, default_status: int, *, public: bool = False):
    """A public (no-login) answer never carries a phone or ID-card number, whatever a user
    wrote into a title, reason or comment (issue 10 #9). A view answering with its own
    Response (a cached page, a file) masks what it serves itself."""
    status = default_status
    if isinstance(result, tuple):
        result, status = result
    if isinstance(result, Response):
        return result
    if isinstance(result, BaseModel):
        result = result.model_dump(mode="json")
    return jsonify(mask_public(result) if public else result), status


DOWNLOAD_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".ics": "text/calendar",
}


def download(data: bytes | str, filename: str) -> Response:
    """A file to save (Word, Excel, calendar); the Chinese file name survives (RFC 5987)."""
    from urllib.parse import quote

    mimetype = next(t for ext, t in DOWNLOAD_TYPES.items() if filename.endswith(ext))
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"})


def _success(op: Operation) -> dict:
    if op.produces:
        return {"description": "成功（文件）", "content": {
            media: {"schema": {"type": "string", "format": "binary"}}
            for media in op.produces.split(",")}}
    if op.response is None:
        return {"description": "成功"}
    return {"description": "成功", "content": {"application/json": {"schema": {
        "$ref": f"#/components/schemas/{op.response.__name__}"}}}}


_NULL = {"type": "null"}


def _openapi30(node: Any, *, in_query: bool = False) -> Any:
    """pydantic's JSON Schema (draft 2020-12) in the OpenAPI 3.0.3 dialect: `nullable` instead
    of a `null` branch, boolean `exclusiveMinimum`/`exclusiveMaximum`, `enum` instead of
    `const`, one `example`. A query parameter is never null (absent instead)."""
    if isinstance(node, list):
        return [_openapi30(item, in_query=in_query) for item in node]
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in ("anyOf", "oneOf"):
        branches = out.get(key)
        if not branches or _NULL not in branches:
            continue
        rest = [b for b in branches if b != _NULL]
        del out[key]
        if not in_query:
            out["nullable"] = True
        elif out.get("default", 0) is None:
            del out["default"]
        if len(rest) > 1:
            out[key] = rest
        elif "$ref" in rest[0]:
            out["allOf"] = rest  # 3.0 ignores the siblings of a $ref
        else:
            out = {**rest[0], **out}
    for key, value in out.items():
        if key in ("properties", "patternProperties", "$defs"):  # names → schemas
            out[key] = {name: _openapi30(v, in_query=in_query) for name, v in value.items()}
        elif key not in ("default", "example", "examples", "enum", "const"):
            out[key] = _openapi30(value, in_query=in_query)
    if out.get("type") == "null":
        del out["type"]
        out["nullable"] = True
    if "const" in out:
        out["enum"] = [out.pop("const")]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = out.get(bound)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[limit] = value
            out[bound] = True
    if isinstance(out.get("examples"), list):
        examples = out.pop("examples")
        if examples:
            out["example"] = examples[0]
    return out


def openapi_document(title: str, version: str) -> dict:
    models: set[type[BaseModel]] = set()
    for op in OPERATIONS:
        for m in (op.body, op.response):
            if m is not None:
                models.add(m)
    ordered = sorted(models, key=lambda m: m.__name__)
    _, defs = models_json_schema(
        [(m, "validation") for m in ordered], ref_template="#/components/schemas/{model}"
    )
    schemas = {name: _openapi30(schema) for name, schema in defs.get("$defs", {}).items()}

    paths: dict[str, dict] = {}
    for op in OPERATIONS:
        path = _RULE_PARAM.sub(lambda m: "{" + m.group(2) + "}", op.rule)
        item: dict[str, Any] = {
            "summary": op.summary,
            "tags": op.tags,
            "operationId": f"{op.method}_{re.sub(r'[^a-zA-Z0-9]+', '_', path).strip('_')}",
            "responses": {
                **{str(code): _success(op) for code in (op.status, *op.also)},
                **({"304": {"description": "未改变（条件请求，沿用已缓存的内容）"}}
                   if op.conditional else {}),
                "default": {"description": "错误", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Error"}}}},
            },
        }
        if op.description:
            item["description"] = op.description
        parameters = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "integer" if conv == "int" else "string"}}
            for name, conv in op.path_params.items()
        ]
        if op.idempotency_key:
            parameters.append({
                "name": "Idempotency-Key", "in": "header", "required": False,
                "description": "防止重复提交：同一登录用户 24 小时内用同一个值重发时返回第一次的结果",
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$",
                           "minLength": 1, "maxLength": 64}})
        if op.query is not None:
            qschema = op.query.model_json_schema(ref_template="#/components/schemas/{model}")
            required = set(qschema.get("required", []))
            for name, prop in qschema.get("properties", {}).items():
                prop = _openapi30(prop, in_query=True)
                param = {"name": name, "in": "query", "required": name in required,
                         "schema": prop}
                if "description" in prop:
                    param["description"] = prop["description"]
                parameters.append(param)
        if parameters:
            item["parameters"] = parameters
        if op.files:
            item["requestBody"] = {"required": True, "content": {"multipart/form-data": {
                "schema": {"type": "object", "required": list(op.files), "properties": {
                    name: {"type": "string", "format": "binary"} for name in op.files}}}}}
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}}}
        if op.auth is not None:
            item["security"] = [{"bearerToken": []}, {"staffSession": []}]
            item["x-permission"] = op.auth
        paths.setdefault(path, {})[op.method] = item

    schemas["Error"] = {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {"type": "string", "description": "稳定的错误代码"},
            "message": {"type": "string", "description": "中文提示，可直接展示给用户"},
            "request_id": {"type": "string"},
            "details": {"type": "array", "description": "逐项说明（多为 422 参数校验失败）",
                        "items": {"type": "object", "required": ["field", "message"],
                                  "properties": {
                                      "field": {"type": "string", "description": "出错的字段"},
                                      "message": {"type": "string",
                                                  "description": "中文说明"}}}},
        },
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearerToken": {"type": "http", "scheme": "bearer",
                                "description": "小程序登录后获得的会话令牌"},
                "staffSession": {"type": "apiKey", "in": "cookie", "name": "staff_session",
                                 "description": "工作人员控制台登录会话"},
            },
        },
    }
