"""The branch head's page of the day's or week's focus (重点产品 / 一般产品) and targets.

The branch head (branch supervisor; an area supervisor for their branches)
sets them at /supervisor/focus. They are configuration, like the admin's
screens: plain ORM writes, all or nothing. How far the branch got is read in
app/supervisor/targets.py.
"""

from __future__ import annotations

from datetime import date, timedelta

from flask import abort, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import DateField, IntegerField, SelectField
from wtforms.validators import DataRequired, InputRequired, NumberRange

from ..extensions import db
from ..htmx import render
from ..i18n import ui_lang as lang
from ..models import Branch, DailyTarget, FocusProduct, Product
from ..vocabulary import PRIORITY_LABELS
from . import bp
from .forms import FocusRemoveForm
from .routes import branch_today, common, scope, supervisors_only
from .targets import progress

SPAN_DAYS = {"day": 1, "week": 7}
MAX_TARGET = 10_000


# --- the branch head's page ---------------------------------------------------------


def _daily_target(label) -> IntegerField:
    return IntegerField(
        label,
        default=0,
        validators=[
            InputRequired(_l("Enter a number.")),
            NumberRange(
                min=0, max=MAX_TARGET, message=_l("Enter a number from %(min)s to %(max)s.")
            ),
        ],
        render_kw={"inputmode": "numeric"},
    )


class _SpanForm(FlaskForm):
    """A day or a week from a date: what the branch head's settings are for."""

    span = SelectField(
        _l("For"), choices=[("day", _l("One day")), ("week", _l("One week"))], default="day"
    )
    starts_on = DateField(_l("From"), validators=[InputRequired(_l("Enter a date."))])


class FocusForm(_SpanForm):
    product = SelectField(_l("Product"), validators=[DataRequired(_l("Choose a product."))])
    priority = SelectField(_l("Kind"), choices=list(PRIORITY_LABELS.items()), default="focus")
    daily_recommendations = _daily_target(_l("Recommendations a day"))


class TargetForm(_SpanForm):
    referrals = _daily_target(_l("Referrals a day"))
    sales = _daily_target(_l("Sales a day"))


def _offered(branch: Branch) -> list[Product]:
    return list(
        db.session.scalars(
            select(Product)
            .where(Product.branch_id == branch.id, Product.active.is_(True))
            .order_by(Product.code)
        )
    )


def _page(branch: Branch, selected: str, focus_form=None, target_form=None, status=200):
    day = branch_today(branch)
    language = lang()
    focus_form = focus_form or FocusForm(formdata=None, starts_on=day)
    target_form = target_form or TargetForm(formdata=None, starts_on=day)
    focus_form.product.choices = [(p.code, p.display_name(language)) for p in _offered(branch)]
    upcoming = db.session.scalars(
        select(FocusProduct)
        .where(FocusProduct.branch_id == branch.id, FocusProduct.ends_on >= day)
        .order_by(FocusProduct.starts_on, FocusProduct.product_code)
    ).all()
    targets = db.session.scalars(
        select(DailyTarget)
        .where(DailyTarget.branch_id == branch.id, DailyTarget.ends_on >= day)
        .order_by(DailyTarget.starts_on)
    ).all()
    names = {
        p.code: p.display_name(language)
        for p in db.session.scalars(select(Product).where(Product.branch_id == branch.id))
    }
    return render(
        "supervisor/focus.html",
        status=status,
        branch=branch,
        day=day,
        focus_form=focus_form,
        target_form=target_form,
        upcoming=upcoming,
        day_targets=targets,
        product_names=names,
        priority_labels=PRIORITY_LABELS,
        target_lines=progress(branch, day),
        **common([branch], selected),
    )


def _scope():
    branches, selected = scope(single=True)
    return branches[0], selected


def _span(form) -> tuple[date, date]:
    start = form.starts_on.data
    return start, start + timedelta(days=SPAN_DAYS[form.span.data] - 1)


@bp.get("/supervisor/focus")
@supervisors_only
def focus():
    branch, selected = _scope()
    return _page(branch, selected)


@bp.post("/supervisor/focus/products")
@supervisors_only
def focus_add():
    branch, selected = _scope()
    form = FocusForm()
    form.product.choices = [(p.code, p.code) for p in _offered(branch)]
    if not form.validate():
        return _page(branch, selected, focus_form=form, status=422)
    starts_on, ends_on = _span(form)
    db.session.add(
        FocusProduct(
            branch_id=branch.id,
            product_code=form.product.data,
            priority=form.priority.data,
            starts_on=starts_on,
            ends_on=ends_on,
            daily_recommendations=form.daily_recommendations.data,
            set_by_id=current_user.id,
        )
    )
    db.session.commit()
    flash(_("Focus saved."), "info")
    return redirect(url_for("supervisor.focus", branch=branch.code))


@bp.post("/supervisor/focus/products/remove")
@supervisors_only
def focus_remove():
    """Takes a focus product off; the form names it (`focus_id`), `?branch=` its branch."""
    branch, selected = _scope()
    form = FocusRemoveForm()
    if not form.validate():
        abort(400)
    row = db.session.get(FocusProduct, int(form.focus_id.data))
    if row is None or row.branch_id != branch.id:
        abort(404)
    db.session.delete(row)
    db.session.commit()
    flash(_("Focus removed."), "info")
    return redirect(url_for("supervisor.focus", branch=branch.code))


@bp.post("/supervisor/focus/targets")
@supervisors_only
def focus_targets():
    branch, selected = _scope()
    form = TargetForm()
    if not form.validate():
        return _page(branch, selected, target_form=form, status=422)
    starts_on, ends_on = _span(form)
    db.session.add(
        DailyTarget(
            branch_id=branch.id,
            starts_on=starts_on,
            ends_on=ends_on,
            referrals=form.referrals.data,
            sales=form.sales.data,
            set_by_id=current_user.id,
        )
    )
    db.session.commit()
    flash(_("Targets saved."), "info")
    return redirect(url_for("supervisor.focus", branch=branch.code))
