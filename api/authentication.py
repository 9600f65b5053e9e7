"""Bearer-token authentication for integrations (``Authorization: Bearer <token>``)."""

from __future__ import annotations

import datetime

from django.db.models import F, Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed

from cases.audit import AuditAction, AuditVia, audit_record
from cases.scoping import remember_clinic_roles

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

        # The token, its user and the user's clinic roles in one round trip: one row per membership
        # (a LEFT JOIN, so a user without any still has their row), every later permission and scope
        # check of the request reads the roles from here.
        rows = list(
            ApiToken.objects.select_related("user")
            .filter(digest=token_digest(secret))
            .annotate(
                membership_clinic_id=F("user__memberships__clinic_id"), membership_role=F("user__memberships__role")
            )
            .order_by()
        )
        if not rows:
            raise AuthenticationFailed("Invalid token.")
        token = rows[0]
        remember_clinic_roles(
            token.user,
            {row.membership_clinic_id: row.membership_role for row in rows if row.membership_clinic_id is not None},
        )
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
