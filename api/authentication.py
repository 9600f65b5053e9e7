"""Bearer-token authentication for integrations (``Authorization: Bearer <token>``)."""

from __future__ import annotations

import datetime

from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from cases.audit import AuditAction, AuditVia, audit_record

from .models import ApiToken, token_digest
from .throttling import FailedAuthenticationThrottle

# Recording every use would turn each read into a write; once a minute is precise enough to audit.
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


class BearerTokenAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        guard = FailedAuthenticationThrottle()
        guard.refuse_if_exhausted(request)
        try:
            return self._authenticate(parts)
        except AuthenticationFailed:
            guard.record_failure(request)
            # Token guessing is a sign-in failure like any other, and belongs in the audit trail.
            audit_record(
                action=AuditAction.LOGIN_FAILURE, via=AuditVia.API, label="bearer token", request=request._request
            )
            raise

    def _authenticate(self, parts):
        if len(parts) != 2:
            raise AuthenticationFailed("Malformed Authorization header: use 'Bearer <token>'.")
        try:
            secret = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise AuthenticationFailed("Invalid token.") from None

        token = ApiToken.objects.select_related("user").filter(digest=token_digest(secret)).first()
        if token is None:
            raise AuthenticationFailed("Invalid token.")
        if token.revoked_at is not None:
            raise AuthenticationFailed("This token has been revoked.")
        if token.is_expired:
            raise AuthenticationFailed("This token has expired.")
        if not token.user.is_active:
            raise AuthenticationFailed("This token's user is inactive.")

        now = timezone.now()
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
