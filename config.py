"""Configuration read from the environment, one class per environment.

`DATANG_ENV` picks the class; `DATABASE_URL` and `SECRET_KEY` override.
"""

import os
from datetime import timedelta


class Config:
    ENV_NAME = "development"
    SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-not-secret")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")  # None: SQLite in instance/
    # No pool_pre_ping: a connection idle for a while is pinged (app/database.py).
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    DEMO_PASSWORD: str | None = os.environ.get("DATANG_DEMO_PASSWORD", "demo-pass-1234")
    BABEL_DEFAULT_LOCALE = "zh"  # Simplified Chinese; catalogues live in translations/zh
    BABEL_DEFAULT_TIMEZONE = "Asia/Shanghai"
    LANGUAGES = ("zh", "en")

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A lobby shift is long; a tablet left idle for longer signs out.
    # The cookie is only re-sent when the session changes: a poll or a sync still in
    # flight when someone signs out must not put the old session cookie back.
    SESSION_REFRESH_EACH_REQUEST = False
    # The longest a sign-in lasts, however busy; and how long a tablet nobody
    # touches stays signed in (polls and background pulls are not a touch).
    PERMANENT_SESSION_LIFETIME = timedelta(
        minutes=int(os.environ.get("DATANG_SESSION_MINUTES", 12 * 60))
    )
    SESSION_IDLE_TIMEOUT = timedelta(minutes=int(os.environ.get("DATANG_IDLE_MINUTES", 60)))
    SESSION_SEEN_INTERVAL = timedelta(seconds=60)  # how often the idle clock is written
    # The board's poll, when nothing changed, is answered before Flask (app/lobby/poll.py).
    BOARD_POLL_SHORTCUT = True
    # Rendered boards shared by the server's workers (app/lobby/views.py): None puts
    # them in instance/board-cache, "" keeps them per worker only.
    BOARD_CACHE_DIR: str | None = os.environ.get("DATANG_BOARD_CACHE_DIR")

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_HEADERS = ["X-CSRFToken", "X-CSRF-Token"]

    # How many reverse proxies stand in front of gunicorn (0: none). Only then are
    # X-Forwarded-For/-Proto believed: otherwise anyone could pick their address.
    TRUSTED_PROXIES = int(os.environ.get("DATANG_TRUSTED_PROXIES", 0))

    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_HEADERS_ENABLED = True
    LOGIN_RATE_LIMIT = os.environ.get("DATANG_LOGIN_RATE_LIMIT", "10 per minute;50 per hour")

    # Pages, scripts and JSON go out compressed (Flask-Compress): a tablet's first
    # load must stay small on a branch's Wi-Fi. Brotli first; gzip for the rest.
    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_ALGORITHM_STREAMING = ["br", "deflate"]
    # Scripts and stylesheets lose comments and white space on the way out
    # (app/static_files.py); DATANG_MINIFY=0 serves them as written, to debug.
    STATIC_MINIFY = os.environ.get("DATANG_MINIFY", "1") != "0"

    SYNC_MAX_EVENTS = 500
    SYNC_MAX_BYTES = 1024 * 1024
    PULL_DEFAULT_LIMIT = 500
    PULL_MAX_LIMIT = 1000
    # Request bodies above this are cut off by Werkzeug (413) before parsing;
    # room for a fault photo of ~300 KB, base64-encoded, plus the envelope.
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024


class DevelopmentConfig(Config):
    pass


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    DEMO_PASSWORD = os.environ.get("DATANG_DEMO_PASSWORD")


class TestingConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL", "sqlite://")
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 - a method, no password; fast, tests only
    RATELIMIT_ENABLED = True
    BOARD_CACHE_DIR = ""  # per test app; tests/test_capacity.py shares one on purpose


CONFIGS = {
    "development": DevelopmentConfig,
    "production": ProductionConfig,
    "testing": TestingConfig,
}


def config_for(env_name: str | None = None) -> type[Config]:
    name = env_name or os.environ.get("DATANG_ENV", "development")
    if name not in CONFIGS:
        raise RuntimeError(f"DATANG_ENV must be one of {', '.join(CONFIGS)}, not {name!r}")
    return CONFIGS[name]
