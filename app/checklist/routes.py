"""The checklist pages: today's run on the tablet, past runs, and fault photos.

Nothing here writes: every mark is an event the tablet records through its
outbox (static/js/checklist.js → Datang.record → POST /api/v1/sync).
"""

from __future__ import annotations

from flask import abort, g, make_response, request
from flask_babel import format_date, format_time
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from ..auth import current_branch, role_required
from ..database import autocommit_reads
from ..extensions import db
from ..htmx import render
from ..i18n import ui_lang as lang
from ..lobby import complaints_context
from ..models import Branch, ChecklistRun, Fault, FaultPhoto, Role
from . import bp
from .inventory import MAX_LEAFLET_COUNT, RUN_NAMESPACE, item_label
from .queries import branch_today, entries_of, run_summary, run_view, runs_of

READERS = (Role.LOBBY_MANAGER, Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR, Role.ADMIN)
PHOTO_MAX_CHARS_CLIENT = 270_000  # the tablet shrinks photos below this (~200 KB of JPEG)


def readable_branch(branch: Branch | int) -> Branch:
    """:raise 403: when the signed-in user may not read `branch`."""
    found = db.session.get(Branch, branch) if isinstance(branch, int) else branch
    if found is None or not current_user.can_read(found):
        abort(403)
    g.branch = found
    return found


def page_data(view) -> dict:
    """What checklist.js needs to mark items with no network (embedded as JSON, not executed)."""
    return {
        "run_id": view.run_id,
        "day": view.day.isoformat(),
        "branch": view.branch.code,
        "tz": view.branch.timezone,
        "namespace": str(RUN_NAMESPACE),
        "signed": view.signed_at is not None,
        "max_count": MAX_LEAFLET_COUNT,
        "photo_max_chars": PHOTO_MAX_CHARS_CLIENT,
        "items": [
            {"id": v.id, "kind": v.kind, "label": v.label, "critical": v.critical}
            for v in view.items
        ],
        "open_faults": {f.item_id: f.id for f in view.faults},
        "texts": {
            "pending": _("Not yet synced"),
            "refused": _("Refused by the server:"),
            "ok": _("OK"),
            "fault": _("Fault"),
            "na": _("Not applicable"),
            "note_required": _("Say what is wrong before saving."),
            "fix_note_required": _("Say how it was fixed before saving."),
            "bad_count": _("Enter a whole number from 0 to 100000."),
            "photo_failed": _(
                "The photo could not be read; save the fault without it or take it again."
            ),
            "photo_working": _("Shrinking the photo…"),
            "not_done": _("Mark every item before signing off."),
            "signed_pending": _("Signed off — not yet synced"),
            "fixed_pending": _("Marked fixed — not yet synced"),
            "new_day": _(
                "A new day: this checklist was started on the tablet for %(day)s. "
                "The server's copy appears when the connection is back.",
                day="{day}",
            ),
            "reported_now": _("Reported just now"),
            "low": _("Low stock"),
            "remove": _("Product ended: remove these leaflets"),
        },
    }


@bp.get("/checklist")
@autocommit_reads
@role_required(Role.LOBBY_MANAGER)
def today():
    branch = current_branch()
    view = run_view(branch, branch_today(branch), lang())
    return render(
        "checklist/today.html",
        "checklist/_run.html",
        view=view,
        data=page_data(view),
        **complaints_context(branch),
    )


@bp.get("/checklist/history")
@role_required(*READERS)
def history():
    """Past runs of one branch: `?branch=CODE` for those who read several."""
    code = request.args.get("branch")
    branches = current_user.readable_branches()
    if code:
        branch = next((b for b in branches if b.code == code), None)
        if branch is None:
            abort(403)
    elif branches:
        branch = current_user.home_branch or branches[0]
    else:
        abort(403)
    branch = readable_branch(branch)
    summaries = [run_summary(branch, run.day) for run in runs_of(branch)]
    return render(
        "checklist/history.html",
        "checklist/_runs.html",
        branch=branch,
        branches=branches,
        summaries=summaries,
    )


@bp.get("/checklist/history/<run_id>")
@role_required(*READERS)
def run_detail(run_id: str):
    """One run: every item's entries (who did what when), its faults and its sign-off."""
    run = db.session.get(ChecklistRun, run_id)
    if run is None:
        abort(404)
    branch = readable_branch(run.branch_id)
    view = run_view(branch, run.day, lang(), with_faults=False)
    entries = entries_of(run.id)
    by_item: dict[str, list] = {}
    for entry in entries:
        by_item.setdefault(entry.item_id, []).append(entry)
    faults = list(
        db.session.scalars(select(Fault).where(Fault.run_id == run.id).order_by(Fault.reported_at))
    )
    return render(
        "checklist/run.html",
        view=view,
        run=run,
        by_item=by_item,
        faults=faults,
        summary=run_summary(branch, run.day),
    )


@bp.get("/checklist/faults/<fault_id>/photo")
@role_required(*READERS)
def fault_photo(fault_id: str):
    fault = db.session.get(Fault, fault_id)
    if fault is None:
        abort(404)
    readable_branch(fault.branch_id)
    photo = db.session.get(FaultPhoto, fault.id)
    if photo is None:
        abort(404)
    response = make_response(photo.data)
    response.headers["Content-Type"] = photo.content_type
    response.headers["Cache-Control"] = "private, max-age=86400"
    return response


@bp.app_template_filter("checklist_date")
def checklist_date(value, fmt: str = "medium") -> str:
    return format_date(value, fmt)


@bp.app_template_filter("checklist_time")
def checklist_time(value, fmt: str = "HH:mm") -> str:
    """A UTC time shown on the branch's clock (the babel time zone is the branch's)."""
    return format_time(value, fmt)


@bp.context_processor
def checklist_helpers():
    return {"item_label": lambda item: item_label(item, lang())}
