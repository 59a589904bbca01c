"""Alembic environment: URL from DATABASE_URL (or the embedded default), metadata from app models."""
from __future__ import annotations

from logging.config import fileConfig

from alembic import context

from app import import_models
from app.config import INSTANCE_DIR, Config
from app.db import Base, make_engine

import_models()
target_metadata = Base.metadata

# From the command line (`alembic upgrade head`), show progress; from code (app.migrate), leave the
# caller's logging alone.
if context.config.config_file_name and "database_url" not in context.config.attributes:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    override = context.config.attributes.get("database_url")
    if override:
        return override
    url = Config.from_env().database_url
    if url.startswith("sqlite"):
        INSTANCE_DIR.mkdir(exist_ok=True)
    return url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()  # leave no pooled connections behind


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite", compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
