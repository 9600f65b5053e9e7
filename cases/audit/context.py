"""Who is acting now: the request being served, or the command or process that said who it is.

``AuditContextMiddleware`` puts the request in a context variable for everything that runs while serving
it; a management command or script wraps its work in ``acting(...)``. The audit trail (``trail``) and the
change history (``history``) both read the actor from here, so they always name the same one. Nothing
here imports the rest of ``cases``.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.http import HttpRequest

from clinic.request_id import current_request_id, get_request_id

from .models import AuditVia


@dataclass(frozen=True)
class AuditContext:
    request: HttpRequest | None = None
    via: str | None = None
    user: object | None = None
    label: str = ""


NO_CONTEXT = AuditContext()  # frozen, so safe to share as the default
_current: contextvars.ContextVar[AuditContext] = contextvars.ContextVar("audit_context", default=NO_CONTEXT)


class AuditContextMiddleware:
    """Make the request the audit context of everything that runs while serving it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        token = _current.set(AuditContext(request=request))
        try:
            return self.get_response(request)
        finally:
            _current.reset(token)


@contextlib.contextmanager
def acting(*, via: str = AuditVia.COMMAND, user=None, label: str = "") -> Iterator[None]:
    """Run outside a request (a management command, a script) as ``user`` or a named process.

    The block also gets its own request id, so all the events of one command run can be found together.
    """
    context_token = _current.set(AuditContext(via=via, user=user, label=label))
    request_token = current_request_id.set(get_request_id() or uuid.uuid4().hex)
    try:
        yield
    finally:
        current_request_id.reset(request_token)
        _current.reset(context_token)


def current_user():
    """The authenticated user acting now, or None (an anonymous request, a command run by no user)."""
    context = _current.get()
    if context.user is not None:
        return context.user
    user = getattr(context.request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


def current_context() -> AuditContext:
    return _current.get()


def current_actor_label() -> str:
    """How the actor is named in a record: the user's username, or the process's label (e.g. "seed_demo")."""
    context = _current.get()
    user = current_user()
    return context.label or (user.get_username() if user is not None else "")
