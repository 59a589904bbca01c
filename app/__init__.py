"""The Flask application factory."""
from __future__ import annotations

from flask import Flask

from .config import Config

# Blueprints, by import path; each feature adds its line here.
BLUEPRINTS = [
    "app.health.routes:bp",
    "app.docs.routes:bp",
    "app.org.routes:bp",
    "app.notify.routes:bp",
    "app.auth.routes:bp",
    "app.topics.routes:bp",
    "app.suggestions.listing:bp",
    "app.suggestions.routes:bp",
    "app.suggestions.vote_routes:bp",
    "app.suggestions.trail_routes:bp",
    "app.followup.results_routes:bp",
    "app.suggestions.comment_routes:bp",
    "app.audit.routes:bp",
    "app.consultations.routes:bp",
    "app.consultations.meeting_routes:bp",
    "app.consultations.checkin_routes:bp",
    "app.consultations.opinion_routes:bp",
    "app.consultations.report_routes:bp",
    "app.followup.feedback_routes:bp",
    "app.followup.decision_routes:bp",
    "app.evaluation.routes:bp",
    "app.followup.handling_routes:bp",
    "app.followup.supervision_routes:bp",
    "app.chat.routes:bp",
    "bots.webhook:bp",
    "bots.sandbox:bp",
    "app.auth.sandbox_routes:bp",
]


def _import(path: str):
    import importlib

    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


def import_models() -> None:
    """Import every models module so the metadata is complete (Alembic, create_all)."""
    from .audit import models as _audit  # noqa: F401
    from .auth import models as _auth  # noqa: F401
    from .org import models as _org  # noqa: F401
    from .notify import models as _notify  # noqa: F401
    from .topics import models as _topics  # noqa: F401
    from .suggestions import models as _suggestions  # noqa: F401
    from .consultations import models as _consultations  # noqa: F401
    from . import idempotency as _idempotency  # noqa: F401
    from .chat import models as _chat  # noqa: F401
    from .followup import models as _followup  # noqa: F401
    from .followup import feedback_models as _feedback  # noqa: F401

    from .evaluation import models as _evaluation  # noqa: F401


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    from .config import INSTANCE_DIR

    app = Flask(__name__, instance_path=str(INSTANCE_DIR))
    app.config["APP"] = config
    app.config["SECRET_KEY"] = config.secret_key
    app.config["TESTING"] = config.testing
    app.config["MAX_CONTENT_LENGTH"] = 10 * 1024 * 1024
    app.json.ensure_ascii = False
    app.json.sort_keys = False

    from .crypto import PersonalDataCipher
    from .db import Database
    from .errors import register_error_handlers
    from .logs import configure_logging, install_request_ids
    from .redis_client import init_redis

    configure_logging(config.log_level)
    import_models()
    Database().init_app(app)
    init_redis(app)
    app.extensions["cipher"] = PersonalDataCipher(config)
    if config.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = config.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    install_request_ids(app)
    register_error_handlers(app)
    from .security_headers import install_security_headers
    install_security_headers(app)

    from .wechat import init_wechat
    init_wechat(app)

    from .api import BoundedIntConverter
    app.url_map.converters["int"] = BoundedIntConverter
    for path in BLUEPRINTS:
        app.register_blueprint(_import(path))

    from .cli import register_cli
    register_cli(app)
    return app
