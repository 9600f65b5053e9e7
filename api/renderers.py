"""JSON rendering with orjson: the same JSON as DRF's renderer, several times cheaper on a page of records."""

from __future__ import annotations

from typing import Any

import orjson
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.utils.encoders import JSONEncoder

_drf_encoder = JSONEncoder()
# Timestamps go through DRF's encoder (UTC as "Z", like the serializers) rather than orjson's own format.
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


class ORJSONRenderer(BaseRenderer):
    media_type = "application/json"
    format = "json"
    charset = None  # JSON is UTF-8 by definition (RFC 8259)

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: dict | None = None) -> bytes:
        if data is None:
            return b""
        # Anything orjson does not know (lazy translations, decimals, timestamps) is what DRF would make of it.
        return orjson.dumps(data, default=_drf_encoder.default, option=_OPTIONS)


class FHIRJSONRenderer(ORJSONRenderer):
    """FHIR's JSON media type, as FHIR clients ask for it (``Accept: application/fhir+json``)."""

    media_type = "application/fhir+json"
    format = "fhir"


class LegacyFHIRJSONRenderer(ORJSONRenderer):
    """The media type FHIR DSTU2 named, which older clients still send."""

    media_type = "application/json+fhir"
    format = "fhir-dstu2"


# FHIR's ``_format`` query parameter, which a client uses when it cannot set Accept: the values that mean JSON.
FHIR_JSON_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir"})


class FHIRContentNegotiation(DefaultContentNegotiation):
    """Content negotiation for FHIR endpoints: FHIR's media types, and ``_format`` over the Accept header."""

    def select_renderer(self, request, renderers, format_suffix=None):
        requested = request.query_params.get("_format")
        if requested is None:
            return super().select_renderer(request, renderers, format_suffix)
        # A "+" left unencoded in a query string arrives as a space: "application/fhir json" is FHIR JSON too.
        if requested.strip().lower().replace(" ", "+") not in FHIR_JSON_FORMATS:
            raise NotAcceptable(f"Unsupported _format; use one of {', '.join(sorted(FHIR_JSON_FORMATS))}.")
        renderer = next(r for r in renderers if isinstance(r, FHIRJSONRenderer))
        return renderer, renderer.media_type
