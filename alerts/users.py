"""The people who log in: username, role, grid scope, department, and a password hash (werkzeug.security).

Only this module reads or writes the ``users`` table. Passwords are never stored or logged; a login compares
against the hash, and an unknown name costs the same hash check so timing does not tell names apart.
"""
from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from werkzeug.security import check_password_hash, generate_password_hash

from alerts.models import DepartmentRow, GridRow, UserRow, utc_now
from alerts.workflow import Role

log = logging.getLogger(__name__)

_USERS = cast(sa.Table, UserRow.__table__)
_GRIDS = cast(sa.Table, GridRow.__table__)
_DEPARTMENTS = cast(sa.Table, DepartmentRow.__table__)

USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 256
LOGIN_ROLES: tuple[Role, ...] = tuple(r for r in Role if r != Role.SYSTEM)
ADMIN_USERNAME = "admin"
# Compared against when a name is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("gridwatch-no-such-user")


class UserError(ValueError):
    """A user that cannot be added or changed as asked; the message names the field."""


class UnknownUserError(UserError, LookupError):
    pass


@dataclass(frozen=True, slots=True)
class User:
    username: str
    display_name: str
    role: Role
    scope_grid: str | None  # None: the whole territory
    department: str | None
    active: bool
    created_at: datetime
    password_changed_at: datetime
    last_login_at: datetime | None


@dataclass(frozen=True, slots=True)
class DemoUser:
    username: str
    display_name: str
    role: Role
    scope_grid: str | None
    password: str


# The demo map's Weiwulu community and its first grid (alerts/data/demo_grids.geojson). Demo only: README
# tells every deployment to leave demo.enabled off.
DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("operator", "值班员 李明", Role.OPERATOR, None, "operator-demo"),
    DemoUser("supervisor", "值班长 王强", Role.SUPERVISOR, None, "supervisor-demo"),
    DemoUser("grid", "网格员 张伟", Role.GRID_STAFF, "410105001001", "grid-demo"),
)


def _user(row: Any) -> User:
    return User(
        username=row.username, display_name=row.display_name, role=Role(row.role), scope_grid=row.scope_grid,
        department=row.department, active=bool(row.active), created_at=row.created_at,
        password_changed_at=row.password_changed_at, last_login_at=row.last_login_at,
    )


def _check_password(password: str) -> None:
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise UserError(f"a password needs {MIN_PASSWORD}..{MAX_PASSWORD} characters, got {len(password)}")


def _check_role(role: Role | str) -> Role:
    try:
        r = Role(role)
    except ValueError:
        raise UserError(f"unknown role {role!r}; one of {', '.join(LOGIN_ROLES)}") from None
    if r not in LOGIN_ROLES:
        raise UserError(f"role {r} is GridWatch itself; people are one of {', '.join(LOGIN_ROLES)}")
    return r


def generate_password() -> str:
    return secrets.token_urlsafe(12)


