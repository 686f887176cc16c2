"""Errors answered in the caller's terms: JSON for the API, a page otherwise."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from .extensions import db
from .htmx import is_htmx


def _messages() -> dict[int, tuple[str, str]]:
    return {
        400: ("bad_request", _("The request could not be understood.")),
        401: ("unauthenticated", _("Sign in again to continue.")),
        403: ("forbidden", _("You do not have access to this.")),
        404: ("not_found", _("This page does not exist.")),
        405: ("method_not_allowed", _("This action is not allowed here.")),
        413: ("too_large", _("What was sent is too large.")),
        429: ("too_many_requests", _("Too many attempts. Wait a minute and try again.")),
        500: (
            "server_error",
            _("Something went wrong on the server. Nothing was lost; try again."),
        ),
    }


def error_response(status: int, code: str | None = None, message: str | None = None):
    default_code, default_message = _messages().get(status, ("error", _("Error")))
    code, message = code or default_code, message or default_message
    if request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json":
        response = jsonify(error={"code": code, "message": message})
        response.status_code = status
        return response
    template = "_error_fragment.html" if is_htmx() else "error.html"
    return render_template(template, status=status, message=message), status


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return error_response(
            400,
            "csrf_failed",
            _(
                "The form has expired or its security token is missing. "
                "Reload the page and try again."
            ),
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc
        # The error page reads (the signed-in user, the menu): not in a failed transaction.
        db.session.rollback()
        return error_response(exc.code)

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        db.session.rollback()
        app.logger.exception("unhandled error")
        return error_response(500)
