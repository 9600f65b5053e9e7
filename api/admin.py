"""Admin for API tokens: issue (shown once), see last use, revoke — a clinic admin for their own clinics' staff.

Who may hold a token is ``cases.selectors.staff_managed_by``; issuing and revoking go through
``cases.services`` (audited there as "api.apitoken"). Only the token's digest is stored, so its secret
is shown once, on the page after issuing it, and appears nowhere else. An issued token is fixed: to
change its owner, scope or lifetime, revoke it and issue another.
"""

from __future__ import annotations

import datetime

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponseRedirect
from django.utils import timezone

from cases import services
from cases.admin.accounts import StaffRefused, refused_message
from cases.admin.permissions import RolePagesFirst
from cases.selectors import is_clinic_admin, staff_managed_by

from .models import MAX_TOKEN_DAYS, ApiToken


class ApiTokenForm(forms.ModelForm):
    class Meta:
        model = ApiToken
        fields = ["user", "name", "scope", "expires_at"]

    def clean_expires_at(self) -> datetime.datetime:
        # Without this an expiry in the past was silently issued for one day, and any lifetime was accepted.
        expires_at = self.cleaned_data["expires_at"]
        lifetime = expires_at - timezone.now()
        if not datetime.timedelta(days=1) <= lifetime <= datetime.timedelta(days=MAX_TOKEN_DAYS):
            raise forms.ValidationError(f"A token must expire within 1 to {MAX_TOKEN_DAYS} days from now.")
        return expires_at


@admin.register(ApiToken)
class ApiTokenAdmin(RolePagesFirst, admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    list_select_related = ["user"]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "scope", "expires_at", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ApiToken]:
        tokens = super().get_queryset(request)
        if request.user.is_superuser:
            return tokens
        return tokens.filter(user__in=staff_managed_by(request.user).values("pk"))

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_clinic_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if not is_clinic_admin(request.user):
            return False
        return obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_clinic_admin(request.user)

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        # An issued token is never edited (its page is read-only); the changelist stays open for revoking.
        return obj is None and is_clinic_admin(request.user)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return is_clinic_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # revoked, never deleted: the audit trail names the token

    def formfield_for_foreignkey(self, db_field, request: HttpRequest, **kwargs):
        if db_field.name == "user":
            kwargs["queryset"] = staff_managed_by(request.user).filter(is_active=True).order_by("username")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: ApiToken, form, change: bool) -> None:
        data = form.cleaned_data
        days = max(1, (data["expires_at"] - timezone.now()).days)
        try:
            token, secret = services.api_token_issue(
                user=data["user"], name=data["name"], scope=data["scope"], days=days
            )
        except ValidationError as error:
            raise StaffRefused(error) from error
        obj.__dict__.update(token.__dict__)
        messages.warning(request, f"Token for {obj.user}: {secret} — copy it now; it will not be shown again.")

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaffRefused as refused:
            self.message_user(request, refused_message(refused.error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    @admin.action(description="Revoke selected tokens", permissions=["revoke"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[ApiToken]) -> None:
        count = services.api_token_revoke(tokens=list(queryset))
        self.message_user(request, f"Revoked {count} token(s).")
