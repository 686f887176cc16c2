"""The admin's checklist screens: each branch's equipment inventory, leaflets and template.

Configuration, not lobby events: plain ORM writes, each request all or
nothing, admins only (403 for any other role). A change shows in the next
day's run; a run already started keeps the items it was started with.
"""

from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from sqlalchemy import func, select

from ..auth import role_required
from ..extensions import db
from ..form_helpers import first_errors
from ..htmx import render
from ..models import Branch, Equipment, Leaflet, Product, Role, TemplateItem
from . import bp
from .forms import CustomItemForm, EquipmentForm, LeafletForm, NewEquipmentForm, TemplateKindForm
from .inventory import EQUIPMENT_KINDS, ITEM_KINDS, KIND_TITLES, template_for

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
        today=date.today(),
    )


@bp.get("/admin/equipment")
@admin_only
def equipment():
    return _equipment_page(_branch(request.args.get("branch")))


@bp.post("/admin/equipment/<code>")
@admin_only
def equipment_add(code: str):
    branch = _branch(code)
    form = NewEquipmentForm()
    if not form.validate():
        return _equipment_page(branch, {"new": first_errors(form)}, 422)
    db.session.add(
        Equipment(
            branch_id=branch.id,
            kind=form.kind.data,
            sort=_next_sort(Equipment, branch),
            name=form.name.data,
            name_en=form.name_en.data,
            critical=form.critical.data,
        )
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
    form = EquipmentForm()
    if not form.validate():
        return _equipment_page(branch, {f"eq-{piece.id}": first_errors(form)}, 422)
    piece.name, piece.name_en = form.name.data, form.name_en.data
    piece.critical, piece.active = form.critical.data, form.active.data
    db.session.commit()
    flash(_("Equipment saved."), "info")
    return redirect(url_for("checklist.equipment", branch=branch.code))


@bp.post("/admin/leaflets/<code>")
@admin_only
def leaflet_add(code: str):
    branch = _branch(code)
    form = LeafletForm(branch)
    if not form.validate():
        return _equipment_page(branch, {"new-leaflet": first_errors(form)}, 422)
    db.session.add(Leaflet(branch_id=branch.id, sort=_next_sort(Leaflet, branch), **form.values()))
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
    form = LeafletForm(branch)
    if not form.validate():
        return _equipment_page(branch, {f"lf-{leaflet.id}": first_errors(form)}, 422)
    for key, value in form.values().items():
        setattr(leaflet, key, value)
    leaflet.active = form.active.data
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
    form = TemplateKindForm()
    form.validate()  # two checkboxes: nothing to refuse
    row.enabled, row.critical = form.enabled.data, form.critical.data
    db.session.commit()
    flash(_("Checklist template saved."), "info")
    return redirect(url_for("checklist.template", branch=branch.code))


@bp.post("/admin/checklist-template/<code>/custom")
@admin_only
def template_custom_add(code: str):
    branch = _branch(code)
    form = CustomItemForm()
    if not form.validate():
        return _template_page(branch, {"new": first_errors(form)}, 422)
    db.session.add(
        TemplateItem(
            branch_id=branch.id,
            kind="custom",
            label=form.label.data,
            label_en=form.label_en.data,
            critical=form.critical.data,
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
    form = CustomItemForm()
    if not form.validate():
        return _template_page(branch, {f"c-{row.id}": first_errors(form)}, 422)
    row.label, row.label_en = form.label.data, form.label_en.data
    row.critical, row.enabled = form.critical.data, form.enabled.data
    db.session.commit()
    flash(_("Checklist template saved."), "info")
    return redirect(url_for("checklist.template", branch=branch.code))
