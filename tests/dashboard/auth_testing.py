"""Users and logins for tests: real users in the test database, real logins through /login.

    add_user(repo, "op", "op-password", "operator")              # or an Engine; scope_grid="410105001001"
    login(requests_session, dashboard.url, "op", "op-password")  # or a Flask test client (base_url "")
    login_browser(driver, dashboard.url, "op", "op-password")    # selenium: fills in the form
"""
from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.engine import Engine

from alerts.users import User, UserStore
from alerts.workflow import Role

DEFAULT_PASSWORD = "test-password-1"


def _engine(repo_or_engine: Any) -> Engine:
    if isinstance(repo_or_engine, Engine):
        return repo_or_engine
    return repo_or_engine.engine  # type: ignore[no-any-return]


def add_user(
    repo_or_engine: Any, username: str, password: str = DEFAULT_PASSWORD, role: Role | str = Role.OPERATOR,
    scope_grid: str | None = None, department: str | None = None, display_name: str | None = None,
) -> User:
    return UserStore(_engine(repo_or_engine)).add(
        username, password, role, scope_grid=scope_grid, department=department, display_name=display_name
    )


def _join(base_url: str, path: str) -> str:
    return base_url.rstrip("/") + path


def login(session_or_client: Any, base_url: str, username: str, password: str = DEFAULT_PASSWORD) -> None:
    """Log in through the real form; AssertionError (with the answer) when the login is refused."""
    form = {"username": username, "password": password, "next": "/"}
    if isinstance(session_or_client, FlaskClient):
        response = session_or_client.post("/login", data=form)
        status, body = response.status_code, response.get_data(as_text=True)
    else:
        r = session_or_client.post(_join(base_url, "/login"), data=form, allow_redirects=False, timeout=30)
        status, body = r.status_code, r.text
    assert status == 303, f"login of {username} refused: {status} {body[:300]}"


def login_browser(driver: Any, base_url: str, username: str, password: str = DEFAULT_PASSWORD,
                  next_path: str = "/") -> None:
    """Open /login in a selenium driver, fill in the form and wait until the browser has left the login page."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(_join(base_url, f"/login?next={next_path}"))
    WebDriverWait(driver, 30).until(ec.presence_of_element_located((By.ID, "username")))
    driver.find_element(By.ID, "username").send_keys(username)
    driver.find_element(By.ID, "password").send_keys(password)
    driver.find_element(By.ID, "login-submit").click()
    WebDriverWait(driver, 30).until(lambda d: "/login" not in d.current_url)


def ensure_user(
    repo_or_engine: Any, username: str = "tester", password: str = DEFAULT_PASSWORD,
    role: Role | str = Role.ADMIN, scope_grid: str | None = None,
) -> None:
    """``add_user`` unless the name exists already (several apps over one database in a test)."""
    if UserStore(_engine(repo_or_engine)).get(username) is None:
        add_user(repo_or_engine, username, password, role, scope_grid)


def logged_in_client(app: Any, repo_or_engine: Any, username: str = "tester", password: str = DEFAULT_PASSWORD,
                     role: Role | str = Role.ADMIN, scope_grid: str | None = None) -> FlaskClient:
    """A Flask test client of a Dash app (or Flask app), logged in as ``username`` (created when missing)."""
    ensure_user(repo_or_engine, username, password, role, scope_grid)
    server = getattr(app, "server", app)
    client: FlaskClient = server.test_client()
    login(client, "", username, password)
    return client


def cookie_header(base_url: str, username: str, password: str = DEFAULT_PASSWORD) -> dict[str, str]:
    """{"Cookie": ...} of a fresh login, for raw http.client or websocket requests."""
    import requests

    with requests.Session() as s:
        login(s, base_url, username, password)
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in s.cookies.items())}
