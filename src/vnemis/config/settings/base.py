"""Settings shared by every environment; values that differ come from the environment."""

import os
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

PACKAGE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("VNEMIS_VAR_DIR", Path.cwd() / "var")).resolve()

SECRET_KEY = os.environ.get("VNEMIS_SECRET_KEY", "dev-only-insecure-key-change-me")
DEBUG = os.environ.get("VNEMIS_DEBUG", "0") == "1"
ALLOWED_HOSTS = [
    h for h in os.environ.get("VNEMIS_ALLOWED_HOSTS", "localhost,127.0.0.1").split(",") if h
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "ninja",  # serves the API docs' Swagger UI locally (intranets: no CDN)
    "django_tasks",
    "django_tasks_db",
    "vnemis.core",
    "vnemis.geo",
    "vnemis.orgs",
    "vnemis.registry",
    "vnemis.exchange",
    "vnemis.identity",
    "vnemis.stats",
    "vnemis.exams",
    "vnemis.admissions",
    "vnemis.payments",
    "vnemis.office",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "vnemis.core.middleware.VietnameseFirstMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "vnemis.core.middleware.RequestContextMiddleware",
]

ROOT_URLCONF = "vnemis.config.urls"
WSGI_APPLICATION = "vnemis.config.wsgi.application"
AUTH_USER_MODEL = "orgs.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [PACKAGE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]


