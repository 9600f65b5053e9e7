"""Test settings: the project's settings with a throwaway key and a fast password hasher.

DATABASE_URL still selects the database, so the same suite runs on SQLite and on PostgreSQL.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-only-key-not-for-any-deployment")
# The suite runs the production defaults (secure cookies, HSTS, JSON logs), whatever a developer's .env says.
os.environ["DJANGO_DEBUG"] = "0"
# Links in the messages the tests read point where the product's default says, whatever the shell exports.
os.environ["FOLLOW_UP_BASE_URL"] = "http://localhost:8000"

from clinic.settings import *  # noqa: F403

# The suite also tests the benchmark network generator, whose command lives in the bench app.
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Django's test client signs in with authenticate() and no request, which django-axes refuses by design;
# the lockout itself is tested with axes switched on (tests/test_login_hardening.py).
AXES_ENABLED = False
# The suite talks plain HTTP (the test client, and the browser tests' live server); one test asserts the
# production value redirects http to https (tests/test_security_settings.py).
SECURE_SSL_REDIRECT = False

# A second alias that mirrors default, so the read-replica router is exercised (tests/api/test_db_routers.py).
DATABASES["replica"] = {**DATABASES["default"], "TEST": {"MIRROR": "default"}}  # noqa: F405
