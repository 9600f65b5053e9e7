"""Request-rate limits: per token (or signed-in user) and per client IP for anonymous callers.

Counters live in Django's cache, so every worker sharing that cache shares the limits.
"""

from rest_framework import exceptions
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle

from .models import ApiToken


class LiveRateMixin:
    """Read the rate from settings on each request, so a deployment (or a test) can change it."""

    def get_rate(self):
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)


class CallerRateThrottle(LiveRateMixin, SimpleRateThrottle):
    """One budget per API token; a browser session's budget is its user's."""

    scope = "caller"

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token:{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user:{request.user.pk}"
        else:
            return None
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ClientIPRateThrottle(LiveRateMixin, AnonRateThrottle):
    """Anonymous callers (including failed logins) by client address."""

    scope = "anon"


class FailedAuthenticationThrottle(LiveRateMixin, SimpleRateThrottle):
    """Failed bearer-token attempts per client address: a guesser is refused before the token is even looked up.

    DRF checks permissions (401) before throttles, so ordinary throttles never see bad tokens;
    the authentication class asks this one directly instead.
    """

    scope = "auth_failure"

    def get_cache_key(self, request, view=None):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def refuse_if_exhausted(self, request) -> None:
        self.rate = self.get_rate()
        if not self.rate:
            return
        self.num_requests, self.duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request)
        self.history = self.cache.get(self.key, [])
        self.now = self.timer()
        while self.history and self.history[-1] <= self.now - self.duration:
            self.history.pop()
        if len(self.history) >= self.num_requests:
            raise exceptions.Throttled(wait=self.wait())

    def record_failure(self, request) -> None:
        if self.get_rate():
            self.throttle_success()
