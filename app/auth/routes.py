from __future__ import annotations

import secrets
import unicodedata
from functools import lru_cache
from urllib.parse import urlsplit

from flask import Flask, current_app, flash, redirect, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash

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


@lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash(secrets.token_urlsafe(16), method=method)


def warm_dummy_hash(app: Flask) -> None:
    _dummy_hash(app.config.get("PASSWORD_HASH_METHOD", "scrypt"))


def _password_matches(user: User | None, password: str) -> bool:
    """Whether `user` may sign in with `password`, at the same cost when there is no
    such user (or an inactive one): the time of an answer tells no user names."""
    if user is None or not user.active:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        check_password_hash(_dummy_hash(method), password)
        return False
    return user.check_password(password)


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
        if _password_matches(user, form.password.data):
            # Someone signs in over a live session of this browser: that sign-in
            # ends everywhere (a copy of its cookie stops working too).
            end_sign_in("replaced")
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


@bp.get("/logout")
def logout_page():
    """A link or an old bookmark to /logout signs no one out: a page that asks.

    Signing out is a POST with the CSRF token, so another site cannot sign a
    tablet out with an image tag or a link.
    """
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    return render("auth/logout.html")


@bp.post("/logout")
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
