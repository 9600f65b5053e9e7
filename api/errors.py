"""RFC 9457 problem details: the one error format of the API, for every status it can answer.

DRF's exception handler is replaced so that validation errors, authentication and permission
failures, throttling, unsupported media types and unexpected errors all answer
``application/problem+json`` with ``type``, ``title``, ``status``, ``detail`` and, for input
errors, ``errors`` keyed by field. Django-level 404s and 500s under ``/api/`` use the same shape.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from cases.ladder import Rule

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_BASE = "https://neuroma-tracker.example/problems/"
LADDER_RULE_CODES = frozenset(rule.value for rule in Rule)
# A follow-up whose state refuses the action (answered, closed, window not open): a conflict, not bad input.
FOLLOW_UP_STATE_CODES = ("follow_up_answered", "follow_up_closed", "follow_up_not_open", "follow_up_transition")
# Unique constraints whose violation is a conflict with a stored row rather than bad input.
CONFLICT_CODES = frozenset({"unique", "unique_together", *LADDER_RULE_CODES, *FOLLOW_UP_STATE_CODES})


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the record."
    default_code = "conflict"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record has changed since you read it: fetch it again and reapply your change."
    default_code = "precondition_failed"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is larger than this API accepts."
    default_code = "payload_too_large"


class UnprocessableEntity(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = "The request cannot be processed."
    default_code = "unprocessable"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is not reachable; try again shortly."
    default_code = "service_unavailable"


def problem(
    status_code: int,
    *,
    code: str,
    detail: str,
    errors: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": HTTPStatus(status_code).phrase,
        "status": status_code,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    body.update(extra)
    return body


def problem_response(status_code: int, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Response:
    response = Response(problem(status_code, **kwargs), status=status_code, headers=headers)
    response.content_type = PROBLEM_CONTENT_TYPE
    return response


def django_validation_error_to_drf(error: DjangoValidationError) -> exceptions.APIException:
    """Turn a model's ValidationError into a DRF error: 409 for ladder rules and uniqueness, else 400."""
    if hasattr(error, "error_dict"):
        detail = {
            ("non_field_errors" if field == "__all__" else field): [
                exceptions.ErrorDetail(message, code=e.code or "invalid") for e in errors for message in e.messages
            ]
            for field, errors in error.error_dict.items()
        }
        codes = {e.code for errors in error.error_dict.values() for e in errors}
    else:
        detail = {
            "non_field_errors": [
                exceptions.ErrorDetail(message, code=e.code or "invalid")
                for e in error.error_list
                for message in e.messages
            ]
        }
        codes = {e.code for e in error.error_list}
    if codes & CONFLICT_CODES:
        return Conflict(detail)
    return exceptions.ValidationError(detail)


def _flatten(detail: Any) -> tuple[dict[str, list[str]], list[str]]:
    """Field errors as {field: [messages]} (nested fields dotted), and every error code met."""
    errors: dict[str, list[str]] = {}
    codes: list[str] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, nested in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), nested)
        elif isinstance(value, list):
            for index, nested in enumerate(value):
                if isinstance(nested, dict | list):
                    walk(f"{prefix}.{index}" if prefix else str(index), nested)
                else:
                    walk(prefix, nested)
        else:
            errors.setdefault(prefix or "non_field_errors", []).append(str(value))
            codes.append(getattr(value, "code", "invalid"))

    walk("", detail)
    return errors, codes


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        exc = django_validation_error_to_drf(exc)
    elif isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", type(exc).__name__)
        exc = ServiceUnavailable()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()

    response = drf_exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error in API request")
        else:
            logger.exception("unhandled error in API request")
        return problem_response(500, code="server_error", detail="An unexpected error occurred; it has been logged.")

    status_code = response.status_code
    headers = {k: v for k, v in response.headers.items() if k in ("WWW-Authenticate", "Allow", "Retry-After")}
    if isinstance(exc, exceptions.ValidationError | Conflict) and isinstance(exc.detail, dict | list):
        errors, codes = _flatten(exc.detail)
        rules = sorted({code for code in codes if code in LADDER_RULE_CODES})
        if rules:
            code, detail = (
                "ladder_rule",
                "Starting this treatment breaks the treatment-ladder rule(s): " + ", ".join(rules) + ".",
            )
        elif status_code == 409:
            code, detail = "conflict", "The request conflicts with a stored record."
        else:
            code, detail = "validation_error", "The request has invalid fields; see errors."
        extra = {"rules": rules} if rules else {}
        return problem_response(status_code, code=code, detail=detail, errors=errors, headers=headers, **extra)

    detail = exc.detail if isinstance(getattr(exc, "detail", None), str) else str(getattr(exc, "detail", exc))
    code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", "error")
    return problem_response(status_code, code=str(code), detail=str(detail), headers=headers)


def _is_api_request(request) -> bool:
    return request.path.startswith("/api/")


def not_found(request, exception=None):
    """Django's 404 handler: problem details under /api/, the usual page elsewhere."""
    if _is_api_request(request):
        return JsonResponse(
            problem(404, code="not_found", detail="No such resource."), status=404, content_type=PROBLEM_CONTENT_TYPE
        )
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)


def server_error(request):
    """Django's 500 handler: problem details under /api/, the usual page elsewhere."""
    if _is_api_request(request):
        return JsonResponse(
            problem(500, code="server_error", detail="An unexpected error occurred; it has been logged."),
            status=500,
            content_type=PROBLEM_CONTENT_TYPE,
        )
    from django.views.defaults import server_error as html_server_error

    return html_server_error(request)
