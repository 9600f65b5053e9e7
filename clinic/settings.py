"""Settings for the neuroma case tracker, read from the environment (12-factor).

Safe by default: DEBUG is off and SECRET_KEY has no default, so a deployment that forgets
either fails loudly instead of running insecurely. `make run` writes a local, git-ignored
`.env` with a random key and DJANGO_DEBUG=1 for development.
"""

from pathlib import Path

import environ
from csp import constants as csp_constants

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "axes",
    "csp",
    "simple_history",
    "cases",
    "api",
]

MIDDLEWARE = [
    "clinic.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    # Outside sessions and authentication, so a database outage anywhere inside answers 503, not 500.
    "clinic.db_faults.DatabaseUnavailableMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After authentication: audit events and change history read the acting user from the request.
    "cases.audit.AuditContextMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during authentication into the 429 page.
    "axes.middleware.AxesMiddleware",
]
# The probes (clinic/health.py) come from a load balancer over plain HTTP and carry no data: never
# redirected to https, whatever SECURE_SSL_REDIRECT says.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]

ROOT_URLCONF = "clinic.urls"
WSGI_APPLICATION = "clinic.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# SQLite under var/ is the embedded default; DATABASE_URL=postgres://… selects PostgreSQL 15+.
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A streaming read replica: outcome reports and exports read there (clinic/db_routers.py, docs/scaling.md).
if env.str("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = {
        **env.db_url("DATABASE_REPLICA_URL"),
        "ATOMIC_REQUESTS": False,
        "CONN_MAX_AGE": DATABASES["default"]["CONN_MAX_AGE"],
        "TEST": {"MIRROR": "default"},
    }
    DATABASE_ROUTERS = ["clinic.db_routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2id (memory-hard) for every new or re-saved password; older hashes still verify and are
# upgraded to Argon2 at the user's next successful sign-in.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# django-axes checks every sign-in first and refuses one that is locked out; ModelBackend then signs in.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Lockout after repeated failed admin sign-ins, keyed by the pair (username, client address): a guesser
# is stopped on that account from that address, while the same clinician signing in from the clinic is
# not locked out by someone else's guessing (a lockout keyed by username alone lets anyone lock anyone
# out). Guessing across many accounts from one address is slowed by Argon2 and the password rules.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_LOCKOUT_MINUTES", default=15) / 60  # axes takes hours
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# Attempts are kept in the database, which every worker shares; the stored request data omits the password.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
# Behind a TLS-terminating proxy the client address is the first X-Forwarded-For hop; trust it only then.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if env.bool("DJANGO_BEHIND_PROXY", default=False) else ["REMOTE_ADDR"]
)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
USE_I18N = True
USE_TZ = True
# The server's zone; each clinic also carries its own, which decides what "today" is for its records.
TIME_ZONE = env.str("DJANGO_TIME_ZONE", default="UTC")
CLINIC_DEFAULT_TIME_ZONE = env.str("CLINIC_DEFAULT_TIME_ZONE", default="Europe/London")

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# Automatic logoff: a signed-in session ends after SESSION_IDLE_MINUTES without a request. Every request
# saves the session and so slides its expiry forward; the cookie also dies with the browser.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_MINUTES", default=15) * 60
SESSION_SAVE_EVERY_REQUEST = True
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

# Transport security (checked by `manage.py check --deploy`): HTTPS only, remembered by browsers.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
# A TLS-terminating proxy tells us the original scheme; set only when such a proxy strips the header
# from clients, e.g. DJANGO_SECURE_PROXY_SSL_HEADER=HTTP_X_FORWARDED_PROTO,https.
_proxy_ssl_header = env.list("DJANGO_SECURE_PROXY_SSL_HEADER", default=[])
SECURE_PROXY_SSL_HEADER = tuple(_proxy_ssl_header) if _proxy_ssl_header else None
SECURE_HSTS_SECONDS = env.int("DJANGO_HSTS_SECONDS", default=0 if DEBUG else 365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): only our own origin. The admin has no inline script or style;
# Swagger UI's one inline script and style carry the per-response nonce (templates/drf_spectacular/).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF, csp_constants.NONCE],
        "style-src": [csp_constants.SELF, csp_constants.NONCE],
        # Swagger UI and the admin draw their icons from data: SVGs in their stylesheets.
        "img-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    },
}