class UserStore:
    """Users on SQLite or PostgreSQL; every method is its own short transaction (safe to share across threads)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def _check_refs(self, conn: Connection, scope_grid: str | None, department: str | None) -> None:
        if scope_grid is not None:
            if conn.execute(sa.select(_GRIDS.c.code).where(_GRIDS.c.code == scope_grid)).first() is None:
                raise UserError(f"scope grid {scope_grid!r} is not in the grid map")
        if department is not None:
            known = conn.execute(sa.select(_DEPARTMENTS.c.code).where(_DEPARTMENTS.c.code == department)).first()
            if known is None:
                raise UserError(f"unknown department {department!r}")

    def add(
        self, username: str, password: str, role: Role | str, *, display_name: str | None = None,
        scope_grid: str | None = None, department: str | None = None,
    ) -> User:
        if not USERNAME_PATTERN.match(username):
            raise UserError(f"username {username!r}: 2..64 letters, digits, '.', '_' or '-', starting with one of "
                            "the first two")
        r = _check_role(role)
        _check_password(password)
        name = (display_name or username).strip()
        if not name or len(name) > 100:
            raise UserError("display name must be 1..100 characters")
        now = utc_now()
        with self._engine.begin() as conn:
            self._check_refs(conn, scope_grid, department)
            if conn.execute(sa.select(_USERS.c.username).where(_USERS.c.username == username)).first() is not None:
                raise UserError(f"user {username!r} exists already")
            conn.execute(sa.insert(_USERS).values(
                username=username, display_name=name, password_hash=generate_password_hash(password), role=r.value,
                scope_grid=scope_grid, department=department, active=True, created_at=now,
                password_changed_at=now,
            ))
        log.info("user %s added (role %s, scope %s)", username, r, scope_grid or "whole territory")
        user = self.get(username)
        assert user is not None
        return user

    def get(self, username: str) -> User | None:
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_USERS).where(_USERS.c.username == username)).first()
        return None if row is None else _user(row)

    def all(self) -> list[User]:
        with self._engine.connect() as conn:
            return [_user(r) for r in conn.execute(sa.select(_USERS).order_by(_USERS.c.username))]

    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(_USERS)).scalar_one())

    def set_password(self, username: str, password: str) -> None:
        _check_password(password)
        self._update(username, password_hash=generate_password_hash(password), password_changed_at=utc_now())
        log.info("password of user %s changed", username)

    def update(
        self, username: str, *, display_name: str | None = None, role: Role | str | None = None,
        scope_grid: str | None = None, clear_scope: bool = False, department: str | None = None,
        clear_department: bool = False, active: bool | None = None,
    ) -> User:
        """Change what is given; ``clear_scope`` widens the user to the whole territory."""
        values: dict[str, Any] = {}
        if display_name is not None:
            if not display_name.strip() or len(display_name) > 100:
                raise UserError("display name must be 1..100 characters")
            values["display_name"] = display_name.strip()
        if role is not None:
            values["role"] = _check_role(role).value
        if scope_grid is not None or clear_scope:
            values["scope_grid"] = None if clear_scope else scope_grid
        if department is not None or clear_department:
            values["department"] = None if clear_department else department
        if active is not None:
            values["active"] = active
        with self._engine.begin() as conn:
            self._check_refs(conn, values.get("scope_grid"), values.get("department"))
        if values:
            self._update(username, **values)
        user = self.get(username)
        if user is None:
            raise UnknownUserError(f"no user {username!r}")
        return user

    def _update(self, username: str, **values: Any) -> None:
        with self._engine.begin() as conn:
            done = conn.execute(
                sa.update(_USERS).where(_USERS.c.username == username).values(**values).returning(_USERS.c.username)
            ).first()
        if done is None:
            raise UnknownUserError(f"no user {username!r}")

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the name and password match an active user (the login is recorded), else None."""
        if len(password) > MAX_PASSWORD:
            return None
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(_USERS).where(_USERS.c.username == username)).first()
        if row is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        if not check_password_hash(row.password_hash, password) or not row.active:
            return None
        with self._engine.begin() as conn:
            conn.execute(sa.update(_USERS).where(_USERS.c.username == username).values(last_login_at=utc_now()))
        return _user(row)

    # --- first start -------------------------------------------------------------------------------------------

    def ensure_admin(self, password: str | None) -> str | None:
        """With no users at all, create ``admin``: with ``password``, or a generated one that is returned (the
        caller shows it once). None when users exist already or the password was given."""
        if self.count() > 0:
            return None
        chosen = password or generate_password()
        try:
            self.add(ADMIN_USERNAME, chosen, Role.ADMIN, display_name="管理员 Administrator")
        except UserError:
            if self.get(ADMIN_USERNAME) is not None:  # another process created it at the same moment
                return None
            raise
        return None if password else chosen

    def seed_demo(self, users: Sequence[DemoUser] = DEMO_USERS) -> list[str]:
        """Add the demo users that are missing (scopes outside the current map are left out); their names."""
        added: list[str] = []
        for u in users:
            if self.get(u.username) is not None:
                continue
            try:
                self.add(u.username, u.password, u.role, display_name=u.display_name, scope_grid=u.scope_grid)
            except UserError as exc:
                log.info("demo user %s not added: %s", u.username, exc)
                continue
            added.append(u.username)
        return added

    def remove_demo(self, users: Sequence[DemoUser] = DEMO_USERS) -> list[str]:
        """Delete the demo users whose password is still the published one (a real user who happens to share a
        demo name keeps their account); their names."""
        removed: list[str] = []
        for u in users:
            with self._engine.connect() as conn:
                row = conn.execute(sa.select(_USERS.c.password_hash).where(_USERS.c.username == u.username)).first()
            if row is None or not check_password_hash(row.password_hash, u.password):
                continue
            with self._engine.begin() as conn:
                conn.execute(sa.delete(_USERS).where(_USERS.c.username == u.username))
            removed.append(u.username)
        return removed
