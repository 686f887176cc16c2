"""The admin's product catalogue: add, edit, retire, and offer per branch.

The same rules as `flask --app run import-products` (app/admin/catalogue.py,
which writes both): a code names one product across the bank; the form says
which branches offer it. Retiring withdraws it from every branch; the rows
stay, so past recommendations keep their product's name.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ..database import utcnow
from ..extensions import db
from ..htmx import render
from ..lobby import need_tags
from ..models import Branch, Product
from . import bp
from .catalogue import ProductData, rows_of, save_product
from .forms import ProductForm


def _all_branches() -> list[Branch]:
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))


def catalogue_entries() -> list[dict]:
    """One entry per product code: its data and the branches offering it."""
    branches = {b.id: b for b in _all_branches()}
    entries: dict[str, dict] = {}
    for product in db.session.scalars(select(Product).order_by(Product.code, Product.branch_id)):
        entry = entries.setdefault(product.code, {"product": product, "offered": []})
        if product.active:
            entry["offered"].append(branches[product.branch_id])
    return list(entries.values())


@bp.get("/admin/products")
def products():
    # The admin's own day: each branch judges the end date in its own time zone.
    today = utcnow().astimezone(ZoneInfo(current_app.config["BABEL_DEFAULT_TIMEZONE"])).date()
    return render("admin/products.html", entries=catalogue_entries(), today=today)


def _form(product: Product | None, offered: list[int]) -> ProductForm:
    data = None
    if request.method != "POST" and product is not None:
        data = {
            "code": product.code,
            "name": product.name,
            "name_en": product.name_en,
            "pitch": product.pitch,
            "pitch_en": product.pitch_en,
            "needs": list(product.needs or []),
            "risk_level": product.risk_level or "R1",
            "ends_on": product.ends_on,
            "branches": offered,
        }
    form = ProductForm(data=data)
    form.set_choices(need_tags(active_only=False), _all_branches())
    return form


def _save(form: ProductForm, code: str) -> None:
    chosen = set(form.branches.data or [])
    save_product(
        ProductData(
            code=code,
            name=form.name.data,
            name_en=form.name_en.data or "",
            needs=tuple(form.needs.data or ()),
            risk_level=form.risk_level.data,
            ends_on=form.ends_on.data,
            pitch=form.pitch.data or "",
            pitch_en=form.pitch_en.data or "",
        ),
        [b for b in _all_branches() if b.id in chosen],
        withdraw_elsewhere=True,
    )
    db.session.commit()


def _page(form: ProductForm, product: Product | None, status: int = 200):
    return render("admin/product_form.html", status=status, form=form, product=product)


@bp.route("/admin/products/new", methods=["GET", "POST"])
def product_new():
    form = _form(None, [])
    if request.method == "GET":
        return _page(form, None)
    if form.validate():
        if rows_of(form.code.data):
            form.code.errors.append(_("A product with this code already exists."))
        else:
            _save(form, form.code.data)
            flash(_("Product %(code)s added.", code=form.code.data), "info")
            return redirect(url_for("admin.products"))
    return _page(form, None, status=422)


def _product_or_404(product_code: str) -> tuple[Product, list[int]]:
    rows = rows_of(product_code)
    if not rows:
        abort(404)
    return rows[0], [p.branch_id for p in rows if p.active]


@bp.route("/admin/products/<product_code>/edit", methods=["GET", "POST"])
def product_edit(product_code: str):
    product, offered = _product_or_404(product_code)
    form = _form(product, offered)
    if request.method == "GET":
        return _page(form, product)
    form.code.data = product.code  # the code is fixed: devices and past events use it
    if form.validate():
        _save(form, product.code)
        flash(_("Product %(code)s saved.", code=product.code), "info")
        return redirect(url_for("admin.products"))
    return _page(form, product, status=422)


@bp.post("/admin/products/<product_code>/retire")
def product_retire(product_code: str):
    _product_or_404(product_code)
    for row in rows_of(product_code):
        row.active = False
    db.session.commit()
    flash(_("Product %(code)s retired: no branch offers it now.", code=product_code), "info")
    return redirect(url_for("admin.products"))
