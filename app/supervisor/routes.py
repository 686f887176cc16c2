"""The supervisor's pages: today, figures, spot-checks and exports.

Every view goes through `scope()`, which turns `?branch=` into branches the
signed-in supervisor may read and refuses any other (403); every query below
filters on those branch ids.
"""

from __future__ import annotations

from datetime import date

from flask import Response, abort, g, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..auth import role_required
from ..database import autocommit_reads
from ..events import Rejected, new_id, record
from ..extensions import db
from ..htmx import render
from ..i18n import ui_lang as lang
from ..lobby import response_minutes
from ..models import Branch, Role
from ..models.figures import SpotCheck
from . import bp
from .charts import bar_chart, hbar_chart, stacked_bar, wait_group_index, wait_groups
from .exports import KINDS, generate_csv
from .figures import PERIOD_LABELS, compute, parse_period
from .forms import SpotCheckForm
from .labels import answer_label, labels
from .projection import BranchClock
from .spotchecks import (
    CHECKLIST_ANSWERS,
    VISIT_ANSWERS,
    agreement,
    candidates,
    draw,
    find_target,
    recorded,
)
from .targets import TARGET_DAYS, day_bounds, period_results
from .today import now, today_of

SUPERVISORS = (Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR)
supervisors_only = role_required(*SUPERVISORS)


def scope(single: bool = False) -> tuple[list[Branch], str]:
    """(branches, selected code or 'all') for `?branch=`; 403 for a branch not the user's.

    :param single: the view needs one branch (today's spot-checks): 'all' means the first.
    """
    mine = [b for b in current_user.readable_branches() if b.active]
    if not mine:
        abort(403)
    code = request.values.get("branch", "")
    if code and code != "all":
        chosen = [b for b in mine if b.code == code]
        if not chosen:
            abort(403)
        selected = code
    else:
        chosen, selected = mine, ("all" if len(mine) > 1 else mine[0].code)
    if single and len(chosen) > 1:
        chosen, selected = chosen[:1], chosen[0].code
    g.branch = chosen[0]  # dates and times in the (first) branch's time zone
    return chosen, selected


def branch_today(branch: Branch) -> date:
    return BranchClock.of(branch).local(now()).date()


def common(branches: list[Branch], selected: str) -> dict:
    return {
        "my_branches": current_user.readable_branches(),
        "selected": selected,
        "branches": branches,
        "labels": labels(),
        "lang": lang(),
    }


# --- today -------------------------------------------------------------------


@bp.get("/supervisor")
@supervisors_only
def dashboard():
    branches, selected = scope()
    return render(
        "supervisor/dashboard.html",
        "supervisor/_today.html",
        todays=[today_of(b, lang()) for b in branches],
        **common(branches, selected),
    )


@bp.get("/supervisor/today")
@autocommit_reads
@supervisors_only
def today():
    branches, selected = scope()
    return render(
        "supervisor/dashboard.html",
        "supervisor/_today.html",
        todays=[today_of(b, lang()) for b in branches],
        **common(branches, selected),
    )


# --- figures -----------------------------------------------------------------


