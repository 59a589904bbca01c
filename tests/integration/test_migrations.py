"""Alembic: upgrade head on an empty database, the schema equals the models, downgrade base."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app import import_models
from app.db import Base, make_engine
from app.migrate import downgrade, upgrade

from ..conftest import scratch_database


@pytest.fixture
def empty_database_url(tmp_path):
    with scratch_database(tmp_path, "yshsl_mig") as url:
        yield url


def test_upgrade_matches_models_then_downgrade(empty_database_url):
    import_models()
    upgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            assert set(Base.metadata.tables) <= tables
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
            assert diff == [], f"models and migrations differ: {diff}"
    finally:
        engine.dispose()

    downgrade(empty_database_url)
    engine = make_engine(empty_database_url)
    try:
        with engine.connect() as conn:
            left = set(inspect(conn).get_table_names()) - {"alembic_version"}
            assert left == set()
    finally:
        engine.dispose()
