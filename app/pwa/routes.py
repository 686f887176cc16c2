"""The installable app: health check, web app manifest, service worker, offline page."""

from __future__ import annotations

from flask import jsonify, make_response, render_template, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import text

from ..extensions import db
from . import bp
from .shell import OFFLINE_PATHS, precache_urls, shell_version


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not healthy
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok")


def _icon(size: int, purpose: str = "any") -> dict:
    suffix = "-maskable" if purpose == "maskable" else ""
    return {
        "src": url_for("static", filename=f"icons/icon-{size}{suffix}.png"),
        "sizes": f"{size}x{size}",
        "type": "image/png",
        "purpose": purpose,
    }


@bp.get("/manifest.webmanifest")
def manifest():
    """Both languages in one manifest: it is fetched once, whoever installs the app."""
    response = jsonify(
        {
            "id": "/lobby",
            "name": "大堂 Datang",
            "short_name": "大堂",
            "description": "大堂经理的平板工具 · The lobby manager's tablet app",
            "lang": "zh-CN",
            "dir": "ltr",
            "start_url": "/lobby",
            "scope": "/",
            "display": "standalone",
            "orientation": "any",
            "background_color": "#f6f4ef",
            "theme_color": "#0b5c4a",
            "categories": ["business", "productivity"],
            "icons": [_icon(192), _icon(512), _icon(512, "maskable")],
        }
    )
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/sw.js")
def service_worker():
    """The service worker, from the root so that its scope is the whole app.

    `no-cache` makes the browser ask for it on every update check, so a new
    version is seen at once; the body embeds the version and the precache list.
    """
    config = {
        "version": shell_version(),
        "precache": precache_urls(),
        "static": url_for("static", filename=""),
        "offline": url_for("pwa.offline"),
        "offlinePaths": list(OFFLINE_PATHS),
        "login": url_for("auth.login"),
        "logout": url_for("auth.logout"),
    }
    response = make_response(render_template("pwa/sw.js", sw=config))
    response.mimetype = "text/javascript"
    response.headers["Service-Worker-Allowed"] = "/"
    response.headers["Cache-Control"] = "no-cache, max-age=0"
    return response


@bp.get("/offline")
def offline():
    """Shown by the service worker for a page it has no copy of while offline.

    It is cached once for everybody, so it carries no user's data and says
    everything in both languages.
    """
    texts = []
    for locale in ("zh", "en"):
        with force_locale(locale):
            texts.append(
                {
                    "lang": "zh-CN" if locale == "zh" else "en",
                    "title": _("You are offline"),
                    "body": _(
                        "This page has not been opened on this tablet yet, so there is no "
                        "copy of it to show. Everything you recorded is kept on the tablet "
                        "and is sent when the network is back."
                    ),
                    "lobby": _("Lobby"),
                    "checklist": _("Checklist"),
                }
            )
    response = make_response(
        render_template(
            "pwa/offline.html",
            texts=texts,
            links=[url_for("lobby.board"), url_for("checklist.today")],
        )
    )
    response.headers["Cache-Control"] = "no-cache"
    return response
