"""While the database is unreachable, every request answers 503 with Retry-After, never a 500.

A lost database is an outage the client should wait out, not a bug: under ``/api/`` the answer is
RFC 9457 problem details, elsewhere (the admin) a short plain-text page. The middleware sits outside
the session and authentication middleware, so a failure anywhere inside it is caught: in a view
(``process_exception``), or in an inner middleware, which Django has already turned into a 500 by the
time the response comes back out (the ``got_request_exception`` signal marks those requests).

Django itself drops a broken connection: after a database error the connection is checked and closed
at the end of the request, and ``CONN_HEALTH_CHECKS`` discards a pooled connection that died while
idle (a database restart) before the next request uses it, so the process recovers on its own.
"""

from __future__ import annotations

import logging
import sys

from django.core.signals import got_request_exception
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

from api.errors import PROBLEM_CONTENT_TYPE, problem

logger = logging.getLogger(__name__)

# Long enough for a database restart or failover, short enough that a client does not give up.
RETRY_AFTER_SECONDS = 5
UNAVAILABLE_DETAIL = "The database is not reachable; try again shortly."
_MARK = "database_unavailable"


def is_database_unavailable(exception: BaseException | None) -> bool:
    """True for the errors a lost or refusing database raises (connection refused, reset, closed)."""
    return isinstance(exception, OperationalError | InterfaceError)


def unavailable_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            problem(503, code="service_unavailable", detail=UNAVAILABLE_DETAIL),
            status=503,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    else:
        response = HttpResponse(
            "Service unavailable: the database is not reachable. Try again in a few seconds.\n",
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def _mark_unavailable(sender, request: HttpRequest | None = None, **kwargs) -> None:
    """Remember on the request that Django turned a database outage into a 500 (the exception is in flight)."""
    if request is not None and is_database_unavailable(sys.exception()):
        setattr(request, _MARK, True)


class DatabaseUnavailableMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        got_request_exception.connect(_mark_unavailable, dispatch_uid="clinic.db_faults.mark_unavailable")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, _MARK, False):
            logger.warning("database unavailable during %s %s", request.method, request.path)
            return unavailable_response(request)
        if response.status_code == 503 and not response.has_header("Retry-After"):
            # The API's own 503 (api/errors.py) carries no Retry-After; every outage answer should.
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_database_unavailable(exception):
            return None
        logger.warning("database unavailable during %s %s: %s", request.method, request.path, type(exception).__name__)
        return unavailable_response(request)
