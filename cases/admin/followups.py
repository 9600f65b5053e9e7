"""The follow-ups' admin: the list, a read-only page with its actions, the overdue list and the completion table.

Everything is scoped to the user's clinics like the other clinical pages (``ClinicRolePermissions``): another
clinic's follow-up is "not found", exactly like an id never used. The record itself is never edited here:
its dates and status follow from the treatments (``cases.services.follow_up_plan``) and the transitions, so
the change page is read-only and its buttons are the actions, each a POST through ``cases.services``:
issue a link (shown once, with a printable QR code), revoke a link, resend, decline, and record an answer
taken in clinic or over the phone. Every page that shows patient data records an audit event.

Who may do what: podiatrists and clinic admins act on their clinics' follow-ups, reviewers read; the
completion table (aggregates, no patient) is for clinic admins and reviewers. docs/permissions.md has the rows.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections import defaultdict

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured, PermissionDenied, ValidationError
from django.db.models import Count, Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.defaultfilters import date as date_filter
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from .. import services
from ..audit import AuditAction, audit_record
from ..choices import Role
from ..followups import links as follow_up_links
from ..followups.choices import AnswerChannel, MessageKind, TimePoint
from ..followups.forms import AnswerForm
from ..followups.models import FollowUp
from ..followups.reports import BOFAS_COMPLETION_PERCENT, BOFAS_COMPLETION_SOURCE, completion_rates
from ..followups.scoring import items_file_for, load_form
from ..followups.selectors import clinic_settings_of, overdue_list
from ..models import Clinic
from ..selectors import WRITE_ROLES, can_write, clinic_id_of, clinic_ids_for
from .permissions import ClinicRolePermissions

COMPLETION_ROLES = frozenset({Role.CLINIC_ADMIN, Role.REVIEWER})
DEFAULT_COMPLETION_DAYS = 365
STAFF_CHANNELS = [
    (AnswerChannel.IN_CLINIC_TABLET.value, AnswerChannel.IN_CLINIC_TABLET.label),
    (AnswerChannel.PHONE.value, AnswerChannel.PHONE.label),
]


class StaffAnswerForm(AnswerForm):
    """The patient page's questions (MOxFQ only when the clinic configured it), plus how the answer came in."""

    channel = forms.ChoiceField(
        label="How the answers were given",
        choices=STAFF_CHANNELS,
        widget=forms.RadioSelect,
        error_messages={"required": "Say how the answers were given: on the tablet in clinic, or over the phone."},
    )

    field_order = ["channel", "pain_walking", "pain_rest", "relief", "global_impression"]


