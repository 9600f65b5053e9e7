"""The patient's follow-up page: no account, a one-time link, the birth date first, then the questions.

Until the birth date is confirmed the page shows the clinic's name and nothing else: not the patient's
name, not the foot, not the treatment. A link that cannot open (unknown, expired, revoked, locked,
already answered) gets a plain page saying which, and nothing is written. Every response is marked
``noindex`` and ``no-store`` and sends no referrer (the token is in the URL). Requests are counted per
client address in the shared cache; past the limit the page answers 429.
"""

from __future__ import annotations

import functools
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from .. import services
from .choices import AnswerChannel
from .forms import AnswerForm, BirthDateForm
from .links import LinkState, link_state
from .scoring import items_file_for, load_form
from .selectors import clinic_settings_of, link_for_token

SESSION_KEY = "follow_up_links_confirmed"
logger = logging.getLogger(__name__)

# What each closed state tells the patient, and the HTTP status it answers with.
CLOSED_PAGES: dict[str, tuple[int, str, str]] = {
    LinkState.UNKNOWN: (404, "Link not found", "This link is not known. Check that you copied all of it."),
    LinkState.EXPIRED: (410, "Link expired", "This link has expired: the time to answer these questions is over."),
    LinkState.REVOKED: (410, "Link withdrawn", "This link has been withdrawn by the clinic."),
    LinkState.LOCKED: (
        403,
        "Link locked",
        "This link is locked because the date of birth was entered wrongly too many times. Please contact the clinic.",
    ),
    LinkState.ANSWERED: (200, "Already answered", "These questions have already been answered. Thank you."),
}


def _patient_page_headers(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["X-Robots-Tag"] = "noindex, nofollow"
        response["Cache-Control"] = "no-store"
        response["Referrer-Policy"] = "no-referrer"
        return response

    return wrapped


def _over_rate_limit(request: HttpRequest) -> bool:
    # A fixed one-minute window per client address (REMOTE_ADDR: a proxy must set it, as for the audit trail).
    limit = settings.FOLLOW_UP["PAGE_REQUESTS_PER_MINUTE"]
    address = request.META.get("REMOTE_ADDR") or "unknown"
    key = f"follow-up-page:{address}:{int(time.time() // 60)}"
    cache.add(key, 0, timeout=120)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=120)
        count = 1
    return count > limit


def _closed(request, state: str, clinic_name: str = "", status: int | None = None) -> HttpResponse:
    code, title, message = CLOSED_PAGES[state]
    return render(
        request,
        "followups/closed.html",
        {"title": title, "message": message, "clinic_name": clinic_name},
        status=status or code,
    )


@_patient_page_headers
@require_http_methods(["GET", "HEAD", "POST"])
def follow_up_page(request: HttpRequest, token: str) -> HttpResponse:
    if _over_rate_limit(request):
        response = render(
            request,
            "followups/closed.html",
            {"title": "Too many requests", "message": "Too many requests from this address. Try again in a minute."},
            status=429,
        )
        response["Retry-After"] = "60"
        return response
    link = link_for_token(token)
    state = link_state(link, now=timezone.now())
    if state != LinkState.OPEN:
        replay = request.method == "POST" and state == LinkState.ANSWERED
        clinic_name = link.follow_up.presentation.patient.clinic.name if link is not None else ""
        return _closed(request, state, clinic_name, status=409 if replay else None)
    follow_up = link.follow_up
    clinic = follow_up.presentation.patient.clinic
    confirmed = link.pk in request.session.get(SESSION_KEY, [])
    if not confirmed:
        return _confirm_birth_date(request, link, clinic.name)
    try:
        moxfq = load_form(items_file_for(clinic, clinic_settings_of(clinic)))
    except ImproperlyConfigured:
        # A broken item file must not keep the patient from answering the rest; staff see it in the log.
        logger.error("The MOxFQ item file of clinic %s cannot be used; MOxFQ is not asked.", clinic.pk)
        moxfq = None
    form = AnswerForm(request.POST if request.method == "POST" else None, moxfq=moxfq)
    if request.method == "POST" and form.is_valid():
        try:
            services.follow_up_answer_record(
                follow_up=follow_up, channel=AnswerChannel.LINK, link=link, **form.answers()
            )
        except ValidationError as error:
            if getattr(error, "error_dict", {}).keys() & {"follow_up", "link"}:
                return _closed(request, LinkState.ANSWERED, clinic.name, status=409)
            for field, messages in error.message_dict.items():
                form.add_error(field if field in form.fields else None, messages)
        except IntegrityError:  # a second submit won the race for the one answer
            return _closed(request, LinkState.ANSWERED, clinic.name, status=409)
        else:
            return render(request, "followups/thanks.html", {"clinic_name": clinic.name})
    return render(
        request,
        "followups/answer.html",
        {"form": form, "clinic_name": clinic.name, "time_point": follow_up.get_time_point_display()},
        status=400 if form.is_bound else 200,
    )


def _confirm_birth_date(request: HttpRequest, link, clinic_name: str) -> HttpResponse:
    form = BirthDateForm(request.POST if request.method == "POST" else None)
    attempts_left = None
    if request.method == "POST" and form.is_valid():
        check = services.follow_up_link_confirm(link=link, birth_date=form.cleaned_data["birth_date"])
        if check.confirmed:
            request.session[SESSION_KEY] = [*request.session.get(SESSION_KEY, []), link.pk]
            request.session.cycle_key()  # a confirmed session gets a fresh id
            return redirect(request.path)
        if check.locked:
            return _closed(request, LinkState.LOCKED, clinic_name)
        attempts_left = check.attempts_left
        form.add_error(
            "birth_date",
            f"That date of birth does not match our record. {attempts_left} "
            f"attempt{'s' if attempts_left != 1 else ''} left before the link locks.",
        )
    return render(
        request,
        "followups/confirm.html",
        {"form": form, "clinic_name": clinic_name, "attempts_left": attempts_left},
        status=400 if form.is_bound else 200,
    )
