"""Production settings: check --deploy is clean, passwords hash with Argon2, and every response carries the headers."""

import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth.hashers import check_password, make_password
from django.test import Client, override_settings

import clinic.settings as real_settings

ROOT = Path(__file__).resolve().parents[1]
PRODUCTION_ENV = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": secrets.token_urlsafe(64),
    "DJANGO_ALLOWED_HOSTS": "neuroma.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://neuroma.example.org",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/neuroma_tracker",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}
PASSWORD = "correct horse battery staple"


def run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """Run a Python command in a fresh process with only these project variables (no .env overrides them)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "REDIS_", "DATABASE_"))}
    return subprocess.run(  # noqa: S603 (our own interpreter and arguments)
        [sys.executable, *args], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=120
    )


def settings_under(env: dict[str, str], *names: str) -> dict:
    script = (
        "import json, clinic.settings as s; "
        f"print(json.dumps({{name: getattr(s, name) for name in {list(names)!r}}}, default=str))"
    )
    completed = run_with(env, "-c", script)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_check_deploy_reports_nothing_under_production_environment_variables():
    completed = run_with(PRODUCTION_ENV, "manage.py", "check", "--deploy", "--fail-level", "WARNING")

    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "System check identified no issues (0 silenced)." in completed.stdout


def test_check_deploy_does_complain_when_production_turns_debug_on():
    completed = run_with(
        {**PRODUCTION_ENV, "DJANGO_DEBUG": "1"}, "manage.py", "check", "--deploy", "--fail-level", "WARNING"
    )

    assert completed.returncode != 0
    assert "security.W018" in completed.stdout + completed.stderr


def test_production_defaults_are_https_only_with_a_year_of_hsts_and_a_shared_redis_cache():
    values = settings_under(
        PRODUCTION_ENV,
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "CSRF_TRUSTED_ORIGINS",
        "CACHES",
        "LOG_FORMAT",
    )

    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31_536_000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SESSION_COOKIE_SECURE"] is True
    assert values["CSRF_COOKIE_SECURE"] is True
    assert values["CSRF_TRUSTED_ORIGINS"] == ["https://neuroma.example.org"]
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache"
    assert values["CACHES"]["default"]["LOCATION"] == "redis://127.0.0.1:6379/0"
    assert values["LOG_FORMAT"] == "json"


def test_development_keeps_per_process_memory_cache_plain_text_logs_and_no_https_redirect():
    values = settings_under(
        {"DJANGO_DEBUG": "1", "DJANGO_SECRET_KEY": "dev"},
        "SECURE_SSL_REDIRECT",
        "SECURE_HSTS_SECONDS",
        "CACHES",
        "LOG_FORMAT",
    )

    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["CACHES"]["default"]["BACKEND"] == "django.core.cache.backends.locmem.LocMemCache"
    assert values["LOG_FORMAT"] == "text"


def test_a_tls_terminating_proxy_header_is_trusted_only_when_configured():
    assert settings_under(PRODUCTION_ENV, "SECURE_PROXY_SSL_HEADER")["SECURE_PROXY_SSL_HEADER"] is None
    behind_proxy = {**PRODUCTION_ENV, "DJANGO_SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"}

    assert settings_under(behind_proxy, "SECURE_PROXY_SSL_HEADER")["SECURE_PROXY_SSL_HEADER"] == [
        "HTTP_X_FORWARDED_PROTO",
        "https",
    ]


def test_the_real_settings_hash_new_passwords_with_argon2id():
    # The suite itself uses MD5 for speed (tests/settings.py); the project's own list is checked here.
    with override_settings(PASSWORD_HASHERS=real_settings.PASSWORD_HASHERS):
        encoded = make_password(PASSWORD)

        assert encoded.startswith("argon2$argon2id$")
        assert check_password(PASSWORD, encoded)
        assert not check_password("wrong password", encoded)


@pytest.mark.django_db
def test_a_password_stored_with_an_older_hasher_is_upgraded_to_argon2_at_sign_in(clinic_admin):
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.PBKDF2PasswordHasher"]):
        clinic_admin.set_password(PASSWORD)
        clinic_admin.save()
    with override_settings(PASSWORD_HASHERS=real_settings.PASSWORD_HASHERS):
        assert clinic_admin.check_password(PASSWORD)

    clinic_admin.refresh_from_db()
    assert clinic_admin.password.startswith("argon2$")


@pytest.mark.django_db
def test_the_production_value_redirects_plain_http_to_https(settings):
    settings.SECURE_SSL_REDIRECT = True

    response = Client().get("/admin/login/")

    assert response.status_code == 301
    assert response["Location"] == "https://testserver/admin/login/"


def csp_directives(response) -> dict[str, list[str]]:
    policy = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}


def assert_hardened(response) -> dict[str, list[str]]:
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    directives = csp_directives(response)
    assert directives["default-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in response["Content-Security-Policy"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    return directives


@pytest.mark.django_db
def test_an_admin_page_carries_hsts_csp_and_the_other_security_headers():
    assert_hardened(Client().get("/admin/login/", secure=True))


@pytest.mark.django_db
def test_an_api_response_carries_hsts_csp_and_the_other_security_headers(bearer_api):
    response = bearer_api.get("/api/v1/patients/", secure=True)

    assert response.status_code == 200
    assert_hardened(response)


@pytest.mark.django_db
def test_swagger_ui_runs_its_inline_script_and_style_by_nonce_not_unsafe_inline():
    response = Client().get("/api/docs/", secure=True)

    assert response.status_code == 200
    directives = assert_hardened(response)
    nonces = {source for source in directives["script-src"] if source.startswith("'nonce-")}
    assert len(nonces) == 1
    nonce = nonces.pop()[len("'nonce-") : -1]
    assert f"'nonce-{nonce}'" in directives["style-src"]
    page = response.text
    inline_scripts = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", page)
    assert inline_scripts == [f' nonce="{nonce}"']
    assert re.findall(r"<style([^>]*)>", page) == [f' nonce="{nonce}"']
    # Swagger UI's files come from our own static files, so 'self' covers them.
    assert all(src.startswith("/static/") for src in re.findall(r'<script[^>]*\bsrc="([^"]+)"', page))


@pytest.mark.django_db
def test_each_response_gets_a_fresh_nonce():
    first = csp_directives(Client().get("/api/docs/", secure=True))["script-src"]
    second = csp_directives(Client().get("/api/docs/", secure=True))["script-src"]

    assert first != second


@pytest.mark.django_db
def test_session_and_csrf_cookies_are_secure_http_only_and_same_site(clinic_admin):
    client = Client()
    client.get("/admin/login/", secure=True)
    response = client.post(
        "/admin/login/",
        {"username": "clinic-admin", "password": PASSWORD, "next": "/admin/"},
        secure=True,
        HTTP_REFERER="https://testserver/admin/login/",
    )

    assert response.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = response.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name


@pytest.fixture
def bearer_api(podiatrist):
    from rest_framework.test import APIClient

    from api.models import ApiToken, TokenScope

    _, secret = ApiToken.issue(user=podiatrist, name="EHR bridge", scope=TokenScope.READ, days=30)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client
