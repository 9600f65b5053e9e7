"""OpenAPI generation: every operation documents the problem-details errors it can answer."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from .errors import PROBLEM_CONTENT_TYPE


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
        if method == "GET" and self._is_list_view():
            statuses.append(400)
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
