"""``Idempotency-Key`` on POST: a retried request replays the first response instead of writing again."""

from __future__ import annotations

import datetime
import functools
import hashlib
import json

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.response import Response

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
    is stored and the retry runs afresh.
    """

    @functools.wraps(create)
    def wrapper(self, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return create(self, request, *args, **kwargs)
        if not 1 <= len(key) <= 255:
            raise exceptions.ValidationError({HEADER: ["Must be 1 to 255 characters."]})

        fingerprint = _fingerprint(request)
        now = timezone.now()
        with transaction.atomic():
            IdempotencyRecord.objects.filter(user=request.user, key=key, expires_at__lte=now).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyRecord.objects.create(
                        user=request.user,
                        key=key,
                        fingerprint=fingerprint,
                        expires_at=now + datetime.timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS),
                    )
            except IntegrityError:
                return _replay(IdempotencyRecord.objects.get(user=request.user, key=key), fingerprint)

            response = create(self, request, *args, **kwargs)
            record.status_code = response.status_code
            record.response_body = response.data
            record.response_headers = {h: response.headers[h] for h in KEPT_HEADERS if h in response.headers}
            record.save(update_fields=["status_code", "response_body", "response_headers"])
        return response

    return wrapper


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
