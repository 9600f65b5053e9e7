"""Staff accounts: a clinic admin adds, changes, deactivates and resets the password of their own clinics' staff.

Superusers keep Django's full user admin. A clinic admin sees only ``selectors.staff_managed_by`` (a user who
also works in a clinic they do not administer, or a superuser, is "not found"), edits names, email and
whether the person may sign in — never staff, superuser, group or permission flags — and every write goes
through ``cases.services`` (audited there). Staff are deactivated, not deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.forms import AdminPasswordChangeForm, UserCreationForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, QuerySet
from django.http import HttpRequest, HttpResponseRedirect

from .. import services
from ..choices import Role
from ..models import Clinic, Membership
from ..selectors import clinic_ids_for, is_clinic_admin, staff_managed_by
from .permissions import RolePagesFirst

User = get_user_model()
ADMINISTERS = frozenset({Role.CLINIC_ADMIN})


class StaffMemberAddForm(UserCreationForm):
    """A new staff member of one of the admin's clinics: the account and its membership in one submission."""

    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none())
    role = forms.ChoiceField(choices=Role.choices, initial=Role.PODIATRIST)
    # The clinics offered; set per request by StaffUserAdmin.get_form.
    administered_clinic_ids: list[int] = []

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ["username", "first_name", "last_name", "email"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = Clinic.objects.filter(pk__in=self.administered_clinic_ids)


class StaffPasswordForm(AdminPasswordChangeForm):
    """Django's admin password form, saved through ``services.staff_password_set`` (so it is audited).

    It always sets a usable password: turning password sign-in off is not offered here.
    """

    def __init__(self, user, *args, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True

    def save(self, commit: bool = True):
        return services.staff_password_set(member=self.user, password=self.cleaned_data["password1"])


class StaffRefused(Exception):
    """A staff service refused a change the form had accepted; the page's transaction rolls back."""

    def __init__(self, error: ValidationError):
        super().__init__(error)
        self.error = error


def refused_message(error: ValidationError) -> str:
    return "Nothing was saved: " + " ".join(error.messages)


admin.site.unregister(User)


@admin.register(User)
class StaffUserAdmin(RolePagesFirst, UserAdmin):
    """Django's user admin for superusers; for a clinic admin, their clinics' staff only, through the services."""

    change_password_form = StaffPasswordForm
    staff_list_display = ["username", "full_name", "clinic_roles", "is_active", "last_login"]
    staff_fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Personal info", {"fields": ("first_name", "last_name", "email")}),
        ("Sign-in", {"fields": ("is_active", "last_login", "date_joined")}),
    )
    staff_add_fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "email", "password1", "password2")}),
        ("Clinic", {"fields": ("clinic", "role")}),
    )

    def _manages_staff_only(self, request: HttpRequest) -> bool:
        """A clinic admin who is not a superuser: the scoped pages, not Django's full ones."""
        return not request.user.is_superuser and is_clinic_admin(request.user)

    # Who may open what

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_clinic_admin(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        if request.user.is_superuser:
            return True
        if not is_clinic_admin(request.user):
            return False
        return obj is None or staff_managed_by(request.user).filter(pk=obj.pk).exists()

    has_change_permission = has_view_permission

    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser or is_clinic_admin(request.user)

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_superuser  # a clinic admin deactivates instead

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        users = super().get_queryset(request)
        if not request.user.is_superuser:
            users = users.filter(pk__in=staff_managed_by(request.user).values("pk"))
        if self._manages_staff_only(request):
            clinic_ids = clinic_ids_for(request.user, roles=ADMINISTERS)
            users = users.prefetch_related(
                Prefetch(
                    "memberships",
                    queryset=Membership.objects.filter(clinic_id__in=clinic_ids).select_related("clinic"),
                )
            )
        return users

    # What a clinic admin sees

    def get_list_display(self, request: HttpRequest):
        return self.staff_list_display if self._manages_staff_only(request) else super().get_list_display(request)

    def get_list_filter(self, request: HttpRequest):
        return ["is_active"] if self._manages_staff_only(request) else super().get_list_filter(request)

    def get_actions(self, request: HttpRequest):
        return {} if self._manages_staff_only(request) else super().get_actions(request)

    @admin.display(description="name", ordering="last_name")
    def full_name(self, user) -> str:
        return user.get_full_name()

    @admin.display(description="role(s)")
    def clinic_roles(self, user) -> str:
        return ", ".join(f"{m.get_role_display()} at {m.clinic}" for m in user.memberships.all())

    def get_fieldsets(self, request: HttpRequest, obj=None):
        if not self._manages_staff_only(request):
            return super().get_fieldsets(request, obj)
        return self.staff_add_fieldsets if obj is None else self.staff_fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj=None):
        if self._manages_staff_only(request) and obj is not None:
            return ["username", "last_login", "date_joined"]
        return super().get_readonly_fields(request, obj)

    def get_form(self, request: HttpRequest, obj=None, **kwargs):
        if self._manages_staff_only(request) and obj is None:
            administered = clinic_ids_for(request.user, roles=ADMINISTERS)
            offered = {"administered_clinic_ids": administered}
            kwargs["form"] = type("StaffMemberAddForm", (StaffMemberAddForm,), offered)
        return super().get_form(request, obj, **kwargs)

    # Writes: a clinic admin's through the services

    def save_model(self, request: HttpRequest, obj, form, change: bool) -> None:
        if not self._manages_staff_only(request):
            return super().save_model(request, obj, form, change)
        try:
            if change:
                fields = {name: form.cleaned_data[name] for name in form.changed_data if name in services.STAFF_FIELDS}
                saved = services.staff_member_update(member=obj, **fields)
            else:
                data = form.cleaned_data
                saved = services.staff_member_add(
                    clinic=data["clinic"],
                    role=data["role"],
                    username=data["username"],
                    first_name=data["first_name"],
                    last_name=data["last_name"],
                    email=data["email"],
                    password=data["password1"],
                )
        except ValidationError as error:
            raise StaffRefused(error) from error
        obj.__dict__.update(saved.__dict__)  # the admin logs and redirects to the account the service saved

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        if not self._manages_staff_only(request):
            super().save_related(request, form, formsets, change)

    def changeform_view(self, request: HttpRequest, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except StaffRefused as refused:
            # The change view's transaction has rolled back: nothing of the submission was saved.
            self.message_user(request, refused_message(refused.error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = ""):
        if not self.has_change_permission(request):
            raise PermissionDenied
        if self.get_object(request, unquote(id)) is None:
            # Another clinic's colleague answers exactly as an id never used: the admin's "not found".
            return self._get_obj_does_not_exist_redirect(request, self.opts, id)
        try:
            return super().user_change_password(request, id, form_url)
        except ValidationError as error:
            self.message_user(request, refused_message(error), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())
