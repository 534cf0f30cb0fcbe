"""Settings of the Django project behind peers/dot/start.py (URLs: dot_urls.py).

start.py puts this folder on sys.path and sets, before Django starts,
DJANGO_SETTINGS_MODULE=dot_settings and:

    DOT_DATABASE        path of the sqlite file (in start.py's temp dir)
    TOKEN_TTL_SECONDS   OAUTH2_PROVIDER["ACCESS_TOKEN_EXPIRE_SECONDS"]
"""

import os
import secrets

from django.contrib.auth.hashers import PBKDF2PasswordHasher


class PeerPBKDF2PasswordHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2-SHA256 with 10,000 iterations instead of 1,000,000.

    DOT hashes client secrets with the first of PASSWORD_HASHERS and checks one on every
    client authentication (token requests, introspection). Django's default takes ~0.35 s
    per check on the test machine, and DOT's sync views run one at a time under ASGI, so
    the default would queue requests for seconds against 3-second tokens. Same algorithm
    and encoding (`pbkdf2_sha256$10000$...`): the hashed-secret path is still exercised.
    """

    iterations = 10_000


DEBUG = False
SECRET_KEY = secrets.token_urlsafe(50)  # per run; nothing signed outlives the process
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ROOT_URLCONF = "dot_urls"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "oauth2_provider",
]
MIDDLEWARE = []  # the token and introspection endpoints need no sessions, CSRF or auth
TEMPLATES = []

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["DOT_DATABASE"],
        # A throwaway database: no fsync (the migrations take ~2.5 s with it, ~0.3 s without).
        "OPTIONS": {"init_command": "PRAGMA synchronous=OFF; PRAGMA journal_mode=MEMORY;"},
    }
}

PASSWORD_HASHERS = ["dot_settings.PeerPBKDF2PasswordHasher"]

OAUTH2_PROVIDER = {
    "ACCESS_TOKEN_EXPIRE_SECONDS": int(os.environ["TOKEN_TTL_SECONDS"]),
    "SCOPES": {"read": "Reading scope", "write": "Writing scope"},
    # What a token request without `scope` gets (DOT's default is every scope).
    "DEFAULT_SCOPES": ["read"],
}

# Everything to stderr (StreamHandler's default): stdout carries only start.py's JSON line.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "[dot-peer] %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        "django": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
        "oauth2_provider": {"handlers": ["stderr"], "level": "INFO", "propagate": False},
    },
}
