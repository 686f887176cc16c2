"""One word for each thing: the terms of the source document, in English and Chinese.

Every label table that names one of these codes takes its word from here
(roles, visit outcomes, routes, complaint sources, focus kinds ...), so a
code never reads two ways on two pages. The Chinese is in
app/translations/zh/LC_MESSAGES/messages.po; tests/test_glossary.py fails when
a table labels a glossary code with another word, or when one English term
has two Chinese translations in the catalogues.
"""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

TERMS = {
    # people (docs/product-rules.md, "People and roles")
    "lobby_manager": _l("Lobby manager"),  # 大堂经理
    "teller": _l("Teller"),  # 柜员
    "wealth_manager": _l("Wealth manager"),  # 理财经理
    "branch_supervisor": _l("Branch supervisor"),  # 网点负责人
    "area_supervisor": _l("Area supervisor"),  # 区域主管
    "admin": _l("Administrator"),  # 系统管理员
    # a visit and how it ends
    "visit": _l("Visit"),  # 来访
    "served": _l("Served"),  # 已办理
    "walked_away": _l("Walked away"),  # 未办理离开
    "referred": _l("Referred"),  # 已转介
    # places and things in the lobby
    "self_service": _l("Self-service machine"),  # 自助设备
    "online_banking_area": _l("Online-banking area"),  # 网银服务区
    "comment_book": _l("Customer comment book"),  # 客户意见簿
    # the checklist
    "signed_off": _l("Signed off"),  # 签字确认
    # selling
    "focus": _l("Focus product"),  # 重点产品
    "general": _l("General product"),  # 一般产品
    "funds_kept": _l("Funds kept"),  # 挽留成功
}


def term(code: str):
    """The glossary's word for `code` (a lazy string)."""
    return TERMS[code]
