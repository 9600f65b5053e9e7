"""Production settings plus what only a benchmark run needs: the reference endpoints and query counting.

Everything else — DEBUG off, the middleware, the renderers, the database connection reuse — is the
production configuration, read from the same environment.
"""

from clinic.settings import *  # noqa: F403
from clinic.settings import MIDDLEWARE

ROOT_URLCONF = "bench.urls"
# Counts queries only for requests that ask (X-Bench-Queries), so the load runs carry no overhead.
MIDDLEWARE = ["bench.middleware.QueryCountMiddleware", *MIDDLEWARE]

# The network generator's command (manage.py generate_network) lives with the benchmarks.
INSTALLED_APPS = [*INSTALLED_APPS, "bench"]  # noqa: F405
