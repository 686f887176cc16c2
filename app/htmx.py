"""One place that decides between a whole page and an htmx fragment."""

from __future__ import annotations

from flask import make_response, render_template, request


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


def render(page: str, fragment: str | None = None, status: int = 200, **context):
    """Render `fragment` for an htmx request and `page` otherwise.

    `Vary: HX-Request` keeps caches (the service worker's too) from handing a
    fragment to a full page load or the other way round.
    """
    template = fragment if fragment and is_htmx() else page
    response = make_response(render_template(template, **context), status)
    response.headers.add("Vary", "HX-Request")
    return response
