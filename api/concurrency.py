"""Optimistic concurrency: ETags on records and If-Match preconditions on writes."""

from __future__ import annotations

import hashlib

from django.db import models

from .errors import PreconditionFailed


def etag_for(instance: models.Model) -> str:
    """A strong ETag that changes whenever the record is saved (its ``updated_at`` moves)."""
    version = f"{instance._meta.label}:{instance.pk}:{instance.updated_at.isoformat()}"
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:32] + '"'


def check_if_match(request, instance: models.Model) -> None:
    """Refuse the write with 412 when the client's If-Match does not name the current version."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    tags = [tag.strip() for tag in header.split(",") if tag.strip()]
    if "*" in tags:
        return
    if etag_for(instance) not in tags:
        raise PreconditionFailed()
