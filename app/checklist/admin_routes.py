"""The admin's checklist screens: each branch's equipment inventory, leaflets and template.

Configuration, not lobby events: plain ORM writes, each request all or
nothing, admins only (403 for any other role). A change shows in the next
day's run; a run already started keeps the items it was started with.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..auth import role_required
from ..extensions import db
from ..htmx import render
from ..models import Branch, Equipment, Leaflet, Product, Role, TemplateItem
from . import bp
from .inventory import EQUIPMENT_KINDS, ITEM_KINDS, KIND_TITLES, MAX_LEAFLET_COUNT, template_for

admin_only = role_required(Role.ADMIN)


def _branches() -> list[Branch]:
    return list(db.session.scalars(select(Branch).order_by(Branch.code)))


def _branch(code: str | None) -> Branch:
    branches = _branches()
    if not branches:
        abort(404)
    if not code:
        return branches[0]
    branch = next((b for b in branches if b.code == code), None)
    if branch is None:
        abort(404)
    return branch


def _text(name: str, required: bool = False, limit: int = 100) -> tuple[str, str | None]:
    value = (request.form.get(name) or "").strip()
    if required and not value:
        return value, _("This field is required.")
    if len(value) > limit:
        return value, _("At most %(n)d characters.", n=limit)
    return value, None


def _flag(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "y")


def _next_sort(model, branch: Branch) -> int:
    return (
        db.session.scalar(select(func.max(model.sort)).where(model.branch_id == branch.id)) or 0
    ) + 1


# --- equipment and leaflets -------------------------------------------------


def _equipment_page(branch: Branch, errors: dict | None = None, status: int = 200):
    equipment = list(
        db.session.scalars(
            select(Equipment)
            .where(Equipment.branch_id == branch.id)
            .order_by(Equipment.sort, Equipment.id)
        )
    )
    leaflets = list(
        db.session.scalars(
            select(Leaflet).where(Leaflet.branch_id == branch.id).order_by(Leaflet.sort, Leaflet.id)
        )
    )
    products = list(
        db.session.scalars(
            select(Product).where(Product.branch_id == branch.id).order_by(Product.code)
        )
    )
    return render(
        "checklist/admin_equipment.html",
        status=status,
        branch=branch,
        branches=_branches(),
        equipment=equipment,
        leaflets=leaflets,
        products=products,
        kinds=EQUIPMENT_KINDS,
        errors=errors or {},
        form=request.form,
        today=date.today(),
    )


@bp.get("/admin/equipment")
@admin_only
def equipment():
    return _equipment_page(_branch(request.args.get("branch")))


def _equipment_fields() -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, required in (("name", True), ("name_en", False)):
        values[name], error = _text(name, required)
        if error:
            errors[name] = error
    values["critical"] = _flag("critical")
    return values, errors


@bp.post("/admin/equipment/<code>")
@admin_only
def equipment_add(code: str):
    branch = _branch(code)
    values, errors = _equipment_fields()
    kind = request.form.get("kind", "")
    if kind not in EQUIPMENT_KINDS:
        errors["kind"] = _("Choose a kind of equipment.")
    if errors:
        return _equipment_page(branch, {"new": errors}, 422)
    db.session.add(
        Equipment(branch_id=branch.id, kind=kind, sort=_next_sort(Equipment, branch), **values)
    )
    db.session.commit()
    flash(_("Equipment added."), "info")
    return redirect(url_for("checklist.equipment", branch=branch.code))


@bp.post("/admin/equipment/<code>/<int:item_id>")
@admin_only
def equipment_edit(code: str, item_id: int):
    branch = _branch(code)
    piece = db.session.get(Equipment, item_id)
    if piece is None or piece.branch_id != branch.id:
        abort(404)
    values, errors = _equipment_fields()
    if errors:
        return _equipment_page(branch, {f"eq-{piece.id}": errors}, 422)
    for key, value in values.items():
        setattr(piece, key, value)
    piece.active = _flag("active")
    db.session.commit()
    flash(_("Equipment saved."), "info")
    return redirect(url_for("checklist.equipment", branch=branch.code))


def _leaflet_fields(branch: Branch) -> tuple[dict, dict]:
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name, required in (("name", True), ("name_en", False)):
        values[name], error = _text(name, required)
        if error:
            errors[name] = error
    raw = (request.form.get("min_stock") or "").strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6 or int(raw) > MAX_LEAFLET_COUNT:
        errors["min_stock"] = _("Enter a whole number from 0 to 100000.")
    else:
        values["min_stock"] = int(raw)
    raw = (request.form.get("ends_on") or "").strip()
    values["ends_on"] = None
    if raw:
        try:
            values["ends_on"] = date.fromisoformat(raw)
        except ValueError:
            errors["ends_on"] = _("Enter a date as YYYY-MM-DD.")
    raw = (request.form.get("product_id") or "").strip()
    values["product_id"] = None
    if raw:
        whole = raw.isascii() and raw.isdigit() and len(raw) <= 9
        product = db.session.get(Product, int(raw)) if whole else None
        if product is None or product.branch_id != branch.id:
            errors["product_id"] = _("Choose one of this branch's products.")
        else:
            values["product_id"] = product.id
    return values, errors


@bp.post("/admin/leaflets/<code>")
@admin_only
def leaflet_add(code: str):
    branch = _branch(code)
    values, errors = _leaflet_fields(branch)
    if errors:
        return _equipment_page(branch, {"new-leaflet": errors}, 422)
    db.session.add(Leaflet(branch_id=branch.id, sort=_next_sort(Leaflet, branch), **values))
    db.session.commit()
    flash(_("Leaflet added."), "info")
    return redirect(url_for("checklist.equipment", branch=branch.code))


@bp.post("/admin/leaflets/<code>/<int:leaflet_id>")
@admin_only
def leaflet_edit(code: str, leaflet_id: int):
    branch = _branch(code)
    leaflet = db.session.get(Leaflet, leaflet_id)
    if leaflet is None or leaflet.branch_id != branch.id:
        abort(404)
    values, errors = _leaflet_fields(branch)
    if errors:
        return _equipment_page(branch, {f"lf-{leaflet.id}": errors}, 422)
    for key, value in values.items():
        setattr(leaflet, key, value)
    leaflet.active = _flag("active")
    db.session.commit()
    flash(_("Leaflet saved."), "info")
    return redirect(url_for("checklist.equipment", branch=branch.code))


# --- the template -----------------------------------------------------------


def _template_page(branch: Branch, errors: dict | None = None, status: int = 200):
    return render(
        "checklist/admin_template.html",
        status=status,
        branch=branch,
        branches=_branches(),
        rows=template_for(branch),
        titles=KIND_TITLES,
        errors=errors or {},
    )


@bp.get("/admin/checklist-template")
@admin_only
def template():
    return _template_page(_branch(request.args.get("branch")))


@bp.post("/admin/checklist-template/<code>/kind/<kind>")
@admin_only
def template_kind(code: str, kind: str):
    """Turn one of the nine kinds on or off, and mark it critical or not."""
    branch = _branch(code)
    if kind not in ITEM_KINDS:
        abort(404)
    row = db.session.scalar(
        select(TemplateItem).where(TemplateItem.branch_id == branch.id, TemplateItem.kind == kind)
    )
    if row is None:
        row = TemplateItem(branch_id=branch.id, kind=kind, sort=ITEM_KINDS.index(kind))
        db.session.add(row)
    row.enabled = _flag("enabled")
    row.critical = _flag("critical")
    db.session.commit()
    flash(_("Checklist template saved."), "info")
    return redirect(url_for("checklist.template", branch=branch.code))


@bp.post("/admin/checklist-template/<code>/custom")
@admin_only
def template_custom_add(code: str):
    branch = _branch(code)
    label, error = _text("label", True, 200)
    label_en, error_en = _text("label_en", False, 200)
    if error or error_en:
        return _template_page(branch, {"new": {"label": error, "label_en": error_en}}, 422)
    db.session.add(
        TemplateItem(
            branch_id=branch.id,
            kind="custom",
            label=label,
            label_en=label_en,
            critical=_flag("critical"),
            enabled=True,
            sort=_next_sort(TemplateItem, branch) + 100,
        )
    )
    db.session.commit()
    flash(_("Checklist item added."), "info")
    return redirect(url_for("checklist.template", branch=branch.code))


@bp.post("/admin/checklist-template/<code>/custom/<int:row_id>")
@admin_only
def template_custom_edit(code: str, row_id: int):
    branch = _branch(code)
    row = db.session.get(TemplateItem, row_id)
    if row is None or row.branch_id != branch.id or row.kind != "custom":
        abort(404)
    label, error = _text("label", True, 200)
    label_en, error_en = _text("label_en", False, 200)
    if error or error_en:
        return _template_page(branch, {f"c-{row.id}": {"label": error, "label_en": error_en}}, 422)
    row.label, row.label_en = label, label_en
    row.critical = _flag("critical")
    row.enabled = _flag("enabled")
    db.session.commit()
    flash(_("Checklist template saved."), "info")
    return redirect(url_for("checklist.template", branch=branch.code))
