"""``python -m bench.token``: print a read-write API token for the benchmark superuser of ``DATABASE_URL``.

The memory scenario serves a second database (twice the network) while the run's own Django stays
connected to the first; a token for the second is issued here, in a process of its own.
"""

from __future__ import annotations

import django


def root_token() -> str:
    """A one-day read-write token for ``bench-root``, created as a superuser on first use."""
    from django.contrib.auth import get_user_model

    from api.models import ApiToken, TokenScope

    root, _ = get_user_model().objects.get_or_create(username="bench-root", defaults={"is_superuser": True})
    _, secret = ApiToken.issue(user=root, name="benchmark", scope=TokenScope.READ_WRITE, days=1)
    return secret


if __name__ == "__main__":
    django.setup()
    print(root_token())
