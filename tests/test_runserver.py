"""`manage.py runserver` as a new user meets it on `make run`: pages served and a console with nothing alarming.

The development server logs each request through the project's logging (clinic/logging.py), with its
socket where Django's request logger passes the request; a filter that assumed an HttpRequest printed a
traceback for every request and lost the request line. Only a real server shows that, so this test
starts one (DEBUG on, a throwaway key, its own migrated SQLite file), makes the requests a first visit
makes, stops it and reads everything it printed.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from .pgcluster import free_port

REPO = Path(__file__).resolve().parent.parent
# Bounds on each wait: a server that does not start, answer or stop fails the test instead of hanging it.
START_TIMEOUT_SECONDS = 30
LOG_TIMEOUT_SECONDS = 10
STOP_TIMEOUT_SECONDS = 10
USERNAME, PASSWORD = "first-day", "a-throwaway-password-for-this-test"


@dataclass
class Answer:
    status: int
    location: str
    body: str


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to check, not to follow


class Browser:
    """Plain HTTP with a cookie jar, as a browser would send it; redirects are returned, not followed."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.cookies = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirect)

    def request(self, path: str, *, form: dict[str, str] | None = None, headers: dict[str, str] | None = None):
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})  # noqa: S310 (loopback)
        try:
            with self.opener.open(request, timeout=LOG_TIMEOUT_SECONDS) as response:
                return Answer(response.status, response.headers.get("Location", ""), response.read().decode())
        except urllib.error.HTTPError as error:
            return Answer(error.code, error.headers.get("Location", ""), error.read().decode())


def _manage(*args: str, env: dict[str, str]) -> None:
    subprocess.run(  # noqa: S603 (our own manage.py, fixed arguments)
        [sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True, capture_output=True, timeout=120
    )


def _wait_for(condition, *, timeout: float, failure) -> None:
    """Poll ``condition`` until it holds; past ``timeout`` seconds, fail with ``failure()`` (no duration asserted)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(failure())
        time.sleep(0.1)


@pytest.fixture
def development_server(tmp_path):
    """A `manage.py runserver` on a free loopback port, as `make run` starts it; yields (browser, console)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "DATABASE_URL"))}
    env.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",  # what manage.py uses, not the suite's test settings
        DJANGO_DEBUG="1",
        DJANGO_SECRET_KEY="throwaway-key-for-the-runserver-test-only",
        DJANGO_LOG_FORMAT="text",  # the development default; set so that a developer's .env cannot change it
        DJANGO_LOG_LEVEL="INFO",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_SUPERUSER_PASSWORD=PASSWORD,
        PYTHONUNBUFFERED="1",
    )
    _manage("migrate", "--noinput", env=env)
    _manage("createsuperuser", "--noinput", "--username", USERNAME, "--email", "", env=env)

    port = free_port()
    console = tmp_path / "console.log"
    with console.open("w") as out:
        server = subprocess.Popen(  # noqa: S603
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    browser = Browser(f"http://127.0.0.1:{port}")

    def answers() -> bool:
        assert server.poll() is None, f"runserver exited:\n{console.read_text()}"
        try:
            return browser.request("/healthz").status == 200
        except OSError:
            return False

    try:
        _wait_for(answers, timeout=START_TIMEOUT_SECONDS, failure=lambda: f"no answer:\n{console.read_text()}")
        yield browser, console
    finally:
        server.send_signal(signal.SIGINT)  # Ctrl-C, as a developer stops it
        try:
            server.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=STOP_TIMEOUT_SECONDS)


def test_runserver_serves_a_first_visit_with_a_clean_console(development_server):
    browser, console = development_server

    home = browser.request("/")
    assert (home.status, home.location) == (302, "/admin/login/?next=/admin/")
    sign_in = browser.request("/admin/login/")
    assert sign_in.status == 200
    assert browser.request("/api/v1/patients/", headers={"Accept": "application/json"}).status == 401
    assert browser.request("/static/admin/css/base.css").status == 200

    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', sign_in.body).group(1)
    form = {"csrfmiddlewaretoken": token, "username": USERNAME, "password": PASSWORD, "next": "/admin/"}
    signed_in = browser.request("/admin/login/", form=form)
    assert (signed_in.status, signed_in.location) == (302, "/admin/")
    assert browser.request("/").location == "/admin/"
    index = browser.request("/admin/")
    assert index.status == 200
    assert 'href="/admin/cases/presentation/review/"' in index.body
    assert browser.request("/admin/cases/presentation/").status == 200

    expected = [
        '"GET / HTTP/1.1" 302',
        '"GET /admin/login/ HTTP/1.1" 200',
        '"GET /api/v1/patients/ HTTP/1.1" 401',
        '"GET /static/admin/css/base.css HTTP/1.1" 200',
        '"POST /admin/login/ HTTP/1.1" 302',
        '"GET /admin/ HTTP/1.1" 200',
        '"GET /admin/cases/presentation/ HTTP/1.1" 200',
    ]
    # runserver logs a request after sending its answer, so the last line may lag the answer a little.
    _wait_for(
        lambda: all(line in console.read_text() for line in expected),
        timeout=LOG_TIMEOUT_SECONDS,
        failure=lambda: "request lines missing from the console:\n" + console.read_text(),
    )
    text = console.read_text()
    assert "Traceback" not in text, text
    assert "Error" not in text, text
    assert "Exception occurred during processing of request" not in text, text
    # Each request is one line: the 401 is also logged by django.request, once.
    assert text.count('"GET /admin/login/ HTTP/1.1"') == 1
    assert text.count("Unauthorized: /api/v1/patients/") == 1
