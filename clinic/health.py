"""Probes for load balancers: ``/healthz`` (the process answers) and ``/readyz`` (so does the database).

Both are public and cheap, never cached, and live outside ``/api/`` so that neither the API's
throttles nor its authentication or audit apply. ``/healthz`` touches nothing but the process, so a
database outage does not get healthy processes restarted; ``/readyz`` asks the database one trivial
question, so traffic is held back from a process that cannot serve it.
"""

from __future__ import annotations

import logging

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from api.errors import PROBLEM_CONTENT_TYPE, problem

from .db_faults import RETRY_AFTER_SECONDS, UNAVAILABLE_DETAIL, is_database_unavailable

logger = logging.getLogger(__name__)


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as error:
        if not is_database_unavailable(error):
            raise
        logger.warning("not ready: database unavailable (%s)", type(error).__name__)
        response = JsonResponse(
            problem(503, code="service_unavailable", detail=UNAVAILABLE_DETAIL, checks={"database": "unreachable"}),
            status=503,
            content_type=PROBLEM_CONTENT_TYPE,
        )
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return JsonResponse({"status": "ok", "checks": {"database": "ok"}})
