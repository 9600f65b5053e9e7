"""Who may do what through the API: clinic roles, narrowed by the token's scope."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from cases.selectors import can_write, clinic_roles

from .models import ApiToken


class ClinicRolePermission(BasePermission):
    """Members of a clinic read its records; podiatrists and clinic admins write them, with a read-write token.

    Objects of other clinics never reach this check: every queryset is scoped first, so they are 404.
    """

    message = "You do not have permission to do this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not (user.is_superuser or clinic_roles(user)):
            self.message = "Your account is not a member of any clinic."
            return False
        if request.method in SAFE_METHODS:
            return True
        if isinstance(request.auth, ApiToken) and not request.auth.can_write:
            self.message = "This token is read-only."
            return False
        if not can_write(user):
            self.message = "Your role is read-only."
            return False
        return True

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in SAFE_METHODS:
            return True
        if not can_write(request.user, view.clinic_id_of(obj)):
            self.message = "Your role in this record's clinic is read-only."
            return False
        return True