class CompletionRangeForm(forms.Form):
    due_from = forms.DateField(label="Due from", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    due_to = forms.DateField(label="Due to", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        due_from, due_to = cleaned.get("due_from"), cleaned.get("due_to")
        if due_from and due_to and due_from > due_to:
            self.add_error("due_to", "Must be on or after the “due from” date.")
        return cleaned


def _clinician_name(user) -> str:
    return (user.get_full_name() or user.get_username()) if user is not None else "—"


@admin.register(FollowUp)
class FollowUpAdmin(ClinicRolePermissions, admin.ModelAdmin):
    list_display = [
        "mrn",
        "patient_name",
        "presentation_site",
        "time_point",
        "due_on",
        "window",
        "status",
        "reminders_sent",
        "last_message_at",
    ]
    list_display_links = ["mrn", "time_point"]
    list_filter = [
        "status",
        "time_point",
        ("due_on", admin.DateFieldListFilter),
        ("clinician", admin.RelatedOnlyFieldListFilter),
    ]
    ordering = ["-due_on", "-pk"]
    search_fields = ["presentation__patient__mrn", "presentation__patient__family_name"]
    search_help_text = "Search by MRN or family name."
    fields = [
        "presentation",
        "treatment",
        "clinician",
        "time_point",
        ("due_on", "window_opens_on", "window_closes_on"),
        ("status", "status_changed_at"),
        ("messages_sent", "next_message_at"),
    ]
    change_form_template = "admin/cases/followup/change_form.html"
    change_list_template = "admin/cases/followup/change_list.html"

    # The record follows from the treatments: nobody adds, edits or deletes one by hand.
    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_queryset(self, request: HttpRequest) -> QuerySet[FollowUp]:
        return (
            super()
            .get_queryset(request)
            .select_related("presentation__patient__clinic", "treatment", "clinician")
            .annotate(
                reminders_sent=Count(
                    "messages", filter=Q(messages__kind=MessageKind.REMINDER, messages__sent_at__isnull=False)
                ),
                last_message_at=Max("messages__sent_at"),
            )
        )

    # Columns

    @admin.display(description="MRN", ordering="presentation__patient__mrn")
    def mrn(self, follow_up: FollowUp) -> str:
        return follow_up.presentation.patient.mrn

    @admin.display(description="patient", ordering="presentation__patient__family_name")
    def patient_name(self, follow_up: FollowUp) -> str:
        patient = follow_up.presentation.patient
        return f"{patient.family_name}, {patient.given_name}"

    @admin.display(description="presentation")
    def presentation_site(self, follow_up: FollowUp) -> str:
        presentation = follow_up.presentation
        return f"{presentation.get_foot_display()} · interspace {presentation.interspace}"

    @admin.display(description="window")
    def window(self, follow_up: FollowUp) -> str:
        # The template layer's date filter, so the locale's date format applies as on every admin date.
        return f"{date_filter(follow_up.window_opens_on)} – {date_filter(follow_up.window_closes_on)}"

    @admin.display(description="reminders sent", ordering="reminders_sent")
    def reminders_sent(self, follow_up: FollowUp) -> int:
        return follow_up.reminders_sent

    @admin.display(description="last message", ordering="last_message_at")
    def last_message_at(self, follow_up: FollowUp):
        return follow_up.last_message_at

    # Audit: the list records its page's patients, the change page a view

    def get_changelist_instance(self, request: HttpRequest):
        changelist = super().get_changelist_instance(request)
        audit_record(action=AuditAction.LIST, records=changelist.result_list, object_type=self.opts.label_lower)
        return changelist

    def render_change_form(self, request: HttpRequest, context, add=False, change=False, form_url="", obj=None):
        if obj is not None and obj.pk is not None:
            audit_record(action=AuditAction.VIEW, record=obj)
            context.update(self._change_page_context(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def history_view(self, request: HttpRequest, object_id: str, extra_context=None):
        response = super().history_view(request, object_id, extra_context)
        follow_up = self.get_object(request, unquote(object_id))
        if follow_up is not None:
            audit_record(action=AuditAction.VIEW, record=follow_up)
        return response

    def _change_page_context(self, request: HttpRequest, follow_up: FollowUp) -> dict:
        now = timezone.now()
        follow_up_links_rows = [
            {"link": link, "state": follow_up_links.link_state(link, now=now)}
            for link in follow_up.links.select_related("follow_up__answer").order_by("-created_at", "-pk")
        ]
        return {
            "follow_up_links": follow_up_links_rows,
            "follow_up_messages": list(follow_up.messages.order_by("-attempted_at", "-pk")),
            "follow_up_answer": getattr(follow_up, "answer", None) if follow_up_links.has_answer(follow_up) else None,
            "can_act": can_write(request.user, clinic_id_of(follow_up)),
        }

    # Pages and actions

    def get_urls(self):
        info = f"{self.opts.app_label}_{self.opts.model_name}"
        pages = [
            path("overdue/", self.admin_site.admin_view(self.overdue_view), name=f"{info}_overdue"),
            path("completion/", self.admin_site.admin_view(self.completion_view), name=f"{info}_completion"),
            path("<path:object_id>/link/", self.admin_site.admin_view(self.issue_link_view), name=f"{info}_link"),
            path("<path:object_id>/revoke/", self.admin_site.admin_view(self.revoke_link_view), name=f"{info}_revoke"),
            path("<path:object_id>/resend/", self.admin_site.admin_view(self.resend_view), name=f"{info}_resend"),
            path("<path:object_id>/decline/", self.admin_site.admin_view(self.decline_view), name=f"{info}_decline"),
            path("<path:object_id>/answer/", self.admin_site.admin_view(self.answer_view), name=f"{info}_answer"),
        ]
        # Before the default URLs, whose "<object_id>/" patterns would otherwise take these.
        return [*pages, *super().get_urls()]

    def _context(self, request: HttpRequest, title: str, **values) -> dict:
        return {**self.admin_site.each_context(request), "title": title, "opts": self.opts, **values}

    def _acted_on(self, request: HttpRequest, object_id: str) -> tuple[FollowUp | None, HttpResponse | None]:
        """The follow-up an action is about, or the answer to give instead.

        A role that never writes is refused before the record is looked up (the same for any id); then a
        follow-up outside the user's clinics is "not found", like one that never existed.
        """
        if not can_write(request.user):
            raise PermissionDenied
        follow_up = self.get_object(request, unquote(object_id))
        if follow_up is None:
            return None, self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not can_write(request.user, clinic_id_of(follow_up)):
            raise PermissionDenied
        return follow_up, None

    def _back(self, request: HttpRequest, follow_up: FollowUp) -> HttpResponseRedirect:
        if request.POST.get("back") == "overdue":
            return HttpResponseRedirect(reverse("admin:cases_followup_overdue", current_app=self.admin_site.name))
        return HttpResponseRedirect(
            reverse("admin:cases_followup_change", args=[follow_up.pk], current_app=self.admin_site.name)
        )

    def _refused(self, request: HttpRequest, error: ValidationError) -> None:
        self.message_user(request, "Nothing was changed: " + " ".join(error.messages), messages.ERROR)

    @staticmethod
    def _private(response: HttpResponse) -> HttpResponse:
        # The page carries a working token: never cached, never sent on as a referrer.
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    def issue_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._issue_link)(request, object_id)

    def _issue_link(self, request: HttpRequest, object_id: str) -> HttpResponse:
        follow_up, answer = self._acted_on(request, object_id)
        if follow_up is None:
            return answer
        try:
            link, token = services.follow_up_link_issue(follow_up=follow_up, issued_by=request.user)
        except ValidationError as error:
            self._refused(request, error)
            return self._back(request, follow_up)
        url = follow_up_links.url_for(token)
        context = self._context(
            request,
            "Follow-up link",
            follow_up=follow_up,
            link=link,
            url=url,
            qr_data_uri=follow_up_links.qr_data_uri(url),
            clinic_name=follow_up.presentation.patient.clinic.name,
        )
        return self._private(TemplateResponse(request, "admin/cases/followup/link_issued.html", context))

    def revoke_link_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._revoke_link)(request, object_id)

    def _revoke_link(self, request: HttpRequest, object_id: str) -> HttpResponse:
        follow_up, answer = self._acted_on(request, object_id)
        if follow_up is None:
            return answer
        link_id = request.POST.get("link", "")
        link = follow_up.links.filter(pk=int(link_id)).first() if link_id.isdigit() else None
        if link is None:
            self.message_user(request, "Nothing was changed: choose one of this follow-up's links.", messages.ERROR)
            return self._back(request, follow_up)
        try:
            services.follow_up_link_revoke(link=link, reason=request.POST.get("reason", ""))
        except ValidationError as error:
            self._refused(request, error)
        else:
            self.message_user(request, "The link was revoked: it now opens nothing.", messages.SUCCESS)
        return self._back(request, follow_up)

    def resend_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._resend)(request, object_id)

    def _resend(self, request: HttpRequest, object_id: str) -> HttpResponse:
        follow_up, answer = self._acted_on(request, object_id)
        if follow_up is None:
            return answer
        try:
            services.follow_up_resend(follow_up=follow_up)
        except ValidationError as error:
            self._refused(request, error)
        else:
            self.message_user(request, "A message goes out with the next sending run.", messages.SUCCESS)
        return self._back(request, follow_up)

    def decline_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        return require_POST(self._decline)(request, object_id)

    def _decline(self, request: HttpRequest, object_id: str) -> HttpResponse:
        follow_up, answer = self._acted_on(request, object_id)
        if follow_up is None:
            return answer
        try:
            services.follow_up_decline(follow_up=follow_up, recorded_by=request.user)
        except ValidationError as error:
            self._refused(request, error)
        else:
            self.message_user(request, "Recorded that the patient declined: no more messages.", messages.SUCCESS)
        return self._back(request, follow_up)

    def answer_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The follow-up's questions, answered on the clinic's tablet or read over the phone, recorded by staff."""
        return require_http_methods(["GET", "HEAD", "POST"])(self._answer)(request, object_id)

    def _answer(self, request: HttpRequest, object_id: str) -> HttpResponse:
        follow_up, answer = self._acted_on(request, object_id)
        if follow_up is None:
            return answer
        clinic = follow_up.presentation.patient.clinic
        try:
            moxfq = load_form(items_file_for(clinic, clinic_settings_of(clinic)))
        except ImproperlyConfigured as error:
            self.message_user(request, f"MOxFQ is not asked: the clinic's item file cannot be used ({error}).")
            moxfq = None
        form = StaffAnswerForm(request.POST if request.method == "POST" else None, moxfq=moxfq)
        if request.method == "POST" and form.is_valid():
            try:
                services.follow_up_answer_record(
                    follow_up=follow_up,
                    channel=form.cleaned_data["channel"],
                    recorded_by=request.user,
                    **form.answers(),
                )
            except ValidationError as error:
                for field, problems in error.message_dict.items():
                    form.add_error(field if field in form.fields else None, problems)
            else:
                self.message_user(request, "The answers were recorded.", messages.SUCCESS)
                return self._back(request, follow_up)
        audit_record(action=AuditAction.VIEW, record=follow_up)
        context = self._context(request, "Record the follow-up's answers", follow_up=follow_up, form=form)
        return TemplateResponse(request, "admin/cases/followup/answer.html", context)

    def overdue_view(self, request: HttpRequest) -> TemplateResponse:
        """Past due, window still open, unanswered: each with its reminders and a one-click resend."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        visible = clinic_ids_for(request.user)
        clinics = Clinic.objects.all() if visible is None else Clinic.objects.filter(pk__in=visible)
        by_zone: dict[str, list[int]] = defaultdict(list)
        for clinic_id, time_zone in clinics.order_by("pk").values_list("pk", "time_zone"):
            by_zone[time_zone].append(clinic_id)
        rows: list[FollowUp] = []
        for time_zone, clinic_ids in sorted(by_zone.items()):  # each clinic judged by its own today
            today = timezone.localdate(timezone.now(), zoneinfo.ZoneInfo(time_zone))
            rows.extend(overdue_list(clinics=clinic_ids, today=today).select_related("clinician"))
        rows.sort(key=lambda row: (row.due_on, row.pk))
        audit_record(action=AuditAction.LIST, records=rows, object_type=self.opts.label_lower)
        writable = clinic_ids_for(request.user, roles=WRITE_ROLES)
        context = self._context(
            request,
            "Overdue follow-ups",
            rows=[
                {
                    "follow_up": row,
                    "patient": row.presentation.patient,
                    "can_act": writable is None or clinic_id_of(row) in writable,
                }
                for row in rows
            ],
        )
        return TemplateResponse(request, "admin/cases/followup/overdue.html", context)

    def completion_view(self, request: HttpRequest) -> TemplateResponse:
        """Completion per time point, per clinic and per clinician, beside the BOFAS registry's figures."""
        readable = clinic_ids_for(request.user, roles=COMPLETION_ROLES)
        if readable is not None and not readable:
            raise PermissionDenied
        clinics = list(
            (Clinic.objects.all() if readable is None else Clinic.objects.filter(pk__in=readable)).order_by("name")
        )
        today = min((clinic.today() for clinic in clinics), default=timezone.localdate())
        form = CompletionRangeForm(request.GET or None)
        due_to, due_from = today, today - datetime.timedelta(days=DEFAULT_COMPLETION_DAYS)
        by_clinic, by_clinician = [], []
        if not form.is_bound or form.is_valid():
            if form.is_bound:
                due_from = form.cleaned_data["due_from"] or due_from
                due_to = form.cleaned_data["due_to"] or due_to
            clinic_names = {clinic.pk: clinic.name for clinic in clinics}
            ids = list(clinic_names)
            by_clinic = completion_rates(clinics=ids, due_from=due_from, due_to=due_to, today=today)
            by_clinician = completion_rates(
                clinics=ids, due_from=due_from, due_to=due_to, today=today, per_clinician=True
            )
            users = get_user_model().objects.in_bulk({row.clinician_id for row in by_clinician if row.clinician_id})
            by_clinic = [
                {"row": row, "time_point": TimePoint(row.time_point).label, "clinic": clinic_names[row.clinic_id]}
                for row in by_clinic
            ]
            by_clinician = [
                {
                    "row": row,
                    "time_point": TimePoint(row.time_point).label,
                    "clinic": clinic_names[row.clinic_id],
                    "clinician": _clinician_name(users.get(row.clinician_id)),
                }
                for row in by_clinician
            ]
        context = self._context(
            request,
            "Follow-up completion",
            form=form,
            due_from=due_from,
            due_to=due_to,
            today=today,
            by_clinic=by_clinic,
            by_clinician=by_clinician,
            bofas=[(TimePoint(time_point).label, percent) for time_point, percent in BOFAS_COMPLETION_PERCENT.items()],
            bofas_source=BOFAS_COMPLETION_SOURCE,
        )
        return TemplateResponse(request, "admin/cases/followup/completion.html", context)
