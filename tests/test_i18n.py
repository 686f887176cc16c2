"""Every string a user can see has a Simplified Chinese translation."""

import os
import subprocess
import sys

from babel.messages.pofile import read_po

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _catalogues():
    for dirpath, _dirs, files in os.walk(os.path.join(ROOT, "app")):
        for name in files:
            if name == "messages.po":
                yield os.path.join(dirpath, name)


def test_chinese_catalogues_live_where_babel_finds_them():
    for path in _catalogues():
        assert os.sep + os.path.join("zh", "LC_MESSAGES") + os.sep in path, path


def test_every_msgid_has_a_chinese_translation(tmp_path):
    pot = tmp_path / "all.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            os.path.join(ROOT, "babel.cfg"),
            "-k",
            "_l",
            "-o",
            str(pot),
            "app",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    with open(pot, "rb") as f:
        wanted = {m.id for m in read_po(f) if m.id}
    translated = set()
    for path in _catalogues():
        with open(path, "rb") as f:
            translated |= {m.id for m in read_po(f) if m.id and m.string}
    missing = sorted(str(m) for m in wanted - translated)
    assert not missing, f"{len(missing)} strings lack a Chinese translation: {missing[:20]}"
