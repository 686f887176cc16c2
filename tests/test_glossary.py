"""One word for each thing (app/vocabulary.py): a code never reads two ways."""

from __future__ import annotations

import glob
import os
from collections import defaultdict

import pytest
from babel.messages.pofile import read_po
from flask_babel import force_locale

from app import vocabulary
from app.models.branch import ROLE_LABELS
from app.supervisor import labels
from app.vocabulary import TERMS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _msgid(value) -> str:
    """A lazy string's English msgid (without translating it)."""
    return value._args[0] if hasattr(value, "_args") else str(value)


def label_tables() -> dict[str, dict]:
    """Every table that gives codes their words, by name."""
    tables = {
        f"vocabulary.{name}": table
        for name, table in vars(vocabulary).items()
        if name.endswith("_LABELS") and isinstance(table, dict)
    }
    tables.update(
        {
            f"supervisor.labels.{name}": table
            for name, table in vars(labels).items()
            if name.endswith("_LABELS") and isinstance(table, dict)
        }
    )
    tables["roles"] = {role.value: label for role, label in ROLE_LABELS.items()}
    return tables


def test_every_table_uses_the_glossary_word_for_a_glossary_code(app):
    wrong = []
    with app.app_context():
        for name, table in label_tables().items():
            for code, label in table.items():
                code = getattr(code, "value", code)
                if code in TERMS and _msgid(label) != _msgid(TERMS[code]):
                    wrong.append(
                        f"{name}[{code}] = {_msgid(label)!r}, "
                        f"the glossary says {_msgid(TERMS[code])!r}"
                    )
    assert not wrong, wrong


def test_one_english_term_has_one_chinese_translation():
    """The catalogues are merged at run time: a msgid translated two ways reads either way."""
    translations = defaultdict(set)
    for path in glob.glob(os.path.join(ROOT, "app", "**", "messages.po"), recursive=True):
        with open(path, "rb") as f:
            for m in read_po(f):
                if m.id and m.string:
                    translations[m.id if isinstance(m.id, str) else m.id[0]].add(
                        m.string if isinstance(m.string, str) else m.string[0]
                    )
    twice = {k: sorted(v) for k, v in translations.items() if len(v) > 1}
    assert not twice, twice


@pytest.mark.parametrize(
    "code, chinese",
    [
        ("branch_supervisor", "网点负责人"),
        ("online_banking_area", "网银服务区"),
        ("served", "已办理"),
        ("comment_book", "客户意见簿"),
        ("focus", "重点产品"),
        ("general", "一般产品"),
        ("funds_kept", "挽留成功"),
        ("self_service", "自助设备"),
    ],
)
def test_the_source_documents_terms(app, code, chinese):
    with app.test_request_context(), force_locale("zh"):
        assert str(TERMS[code]) == chinese
