"""A branch's settings version, moved in the transaction of every change to its settings.

The lobby page's settings-driven parts (app/lobby/panels.py) are drawn from the
branch's products and focus products, its self-service machines and triage
rules, its wealth managers, and the need tags every branch shares; the desk
pages' "today: target / done" from its focus products and daily targets
(app/supervisor/targets.py). After each flush that added, changed or deleted
one of those, the branches concerned get `settings_version + 1` in the same
transaction, so a worker that drew them for the old version draws them again
on its next page, and no page reads the settings to find out. Writes made
outside the ORM (SQL by hand) do not move it: what is kept by the version is
read again after SETTINGS_RECHECK_SECONDS all the same.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import event, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from .branch import Branch, User
from .catalog import DailyTarget, FocusProduct, Product
from .lobby_settings import NeedTag, RouteRule, SelfServiceMachine

BRANCH_SETTINGS = (Product, FocusProduct, DailyTarget, SelfServiceMachine, RouteRule)
SHARED_SETTINGS = (NeedTag,)
# How long what is kept by the settings version stands without a look at the rows
# themselves: the bound on an edit made outside the app.
SETTINGS_RECHECK_SECONDS = 60.0

_BUMP = update(Branch.__table__).values(settings_version=Branch.__table__.c.settings_version + 1)


_WATCHED = (*BRANCH_SETTINGS, *SHARED_SETTINGS, User)


@event.listens_for(Session, "after_flush")
def _move_settings_versions(session: Session, _flush_context) -> None:
    changed = [
        *session.new,
        *session.deleted,
        *(obj for obj in session.dirty if isinstance(obj, _WATCHED) and session.is_modified(obj)),
    ]
    branch_ids: set[int] = set()
    for obj in changed:
        if isinstance(obj, SHARED_SETTINGS):
            session.connection().execute(_BUMP)
            return
        if isinstance(obj, BRANCH_SETTINGS):
            branch_ids.update(_old_and_new(obj, "branch_id"))
        elif isinstance(obj, User):  # a wealth manager named, (de)activated, moved
            branch_ids.update(b.id for b in _old_and_new(obj, "branches"))
    if branch_ids:
        session.connection().execute(_BUMP.where(Branch.__table__.c.id.in_(sorted(branch_ids))))


def _old_and_new(obj, key: str) -> Iterable:
    """The values `key` of `obj` had before this flush and has now (each item of a list)."""
    history = sa_inspect(obj).attrs[key].history
    for value in history.sum():
        if isinstance(value, list):  # a collection's history lists its members
            yield from value
        elif value is not None:
            yield value
