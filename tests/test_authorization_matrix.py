"""The authorisation matrix (issue #7): every route x every caller x own and foreign branch.

The routes come from `app.url_map`, so a new route cannot escape: it fails
`test_every_route_has_a_policy` until it gets a line in POLICY, the one table
that says who may call what. Each case is judged against that table:

- a caller whose role is not listed gets 403 (a signed-out browser a redirect
  to /login, an /api/ or htmx caller 401), and a refused POST changes nothing
  in the database;
- a caller whose role is listed gets a 2xx/3xx answer (or 400/422 for a POST
  whose form is empty: a validation answer, not a leak) on their own branch,
  and 403/404 when the URL names another branch's object or `?branch=` names
  another branch ("scoped" routes) - unless their role reads every branch;
- no answer that is let through ever carries the identifying text (tickets,
  notes, photos, names, ids) of a branch the caller may not read.

Three sides per (route, caller): "own" (the caller's branch and its objects),
"foreign" (another branch and its objects) and "mixed" (`?branch=` the
caller's own, the objects another branch's). PUT, PATCH and DELETE are tried
on every route (405), and the event store is compared row by row before and
after the whole matrix: events are only ever appended, never edited or deleted.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text

from app import create_app
from app.checklist.inventory import ITEM_KINDS
from app.demo import seed_demo
from app.extensions import db, limiter
from app.models import Branch, Event, Product, Role, User

from .authz_fixtures import BranchData, add_branch_and_staff, local_now, record_branch, stamp
from .conftest import CSRF_META, DEMO_PASSWORD, PG_URL, SignedIn, _pg_schema_url, make_event

ANYONE = "anyone"  # signed out too
SIGNED_IN = "signed in"  # any role

LOBBY = {Role.LOBBY_MANAGER}
DESK = {Role.WEALTH_MANAGER, Role.TELLER}
SUPERVISORS = {Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR}
READERS = {Role.LOBBY_MANAGER, Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR, Role.ADMIN}
ADMIN = {Role.ADMIN}

# scope: how a route meets branches.
#   "none"   - no branch data at all (public shell, sign-in).
#   "own"    - shows the caller's own branch(es) only, whatever is asked (`?branch=` of
#              another branch is ignored): let through, but never with another branch's data.
#   "scoped" - the URL or `?branch=` names a branch or one of its objects: another
#              branch's is refused (403/404) unless the caller's role reads every branch.
#   "global" - configuration across all branches: for the admin, who administers them all.
# htmx: the route answers an htmx request (a fragment); the matrix sends HX-Request.
POLICY: dict[str, dict] = {
    # sign-in and the installable shell
    "auth.login": {"roles": ANYONE, "scope": "none"},
    "auth.logout": {"roles": ANYONE, "scope": "none"},
    "auth.logout_page": {"roles": ANYONE, "scope": "none"},  # asks; signs no one out
    "auth.home": {"roles": SIGNED_IN, "scope": "none"},
    "pwa.healthz": {"roles": ANYONE, "scope": "none"},
    "pwa.manifest": {"roles": ANYONE, "scope": "none"},
    "pwa.service_worker": {"roles": ANYONE, "scope": "none"},
    "pwa.offline": {"roles": ANYONE, "scope": "none"},
    # the sync API
    "sync.openapi": {"roles": ANYONE, "scope": "none"},
    "sync.session_info": {"roles": SIGNED_IN, "scope": "own"},
    "sync.pull": {"roles": SIGNED_IN, "scope": "own"},
    "sync.sync": {"roles": SIGNED_IN, "scope": "scoped"},  # judged per event, see sync_case
    # the lobby manager's tablet
    "lobby.board": {"roles": LOBBY, "scope": "own"},
    "lobby.board_fragment": {"roles": LOBBY, "scope": "own", "htmx": True},
    "lobby.complaints_fragment": {"roles": LOBBY, "scope": "own", "htmx": True},
    "lobby.visit_detail": {"roles": LOBBY, "scope": "scoped"},
    "lobby.visit_card": {"roles": LOBBY, "scope": "scoped", "htmx": True},
    "lobby.settings": {"roles": ADMIN, "scope": "global"},
    "lobby.complaint_open": {"roles": {Role.LOBBY_MANAGER, Role.TELLER}, "scope": "own"},
    "lobby.complaint_respond": {
        "roles": {Role.LOBBY_MANAGER, Role.TELLER} | SUPERVISORS,
        "scope": "scoped",
    },
    "lobby.complaint_resolve": {"roles": LOBBY | SUPERVISORS, "scope": "scoped"},
    "checklist.today": {"roles": LOBBY, "scope": "own"},
    "checklist.history": {"roles": READERS, "scope": "scoped"},
    "checklist.run_detail": {"roles": READERS, "scope": "scoped"},
    "checklist.fault_photo": {"roles": READERS, "scope": "scoped"},
    # the referral desk
    "referrals.inbox": {"roles": DESK, "scope": "own"},
    "referrals.list_fragment": {"roles": DESK, "scope": "own", "htmx": True},
    "referrals.referral_fragment": {"roles": DESK, "scope": "scoped", "htmx": True},
    "referrals.create": {"roles": {Role.TELLER}, "scope": "own"},
    "referrals.outcome": {"roles": {Role.WEALTH_MANAGER}, "scope": "scoped"},
    "referrals.accept": {"roles": {Role.WEALTH_MANAGER}, "scope": "scoped"},
    "referrals.reassign": {"roles": {Role.WEALTH_MANAGER}, "scope": "scoped"},
    "counter.page": {"roles": {Role.TELLER}, "scope": "own"},
    "waiting.page": {"roles": {Role.WEALTH_MANAGER}, "scope": "own"},
    "waiting.list_fragment": {"roles": {Role.WEALTH_MANAGER}, "scope": "own", "htmx": True},
    "waiting.claim": {"roles": {Role.WEALTH_MANAGER}, "scope": "scoped"},
    "waiting.outcome": {"roles": {Role.WEALTH_MANAGER}, "scope": "scoped"},
    "counter.visit_fragment": {"roles": {Role.TELLER}, "scope": "scoped", "htmx": True},
    "counter.call": {"roles": {Role.TELLER}, "scope": "scoped"},
    "counter.pitch": {"roles": {Role.TELLER}, "scope": "scoped"},
    "counter.divert": {"roles": {Role.TELLER}, "scope": "scoped"},
    "counter.refer_to_wealth": {"roles": {Role.TELLER}, "scope": "scoped"},
    # the supervisors
    "supervisor.dashboard": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.today": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.figures": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.spotchecks": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.spotcheck_draw": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.spotcheck_form": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.spotcheck_record": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.exports": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.export": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.focus": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.focus_add": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.focus_remove": {"roles": SUPERVISORS, "scope": "scoped"},
    "supervisor.focus_targets": {"roles": SUPERVISORS, "scope": "scoped"},
    # the admin
    "admin.index": {"roles": ADMIN, "scope": "global"},
    "admin.branches": {"roles": ADMIN, "scope": "global"},
    "admin.branch_new": {"roles": ADMIN, "scope": "global"},
    "admin.branch_edit": {"roles": ADMIN, "scope": "global"},
    "admin.branch_deactivate": {"roles": ADMIN, "scope": "global"},
    "admin.branch_reactivate": {"roles": ADMIN, "scope": "global"},
    "admin.users": {"roles": ADMIN, "scope": "global"},
    "admin.audit": {"roles": ADMIN, "scope": "global"},
    "admin.sign_ins": {"roles": ADMIN, "scope": "global"},
    "admin.user_new": {"roles": ADMIN, "scope": "global"},
    "admin.user_edit": {"roles": ADMIN, "scope": "global"},
    "admin.user_password": {"roles": ADMIN, "scope": "global"},
    "admin.user_deactivate": {"roles": ADMIN, "scope": "global"},
    "admin.user_reactivate": {"roles": ADMIN, "scope": "global"},
    "admin.products": {"roles": ADMIN, "scope": "global"},
    "admin.product_new": {"roles": ADMIN, "scope": "global"},
    "admin.product_edit": {"roles": ADMIN, "scope": "global"},
    "admin.product_retire": {"roles": ADMIN, "scope": "global"},
    "checklist.equipment": {"roles": ADMIN, "scope": "global"},
    "checklist.equipment_add": {"roles": ADMIN, "scope": "global"},
    "checklist.equipment_edit": {"roles": ADMIN, "scope": "global"},
    "checklist.leaflet_add": {"roles": ADMIN, "scope": "global"},
    "checklist.leaflet_edit": {"roles": ADMIN, "scope": "global"},
    "checklist.template": {"roles": ADMIN, "scope": "global"},
    "checklist.template_kind": {"roles": ADMIN, "scope": "global"},
    "checklist.template_custom_add": {"roles": ADMIN, "scope": "global"},
    "checklist.template_custom_edit": {"roles": ADMIN, "scope": "global"},
}
EXCLUDED = {"static"}  # files, no data

# The callers: signed out, and one demo user per role (docs/product-rules.md). The foreign
# branch is one the caller does not belong to (the area supervisor covers demo and north).
ALL = frozenset({"demo", "north", "south"})
CALLERS: dict[str, tuple[Role | None, str, str, frozenset[str]]] = {
    # name: (role, own branch, foreign branch, the branches whose data they may read)
    "anonymous": (None, "demo", "north", frozenset()),
    "lobby1": (Role.LOBBY_MANAGER, "demo", "north", frozenset({"demo"})),
    "teller1": (Role.TELLER, "demo", "north", frozenset({"demo"})),
    "wealth1": (Role.WEALTH_MANAGER, "demo", "north", frozenset({"demo"})),
    "super1": (Role.BRANCH_SUPERVISOR, "demo", "north", frozenset({"demo"})),
    "area1": (Role.AREA_SUPERVISOR, "demo", "south", frozenset({"demo", "north"})),
    # last: its allowed writes are undone after each; "foreign" is one more branch it runs
    "admin": (Role.ADMIN, "demo", "south", ALL),
}
SIDES = ("own", "foreign", "mixed")
WRONG_METHODS = ("PUT", "PATCH", "DELETE")


def test_roles_are_all_callers():
    """A new role must get a caller (and so a column of the matrix)."""
    assert {caller[0] for caller in CALLERS.values() if caller[0]} == set(Role)


def test_callers_are_the_demo_users(matrix):
    """The table's own and readable branches are the users' real ones."""
    with matrix["app"].app_context():
        for name, (role, own, foreign, readable) in CALLERS.items():
            if role is None:
                continue
            user = db.session.scalar(select(User).where(User.username == name))
            assert user.role is role, name
            if role is not Role.ADMIN:  # the admin has no branch of its own: it reads all
                assert user.home_branch.code == own, name
                assert {b.code for b in user.branches} == readable, name
            assert foreign != own
        db.session.remove()


def expected(endpoint: str, role: Role | None, readable: set[str], target: str) -> str:
    """'allowed', 'login', 'forbidden' or 'foreign' for `role` calling `endpoint` on `target`."""
    entry = POLICY[endpoint]
    if entry["roles"] == ANYONE:
        return "allowed"
    if role is None:
        return "login"
    if entry["roles"] != SIGNED_IN and role not in entry["roles"]:
        return "forbidden"
    if entry["scope"] == "scoped" and target not in readable:
        return "foreign"
    return "allowed"


# --- the database, once for the module ------------------------------------------


@pytest.fixture(scope="module")
def matrix_app(tmp_path_factory):
    schema = None
    if PG_URL:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        engine = create_engine(PG_URL)
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = _pg_schema_url(schema)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('authz') / 'test.sqlite3'}"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=url,
        DEMO_PASSWORD=DEMO_PASSWORD,
        LOGIN_RATE_LIMIT="10000 per minute",
    )
    with app.app_context():
        db.create_all()
        seed_demo(DEMO_PASSWORD)
        db.session.remove()
    limiter.reset()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if schema:
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            engine.dispose()


def signed_out(app):
    """A signed-out client that holds a CSRF token, so its POSTs reach the role check."""
    client = app.test_client()
    token = CSRF_META.search(client.get("/login").get_data(as_text=True)).group(1)
    client.csrf = token
    return client


def events_snapshot(app) -> dict[str, str]:
    """Every row of the event store: its id and a hash of all its columns."""
    with app.app_context():
        rows = db.session.execute(select(Event.__table__).order_by(Event.__table__.c.position))
        out = {}
        for row in rows.mappings():
            values = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
            out[row["id"]] = hashlib.sha256(
                json.dumps(values, sort_keys=True, default=str).encode()
            ).hexdigest()
        db.session.remove()
        return out


# Session bookkeeping that any signed-in request may touch (last seen): not business data.
BOOKKEEPING = {"sign_in"}


def db_fingerprint(app) -> str:
    """A hash of every row of every table: a refused write leaves it as it was."""
    digest = hashlib.sha256()
    with app.app_context():
        for table in db.metadata.sorted_tables:
            if table.name in BOOKKEEPING:
                continue
            rows = db.session.execute(select(table)).all()
            digest.update(table.name.encode())
            for line in sorted(json.dumps(list(r), default=str) for r in rows):
                digest.update(line.encode())
        db.session.remove()
    return digest.hexdigest()


def restore(app) -> None:
    """Undo what the admin's allowed writes did.

    A deactivated branch or user, a retired product.
    """
    with app.app_context():
        for branch in db.session.scalars(select(Branch)):
            branch.active = True
        for user in db.session.scalars(select(User)):
            user.active = True
        for product in db.session.scalars(select(Product)):
            product.active = True
        db.session.commit()
        db.session.remove()


@dataclass
class Case:
    endpoint: str
    method: str
    caller: str
    side: str
    url: str
    want: str
    status: int
    problem: str | None = None
    shows_own: bool = False  # the answer carries the caller's own branch's marker texts


# --- building the requests ---------------------------------------------------------


def fill(rule, data: BranchData) -> str:
    values = {}
    ids = data.ids()
    for name in rule.arguments:
        if name == "kind":
            values[name] = "visits" if rule.endpoint == "supervisor.export" else ITEM_KINDS[0]
        else:
            assert name in ids, (
                f"{rule.endpoint} takes <{name}>: add to BranchData.ids() "
                f"which object of a branch it names"
            )
            values[name] = ids[name]
    path = rule.rule
    for name, value in values.items():
        for conv in ("<int:%s>", "<%s>", "<path:%s>"):
            path = path.replace(conv % name, str(value))
    assert "<" not in path, path
    return path


OBJECTS_IN_FORM = {"supervisor.spotcheck_form", "supervisor.spotcheck_record", "referrals.create"}


def query_and_form(endpoint: str, branch_code: str, objects: BranchData) -> tuple[dict, dict]:
    """`?branch=` names the branch; forms and queries name the objects."""
    query = {"branch": branch_code}
    form = {"branch": branch_code}
    if endpoint in ("supervisor.spotcheck_form", "supervisor.spotcheck_record"):
        query.update(kind="visit", id=objects.visit)
        form.update(kind="visit", id=objects.visit, answer="")
    if endpoint == "referrals.create":
        form.update(visit_id=objects.visit)
    if endpoint == "supervisor.export":
        # The data was stamped up to 20 minutes ago: just after the branch's midnight
        # that is yesterday, so the export asks for both days, not "today".
        today = local_now().date()
        query.update(
            period="range", start=(today - timedelta(days=1)).isoformat(), end=today.isoformat()
        )
    return query, form


# --- judging the answers -------------------------------------------------------


def leaked(response, callers_markers: list[bytes]) -> list[str]:
    body = response.get_data()
    return [m.decode(errors="replace") for m in callers_markers if m in body]


def judge(
    case: Case, response, is_api: bool, htmx: bool, role: Role | None, foreign_markers: list[bytes]
) -> str | None:
    status = response.status_code
    location = response.headers.get("Location", "")
    if status >= 500:
        return f"server error {status}"
    if case.want == "login":
        if status == 302 and "/login" in location:
            return None
        if status == 401 and (is_api or htmx):
            return None
        return f"signed out got {status} {location}"
    if case.want == "forbidden":
        return None if status == 403 else f"wrong role got {status} (want 403)"
    if case.want == "foreign":
        if status in (403, 404):
            return None
        shown = leaked(response, foreign_markers)
        return f"LEAK: foreign branch got {status} (want 403/404)" + (
            f", showing {shown[:3]}" if shown else ""
        )
    # allowed
    if case.method == "POST" and status in (400, 422):
        pass  # an empty or half form: a validation answer
    elif status >= 400:
        return f"allowed but got {status}"
    if 300 <= status < 400:
        if not location.startswith("/") or location.startswith("//"):
            return f"redirect off the app: {location}"
        if role is not None and "/login" in location and case.endpoint != "auth.logout":
            return f"signed-in caller sent to sign in: {location}"
    found = leaked(response, foreign_markers)
    if found:
        return f"LEAK: shows another branch's {found[:3]}"
    return None


# --- the matrix ------------------------------------------------------------------

SYNC_EVENT = {
    # what each role records through the tablet's sync: (type, subject attr or None, payload)
    Role.LOBBY_MANAGER: ("visit.greeted", None, {"purpose": "inquiry"}),
    Role.TELLER: ("referral.created", None, {"to": "wealth"}),
    Role.WEALTH_MANAGER: ("referral.outcome", "spare_referral", {"result": "met"}),
    Role.BRANCH_SUPERVISOR: ("fault.resolved", "fault", {"note": "fixed by supervisor"}),
    Role.AREA_SUPERVISOR: ("fault.resolved", "fault", {"note": "fixed by area"}),
    Role.ADMIN: ("visit.greeted", None, {"purpose": "inquiry"}),  # admins do not act in a lobby
}


def sync_case(app, client, role, side, own: BranchData, foreign: BranchData):
    """POST /api/v1/sync with an event of the caller's kind, about each side's branch.

    Returns (status, problem). Own: accepted (the admin: refused, no role records it).
    Foreign and mixed (foreign subject under the own branch's code): every event
    refused, no event stored.
    """
    etype, subject_attr, payload = SYNC_EVENT[role]
    branch = own if side == "own" else foreign
    code = foreign.code if side == "foreign" else own.code
    subject = getattr(branch, subject_attr) if subject_attr else str(uuid.uuid4())
    if side == "mixed" and not subject_attr:
        subject = foreign.visit  # an existing foreign subject, under the own branch's code
        etype, payload = "visit.updated", {"ticket": "MIXQ"}
    event = make_event(etype, subject, payload, branch=code, occurred_at=stamp(1))
    before = len(events_snapshot(app))
    response = client.sync([event])
    after = len(events_snapshot(app))
    if response.status_code != 200:
        return response.status_code, f"sync answered {response.status_code}"
    result = response.get_json()["results"][0]
    if side == "own":
        want_accept = role is not Role.ADMIN
        if want_accept and result["status"] != "accepted":
            return 200, f"own-branch event refused: {result}"
        if not want_accept and (result["status"] != "rejected" or after != before):
            return 200, f"admin recorded a lobby event: {result}"
        return 200, None
    if result["status"] != "rejected" or after != before:
        return 200, f"LEAK: {side} event stored: {result}"
    return 200, None


def run_matrix(app) -> tuple[list[Case], dict, dict, dict[str, BranchData]]:
    admin = SignedIn(app.test_client(), "admin")
    add_branch_and_staff(admin, app)
    users = {
        name: SignedIn(app.test_client(), name)
        for name in (
            "lobby1",
            "wealth1",
            "super1",
            "teller1",
            "lobby-north",
            "wealth-north",
            "super-north",
            "lobby-south",
            "wealth-south",
            "super-south",
        )
    }
    data = {
        "demo": record_branch(
            app, "demo", users["lobby1"], users["wealth1"], users["super1"], users["teller1"]
        ),
        "north": record_branch(
            app, "north", users["lobby-north"], users["wealth-north"], users["super-north"]
        ),
        "south": record_branch(
            app, "south", users["lobby-south"], users["wealth-south"], users["super-south"]
        ),
    }
    before = events_snapshot(app)
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in EXCLUDED]
    rules.sort(key=lambda r: (r.rule, r.endpoint))
    cases: list[Case] = []
    last_print = None
    for caller, (role, own_code, foreign_code, readable) in CALLERS.items():
        if role is None:
            client = signed_out(app)
        else:
            client = admin if caller == "admin" else SignedIn(app.test_client(), caller)
        foreign_markers = [
            m for code, d in data.items() if code not in readable for m in d.marker_bytes()
        ]
        for rule in rules:
            entry = POLICY.get(rule.endpoint)
            if entry is None:
                continue  # test_every_route_has_a_policy says so
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                for side in SIDES:
                    objects = data[own_code if side == "own" else foreign_code]
                    named = own_code if side in ("own", "mixed") else foreign_code
                    # "mixed" names another branch only through the objects it carries
                    carries = (
                        bool(set(rule.arguments) - {"kind"}) or rule.endpoint in OBJECTS_IN_FORM
                    )
                    target = (
                        own_code
                        if side == "own" or (side == "mixed" and not carries)
                        else foreign_code
                    )
                    want = expected(rule.endpoint, role, readable, target)
                    url = fill(rule, objects)
                    query, form = query_and_form(rule.endpoint, named, objects)
                    case = Case(rule.endpoint, method, caller, side, url, want, 0)
                    htmx = bool(entry.get("htmx"))
                    headers = {"HX-Request": "true"} if htmx else {}
                    if rule.endpoint == "sync.sync" and role is not None:
                        last_print = None
                        case.status, case.problem = sync_case(
                            app, client, role, side, data[own_code], data[foreign_code]
                        )
                        cases.append(case)
                        continue
                    actor = client
                    if rule.endpoint == "auth.logout":  # a session of its own to end
                        actor = (
                            signed_out(app) if role is None else SignedIn(app.test_client(), caller)
                        )
                    refused_post = method == "POST" and want != "allowed"
                    if refused_post:  # the previous refused POST's after-print, if just taken
                        print_before = last_print or db_fingerprint(app)
                    last_print = None
                    if method == "GET":
                        response = actor.get(url, query_string=query, headers=headers)
                    elif role is None:
                        headers["X-CSRFToken"] = actor.csrf
                        response = actor.post(url, query_string=query, data=form, headers=headers)
                    else:
                        response = actor.post(url, query_string=query, data=form, headers=headers)
                    case.status = response.status_code
                    case.shows_own = bool(leaked(response, data[own_code].marker_bytes()))
                    case.problem = judge(
                        case, response, url.startswith("/api/"), htmx, role, foreign_markers
                    )
                    if refused_post:
                        last_print = db_fingerprint(app)
                        if last_print != print_before and case.problem is None:
                            case.problem = "LEAK: a refused POST changed the database"
                    elif method == "POST" and caller == "admin":
                        restore(app)  # e.g. a branch or user it deactivated
                    cases.append(case)
        last_print = None
        # PUT / PATCH / DELETE: no route takes them
        for rule in rules:
            for method in WRONG_METHODS:
                url = fill(rule, data[own_code])
                opener = client.client if isinstance(client, SignedIn) else client
                response = opener.open(
                    url,
                    method=method,
                    headers={"X-CSRFToken": client.csrf, "Accept": "application/json"},
                )  # no page to draw
                problem = (
                    None
                    if response.status_code == 405
                    else (f"{method} answered {response.status_code}")
                )
                cases.append(
                    Case(
                        rule.endpoint,
                        method,
                        caller,
                        "own",
                        url,
                        "405",
                        response.status_code,
                        problem,
                    )
                )
    after = events_snapshot(app)
    return cases, before, after, data


@pytest.fixture(scope="module")
def matrix(matrix_app):
    cases, before, after, data = run_matrix(matrix_app)
    return {"app": matrix_app, "cases": cases, "before": before, "after": after, "data": data}


# --- the tests --------------------------------------------------------------------


def test_every_route_has_a_policy(matrix_app):
    endpoints = {r.endpoint for r in matrix_app.url_map.iter_rules()} - EXCLUDED
    missing = sorted(endpoints - set(POLICY))
    assert not missing, f"routes with no line in POLICY (say who may call them): {missing}"
    stale = sorted(set(POLICY) - endpoints)
    assert not stale, f"POLICY lines with no route: {stale}"


def test_no_route_takes_put_patch_or_delete(matrix_app):
    for rule in matrix_app.url_map.iter_rules():
        assert not rule.methods & set(WRONG_METHODS), (rule.rule, rule.methods)


def test_the_matrix_has_no_leaks(matrix):
    problems = [c for c in matrix["cases"] if c.problem]
    lines = [
        f"{c.caller:10} {c.method:6} {c.side:7} {c.endpoint:30} {c.url} -> {c.status}: {c.problem}"
        for c in problems
    ]
    assert not problems, f"{len(problems)} cases break the policy:\n" + "\n".join(lines)


# Where the own branch's data must show: proof that the leak detector sees what a page shows.
SHOWS_OWN = [
    ("lobby1", "lobby.board"),
    ("lobby1", "lobby.visit_detail"),
    ("lobby1", "checklist.today"),
    ("lobby1", "checklist.run_detail"),
    ("lobby1", "checklist.fault_photo"),
    ("lobby1", "sync.pull"),
    ("wealth1", "referrals.inbox"),
    ("wealth1", "referrals.referral_fragment"),
    ("teller1", "referrals.list_fragment"),
    ("super1", "supervisor.spotchecks"),
    ("super1", "supervisor.dashboard"),
    ("area1", "supervisor.export"),
    ("admin", "admin.audit"),
    ("admin", "checklist.equipment"),
]


def test_the_leak_detector_sees_own_data(matrix):
    seen = {
        (c.caller, c.endpoint)
        for c in matrix["cases"]
        if c.side == "own" and c.method == "GET" and c.shows_own
    }
    blind = [pair for pair in SHOWS_OWN if pair not in seen]
    assert not blind, f"own-branch markers not found where they must show: {blind}"


def test_events_are_only_ever_appended(matrix):
    before, after = matrix["before"], matrix["after"]
    assert before, "the matrix had no events to protect"
    missing = [i for i in before if i not in after]
    changed = [i for i in before if i in after and after[i] != before[i]]
    assert not missing, f"events deleted through the app: {missing}"
    assert not changed, f"events edited through the app: {changed}"
    # only appended: the old rows come first, in their old order; the new ones after
    assert list(after)[: len(before)] == list(before)
    assert len(after) > len(before), "the allowed own-branch syncs should have appended"


def test_matrix_size(matrix, capsys):
    cases = matrix["cases"]
    rules = [r for r in matrix["app"].url_map.iter_rules() if r.endpoint not in EXCLUDED]
    pairs = sum(len(r.methods - {"HEAD", "OPTIONS"}) for r in rules)
    main = [c for c in cases if c.method not in WRONG_METHODS]
    assert len(main) == pairs * len(CALLERS) * len(SIDES)
    assert len(main) >= len(rules) * len(CALLERS) * 2
    outcome = Counter(c.want for c in main)
    leaks = sum(1 for c in cases if c.problem)
    with capsys.disabled():
        print(
            f"\nauthorisation matrix: {len(rules)} routes ({pairs} route-methods) x "
            f"{len(CALLERS)} callers x {len(SIDES)} sides = {len(main)} cases "
            f"({dict(outcome)}), + {len(cases) - len(main)} PUT/PATCH/DELETE; leaks = {leaks}"
        )
    assert leaks == 0


# --- every event type x every role, through the one write route -------------------


def test_every_event_type_refuses_the_wrong_role_and_branch(matrix):
    """POST /api/v1/sync is one route but many writes: each event type names its roles.

    For every registered event type, every signed-in caller sends it (with an empty
    payload) about their own branch and about a foreign one: a role the type does
    not name gets `forbidden`, another branch `branch_forbidden`; nothing is stored.
    """
    from app.events import EVENT_TYPES

    app = matrix["app"]
    assert EVENT_TYPES
    problems = []
    for caller, (role, own_code, foreign_code, _readable) in CALLERS.items():
        if role is None:
            continue
        client = SignedIn(app.test_client(), caller)
        for side, code in (("own", own_code), ("foreign", foreign_code)):
            names = sorted(EVENT_TYPES)
            batch = [
                make_event(name, str(uuid.uuid4()), {}, branch=code, occurred_at=stamp(1))
                for name in names
            ]
            before = events_snapshot(app)
            response = client.sync(batch)
            assert response.status_code == 200, response.get_data(as_text=True)
            assert events_snapshot(app) == before, f"{caller} stored an event"
            for name, result in zip(names, response.get_json()["results"], strict=True):
                etype = EVENT_TYPES[name]
                code_got = (result.get("error") or {}).get("code")
                if role is not Role.ADMIN and side == "foreign":
                    want = "branch_forbidden"
                elif role not in etype.roles:
                    want = "forbidden"
                else:
                    want = None  # allowed: refused for its empty payload or unknown subject
                if (
                    result["status"] != "rejected"
                    or (want and code_got != want)
                    or (not want and code_got in ("forbidden", "branch_forbidden"))
                ):
                    problems.append((caller, side, name, result))
    assert not problems, problems


# --- references across branches ----------------------------------------------------


def test_a_visit_cannot_show_another_branchs_referral(matrix):
    """visit.referred names its referral by id; the lobby must not show another branch's.

    A demo tablet that sends visit.referred with the id of a north referral (the
    referral may reach the server later, so the event itself cannot insist on it)
    must not make north's result and sale size appear on demo's lobby pages.
    """
    app, data = matrix["app"], matrix["data"]
    lobby1 = SignedIn(app.test_client(), "lobby1")
    visit = str(uuid.uuid4())
    north_referral = data["north"].closed_referral  # north's wealth manager: "no_sale"
    events = [
        make_event("visit.greeted", visit, {"purpose": "wealth"}, occurred_at=stamp(2)),
        make_event(
            "visit.referred",
            visit,
            {"referral_id": north_referral, "to": "wealth"},
            occurred_at=stamp(1),
        ),
    ]
    response = lobby1.sync(events)
    assert [r["status"] for r in response.get_json()["results"]] == ["accepted", "accepted"]
    page = lobby1.get(f"/lobby/visits/{visit}?lang=en").get_data(as_text=True)
    card = lobby1.get(
        f"/lobby/visits/{visit}/card?lang=en", headers={"HX-Request": "true"}
    ).get_data(as_text=True)
    board = lobby1.get("/lobby?lang=en").get_data(as_text=True)
    for name, body in (("visit page", page), ("visit card", card), ("board", board)):
        # The board's page data carries every label, "No sale" among them: not a leak.
        body = body.replace('"no_sale": "No sale"', "")
        assert "No sale" not in body, f"{name} shows north's referral result"


# --- the pull, per role and per event type (issue 13) ------------------------------

# Who reads each event type through GET /api/v1/events: "full" with its payload as
# stored, "bare" without the fields listed (notes, photos), "-" not at all. The
# table says it again, apart from the declarations of app/*/events.py, so a
# change of them must change this too. A type missing here (a new one) must
# follow the default: its recording roles, the supervisors and the admin, in full.
_L, _T, _W = Role.LOBBY_MANAGER, Role.TELLER, Role.WEALTH_MANAGER
_OVERSEERS = {Role.BRANCH_SUPERVISOR, Role.AREA_SUPERVISOR, Role.ADMIN}
_VISIT_STEP = ({_L}, {_W})
READING: dict[str, tuple[set[Role], set[Role], set[str]]] = {
    # type: (full readers besides the overseers, bare readers, fields the bare ones lose)
    "visit.greeted": (*_VISIT_STEP, set()),
    "visit.updated": (*_VISIT_STEP, set()),
    "visit.triaged": ({_L}, {_T, _W}, {"machine"}),  # a teller sends small cash to machines
    "visit.engaged": (*_VISIT_STEP, {"note"}),
    "visit.recommended": (*_VISIT_STEP, set()),
    "visit.referred": ({_L}, {_T, _W}, {"note"}),
    "visit.called": ({_L}, {_T, _W}, set()),
    "visit.pitched": (set(), {_L, _T, _W}, set()),
    "visit.claimed": (set(), {_L, _W}, set()),
    "visit.wealth_outcome": (set(), {_L, _W}, set()),
    "visit.closed": (*_VISIT_STEP, {"note"}),
    "visit.undone": (*_VISIT_STEP, set()),
    "visit.complaint": ({_L}, set(), set()),
    "referral.created": ({_L, _T}, {_W}, set()),
    "referral.outcome": ({_W}, {_L, _T}, set()),
    "referral.cancelled": ({_L, _T}, {_W}, set()),
    "referral.accepted": ({_W}, {_L, _T}, set()),
    "referral.reassigned": ({_W}, {_L, _T}, set()),
    "complaint.opened": ({_L}, {_T}, {"note"}),
    "complaint.responded": ({_L}, {_T}, {"note"}),
    "checklist.item_recorded": ({_L}, set(), set()),
    "checklist.signed_off": ({_L}, set(), set()),
    "fault.reported": ({_L}, set(), set()),
    "fault.resolved": ({_L}, set(), set()),
    "spotcheck.recorded": (set(), set(), set()),
}


def reading(name: str, role: Role) -> tuple[str, set[str]]:
    """("full" | "bare" | "-", the fields a bare reader loses) for `role` and type `name`."""
    from app.events import EVENT_TYPES

    full, bare, private = READING.get(name, (set(EVENT_TYPES[name].roles), set(), set()))
    if role in full | _OVERSEERS:
        return "full", set()
    return ("bare", private) if role in bare else ("-", set())


def pull_all(client, limit: int = 1000) -> tuple[list[dict], list[str]]:
    """Every event the caller may pull, page by page; and the cursors it was given."""
    events, cursors, since = [], [], ""
    while True:
        response = client.get(f"/api/v1/events?since={since}&limit={limit}")
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        events += body["events"]
        cursors.append(body["next"])
        if not body["events"]:
            assert body["next"] == since  # the sync contract: nothing more, next stays
            return events, cursors
        since = body["next"]


@pytest.fixture(scope="module")
def notes_everywhere(matrix):
    """Demo's visits with a note of every kind the lobby records, beside the matrix's data."""
    app = matrix["app"]
    lobby1 = SignedIn(app.test_client(), "lobby1")
    visit = str(uuid.uuid4())
    events = [
        make_event("visit.greeted", visit, {"purpose": "complaint"}, occurred_at=stamp(9)),
        make_event("visit.engaged", visit, {"note": "EngageNote-qx7"}, occurred_at=stamp(8)),
        make_event("visit.complaint", visit, {"note": "ComplaintNote-qx7"}, occurred_at=stamp(7)),
        make_event(
            "visit.closed",
            visit,
            {"outcome": "served", "note": "CloseNote-qx7"},
            occurred_at=stamp(6),
        ),
    ]
    results = lobby1.sync(events).get_json()["results"]
    assert [r["status"] for r in results] == ["accepted"] * len(events), results
    return matrix


def test_the_pull_gives_each_role_what_its_pages_show(notes_everywhere):
    """Every role x every event type: received in full, without its notes, or not at all.

    Nothing a role may read is missing; nothing else arrives: no spot-check but to
    supervisors and the admin, no note of a visit, complaint or fault nor a fault
    photo to a teller or a wealth manager, no spot-check about a lobby manager to
    the lobby manager.
    """
    from app.events import EVENT_TYPES

    app = notes_everywhere["app"]
    with app.app_context():
        stored = {e.id: e for e in db.session.scalars(select(Event))}
        codes = {e.id: e.branch.code for e in stored.values()}
        db.session.remove()
    problems, seen_types = [], set()
    for caller, (role, _own, _foreign, readable) in CALLERS.items():
        if role is None:
            continue
        got, _cursors = pull_all(SignedIn(app.test_client(), caller).client)
        got_ids = [e["id"] for e in got]
        assert len(got_ids) == len(set(got_ids)), f"{caller} got an event twice"
        for envelope in got:
            event = stored[envelope["id"]]
            how, private = reading(event.type, role)
            if how == "-" or codes[event.id] not in readable:
                problems.append((caller, event.type, codes[event.id], "should not be pulled"))
                continue
            want = {k: v for k, v in event.payload.items() if k not in private}
            if envelope["payload"] != want:
                problems.append((caller, event.type, "payload", envelope["payload"]))
            seen_types.add((role, event.type, how))
        for event in stored.values():
            how, _private = reading(event.type, role)
            if how != "-" and codes[event.id] in readable and event.id not in got_ids:
                problems.append((caller, event.type, codes[event.id], "missing"))
        text = json.dumps(got)
        if role in (Role.TELLER, Role.WEALTH_MANAGER):
            for marker in (
                "FaultNote-",
                "PHOTO-",
                "SpotNote-",
                "EngageNote-",
                "ComplaintNote-",
                "CloseNote-",
                "data:image",
            ):
                if marker in text:
                    problems.append((caller, "leaks", marker))
        if (
            role is not Role.BRANCH_SUPERVISOR
            and role not in _OVERSEERS
            and ("spotcheck.recorded" in text or "SpotNote-" in text)
        ):
            problems.append((caller, "leaks", "a spot-check"))
    assert not problems, problems
    # The data holds every kind of reading the table names, so none went untested.
    wanted = {
        (role, name, how)
        for name in EVENT_TYPES
        for role in Role
        for how in [reading(name, role)[0]]
        if how != "-" and name in {e.type for e in stored.values()}
    }
    assert {
        ("wealth_manager", "visit.engaged", "bare"),
        ("teller", "referral.outcome", "bare"),
        ("lobby_manager", "fault.reported", "full"),
    } <= {(r.value, n, h) for r, n, h in seen_types}
    assert seen_types == {(r, n, h) for r, n, h in wanted if r in {c[0] for c in CALLERS.values()}}


def test_the_pull_cursor_moves_past_what_a_role_may_not_read(notes_everywhere):
    """A page holds only readable events; its `next` skips the hidden ones before them."""
    app = notes_everywhere["app"]
    wealth = SignedIn(app.test_client(), "wealth1").client
    one_by_one, cursors = pull_all(wealth, limit=1)
    everything, _ = pull_all(wealth)
    assert [e["id"] for e in one_by_one] == [e["id"] for e in everything]
    with app.app_context():
        positions = {e.id: e.position for e in db.session.scalars(select(Event))}
        hidden = [p for i, p in positions.items() if i not in {e["id"] for e in everything}]
        db.session.remove()
    # Each page's `next` is the position of its one event: every hidden event between two
    # readable ones was stepped over, none was handed out.
    assert cursors[:-1] == [str(positions[e["id"]]) for e in one_by_one]
    first, last = int(cursors[0]), int(cursors[-2])
    assert any(first < p < last for p in hidden), "the data should hide events in between"


def test_every_event_type_declares_safe_reading():
    """New types (other features) get the default: recorders, supervisors, admin only."""
    from app.events import EVENT_TYPES

    for name, etype in EVENT_TYPES.items():
        assert _OVERSEERS | set(etype.roles) <= set(etype.readers), name
        bare = set(etype.readers) - set(etype.full_readers)
        if name not in READING:
            assert not bare, f"{name}: a new type read without its notes; add it to READING"
