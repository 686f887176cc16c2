"""Datang: the lobby manager's tablet app. `create_app()` builds it in named steps."""

from __future__ import annotations

import os

from flask import Flask

from config import config_for

from . import (
    admin,
    auth,
    checklist,
    commands,
    counter,
    database,
    errors,
    lobby,
    pwa,
    referrals,
    security,
    static_files,
    supervisor,
    sync,
    templating,
    waiting,
)
from .extensions import babel, compress, csrf, db, limiter, login_manager, migrate
from .i18n import compile_translations, select_locale, select_timezone, translation_directories


def create_app(env_name: str | None = None, **overrides) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    configure(app, env_name, overrides)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    register_template_helpers(app)
    register_static_files(app)
    return app


def configure(app: Flask, env_name: str | None, overrides: dict) -> None:
    config = config_for(env_name)
    app.config.from_object(config)
    app.config.update(overrides)
    if (
        app.config["ENV_NAME"] == "production"
        and not os.environ.get("SECRET_KEY")
        and "SECRET_KEY" not in overrides
    ):
        raise RuntimeError("SECRET_KEY must be set when DATANG_ENV=production")
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        path = os.path.join(app.instance_path, "datang.sqlite3")
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{path}"
    proxies = app.config["TRUSTED_PROXIES"]
    if proxies:
        # Behind nginx/Caddy: the client's address (sign-in throttling, the audit
        # log) and https come from the proxy's X-Forwarded-* headers. Imported only
        # then: most deployments have no proxy.
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]  # Flask's documented way
            app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies
        )
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgres://") or uri.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; accept the short forms operators type.
        app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://" + uri.split("://", 1)[1]


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    # First of the request hooks: before anything reads the database.
    app.before_request(database.begin_autocommit_reads)
    migrate.init_app(
        app,
        db,
        directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    compress.init_app(app)
    limiter.init_app(app)
    compile_translations(app)
    babel.init_app(
        app,
        locale_selector=select_locale,
        timezone_selector=select_timezone,
        default_translation_directories=";".join(translation_directories(app)),
    )
    login_manager.init_app(app)


# In the order their blueprints are registered (the first that matches a URL wins).
FEATURES = (auth, pwa, lobby, checklist, referrals, counter, supervisor, waiting, admin, sync)


def register_blueprints(app: Flask) -> None:
    """Each feature registers its blueprint, event types, observers and demo data."""
    for feature in FEATURES:
        feature.init_app(app)


def register_errorhandlers(app: Flask) -> None:
    errors.register(app)


def register_commands(app: Flask) -> None:
    commands.register(app)


def register_security_headers(app: Flask) -> None:
    security.register(app)


def register_static_files(app: Flask) -> None:
    static_files.register(app)


def register_template_helpers(app: Flask) -> None:
    templating.register(app)
