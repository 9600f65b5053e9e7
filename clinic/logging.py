"""Logging that never carries protected health information: PHI scrubbing, request ids and JSON lines.

Every log record is scrubbed twice over: when it is made (a record factory, so even handlers we do not
configure — pytest's, a server's, an error tracker's — only ever see the clean record) and again by a
filter on each configured handler (which also sees attributes added with ``extra=``, after the record was
made). What is caught and what is not is written down in docs/security.md.
"""

from __future__ import annotations

import logging
import logging.config
import re
import traceback
from collections.abc import Mapping
from typing import Any

from clinic.request_id import get_request_id

REDACTED = "[redacted]"

# Patient fields (cases.models.Patient) and other free text whose value is PHI when it appears as
# key=value, key: value or "key": "value" — in a dict, a query string or a serializer error.
PHI_FIELD_NAMES = (
    "given_name",
    "family_name",
    "name",
    "mrn",
    "birth_date",
    "dob",
    "phone",
    "email",
    "address",
    "notes",
    "justification",
)
_FIELD_ALTERNATIVES = "|".join(PHI_FIELD_NAMES)
_KEY_VALUE = re.compile(
    rf"""(?P<key>['"]?\b(?:{_FIELD_ALTERNATIVES})\b['"]?\s*[:=]\s*)(?P<value>\[redacted\]|'[^']*'|"[^"]*"|[^\s,&;)}}\]]+)""",
    re.IGNORECASE,
)
# A URL path followed by a query string: the path is kept (our URLs carry ids only), the query dropped.
_QUERY_STRING = re.compile(r"(?P<path>/[^\s?'\"]*)\?[^\s'\"]*")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# Calendar dates in the usual written forms: any date tied to a patient (birth, visit) is PHI.
_DATE = re.compile(
    r"\b(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4})\b"
    r"|\b\d{1,2}\s+(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?\s+\d{4}\b",
    re.IGNORECASE,
)
# Telephone numbers: nine to fifteen digits, optionally grouped by spaces, dots, dashes or brackets.
_PHONE = re.compile(r"(?<![\w.])(?:\+|00)?\(?\d(?:[\s().-]{0,2}\d){8,14}(?![\w])")
# Medical record numbers as clinics write them ("NS-1234", "MRN 004521", "NW1001"): capitals then digits.
_MRN = re.compile(r"\b(?:MRN[\s:#-]*)?[A-Z]{1,5}-?\d{3,}\b|\bMRN[\s:#-]*\w+", re.IGNORECASE)
# PostgreSQL's constraint messages quote the offending row: "Key (clinic_id, mrn)=(1, NS-1234) already exists."
_ROW_VALUES = re.compile(r"\)=\([^)]*\)")
# A follow-up link's token is a credential until it is used or expires: the path that carries it is logged without it.
_FOLLOW_UP_TOKEN = re.compile(r"(?P<path>/follow-up/)[^/\s'\"?]+")


def redact(text: str) -> str:
    """The text with query strings, PHI field values, e-mails, dates, phone numbers and MRN-like values removed."""
    text = _QUERY_STRING.sub(rf"\g<path>?{REDACTED}", text)
    text = _FOLLOW_UP_TOKEN.sub(rf"\g<path>{REDACTED}", text)
    text = _ROW_VALUES.sub(f")=({REDACTED})", text)
    text = _KEY_VALUE.sub(rf"\g<key>{REDACTED}", text)
    text = _EMAIL.sub(REDACTED, text)
    text = _DATE.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    return _MRN.sub(REDACTED, text)


def _safe_argument(argument: Any) -> Any:
    """A log argument that cannot print PHI: model instances by class and id (their __str__ holds names)."""
    meta = getattr(argument, "_meta", None)
    if meta is not None and hasattr(argument, "pk"):
        return f"<{type(argument).__name__} {argument.pk}>"
    if isinstance(argument, Mapping):
        return {
            key: REDACTED if str(key).lower() in PHI_FIELD_NAMES else _safe_argument(value)
            for key, value in argument.items()
        }
    return argument


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Rewrite the record in place so that its message, arguments and traceback hold no PHI.

    Idempotent: a scrubbed record has a plain message and no arguments, and redaction leaves "[redacted]" alone.
    """
    args = record.args
    if isinstance(args, Mapping):
        args = _safe_argument(args)
    elif isinstance(args, tuple):
        args = tuple(_safe_argument(argument) for argument in args)
    try:
        message = str(record.msg) % args if args else str(record.msg)
    except (TypeError, ValueError, KeyError):
        message = f"{record.msg} {args!r}"
    record.msg, record.args = redact(message), None
    if record.exc_info and record.exc_info[0] is not None:
        # Exception messages quote values (a constraint's row, a parser's input): keep the traceback, redacted.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


class PhiFilter(logging.Filter):
    """On every handler: scrub the record, including what ``extra=`` added after it was made."""

    def filter(self, record: logging.LogRecord) -> bool:
        if (record.exc_info or record.exc_text) and 400 <= (getattr(record, "status_code", None) or 0) < 500:
            # Django attaches the PermissionDenied (or similar) to its 4xx warning: a refusal the product meant,
            # not a fault. The warning line names it; a traceback per refused request only buries real errors.
            record.exc_info, record.exc_text = None, None
        scrub(record)
        request = getattr(record, "request", None)
        if request is not None:
            record.request = _describe_request(request)
        return True


def _describe_request(request: Any) -> str:
    """What a record's ``request`` may say: method and path of an HTTP request, never its query or peer.

    django.request passes the HttpRequest, whose repr carries the query string; django.server (runserver)
    passes the client's socket, whose repr carries the client's address. Anything else is named by type.
    """
    if isinstance(request, str):
        return redact(request)
    method, path = getattr(request, "method", None), getattr(request, "path", None)
    if isinstance(method, str) and isinstance(path, str):
        return redact(f"{method} {path}")
    return f"<{type(request).__name__}>"


class RequestIdFilter(logging.Filter):
    """Stamp each record with the id of the request being served (or "-" outside a request).

    Django logs a 4xx/5xx response after the middleware has returned, so the id is then read from the
    request passed with the record; this filter must therefore run before PhiFilter replaces that request.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        record.request_id = get_request_id() or getattr(request, "request_id", None) or "-"
        return True


def _scrubbing_record_factory(base_factory):
    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(base_factory(*args, **kwargs))

    make_record.phi_scrubbing = True
    return make_record


def configure(logging_settings: dict) -> None:
    """Django's LOGGING_CONFIG: apply the dict, then scrub every record from the moment it is made."""
    logging.config.dictConfig(logging_settings)
    factory = logging.getLogRecordFactory()
    if not getattr(factory, "phi_scrubbing", False):
        logging.setLogRecordFactory(_scrubbing_record_factory(factory))
