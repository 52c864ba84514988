"""Users on SQLite and PostgreSQL: hashed passwords, roles, grid scopes, the first admin and the demo users."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.repository import Repository
from alerts.users import DEMO_USERS, UserError, UserStore
from alerts.workflow import Role
from geo.grids import GridFeature


@pytest.fixture()
def store(engine: Engine, repo: Repository, demo_features: list[GridFeature]) -> UserStore:
    repo.replace_grids(demo_features)
    return UserStore(engine)


def test_a_password_is_stored_only_as_a_hash_and_checked_at_login(store: UserStore, engine: Engine) -> None:
    store.add("li.ming", "correct horse", Role.OPERATOR, display_name="李明")
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username = 'li.ming'")).scalar_one()
    assert "correct horse" not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    user = store.authenticate("li.ming", "correct horse")
    assert user is not None and user.role == Role.OPERATOR and user.display_name == "李明"
    assert store.authenticate("li.ming", "wrong horse") is None
    assert store.authenticate("nobody", "correct horse") is None
    again = store.get("li.ming")
    assert again is not None and again.last_login_at is not None


def test_a_changed_password_or_a_deactivated_user_no_longer_logs_in(store: UserStore) -> None:
    first = store.add("zhang", "first-password", Role.GRID_STAFF, scope_grid="410105001001")
    store.set_password("zhang", "second-password")
    changed = store.get("zhang")
    assert changed is not None and changed.password_changed_at > first.password_changed_at
    assert store.authenticate("zhang", "first-password") is None
    assert store.authenticate("zhang", "second-password") is not None
    store.update("zhang", active=False)
    assert store.authenticate("zhang", "second-password") is None


def test_bad_users_are_refused_with_the_field_named(store: UserStore) -> None:
    with pytest.raises(UserError, match="scope grid"):
        store.add("far", "long-enough", Role.GRID_STAFF, scope_grid="999999999")
    with pytest.raises(UserError, match="role"):
        store.add("robot", "long-enough", "system")
    with pytest.raises(UserError, match="password"):
        store.add("short", "1234", Role.OPERATOR)
    with pytest.raises(UserError, match="department"):
        store.add("dept", "long-enough", Role.DEPARTMENT, department="nowhere")
    store.add("dept", "long-enough", Role.DEPARTMENT, department="urban_management")
    with pytest.raises(UserError, match="exists"):
        store.add("dept", "long-enough", Role.DEPARTMENT)
    assert [u.username for u in store.all()] == ["dept"]


def test_the_first_start_makes_one_admin_and_later_starts_none(store: UserStore) -> None:
    generated = store.ensure_admin(None)
    assert generated is not None and len(generated) >= 12
    admin = store.authenticate("admin", generated)
    assert admin is not None and admin.role == Role.ADMIN and admin.scope_grid is None
    assert store.ensure_admin(None) is None  # users exist: nothing new, no password shown again
    assert store.count() == 1


def test_the_demo_users_log_in_with_the_documented_passwords(store: UserStore) -> None:
    assert store.ensure_admin("given-password") is None
    assert sorted(store.seed_demo()) == sorted(u.username for u in DEMO_USERS)
    assert store.seed_demo() == []
    for u in DEMO_USERS:
        user = store.authenticate(u.username, u.password)
        assert user is not None and user.role == u.role and user.scope_grid == u.scope_grid
