"""Signed-in admin sessions for the workspace pages, made in the benchmark database as a sign-in makes them.

The network's staff have no usable password, so the run writes the session a successful sign-in would
(the auth keys ``django.contrib.auth.login`` stores) instead of posting the form; the pages then see an
ordinary signed-in user. Several sessions per user, because every request saves its session
(``SESSION_SAVE_EVERY_REQUEST``) and a real load is many people, not one cookie on every connection.
"""

from __future__ import annotations

from importlib import import_module


def cookie_header(name: str, key: str) -> str:
    """The ``Cookie`` header value that carries session ``key``."""
    return f"{name}={key}"


def session_cookies(user, count: int) -> list[str]:
    """``count`` fresh sessions signed in as ``user``, as ``Cookie`` header values."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

    store = import_module(settings.SESSION_ENGINE).SessionStore
    cookies = []
    for _ in range(count):
        session = store()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        cookies.append(cookie_header(settings.SESSION_COOKIE_NAME, session.session_key))
    return cookies
