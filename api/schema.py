"""OpenAPI generation: every operation documents the problem-details errors it can answer."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiSerializerFieldExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from rest_framework import serializers

from .errors import PROBLEM_CONTENT_TYPE
from .renderers import FHIRContentNegotiation
from .serializers import ECHOED_READ_ONLY, StrictBodySerializer, WriteSerializer


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details."""

    type = serializers.URLField(help_text="A URI naming the kind of problem.")
    title = serializers.CharField(help_text="The HTTP status phrase.")
    status = serializers.IntegerField()
    detail = serializers.CharField(help_text="What went wrong, for a person.")
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Messages by field (nested fields dotted); `non_field_errors` for the record as a whole.",
    )
    rules = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="Treatment-ladder rules broken, by code."
    )

    class Meta:
        ref_name = "Problem"


ALWAYS = (401, 403, 429, 500, 503)


class ProblemAwareAutoSchema(AutoSchema):
    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        serializer = force_instance(serializer)
        if not type(serializer).__dict__.get("__doc__"):
            schema.pop("description", None)  # a base class's notes for developers, not a resource's description
        if direction == "request" and isinstance(serializer, WriteSerializer):
            # The serializers refuse a property that names no field (api/serializers.py, WriteSerializer).
            schema["additionalProperties"] = False
            schema["description"] = " ".join(filter(None, [schema.get("description"), ECHOED_READ_ONLY]))
        if direction == "request" and isinstance(serializer, StrictBodySerializer):
            schema["additionalProperties"] = False  # an action's body refuses unknown properties too
        return schema

    def get_operation(self, *args, **kwargs):
        operation = super().get_operation(*args, **kwargs)
        for parameter in (operation or {}).get("parameters", []):
            # An empty query parameter (`?status=`) is read as absent, the way HTML forms send an
            # unfilled field: the filter is not applied. The contract says so.
            if parameter["in"] == "query" and not parameter.get("required"):
                parameter["allowEmptyValue"] = True
        return operation

    def _has_query_parameters(self) -> bool:
        return any(parameter["in"] == "query" for parameter in self._get_parameters())

    def _problem_statuses(self) -> list[int]:
        method = self.method.upper()
        statuses = list(ALWAYS)
        if "{" in self.path:
            statuses.append(404)
        if method in ("POST", "PUT", "PATCH"):
            statuses += [400, 409, 413, 415]
        if method in ("PUT", "PATCH") or (method == "POST" and "{" in self.path):
            statuses.append(412)
        if method == "POST" and "{" not in self.path:
            statuses.append(422)
        if method == "GET" and self._has_query_parameters():
            statuses.append(400)  # a filter or page size out of its range
        if method == "GET" and self._is_list_view():
            statuses.append(404)  # a cursor this API did not issue
        if getattr(self.view, "content_negotiation_class", None) is FHIRContentNegotiation:
            statuses.append(406)  # a media type or _format that is not FHIR JSON
        return sorted(set(statuses))

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for status_code in self._problem_statuses():
            responses.setdefault(
                str(status_code),
                self._get_response_for_code(
                    ProblemSerializer, str(status_code), media_types=[PROBLEM_CONTENT_TYPE], direction=direction
                ),
            )
        return responses


class DecimalInputScheme(OpenApiSerializerFieldExtension):
    """A decimal is written as a string (``"5.2"``) and read as a string or a JSON number (``5.2``)."""

    target_class = "api.serializers.StrictDecimalField"

    def map_serializer_field(self, auto_schema, direction):
        as_string = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction != "request":
            return as_string
        as_string = {key: value for key, value in as_string.items() if key not in _FIELD_META}
        return {"oneOf": [as_string, {"type": "number"}]}


# Said once, beside the oneOf, by drf-spectacular itself (append_meta), not inside each alternative.
_FIELD_META = frozenset({"nullable", "readOnly", "writeOnly", "description", "title", "default"})


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A per-user API token (read or read-write scope), created in the admin or with "
            "`manage.py create_api_token`.",
        }
