"""Engines and schema migrations: SQLite by default, PostgreSQL supported.

Alembic is configured in code (no alembic.ini in the working directory), so ``migrate`` works from any cwd and
from the installed package.
"""
from __future__ import annotations

import fcntl
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
# Any constant works; it only has to be the same in every GridWatch process sharing one PostgreSQL database.
PG_MIGRATION_LOCK = 0x6757_0001
IMMEDIATE_OPTION = "gridwatch_sqlite_immediate"


class DatabaseError(RuntimeError):
    """The database could not be opened or migrated; the message names the (password-masked) URL."""


# Whatever a query can raise (connection lost, database locked, a constraint): modules outside the persistence
# layer catch it by this name, so they need not import SQLAlchemy.
QueryError = sa.exc.SQLAlchemyError


def _masked(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _sqlite_file(url: sa.URL) -> Path | None:
    db = url.database
    if not db or db == ":memory:" or db.startswith("file:"):
        return None
    return Path(db)


def _on_sqlite_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
    # pysqlite's own implicit BEGIN runs SELECTs outside any transaction and only begins before the first write,
    # so a read-then-write (dedup: look for a case, then create one) could act on a stale view. SQLAlchemy's
    # "begin" event emits BEGIN itself instead (see _on_sqlite_begin).
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        # WAL lets the dashboard read while the worker writes; foreign keys are off by default in SQLite.
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
    finally:
        cur.close()


def _on_sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at BEGIN (waiting up to busy_timeout), so a write transaction never fails
    # half-way with SQLITE_BUSY_SNAPSHOT after it has read; plain readers keep a deferred BEGIN and never block.
    immediate = conn.get_execution_options().get(IMMEDIATE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction meant to write, committed on success and rolled back on error.

    On SQLite the write lock is taken at the start, so transactions that read and then write are serialised
    across threads and processes; on PostgreSQL it is an ordinary transaction (callers lock rows they update).
    """
    with engine.connect() as conn:
        conn.execution_options(**{IMMEDIATE_OPTION: True})
        with conn.begin():
            yield conn


def make_engine(url: str) -> Engine:
    """An Engine for ``url``; for a SQLite file: its folder created, WAL, foreign keys on, a busy timeout."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = _sqlite_file(parsed)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        sa.event.listen(engine, "connect", _on_sqlite_connect)
        sa.event.listen(engine, "begin", _on_sqlite_begin)
        return engine
    # pre_ping: a PostgreSQL restart must not turn the next alert into an error.
    return sa.create_engine(parsed, pool_pre_ping=True)


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    return cfg


@contextmanager
def _sqlite_migration_lock(engine: Engine) -> Iterator[None]:
    """Serialise migrations of one SQLite file across processes (the worker and the dashboard start together)."""
    path = _sqlite_file(engine.url) if engine.dialect.name == "sqlite" else None
    if path is None:
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    with open(lock_path, "a+b") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def migrate(url_or_engine: str | Engine) -> None:
    """Bring the schema to the newest revision (alembic ``upgrade head``); safe to call at every start."""
    own = isinstance(url_or_engine, str)
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    cfg = alembic_config()
    try:
        with _sqlite_migration_lock(engine), engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # Two processes starting at once must not both create the tables.
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_MIGRATION_LOCK})
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        log.info("database %s migrated to head", _masked(engine))
    except sa.exc.SQLAlchemyError as exc:
        raise DatabaseError(f"migrating database {_masked(engine)} failed: {exc}") from exc
    finally:
        if own:
            engine.dispose()
