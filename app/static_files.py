"""Static files minified and compressed once, at Brotli's best level, kept in memory.

A tablet's first load is mostly scripts; compressing them per request (as
Flask-Compress does for pages) would cost CPU every time and give a weaker
ratio. Each file is minified (rjsmin/rcssmin: comments and white space only),
compressed on its first request and cached until it changes on disk. The files
in the repository stay as written, and nothing is built before the app runs.
Files that do not shrink (images) go out as they are.
"""

from __future__ import annotations

import gzip
import mimetypes
import os
from functools import lru_cache

import brotli
import rcssmin
import rjsmin
from flask import Flask, Response, abort, request
from werkzeug.security import safe_join

COMPRESSIBLE = frozenset({".js", ".css", ".svg", ".json", ".webmanifest", ".txt"})
ENCODINGS = ("br", "gzip")


def _minified(path: str, data: bytes) -> bytes:
    if path.endswith(".min.js"):
        return data
    if path.endswith(".js"):
        return rjsmin.jsmin(data.decode()).encode()
    if path.endswith(".css"):
        return rcssmin.cssmin(data.decode()).encode()
    return data


@lru_cache(maxsize=128)
def _compressed(path: str, mtime: float, encoding: str, minify: bool) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if minify:
        data = _minified(path, data)
    if encoding == "br":
        return brotli.compress(data, quality=11)
    return gzip.compress(data, compresslevel=9, mtime=0)


def register(app: Flask) -> None:
    send_plain = app.view_functions["static"]

    def static(filename: str):
        encoding = request.accept_encodings.best_match(ENCODINGS)
        if encoding is None or os.path.splitext(filename)[1] not in COMPRESSIBLE:
            return send_plain(filename=filename)
        path = safe_join(app.static_folder or "", filename)
        if path is None or not os.path.isfile(path):
            abort(404)
        mtime = os.path.getmtime(path)
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        body = _compressed(path, mtime, encoding, app.config["STATIC_MINIFY"])
        response = Response(body, mimetype=mimetype)
        response.headers["Content-Encoding"] = encoding
        response.vary.add("Accept-Encoding")
        response.cache_control.no_cache = True  # revalidated: a 304 is a few hundred bytes
        response.set_etag(f"{mtime:.0f}-{os.path.getsize(path)}-{encoding}")
        return response.make_conditional(request)

    app.view_functions["static"] = static
