from flask import jsonify, url_for
from sqlalchemy import text

from ..extensions import db
from . import bp


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001 - any database failure means not healthy
        db.session.rollback()
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok")


@bp.get("/manifest.webmanifest")
def manifest():
    icon = lambda size, purpose="any": {  # noqa: E731
        "src": url_for("static", filename=f"icons/icon-{size}{'-maskable' if purpose == 'maskable' else ''}.png"),
        "sizes": f"{size}x{size}", "type": "image/png", "purpose": purpose}
    response = jsonify({
        "name": "大堂 Datang",
        "short_name": "大堂",
        "description": "大堂经理的平板工具 · The lobby manager's tablet app",
        "lang": "zh-CN",
        "start_url": "/lobby",
        "scope": "/",
        "display": "standalone",
        "orientation": "any",
        "background_color": "#f6f4ef",
        "theme_color": "#0b5c4a",
        "icons": [icon(192), icon(512), icon(512, "maskable")],
    })
    response.mimetype = "application/manifest+json"
    return response
