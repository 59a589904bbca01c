"""Database access: one engine per app, one session per request / job / CLI command.

Services take a session and never commit; the entry point (request, chat message, job) commits
once. Outside a request use `session_scope()`.
"""
from __future__ import annotations

import contextlib
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Iterator

from flask import current_app, g, has_app_context
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# The demo city's story (app/org/demo_followthrough.py) is written through the real services as
# of past days, so every row they stamp (audit, outbox, timeline, tracks) reads as it would have
# then. Only `story_clock` sets it, for the length of a `with`; None (always, outside the demo
# seed) is the wall clock.
_story_now: ContextVar[datetime | None] = ContextVar("story_now", default=None)


def utcnow() -> datetime:
    at = _story_now.get()
    return at if at is not None else datetime.now(timezone.utc)


@contextlib.contextmanager
def story_clock(at: datetime) -> Iterator[None]:
    """utcnow() (and org.services.today_local) answer `at` inside the block, in this thread or
    task only. For seeding demo history; never in a request, job or chat handler."""
    if at.tzinfo is None:
        raise ValueError("story_clock needs an aware datetime")
    token = _story_now.set(at.astimezone(timezone.utc))
    try:
        yield
    finally:
        _story_now.reset(token)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use UTC-aware datetimes")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def make_engine(url: str) -> Engine:
    # hide_parameters: an error's text (logged) never carries the bound values — phone hashes,
    # ciphertexts, token hashes (issue 10 #14; nothing personal in logs).
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                               hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         hide_parameters=True)


class Database:
    """Holds the engine and session factory of one app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.factory: sessionmaker[Session] | None = None

    def init_app(self, app) -> None:
        self.engine = make_engine(app.config["APP"].database_url)
        self.factory = sessionmaker(bind=self.engine, expire_on_commit=False)
        app.extensions["db"] = self

        def _close(exc):
            session = g.pop("db_session", None)
            if session is not None:
                if exc is not None:
                    session.rollback()
                session.close()

        # A request closes its session when it ends, even when it ran inside an app context
        # that stays open (a CLI command or a test); plain app contexts close theirs on exit.
        app.teardown_request(_close)
        app.teardown_appcontext(_close)

    def new_session(self) -> Session:
        assert self.factory is not None, "Database not initialised"
        return self.factory()

    @contextlib.contextmanager
    def session_scope(self) -> Iterator[Session]:
        """A session for jobs and commands: commit on success, roll back on error."""
        session = self.new_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def get_db() -> Database:
    return current_app.extensions["db"]


def get_session() -> Session:
    """The session of the current request or app context (created on first use)."""
    if not has_app_context():
        raise RuntimeError("get_session() needs an app context; use Database.session_scope()")
    session = g.get("db_session")
    if session is None:
        session = get_db().new_session()
        g.db_session = session
    return session


def contains_literally(column, text: str):
    """`column LIKE '%text%'` with the text taken literally: a search for "_" or "%" finds those
    characters, never every row (the one way a search term reaches SQL; issue 10 #11)."""
    return column.contains(text, autoescape=True)


def insert_ignoring_duplicate(session: Session, table, values: dict,
                              unique_columns: list[str]) -> bool:
    """INSERT … ON CONFLICT (unique_columns) DO NOTHING in the caller's transaction; True when
    this call inserted the row. The database's UNIQUE constraint decides between concurrent
    callers (one vote per person, one follow, one idempotency claim), never a read first."""
    dialect = session.get_bind().dialect.name
    if dialect in ("postgresql", "sqlite"):
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        pk = list(table.primary_key.columns)[0]
        stmt = insert(table).values(**values).on_conflict_do_nothing(
            index_elements=unique_columns).returning(pk)
        # A row comes back only when inserted (not rowcount: psycopg reports -1 with RETURNING).
        return session.execute(stmt).first() is not None
    try:  # pragma: no cover - portable fallback for other databases
        with session.begin_nested():
            session.execute(table.insert().values(**values))
        return True
    except IntegrityError:  # pragma: no cover
        return False
