"""The product catalogue as the bank keeps it: loaded from a CSV or edited by an admin.

`flask --app run import-products FILE.csv [--branch CODE ...]` is fixed by
docs/product-rules.md ("Commands", products): a UTF-8 CSV (a BOM is allowed) with the header
`code,name_zh,name_en,needs,risk_level,ends_on`. Every row is checked before
anything is written; one bad row and the file changes nothing.

A product code names one product across the bank (app/models/catalog.py):
its catalogue data is the same in every branch that has a row for it, and
`save_product` is the one function that writes it, for the import and for
the admin's form alike.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from ..extensions import db
from ..lobby import known_need_codes
from ..models import Branch, Product
from ..models.catalog import PRODUCT_CODE, RISK_LEVELS

CSV_HEADER = ("code", "name_zh", "name_en", "needs", "risk_level", "ends_on")
NAME_LENGTH = 100


@dataclass(frozen=True)
class ProductData:
    """A product's catalogue data, the same in every branch that offers it."""

    code: str
    name: str
    name_en: str
    needs: tuple[str, ...]
    risk_level: str
    ends_on: date | None
    pitch: str | None = None  # None: keep what the catalogue has (the CSV has no pitch)
    pitch_en: str | None = None


class CatalogueError(Exception):
    """The file cannot be loaded; `problems` are (line number, what is wrong)."""

    def __init__(self, problems: list[tuple[int, str]]):
        self.problems = problems
        super().__init__("; ".join(f"line {line}: {what}" for line, what in problems))


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise CatalogueError([(line, "not UTF-8 text")]) from None


def _row_problems(values: dict[str, str], need_codes: set[str]) -> list[str]:
    problems = []
    if not PRODUCT_CODE.fullmatch(values["code"]):
        problems.append(f"code {values['code']!r}: use 1 to 32 letters, digits, '_' or '-'")
    if not values["name_zh"]:
        problems.append("name_zh is empty")
    for column in ("name_zh", "name_en"):
        if len(values[column]) > NAME_LENGTH:
            problems.append(f"{column} is longer than {NAME_LENGTH} characters")
    unknown = [n for n in _needs(values["needs"]) if n not in need_codes]
    if unknown:
        problems.append(
            f"unknown need tag {', '.join(unknown)} (known: {', '.join(sorted(need_codes))})"
        )
    if values["risk_level"].upper() not in RISK_LEVELS:
        problems.append(f"risk_level {values['risk_level']!r}: use R1 to R5")
    if values["ends_on"]:
        try:
            date.fromisoformat(values["ends_on"])
        except ValueError:
            problems.append(f"ends_on {values['ends_on']!r}: use an ISO date such as 2026-12-31")
    return problems


def _needs(cell: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(n.strip() for n in cell.split("|") if n.strip()))


def parse_products_csv(raw: bytes) -> list[ProductData]:
    """The file's products, or CatalogueError naming every bad line."""
    reader = csv.reader(io.StringIO(_decode(raw), newline=""))
    header = next(reader, None)
    if header is None or tuple(h.strip() for h in header) != CSV_HEADER:
        raise CatalogueError([(1, f"the header must be {','.join(CSV_HEADER)}")])
    need_codes = known_need_codes()
    products: list[ProductData] = []
    problems: list[tuple[int, str]] = []
    first_line: dict[str, int] = {}
    for cells in reader:
        line = reader.line_num
        if not any(c.strip() for c in cells):
            continue  # a blank line, e.g. at the end of the file
        if len(cells) != len(CSV_HEADER):
            problems.append((line, f"{len(cells)} columns; the header has {len(CSV_HEADER)}"))
            continue
        values = {column: cell.strip() for column, cell in zip(CSV_HEADER, cells, strict=True)}
        wrong = _row_problems(values, need_codes)
        if values["code"] in first_line:
            wrong.append(f"code {values['code']} is already on line {first_line[values['code']]}")
        first_line.setdefault(values["code"], line)
        problems.extend((line, what) for what in wrong)
        if not wrong:
            products.append(
                ProductData(
                    code=values["code"],
                    name=values["name_zh"],
                    name_en=values["name_en"],
                    needs=_needs(values["needs"]),
                    risk_level=values["risk_level"].upper(),
                    ends_on=date.fromisoformat(values["ends_on"]) if values["ends_on"] else None,
                )
            )
    if problems:
        raise CatalogueError(problems)
    return products


def branches_by_code(codes: list[str] | tuple[str, ...]) -> list[Branch]:
    """The named branches (all of them when none is named); ValueError for an unknown code."""
    every = list(db.session.scalars(select(Branch).order_by(Branch.code)))
    if not codes:
        return every
    known = {b.code: b for b in every}
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValueError(f"no branch with code {', '.join(unknown)}")
    return [known[c] for c in dict.fromkeys(codes)]


def rows_of(code: str) -> list[Product]:
    return list(
        db.session.scalars(select(Product).where(Product.code == code).order_by(Product.branch_id))
    )


def save_product(
    data: ProductData, offer_in: list[Branch], withdraw_elsewhere: bool = False
) -> bool:
    """Write the product's data to all its rows and offer it in `offer_in`.

    With `withdraw_elsewhere`, the branches not in `offer_in` stop offering it
    (the admin's form lists them all); the import only adds offers. Returns
    True when the code was new. The caller commits.
    """
    rows = {p.branch_id: p for p in rows_of(data.code)}
    is_new = not rows
    offered = {b.id for b in offer_in}
    for branch in offer_in:
        if branch.id not in rows:
            rows[branch.id] = Product(branch_id=branch.id, code=data.code, pitch="", pitch_en="")
            db.session.add(rows[branch.id])
    for branch_id, product in rows.items():
        product.name, product.name_en = data.name, data.name_en
        product.needs = list(data.needs)
        product.risk_level, product.ends_on = data.risk_level, data.ends_on
        if data.pitch is not None:
            product.pitch, product.pitch_en = data.pitch, data.pitch_en or ""
        if branch_id in offered:
            product.active = True
        elif withdraw_elsewhere:
            product.active = False
    return is_new


def import_products(raw: bytes, branch_codes: list[str] | tuple[str, ...] = ()) -> dict:
    """Load the CSV into the catalogue, all or nothing; counts of added and updated codes."""
    try:
        branches = branches_by_code(branch_codes)
    except ValueError as error:
        raise CatalogueError([(0, str(error))]) from None
    if not branches:
        raise CatalogueError([(0, "there is no branch yet to offer the products in")])
    products = parse_products_csv(raw)
    added = updated = 0
    try:
        for data in products:
            if save_product(data, branches):
                added += 1
            else:
                updated += 1
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return {"added": added, "updated": updated, "branches": [b.code for b in branches]}
