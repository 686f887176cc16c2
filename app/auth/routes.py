from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale, gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select

from ..extensions import db, limiter
from ..htmx import render
from ..models import User
from . import bp
from .forms import LoginForm
from .session import end_sign_in, home_url, start_sign_in


def _safe_next(target: str | None) -> str | None:
    """`?next=` if it is a path of this site; control characters (a header split, a
    500) and backslashes (which browsers read as slashes: `/\\evil.example`) are not."""
    if not target or any(ch == "\\" or unicodedata.category(ch) == "Cc" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.before_app_request
def remember_language():
    """Remember `?lang=` even when the answer renders no text (a redirect, JSON).

    Flask-Babel picks the locale lazily, on the first translated string.
    """
    if "lang" in request.args:
        get_locale()


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request.args.get("next")) or home_url(current_user))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        user = db.session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and user.check_password(form.password.data):
            lang = session.get("lang")
            session.clear()  # no fixation: a fresh session for the new user
            if lang:
                session["lang"] = lang
            session.permanent = True
            login_user(user)
            start_sign_in(user)
            return redirect(_safe_next(request.args.get("next")) or home_url(user))
        form.password.errors.append(_("Wrong username or password."))
        status = 401
    elif request.method == "POST":
        status = 400
    return render("auth/login.html", form=form, status=status)


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    end_sign_in()
    logout_user()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
@login_required
def home():
    return redirect(home_url(current_user))
