"""The patient's one-time link: a random token, stored only as its SHA-256 digest, expiring with the window.

The token is the whole credential and says nothing about the patient; the URL is the base URL and the
token. What a link may do right now is ``link_state``; the writes (issue, revoke, a birth-date attempt)
are ``cases.services.follow_up_link_*``. ``qr_svg`` renders the link for in-clinic completion.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import zoneinfo
from enum import StrEnum

import segno
from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.urls import reverse

from .choices import FollowUpStatus

CLOSED_AS_REVOKED = frozenset({FollowUpStatus.CANCELLED, FollowUpStatus.DECLINED})
TOKEN_BYTES = 32  # 256 bits: not guessable, and its digest needs no salt


class LinkState(StrEnum):
    OPEN = "open"
    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    LOCKED = "locked"
    ANSWERED = "answered"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def expires_at(window_closes_on: datetime.date, time_zone: str) -> datetime.datetime:
    """The first moment after the window's last day, in the clinic's zone."""
    next_day = window_closes_on + datetime.timedelta(days=1)
    return datetime.datetime.combine(next_day, datetime.time.min, tzinfo=zoneinfo.ZoneInfo(time_zone))


def link_state(link, *, now: datetime.datetime) -> LinkState:
    """What the link may do at ``now``; ``link`` is None for a token that matches nothing."""
    if link is None:
        return LinkState.UNKNOWN
    if link.revoked_at is not None:
        return LinkState.REVOKED
    if link.locked_at is not None:
        return LinkState.LOCKED
    follow_up = link.follow_up
    if link.used_at is not None or has_answer(follow_up):
        return LinkState.ANSWERED
    # Re-planning and declining revoke links, and a window's close expires them; the follow-up's own
    # status is checked as well, so no path can leave a link open on a closed follow-up.
    if follow_up.status in CLOSED_AS_REVOKED:
        return LinkState.REVOKED
    if follow_up.status == FollowUpStatus.MISSED:
        return LinkState.EXPIRED
    if now >= link.expires_at:
        return LinkState.EXPIRED
    return LinkState.OPEN


def has_answer(follow_up) -> bool:
    """Whether the follow-up already has an answer (through any channel)."""
    try:
        return follow_up.answer is not None
    except ObjectDoesNotExist:
        return False


def url_for(token: str) -> str:
    return settings.FOLLOW_UP["BASE_URL"] + reverse("follow-up-page", kwargs={"token": token})


def qr_svg(url: str, *, scale: int = 6) -> str:
    """The link as a printable QR code, an SVG document (serve it as image/svg+xml, or inline it)."""
    return segno.make(url, error="m").svg_inline(scale=scale, title="Follow-up link")


def qr_data_uri(url: str, *, scale: int = 6) -> str:
    """The same QR code as a data: URI for an <img> (the CSP allows data: images)."""
    return segno.make(url, error="m").svg_data_uri(scale=scale)