def charts_for(fig: dict, lab: dict) -> dict:
    hours = fig["hours"]
    lo = min([8, *hours]) if hours else 8
    hi = max([18, *hours]) if hours else 18
    wait = wait_groups(fig["wait"]["hist"])
    markers = []
    for name, value in (
        (_("median"), fig["wait"]["median"]),
        (_("90th percentile"), fig["wait"]["p90"]),
    ):
        index = wait_group_index(value)
        if index is not None:
            markers.append((index, name))
    t = fig["time"]
    charts = {
        "hours": bar_chart(
            _("Visits by hour"), [(f"{h:02d}", hours.get(h, 0)) for h in range(lo, hi + 1)], every=2
        ),
        "purposes": hbar_chart(
            _("Visits by purpose"),
            [(lab["purpose"].get(k, k), v) for k, v in fig["purposes"].items()],
        ),
        "wait": bar_chart(
            _("Wait from greeting to being served (minutes)"),
            wait,
            markers=markers,
            cls="chart-wait",
        ),
        "outcomes": stacked_bar(
            _("How visits ended"),
            [
                (lab["outcome"].get(k, k), fig["outcomes"].get(k, 0), f"part-{i}")
                for i, k in enumerate(("served", "referred", "walked_away"))
            ],
        ),
        "time": stacked_bar(
            _("The lobby manager's time"),
            [
                (_("Preparation"), t["prep"] / 3600, "part-0"),
                (_("Guiding"), t["guide"] / 3600, "part-1"),
                (_("Selling"), t["sell"] / 3600, "part-2"),
            ],
        ),
    }
    if fig["daily"]:
        every = max(1, len(fig["daily"]) // 10)
        charts["daily"] = bar_chart(
            _("Visits per day"), [(d.strftime("%m-%d"), v) for d, v in fig["daily"]], every=every
        )
    return charts


@bp.get("/supervisor/figures")
@supervisors_only
def figures():
    branches, selected = scope()
    period = parse_period(request.args, branch_today(branches[0]))
    fig = compute(branches, period, today=max(branch_today(b) for b in branches))
    lab = labels()
    complaint_figures = response_minutes(
        [b.id for b in branches], *day_bounds(branches[0], period.start, period.days)
    )
    target_results = (
        [(b, period_results(b, period.day_list())) for b in branches]
        if period.days <= TARGET_DAYS
        else None
    )
    return render(
        "supervisor/figures.html",
        "supervisor/_figures.html",
        fig=fig,
        target_results=target_results,
        target_days=TARGET_DAYS,
        complaint_figures=complaint_figures,
        charts=charts_for(fig, lab),
        period=period,
        period_labels=PERIOD_LABELS,
        prev=period.shift(-1),
        next=period.shift(1),
        **common(branches, selected),
    )


# --- spot-checks -------------------------------------------------------------


def spot_context(branch: Branch, selected: str) -> dict:
    day = branch_today(branch)
    start = day.replace(day=1)
    return {
        "day": day,
        "targets": candidates(branch, day),
        "done": recorded([branch.id], day, day),
        "agreement": agreement([branch.id], start, day),
        "month_start": start,
        "checklist_answers": CHECKLIST_ANSWERS,
        "visit_answers": VISIT_ANSWERS,
        "answer_label": answer_label,
        **common([branch], selected),
    }


@bp.get("/supervisor/spotchecks")
@supervisors_only
def spotchecks():
    branches, selected = scope(single=True)
    return render(
        "supervisor/spotchecks.html",
        "supervisor/_spotcheck_list.html",
        **spot_context(branches[0], selected),
    )


@bp.post("/supervisor/spotchecks/draw")
@supervisors_only
def spotcheck_draw():
    branches, selected = scope(single=True)
    ctx = spot_context(branches[0], selected)
    ctx["drawn"] = draw(ctx["targets"])
    return render("supervisor/spotchecks.html", "supervisor/_spotcheck_drawn.html", **ctx)


@bp.get("/supervisor/spotchecks/check")
@supervisors_only
def spotcheck_form():
    """The blind form for one target: what it is, never what the lobby manager answered."""
    branches, selected = scope(single=True)
    target = find_target(
        branches[0],
        request.args.get("kind", ""),
        request.args.get("id", ""),
        request.args.get("run") or None,
    )
    if target is None:
        abort(404)
    ctx = spot_context(branches[0], selected)
    return render(
        "supervisor/spotcheck_page.html", "supervisor/_spotcheck_form.html", target=target, **ctx
    )


@bp.post("/supervisor/spotchecks")
@supervisors_only
def spotcheck_record():
    """Record the supervisor's answer first; only then show the lobby manager's."""
    branches, selected = scope(single=True)
    branch = branches[0]
    form = SpotCheckForm()
    kind, target_id = form.kind.data, form.target_id.data
    target = find_target(branch, kind, target_id, form.run.data or None)
    if target is None:
        abort(404)
    answer, note = form.answer.data, form.note.data
    ctx = spot_context(branch, selected)
    error = None
    if not form.validate():
        error = next(iter(form.errors.values()))[0]  # the answer's: the only field checked
    else:
        payload = {"target_kind": kind, "target_id": target_id, "supervisor_answer": answer}
        if target.run_id:
            payload["run_id"] = target.run_id
        if note:
            payload["note"] = note
        try:
            event = record(
                current_user,
                "spotcheck.recorded",
                branch=branch,
                subject_id=new_id(),
                payload=payload,
                occurred_at=now(),
            )
        except Rejected as rejected:
            error = rejected.message
    if error:
        return render(
            "supervisor/spotcheck_page.html",
            "supervisor/_spotcheck_form.html",
            status=422,
            target=target,
            error=error,
            answer=answer,
            note=note,
            **ctx,
        )
    check = db.session.get(SpotCheck, event.subject_id)
    return render(
        "supervisor/spotcheck_page.html",
        "supervisor/_spotcheck_result.html",
        check=check,
        target=target,
        **ctx,
    )


# --- exports -----------------------------------------------------------------


@bp.get("/supervisor/exports")
@supervisors_only
def exports():
    branches, selected = scope()
    period = parse_period(request.args, branch_today(branches[0]))
    return render(
        "supervisor/exports.html",
        "supervisor/_exports.html",
        period=period,
        kinds=KINDS,
        period_labels=PERIOD_LABELS,
        **common(branches, selected),
    )


@bp.get("/supervisor/export/<kind>.csv")
@supervisors_only
def export(kind: str):
    if kind not in KINDS:
        abort(404)
    branches, selected = scope()
    period = parse_period(request.args, branch_today(branches[0]))
    body = "".join(generate_csv(kind, branches, period.start, period.end))
    name = f"datang-{kind}-{selected}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Type": "text/csv; charset=utf-8",
            "Cache-Control": "no-store",
        },
    )


@bp.app_template_global()
def supervisor_url(endpoint: str, **params) -> str:
    """A supervisor URL that keeps the chosen branch (and period) in its query."""
    args = {k: v for k, v in params.items() if v not in (None, "")}
    return url_for(f"supervisor.{endpoint}", **args)
