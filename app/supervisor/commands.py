"""`flask --app run rebuild-figures`: recompute the supervisor's figures from the events."""

from __future__ import annotations

import time

import click
from sqlalchemy import select

from ..extensions import db
from ..models import Branch
from . import bp
from .projection import rebuild_figures


@bp.cli.command("rebuild-figures")
@click.option("--branch", "codes", multiple=True, help="A branch code; repeat; all if none.")
def rebuild_figures_command(codes):
    """Recompute figure_day and figure_subject from the event log, branch by branch."""
    ids = None
    if codes:
        ids = list(db.session.scalars(select(Branch.id).where(Branch.code.in_(codes))))
        if len(ids) != len(set(codes)):
            raise click.ClickException("unknown branch code")
    started = time.perf_counter()
    done = rebuild_figures(ids, echo=click.echo)
    click.echo(
        f"figures rebuilt: {done['branches']} branches, {done['subjects']} subjects, "
        f"{done['rows']} day counters in {time.perf_counter() - started:.1f} s"
    )