def database_from_env() -> dict:
    """PostgreSQL when DATABASE_URL is set, otherwise the embedded SQLite file (WAL)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        config = dj_database_url.parse(url, conn_max_age=60, conn_health_checks=True)
        return config
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("VNEMIS_SQLITE_PATH", str(VAR_DIR / "vnemis.sqlite3")),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000; PRAGMA cache_size=-64000;"
            ),
        },
    }


DATABASES = {"default": database_from_env()}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}

LANGUAGE_CODE = "vi"
LANGUAGES = [("vi", _("Tiếng Việt")), ("en", _("English"))]
LOCALE_PATHS = [PACKAGE_DIR / "locale"]
TIME_ZONE = "Asia/Ho_Chi_Minh"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# The analytics snapshot (Parquet) that statistics read; object storage mounted here at scale.
STATS_SNAPSHOT_DIR = Path(os.environ.get("VNEMIS_SNAPSHOT_DIR", VAR_DIR / "snapshot"))
STATICFILES_DIRS = [PACKAGE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
# Whitenoise serves from STATIC_ROOT as well as the finders; it warns when the folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Addresses of our own reverse proxies: only their X-Forwarded-For is believed (audit log IPs).
VNEMIS_TRUSTED_PROXIES = [
    h.strip() for h in os.environ.get("VNEMIS_TRUSTED_PROXIES", "").split(",") if h.strip()
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

SESSION_COOKIE_AGE = 8 * 3600  # a working day
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False
X_FRAME_OPTIONS = "DENY"

# Keys protecting citizen ID numbers at rest (AES-GCM) and their keyed blind index (HMAC).
# Base64 of 32 random bytes each; development falls back to keys derived from SECRET_KEY.
VNEMIS_PII_KEYS = os.environ.get("VNEMIS_PII_KEYS", "")
VNEMIS_BLIND_INDEX_KEY = os.environ.get("VNEMIS_BLIND_INDEX_KEY", "")
# Signs audit-chain anchors kept outside the database (base64; keep it out of the database host).
VNEMIS_AUDIT_ANCHOR_KEY = os.environ.get("VNEMIS_AUDIT_ANCHOR_KEY", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_pii": {"()": "vnemis.core.logging.RedactPersonalIdentifiers"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_pii"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("VNEMIS_LOG_LEVEL", "INFO")},
    # httpx logs every request at INFO: a verification run would write one line per batch.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "httpx": {"level": "WARNING"}},
}

# Mail (reminders to schools late with a period submission): printed to the console unless an
# SMTP server is configured; tests use Django's in-memory outbox whatever is set here.
EMAIL_BACKEND = os.environ.get(
    "VNEMIS_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend"
)
EMAIL_HOST = os.environ.get("VNEMIS_EMAIL_HOST", "localhost")
EMAIL_PORT = int(os.environ.get("VNEMIS_EMAIL_PORT", "25"))
EMAIL_USE_TLS = os.environ.get("VNEMIS_EMAIL_USE_TLS", "0") == "1"
DEFAULT_FROM_EMAIL = os.environ.get("VNEMIS_DEFAULT_FROM_EMAIL", "csdl-giaoduc@localhost")
# End of term I is not a Circular 25/2024 report: its deadline (days after term I ends) is ours.
VNEMIS_TERM1_REPORT_DUE_DAYS = int(os.environ.get("VNEMIS_TERM1_REPORT_DUE_DAYS", "30"))

# Bootstrap styles errors as "danger"; Django's default tag "error" has no style there.
MESSAGE_TAGS = {40: "danger"}

# Imports (exchange): the largest file accepted, rows per committed chunk, and how long a job's
# heartbeat may be silent before another worker takes it over and resumes it.
VNEMIS_IMPORT_MAX_BYTES = int(os.environ.get("VNEMIS_IMPORT_MAX_BYTES", str(200 * 1024 * 1024)))
VNEMIS_IMPORT_CHUNK_ROWS = int(os.environ.get("VNEMIS_IMPORT_CHUNK_ROWS", "50000"))
VNEMIS_IMPORT_STALE_SECONDS = int(os.environ.get("VNEMIS_IMPORT_STALE_SECONDS", "120"))

# National population registry (data-sharing API; `vnemis sim registry` in development).
VNEMIS_REGISTRY_URL = os.environ.get("VNEMIS_REGISTRY_URL", "http://127.0.0.1:8765")
VNEMIS_REGISTRY_CLIENT_ID = os.environ.get("VNEMIS_REGISTRY_CLIENT_ID", "vnemis")
VNEMIS_REGISTRY_CLIENT_SECRET = os.environ.get("VNEMIS_REGISTRY_CLIENT_SECRET", "dev-secret")
VNEMIS_REGISTRY_TIMEOUT = float(os.environ.get("VNEMIS_REGISTRY_TIMEOUT", "10"))
VNEMIS_REGISTRY_CONCURRENCY = int(os.environ.get("VNEMIS_REGISTRY_CONCURRENCY", "8"))

# Payment gateway (VNPay-style; `vnemis sim payment` in development). Defaults: payments/conf.py.
for _name in (
    "VNEMIS_PAYMENT_GATEWAY_URL",
    "VNEMIS_PAYMENT_TMN_CODE",
    "VNEMIS_PAYMENT_SECRET",
    "VNEMIS_PAYMENT_RETURN_URL",
    "VNEMIS_PAYMENT_SERVER_IP",
):
    if _name in os.environ:
        globals()[_name] = os.environ[_name]

# Admissions: the registration fee per wish (đồng) a new round starts with; not found in public
# sources (DOMAIN.md §7), so configuration, and editable per round by the Ministry.
VNEMIS_ADMISSION_FEE_PER_WISH = int(os.environ.get("VNEMIS_ADMISSION_FEE_PER_WISH", "20000"))

# Public exam-result look-up: requests per client IP per minute, seconds an answer is cached
# (0: no cache), seconds a "not found" is cached (exams/public.py, docs/exams-lookup.md).
VNEMIS_LOOKUP_RATE_PER_MINUTE = int(os.environ.get("VNEMIS_LOOKUP_RATE_PER_MINUTE", "60"))
VNEMIS_LOOKUP_CACHE_SECONDS = int(os.environ.get("VNEMIS_LOOKUP_CACHE_SECONDS", "120"))
VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS = int(
    os.environ.get("VNEMIS_LOOKUP_NEGATIVE_CACHE_SECONDS", "10")
)
