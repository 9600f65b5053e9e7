"""Test settings: the project's settings with a throwaway key and a fast password hasher.

DATABASE_URL still selects the database, so the same suite runs on SQLite and on PostgreSQL.
"""

import os

os.environ.setdefault("DJANGO_SECRET_KEY", "insecure-test-only-key-not-for-any-deployment")

from clinic.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
