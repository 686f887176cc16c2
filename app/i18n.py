"""Languages and time zones: Simplified Chinese by default, English selectable and remembered.

Chinese is the locale `zh` (Babel reads it as Simplified Chinese); its catalogues
are in `translations/zh/LC_MESSAGES/messages.po`. English is the msgids themselves.
"""

from __future__ import annotations

import os

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, current_app, g, request, session
from flask_babel import get_locale
from flask_login import current_user


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    asked = request.args.get("lang")
    if asked:
        code = {"zh": "zh", "zh-CN": "zh", "zh_CN": "zh", "zh-Hans": "zh", "en": "en"}.get(asked)
        if code is not None and code in languages:
            session["lang"] = code
            return code
    remembered = session.get("lang")
    if remembered is not None and remembered in languages:
        return str(remembered)
    return str(current_app.config["BABEL_DEFAULT_LOCALE"])


def ui_lang() -> str:
    """'en' or 'zh': which of a record's two names (name / name_en) to show."""
    return "en" if get_locale().language == "en" else "zh"


def select_timezone() -> str:
    """The branch's time zone: every time a user reads is in the branch's clock."""
    branch = getattr(g, "branch", None)
    if branch is not None:
        return branch.timezone
    if current_user and current_user.is_authenticated and current_user.home_branch:
        return current_user.home_branch.timezone
    return current_app.config["BABEL_DEFAULT_TIMEZONE"]


def translation_directories(app: Flask) -> list[str]:
    """`app/translations` and each feature's own `app/<feature>/translations`.

    Flask-Babel merges their catalogues, so a feature keeps its strings beside its code.
    """
    found = []
    for dirpath, dirnames, _files in os.walk(app.root_path):
        dirnames[:] = [d for d in dirnames if d not in ("static", "templates", "__pycache__")]
        if os.path.basename(dirpath) == "translations":
            found.append(dirpath)
            dirnames[:] = []
    return sorted(found)


def compile_translations(app: Flask) -> None:
    """Compile the .po catalogues to .mo when a .mo is missing or older.

    The .mo files are build products kept out of git, so a fresh clone works
    with no extra step.
    """
    for root in translation_directories(app):
        for dirpath, _dirs, files in os.walk(root):
            for name in (f for f in files if f.endswith(".po")):
                _compile(os.path.join(dirpath, name), read_po, write_mo)


def _compile(po_path: str, read_po, write_mo) -> None:
    mo_path = po_path[:-3] + ".mo"
    if os.path.exists(mo_path) and os.path.getmtime(mo_path) >= os.path.getmtime(po_path):
        return
    with open(po_path, "rb") as po_file:
        catalog = read_po(po_file)
    tmp_path = f"{mo_path}.{os.getpid()}.tmp"
    with open(tmp_path, "wb") as mo_file:
        write_mo(mo_file, catalog)
    os.replace(tmp_path, mo_path)  # atomic: two workers may start at once
