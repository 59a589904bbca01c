"""The OpenAPI document and a readable API page (no external scripts: works offline)."""
from __future__ import annotations

from flask import Blueprint, jsonify, render_template_string

from ..api import openapi_document

bp = Blueprint("docs", __name__)

TITLE = "有事好商量 协商议事平台 API"
VERSION = "0.1.0"


@bp.get("/api/openapi.json")
def openapi_json():
    return jsonify(openapi_document(TITLE, VERSION))


_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style nonce="{{ csp_nonce() }}">
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.5em} h2{font-size:1.15em;margin-top:2em;border-bottom:1px solid #ddd}
.op{margin:.8em 0;padding:.6em .8em;border:1px solid #e3e3e3;border-radius:6px}
.m{display:inline-block;min-width:4em;font-weight:bold;text-transform:uppercase}
.get{color:#0a6} .post{color:#06c} .put,.patch{color:#a60} .delete{color:#c00}
code{background:#f5f5f5;padding:0 .3em} .perm{color:#666;font-size:.9em}
</style></head><body>
<h1>{{ title }}</h1>
<p>机器可读的 OpenAPI 3 文档：<a href="/api/openapi.json"><code>/api/openapi.json</code></a>。
错误统一返回 <code>{"error": 错误代码, "message": 中文提示, "request_id": 请求编号}</code>。
小程序请求在 <code>Authorization: Bearer 令牌</code> 中携带登录令牌。</p>
{% for tag, ops in groups %}
<h2>{{ tag }}</h2>
{% for path, method, op in ops %}
<div class="op"><span class="m {{ method }}">{{ method }}</span> <code>{{ path }}</code> — {{ op.summary }}
{% if op.get('x-permission') %}<div class="perm">权限：{{ op['x-permission'] }}</div>{% else %}<div class="perm">公开</div>{% endif %}
{% if op.description %}<div>{{ op.description }}</div>{% endif %}
</div>
{% endfor %}{% endfor %}
</body></html>"""


@bp.get("/api/docs")
def docs_page():
    doc = openapi_document(TITLE, VERSION)
    groups: dict[str, list] = {}
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            groups.setdefault((op.get("tags") or ["其他"])[0], []).append((path, method, op))
    return render_template_string(_PAGE, title=TITLE, groups=sorted(groups.items()))
