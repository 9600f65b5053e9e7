"""Admin for API tokens: issue (shown once), see last use, revoke."""

import datetime

from django import forms
from django.contrib import admin, messages
from django.utils import timezone

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
class ApiTokenAdmin(admin.ModelAdmin):
    form = ApiTokenForm
    list_display = ["name", "user", "prefix", "scope", "created_at", "expires_at", "last_used_at", "revoked_at"]
    list_filter = ["scope", ("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "user__username", "prefix"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["user", "name", "scope", "expires_at", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_module_permission(self, request):
        return request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_superuser

    has_add_permission = has_change_permission = has_view_permission

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        # An issued token's owner, scope and expiry are fixed: issue a new one instead.
        return [*self.readonly_fields, "user", "scope", "expires_at"] if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        days = max(1, (form.cleaned_data["expires_at"] - timezone.now()).days)
        token, secret = ApiToken.issue(user=obj.user, name=obj.name, scope=obj.scope, days=days)
        obj.pk = token.pk
        messages.warning(request, f"Token for {obj.user}: {secret} — copy it now; it will not be shown again.")

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        count = queryset.filter(revoked_at__isnull=True).update(revoked_at=timezone.now())
        self.message_user(request, f"Revoked {count} token(s).")
