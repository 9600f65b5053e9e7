"""Settings for the neuroma case tracker, read from the environment (12-factor).

Safe by default: DEBUG is off and SECRET_KEY has no default, so a deployment that forgets
either fails loudly instead of running insecurely. `make run` writes a local, git-ignored
`.env` with a random key and DJANGO_DEBUG=1 for development.
"""

from pathlib import Path

import environ

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
    "cases",
    "api",
]

MIDDLEWARE = [
    "clinic.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
X_FRAME_OPTIONS = "DENY"

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
        "rest_framework.renderers.JSONRenderer",
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
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
}
