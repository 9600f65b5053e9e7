"""``Idempotency-Key`` on POST: a retried request replays the first response instead of writing again."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

from cases import services

from .errors import UnprocessableEntity
from .models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
KEPT_HEADERS = ("Location", "ETag")


def _fingerprint(request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()


def idempotent(create):
    """Wrap a viewset's ``create`` so that the first response to a key is stored and replayed.

    The record is inserted in the same transaction as the write it guards: a concurrent retry
    blocks on the unique key until the first commits, then replays it; if the first fails, nothing
    is stored and the retry runs afresh. Any error ends that transaction (nothing here catches one),
    so it is the services' ``single_transaction``: the write inside needs no savepoint.
    """

    @functools.wraps(create)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return create(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise exceptions.ValidationError({HEADER: ["Must be 1 to 255 characters."]})

        fingerprint = _fingerprint(request)
        with services.single_transaction():
            record_id = _claim(request.user, key, fingerprint)
            if record_id is None:
                return _replay(IdempotencyRecord.objects.get(user=request.user, key=key), fingerprint)

            response = create(self, request, *args, **kwargs)
            IdempotencyRecord.objects.filter(pk=record_id).update(
                status_code=response.status_code,
                response_body=response.data,
                response_headers={h: response.headers[h] for h in KEPT_HEADERS if h in response.headers},
            )
        return response

    return wrapper


def _claim(user, key: str, fingerprint: str) -> int | None:
    """Take the key for this request in one statement: the new record's id, or None when a live one holds it.

    An expired record of the same key is taken over in place (it is a stale answer, not a request in
    flight). The unique (user, key) index is what a concurrent first request holds until it commits.
    ``INSERT … ON CONFLICT … DO UPDATE … WHERE … RETURNING`` is the same on PostgreSQL and SQLite (3.35+);
    the ORM's upsert has no WHERE, and a DELETE then an INSERT in a savepoint took four round trips.
    """
    now = timezone.now()
    expires_at = now + datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    ops = connection.ops
    q = ops.quote_name
    table = q(IdempotencyRecord._meta.db_table)
    columns = ("user_id", "key", "fingerprint", "status_code", "response_body", "response_headers", "created_at")
    columns += ("expires_at",)
    taken_over = ", ".join(f"{q(c)} = excluded.{q(c)}" for c in columns[2:])
    # Only the model's own table and column names are interpolated; every value is a parameter.
    sql = (
        f"INSERT INTO {table} ({', '.join(q(c) for c in columns)}) VALUES (%s, %s, %s, NULL, NULL, %s, %s, %s) "  # noqa: S608
        f"ON CONFLICT ({q('user_id')}, {q('key')}) DO UPDATE SET {taken_over} "
        f"WHERE {table}.{q('expires_at')} <= %s RETURNING {q('id')}"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                user.pk,
                key,
                fingerprint,
                "{}",
                ops.adapt_datetimefield_value(now),
                ops.adapt_datetimefield_value(expires_at),
                ops.adapt_datetimefield_value(now),
            ],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def _replay(record: IdempotencyRecord, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise UnprocessableEntity(
            f"This {HEADER} was already used for a different request; use a new key for a new request."
        )
    return Response(
        record.response_body,
        status=record.status_code,
        headers={**record.response_headers, REPLAYED_HEADER: "true"},
    )
