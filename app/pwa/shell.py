"""What the service worker caches, and the version that tells tablets to update.

The version is a hash of every static file, the service worker's own source,
the offline page's template, this package's code (the manifest) (plus
`DATANG_BUILD_ID` when set), so a deploy that changes any of them installs a new
worker and a fresh app-shell cache, and a deploy that changes none of them costs
the tablets nothing.
"""

from __future__ import annotations

import hashlib
import os

from flask import Flask, current_app, url_for

# Files under static/ that a page never loads.
SKIP_SUFFIXES = (".map", ".md", ".txt", ".mo", ".po")
SKIP_NAMES = {"LICENSE", "VERSION"}

# Lobby-manager screens (and their fragments and dialogs) the service worker
# keeps the last-seen copy of: network first, cache when offline.
OFFLINE_PATHS = ("/lobby", "/checklist")


def static_files(app: Flask) -> list[str]:
    """Paths under static/, sorted, of the files a page may load."""
    found: list[str] = []
    root = app.static_folder or ""
    for dirpath, dirnames, files in os.walk(root):
        dirnames.sort()
        for name in sorted(files):
            if name in SKIP_NAMES or name.endswith(SKIP_SUFFIXES) or name.startswith("."):
                continue
            found.append(os.path.relpath(os.path.join(dirpath, name), root).replace(os.sep, "/"))
    return found


def _digest(app: Flask) -> str:
    sha = hashlib.sha256()
    for rel in static_files(app):
        sha.update(rel.encode())
        with open(os.path.join(app.static_folder or "", rel), "rb") as handle:
            sha.update(hashlib.sha256(handle.read()).digest())
    templates = os.path.join(app.root_path, "templates", "pwa")
    for name in sorted(os.listdir(templates)):
        with open(os.path.join(templates, name), "rb") as handle:
            sha.update(name.encode() + handle.read())
    here = os.path.dirname(__file__)
    for name in sorted(n for n in os.listdir(here) if n.endswith(".py")):
        with open(os.path.join(here, name), "rb") as handle:
            sha.update(name.encode() + handle.read())
    sha.update(os.environ.get("DATANG_BUILD_ID", "").encode())
    return sha.hexdigest()[:12]


def shell_version() -> str:
    """Computed once per process (each request in debug mode, when files change under you)."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy
    if app.debug:
        return _digest(app)
    cached = app.extensions.get("datang_shell_version")
    if cached is None:
        cached = app.extensions["datang_shell_version"] = _digest(app)
    return cached


def precache_urls() -> list[str]:
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]  # a proxy
    urls = [url_for("static", filename=rel) for rel in static_files(app)]
    return urls + [url_for("pwa.offline"), url_for("pwa.manifest")]
