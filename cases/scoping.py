"""A record's clinic and patient (along its model's ``CLINIC_PATH``), and the user's role in each clinic.

Every permission and every audit event starts from these facts. They import no model, so the audit
trail can use them while the models themselves import the change history: ``cases.selectors`` offers
them with the other reads.
"""

from __future__ import annotations

from django.db import models


def clinic_id_of(record: models.Model) -> int:
    """The id of the clinic a clinical record belongs to, by walking its model's ``CLINIC_PATH``."""
    *hops, last = record.CLINIC_PATH.split("__")
    for hop in hops:
        record = getattr(record, hop)
    return getattr(record, f"{last}_id")


def patient_id_of(record: models.Model) -> int:
    """The id of the patient a clinical record belongs to (a patient's own id), along the same path."""
    *hops, _clinic = record.CLINIC_PATH.split("__")
    if not hops:
        return record.pk
    *walk, last = hops
    for hop in walk:
        record = getattr(record, hop)
    return getattr(record, f"{last}_id")


def clinic_roles(user) -> dict[int, str]:
    """The user's role in each of their clinics, by clinic id; cached on the user object per request."""
    if not getattr(user, "is_authenticated", False):
        return {}
    cached = getattr(user, "_clinic_roles", None)
    if cached is None:
        cached = dict(user.memberships.values_list("clinic_id", "role"))
        user._clinic_roles = cached
    return cached


def known_clinic_roles(user) -> dict[int, str] | None:
    """The user's roles if this request has already read them (with the caller's token or session), else None."""
    return getattr(user, "_clinic_roles", None)


def remember_clinic_roles(user, roles: dict[int, str]) -> None:
    """Keep roles read together with the user (the token lookup joins them) for the rest of the request."""
    user._clinic_roles = dict(roles)
