"""A clinician's worklist at ``/admin/worklist/``: their own active cases that need something from them, by
section (lost to follow-up, trial ended with no response recorded, due for a decision, overdue follow-ups), each
row with how overdue it is and the one action it needs. Podiatrists and clinic admins (who treat); reviewers
treat nobody and are refused."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest
from django.template.response import TemplateResponse

from ..audit import AuditAction, audit_record
from ..models import Presentation
from ..selectors import WorklistSection, can_write, clinician_worklist

PER_PAGE = 25


def worklist_counts(user) -> dict[WorklistSection, int] | None:
    """Each section's count for the admin index, or None for someone who treats nobody."""
    if not can_write(user):
        return None
    return {section: len(entries) for section, entries in clinician_worklist(user=user).items()}


def worklist_view(request: HttpRequest) -> TemplateResponse:
    if not can_write(request.user):
        raise PermissionDenied
    sections = clinician_worklist(user=request.user)
    pages = []
    for section, entries in sections.items():
        # One page number per section (?lost=2), so paging one list keeps the others where they were.
        page = Paginator(entries, PER_PAGE).get_page(request.GET.get(section.value))
        pages.append((section, page))
    shown = [entry.presentation for _, page in pages for entry in page.object_list]
    audit_record(action=AuditAction.LIST, records=shown, object_type=Presentation._meta.label_lower)
    context = {
        **admin.site.each_context(request),
        "title": "My worklist",
        "sections": pages,
        "query": request.GET,
    }
    return TemplateResponse(request, "admin/worklist.html", context)
