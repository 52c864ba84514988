"""Schema migrations: run from any folder, on SQLite and PostgreSQL, idempotent, and equal to the models."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alerts.db import alembic_config, make_engine, migrate
from alerts.models import Base


def test_migrate_creates_the_schema_from_any_folder_and_is_idempotent(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No alembic.ini here: the migrations must be found from the package alone.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    migrate(db_url)
    migrate(db_url)  # every process start calls it again
    engine = make_engine(db_url)
    try:
        tables = set(sa.inspect(engine).get_table_names())
        assert {"grids", "alerts", "alembic_version"} <= tables
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        with engine.connect() as conn:
            assert MigrationContext.configure(conn).get_current_revision() == head
            # The models and the hand-written migration describe the same schema.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    finally:
        engine.dispose()


def test_sqlite_engine_creates_its_folder_and_uses_wal_with_foreign_keys(tmp_path: Path) -> None:
    db_file = tmp_path / "new" / "folder" / "gw.db"
    engine = make_engine(f"sqlite:///{db_file}")
    try:
        assert db_file.parent.is_dir()
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0) >= 1000
    finally:
        engine.dispose()