# Treatment-ladder defaults from DOMAIN.md §4; every one can be changed per deployment.
LADDER = {
    "TRIAL_WEEKS": {
        "footwear_modification": env.int("LADDER_FOOTWEAR_TRIAL_WEEKS", default=6),
        "orthosis": env.int("LADDER_ORTHOSIS_TRIAL_WEEKS", default=6),
        "corticosteroid_injection": env.int("LADDER_INJECTION_TRIAL_WEEKS", default=4),
        # DOMAIN.md gives no trial length for the alternatives or surgery; these are product
        # defaults (a review after the same four weeks as a steroid injection, six after surgery).
        "alcohol_injection": env.int("LADDER_ALTERNATIVE_TRIAL_WEEKS", default=4),
        "radiofrequency_ablation": env.int("LADDER_ALTERNATIVE_TRIAL_WEEKS", default=4),
        "cryoneurolysis": env.int("LADDER_ALTERNATIVE_TRIAL_WEEKS", default=4),
        "neurectomy": env.int("LADDER_NEURECTOMY_REVIEW_WEEKS", default=6),
    },
    "INJECTION_MIN_INTERVAL_WEEKS": env.int("LADDER_INJECTION_MIN_INTERVAL_WEEKS", default=4),
    "INJECTION_MAX_PER_12_MONTHS": env.int("LADDER_INJECTION_MAX_PER_12_MONTHS", default=3),
    "WORSENING_PAIN_RISE": env.int("LADDER_WORSENING_PAIN_RISE", default=2),
    # A product default, not from DOMAIN.md (which defines no lost-to-follow-up rule): an active case nobody
    # has seen for this long after its trial ended needs a review; 26 weeks is §6a's six-month follow-up.
    "LOST_TO_FOLLOW_UP_WEEKS": env.int("LADDER_LOST_TO_FOLLOW_UP_WEEKS", default=26),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["api.permissions.ClinicRolePermission"],
    "DEFAULT_PAGINATION_CLASS": "api.pagination.StableCursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "api.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ProblemAwareAutoSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.CallerRateThrottle", "api.throttling.ClientIPRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "caller": env.str("API_RATE_PER_CALLER", default="1200/min"),
        "anon": env.str("API_RATE_PER_IP", default="60/min"),
        "auth_failure": env.str("API_AUTH_FAILURES_PER_IP", default="20/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Largest request body the API accepts; larger bodies answer 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=256 * 1024)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=24)

SPECTACULAR_SETTINGS = {
    "TITLE": "Neuroma case tracker API",
    "DESCRIPTION": (
        "Clinic-scoped REST API for intermetatarsal (Morton's) neuroma cases: patients, presentations, visits, "
        "treatments along the ladder, complications, outcome reports and FHIR R4 export. Errors are RFC 9457 "
        "problem details. Authenticate with `Authorization: Bearer <token>`."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The contract holds no patient data; integrators read it before they are given a token.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ReliefEnum": "cases.choices.Relief",
        "ResponseEnum": "cases.choices.Response",
        "TreatmentKindEnum": "cases.choices.TreatmentKind",
        "ComplicationKindEnum": "cases.choices.ComplicationKind",
        # Two resources have a status: the presentation's keeps the name it always had.
        "StatusEnum": "cases.choices.PresentationStatus",
        "FollowUpStatusEnum": "cases.followups.choices.FollowUpStatus",
    },
}

# Shared cache: rate-limit counters (api/throttling.py) must be one budget across all workers, so
# production sets REDIS_URL; without it each process keeps its own counters in memory (development).
if env.str("REDIS_URL", default=""):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": env.str("REDIS_URL"),
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="neuroma"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Logs: one JSON object per line in production (timestamp, level, logger, message, request_id), plain
# text under DEBUG. Every record is scrubbed of PHI (clinic/logging.py); nothing logs request bodies.
LOGGING_CONFIG = "clinic.logging.configure"
LOG_FORMAT = env.str("DJANGO_LOG_FORMAT", default="text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "phi": {"()": "clinic.logging.PhiFilter"},
        "request_id": {"()": "clinic.logging.RequestIdFilter"},
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "format": "%(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"levelname": "level", "name": "logger"},
            "timestamp": True,  # ISO 8601, UTC
        },
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "phi"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    # Django's own handlers (its DEBUG console, mail_admins, runserver's) are replaced: every record
    # goes through the one filtered handler above.
    "loggers": {
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": [], "level": "INFO", "propagate": True},
    },
}

# Outcome follow-ups (cases/followups, docs/follow-ups.md). Time points and windows: DOMAIN.md §6a defaults;
# a clinic can override the windows and reminders in its ClinicFollowUpSettings.
FOLLOW_UP = {
    # Where the patient's link points (no trailing slash); the link carries a token only, never PHI.
    "BASE_URL": env.str("FOLLOW_UP_BASE_URL", default="http://localhost:8000").rstrip("/"),
    "BASELINE": env.bool("FOLLOW_UP_BASELINE", default=True),
    "WINDOW_OPENS_DAYS_BEFORE": env.int("FOLLOW_UP_WINDOW_OPENS_DAYS_BEFORE", default=7),
    "WINDOW_CLOSES_DAYS_AFTER": env.int("FOLLOW_UP_WINDOW_CLOSES_DAYS_AFTER", default=28),
    "REMINDER_EVERY_DAYS": env.int("FOLLOW_UP_REMINDER_EVERY_DAYS", default=7),
    "REMINDER_CAP": env.int("FOLLOW_UP_REMINDER_CAP", default=2),
    # Messages go out from this hour of the clinic's day, not at midnight.
    "SEND_FROM_HOUR": env.int("FOLLOW_UP_SEND_FROM_HOUR", default=9),
    "BATCH_SIZE": env.int("FOLLOW_UP_BATCH_SIZE", default=100),
    "BIRTH_DATE_ATTEMPTS": env.int("FOLLOW_UP_BIRTH_DATE_ATTEMPTS", default=5),
    "PAGE_REQUESTS_PER_MINUTE": env.int("FOLLOW_UP_PAGE_REQUESTS_PER_MINUTE", default=30),
    # Open follow-ups are cancelled when the presentation reaches one of these statuses. "resolved" is not
    # among them: the 6- and 12-month answers after a successful treatment are the outcome itself.
    "CANCEL_WHEN_PRESENTATION": env.list("FOLLOW_UP_CANCEL_WHEN_PRESENTATION", default=["closed", "referred"]),
    # Licensed MOxFQ item texts per clinic slug, e.g. FOLLOW_UP_MOXFQ_ITEMS=northside=/etc/clinic/moxfq.json.
    # Never in the repository (DOMAIN.md §6); a clinic's ClinicFollowUpSettings.moxfq_items_file wins.
    "MOXFQ_ITEMS_FILES": env.dict("FOLLOW_UP_MOXFQ_ITEMS", default={}),
    # Dotted path to a class implementing cases.followups.messaging.SmsSender; empty: no SMS provider is bound.
    "SMS_SENDER": env.str("FOLLOW_UP_SMS_SENDER", default=""),
}

# What counts as a real change (MCID) and an acceptable state, DOMAIN.md §6b. Improvement is a fall
# (lower is better on every measure here). None is neuroma-specific; a clinic may override each one
# (ClinicFollowUpSettings.thresholds). The MOxFQ index has no published MCID and is left out on purpose.
FOLLOW_UP_MCID = {
    "pain_walking": {
        "points": 2,
        "percent": 30,
        "source": "Farrar 2001 (Pain 94:149), chronic pain trials: 2 points or 30 %",
    },
    "pain_rest": {
        "points": 2,
        "percent": 30,
        "source": "Farrar 2001 (Pain 94:149), chronic pain trials: 2 points or 30 %",
    },
    "moxfq_walking_standing": {
        "points": 16,
        "source": "Dawson 2007 (Osteoarthritis Cartilage 15:918), hallux valgus surgery, 12 months",
    },
    "moxfq_pain": {
        "points": 12,
        "source": "Dawson 2007 (Osteoarthritis Cartilage 15:918), hallux valgus surgery, 12 months",
    },
    "moxfq_social": {
        "points": 24,
        "source": "Dawson 2007 (Osteoarthritis Cartilage 15:918), hallux valgus surgery, 12 months",
    },
}
FOLLOW_UP_ACCEPTABLE_STATE = {
    "pain_walking": {
        "at_most": 2,
        "source": "Hallux valgus surgery at 1 year (Foot Ankle Int 2025;46:83)",
    },
}

# Email: SMTP from the environment (EMAIL_URL=smtp+tls://user:password@host:587, or the EMAIL_* variables);
# the console backend in development, so nothing leaves a developer's machine.
if env.str("EMAIL_URL", default=""):
    vars().update(env.email_url("EMAIL_URL"))
elif DEBUG and not env.str("EMAIL_HOST", default=""):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
    EMAIL_PORT = env.int("EMAIL_PORT", default=25)
    EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
    EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
    EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
    EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="follow-up@localhost")

# The project's own static files (the admin workspace's script and styles, and the vendored chart library).
STATICFILES_DIRS = [BASE_DIR / "static"]
