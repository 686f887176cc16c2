"""Security headers on every response: a strict CSP with no inline script."""

from flask import Flask, request
from flask_login import current_user

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "manifest-src 'self'",
        "worker-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

API_CSP = "default-src 'none'; frame-ancestors 'none'"


def register(app: Flask) -> None:
    @app.after_request
    def set_headers(response):
        headers = response.headers
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.remove("Server")  # no version banner
        if request.endpoint == "static":
            # A script or stylesheet is not a document: the policy would be ignored,
            # and ~600 bytes on each of a page's fourteen files is weight on the wire.
            return response
        if response.mimetype in ("application/json", "application/manifest+json"):
            # Data, never a document: nothing may load or run in it (and it is short).
            headers.setdefault("Content-Security-Policy", API_CSP)
            headers.setdefault("X-Frame-Options", "DENY")
            return response
        if response.mimetype == "text/html" and current_user.is_authenticated:
            # A signed-in page or fragment holds its person's data: no HTTP or
            # back-forward cache keeps it past the session (the service worker keeps
            # its own copy for offline use, deleted when the session ends: docs/client.md).
            headers.setdefault("Cache-Control", "no-store")
        for name, value in document_headers(app):
            headers.setdefault(name, value)
        return response


def document_headers(app: Flask) -> list[tuple[str, str]]:
    """The headers of a page or fragment (beside nosniff and, signed in, no-store)."""
    headers = [
        ("Content-Security-Policy", CSP),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(self), microphone=(), geolocation=()"),
    ]
    if app.config.get("SESSION_COOKIE_SECURE"):
        headers.append(("Strict-Transport-Security", "max-age=31536000"))
    return headers
