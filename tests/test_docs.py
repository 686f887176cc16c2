"""The docs keep up with the code: every event type, every setting, every cited file.

Everything is read from the code and the files at test time, so a new event
type, a new `DATANG_*` variable or a new doc is checked without changing this
file.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.events import EVENT_TYPES

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# Where the app and its operator scripts read settings; tests and benchmarks
# document their own knobs beside them (docs/performance.md, docs/security.md).
SETTINGS_SOURCES = ["app/**/*.py", "config.py", "run.py", "scripts/*.sh"]
# Files that cite other files: the code, the tests, the docs.
CITING_FILES = [
    "app/**/*.py",
    "app/**/*.js",
    "app/**/*.html",
    "tests/**/*.py",
    "testbed/**/*.py",
    "bench/**/*.py",
    "scripts/*.sh",
    "config.py",
    "*.md",
    "docs/**/*.md",
]
DOC_CITATION = re.compile(r"(?<![\w/.-])docs/[\w./-]+\.md\b")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
# A backticked path into the repository in a doc, e.g. `app/events/apply.py`.
CODE_PATH = re.compile(r"`((?:app|tests|testbed|bench|docs|scripts|migrations)/[\w./-]+\.\w+)`")


def _files(patterns: list[str]) -> list[Path]:
    return sorted(
        {
            path
            for pattern in patterns
            for path in ROOT.glob(pattern)
            if ".venv" not in path.parts and path.is_file()
        }
    )


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _mentions(text: str, name: str) -> bool:
    """`name` as a whole word: `visit.greeted` is not `visit.greeted_late`."""
    return re.search(rf"(?<![\w.]){re.escape(name)}(?![\w])", text) is not None


def test_every_event_type_is_in_the_event_docs(app):
    documented = "\n".join(_text(path) for path in DOCS.glob("events*.md"))
    assert EVENT_TYPES, "no event types registered: the registry is read too early"
    missing = sorted(name for name in EVENT_TYPES if not _mentions(documented, name))
    assert not missing, f"event types not in docs/events*.md: {missing}"


def test_every_datang_variable_is_in_the_readme():
    readme = _text(ROOT / "README.md")
    read = {
        name
        for path in _files(SETTINGS_SOURCES)
        for name in re.findall(r"\bDATANG_[A-Z0-9_]*[A-Z0-9]\b", _text(path))
    }
    assert read, "found no DATANG_* variables at all: the search is broken"
    missing = sorted(name for name in read if not _mentions(readme, name))
    assert not missing, f"DATANG_* variables read by the code but not in README.md: {missing}"


def _cited_paths() -> list[tuple[str, str]]:
    """(citing file, cited path relative to the repository root)."""
    cited = []
    for path in _files(CITING_FILES):
        text = _text(path)
        where = str(path.relative_to(ROOT))
        cited += [(where, match) for match in DOC_CITATION.findall(text)]
        if path.suffix == ".md":
            for target in MARKDOWN_LINK.findall(text):
                if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                    continue  # a URL or an anchor on the same page
                resolved = (path.parent / target.split("#")[0]).resolve()
                cited.append((where, str(resolved.relative_to(ROOT))))
            cited += [
                (where, match)
                for match in CODE_PATH.findall(text)
                if "*" not in match and "<" not in match
            ]
    return cited


def test_the_search_for_citations_finds_some():
    cited = {target for _, target in _cited_paths()}
    assert "docs/sync-contract.md" in cited and "docs/events.md" in cited


@pytest.mark.parametrize("citing, target", sorted(set(_cited_paths())))
def test_every_cited_file_exists(citing, target):
    assert (ROOT / target).exists(), f"{citing} cites {target}, which does not exist"
