"""Alembic environment for GridWatch, configured from code (see alerts.db.migrate).

The caller hands over an open connection in ``config.attributes["connection"]``; without one (the plain
``alembic`` command) the URL comes from ``sqlalchemy.url`` or the GridWatch settings.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from alerts.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from alerts.db import make_engine

    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from gridwatch.settings import load_settings

        url = load_settings().effective_database_url
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("GridWatch migrations run online only: use `gridwatch migrate`")
run_migrations_online()
