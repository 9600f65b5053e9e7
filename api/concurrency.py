"""Optimistic concurrency: ETags on records and If-Match preconditions on writes."""

from __future__ import annotations

import hashlib

from django.db import models
from django.utils.http import parse_etags

from .errors import PreconditionFailed


def etag_for(instance: models.Model) -> str:
    """A strong ETag that changes whenever the record is saved (its ``updated_at`` moves)."""
    version = f"{instance._meta.label}:{instance.pk}:{instance.updated_at.isoformat()}"
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'


def check_if_match(request, instance: models.Model) -> None:
    """Refuse the write with 412 when the client's If-Match does not name the current version.

    A weak tag (``W/"…"``) matches by its value: the tag names a version of the record, not a byte
    sequence, and an intermediary that compresses a response weakens the tag the client then sends back.
    """
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = parse_etags(header)
    if tags == ["*"]:
        return
    if etag_for(instance) not in {tag.removeprefix("W/") for tag in tags}:
        raise PreconditionFailed()
