"""One place that decides between a whole page and an htmx fragment."""

from __future__ import annotations

from flask import get_flashed_messages, make_response, render_template, request


def is_htmx() -> bool:
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def unchanged_since(version: int) -> bool:
    """Whether a poll's `?since=` is `version`: the fragment would be drawn the same.

    Only ASCII digits count ("²".isdigit() is true, int("²") fails), and no more
    of them than a version has (int() refuses over 4300 digits).
    """
    since = request.args.get("since", "")
    return since.isascii() and since.isdigit() and len(since) <= 19 and int(since) == version


def not_modified():
    """The 204 a poll gets when nothing changed: the screen (and what is typed) stays."""
    response = make_response("", 204)
    response.headers.add("Vary", "HX-Request")
    return response


def flashed_toasts() -> str:
    """The messages flashed so far, as an out-of-band swap into base.html's `#toasts`.

    Taken from the session here, so the next full page does not show them again.
    """
    messages = get_flashed_messages(with_categories=True)
    return render_template("_toasts_oob.html", messages=messages) if messages else ""


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render `fragment` for an htmx request and `page` otherwise.

    An answer to htmx carries the flashed messages with it (`flashed_toasts`):
    a fragment has no layout to show them in. (A whole page has, and takes them
    itself, so none are left to add.) `Vary: HX-Request` keeps caches (the
    service worker's too) from handing a fragment to a full page load or the
    other way round.
    """
    if not is_htmx():
        body = render_template(page, **context)
    else:
        body = render_template(fragment or page, **context) + flashed_toasts()
    response = make_response(body, status)
    response.headers.add("Vary", "HX-Request")
    return response
