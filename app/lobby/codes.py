"""The lobby's own codes: the built-in need tags. The codes other features share
(purposes, routes, amount bands, ...) and their labels are in app/vocabulary.py."""

from __future__ import annotations

# What the built-in need tags are called until an admin renames them (NeedTag rows).
DEFAULT_NEED_TAGS = [
    ("wealth_management", "理财", "Wealth management"),
    ("deposits", "存款", "Deposits"),
    ("loans", "贷款", "Loans"),
    ("credit_card", "信用卡", "Credit card"),
    ("mobile_banking", "手机银行", "Mobile banking"),
    ("insurance", "保险", "Insurance"),
    ("pension", "养老金", "Pension"),
    ("foreign_exchange", "外汇", "Foreign exchange"),
]
