"""Online backups: SQLite's backup API, or pg_dump for PostgreSQL.

A backup of a live SQLite database is consistent (the backup API copies pages
under a read transaction) and checked with `PRAGMA integrity_check`.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess

from sqlalchemy.engine import make_url


def backup(database_url: str, target: str) -> str:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _backup_sqlite(url.database, target)
    if url.get_backend_name() == "postgresql":
        return _backup_postgres(url, target)
    raise ValueError(f"no backup for {url.get_backend_name()}")


def restore(database_url: str, source: str) -> None:
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        check_sqlite(source)
        if not url.database:
            raise ValueError("a backup cannot be restored into an in-memory database")
        with sqlite3.connect(source) as src, sqlite3.connect(url.database) as dst:
            src.backup(dst)
        return
    if url.get_backend_name() == "postgresql":
        subprocess.run(
            [
                "pg_restore",
                "--clean",
                "--if-exists",
                "--no-owner",
                "--dbname",
                _libpq_url(url),
                source,
            ],
            check=True,
        )
        return
    raise ValueError(f"no restore for {url.get_backend_name()}")


def check_sqlite(path: str) -> None:
    with sqlite3.connect(path) as conn:
        result = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if result != "ok":
        raise RuntimeError(f"integrity check of {path} failed: {result}")


def _backup_sqlite(path: str | None, target: str) -> str:
    if not path or path == ":memory:":
        raise ValueError("an in-memory database cannot be backed up")
    tmp = f"{target}.partial"
    with sqlite3.connect(path) as src, sqlite3.connect(tmp) as dst:
        src.backup(dst)
    check_sqlite(tmp)
    os.replace(tmp, target)
    return target


def _libpq_url(url) -> str:
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def _backup_postgres(url, target: str) -> str:
    if not shutil.which("pg_dump"):
        raise RuntimeError("pg_dump is not installed (Debian: postgresql-client)")
    args = ["pg_dump", "--format=custom", "--file", target, "--dbname", _libpq_url(url)]
    options = url.query.get("options", "")
    if "search_path=" in options:  # a schema of its own (as the tests use)
        args += ["--schema", options.split("search_path=", 1)[1].split()[0]]
    subprocess.run(args, check=True)
    return target
