"""How fast are the supervisor's figures on a lot of data?

Generates branches × days of lobby and checklist events straight into the
`event` table with SQLAlchemy Core bulk inserts (not through the HTTP API),
and the supervisor's summaries (`figure_subject`, `figure_day`) computed from
those same events by the projection's own folds. Then times a month's figures
for one branch and for an area of ten branches.

    .venv/bin/python bench/supervisor_bench.py    # 100 branches × 90 days ≈ 5 M events
    .venv/bin/python bench/supervisor_bench.py --branches 10 --days 30   # a quick run
    .venv/bin/python bench/supervisor_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/bench

A SQLite file in /tmp is the default; PostgreSQL gets its own schema, dropped
at the end unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import create_engine, text  # noqa: E402

from app import vocabulary  # noqa: E402

PURPOSES = list(vocabulary.PURPOSES)
PURPOSE_WEIGHTS = [30, 15, 8, 10, 8, 5, 8, 8, 2, 3, 3]
ROUTES = ["self_service", "counter", "wealth", "corporate", "vip"]
ROUTE_WEIGHTS = [30, 55, 10, 3, 2]
PRODUCTS = ["wm-stable", "deposit-3y", "card-gold", "mobile-app", "pension-plan"]
RESPONSES = ["interested", "declined", "already_has", "later"]
ZONES = ["Asia/Shanghai", "Asia/Urumqi", "Asia/Hong_Kong"]
ITEMS = 24


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--branches", type=int, default=100)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--visits", type=int, default=130, help="visits per branch per day")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--seed", type=int, default=6)
    return parser.parse_args()


class Gen:
    """Makes one branch-day of events as rows, and the Ev list the folds read."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.seq = 0

    def event(self, rows, evs, type_, at, subject, branch_id, user_id, payload):
        self.seq += 1
        eid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        rows.append(
            {
                "id": eid,
                "type": type_,
                "occurred_at": at,
                "device_occurred_at": at,
                "received_at": at,
                "subject_id": subject,
                "branch_id": branch_id,
                "device_id": "bench",
                "seq": self.seq,
                "user_id": user_id,
                "payload": payload,
            }
        )
        evs.append((subject, Ev(type_, at, user_id, payload, eid)))

    def day(self, branch_id, tz, day: date, visits: int, lobby: int, wealth: int):
        from zoneinfo import ZoneInfo

        rng, rows, evs = self.rng, [], []
        zone = ZoneInfo(tz)
        sub = lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))  # noqa: E731
        opening = datetime.combine(day, dtime(9), tzinfo=zone).astimezone(UTC)
        run = sub()
        start = opening - timedelta(minutes=rng.randint(25, 50))
        for i in range(ITEMS):
            status = "fault" if rng.random() < 0.01 else "ok"
            self.event(
                rows,
                evs,
                "checklist.item_recorded",
                start + timedelta(seconds=40 * i),
                run,
                branch_id,
                lobby,
                {"day": day.isoformat(), "item_id": f"item:{i}", "status": status},
            )
            if status == "fault":
                fault = sub()
                reported = start + timedelta(seconds=40 * i + 5)
                self.event(
                    rows,
                    evs,
                    "fault.reported",
                    reported,
                    fault,
                    branch_id,
                    lobby,
                    {"run_id": run, "item_id": f"item:{i}", "note": "坏了"},
                )
                self.event(
                    rows,
                    evs,
                    "fault.resolved",
                    reported + timedelta(hours=rng.randint(1, 72)),
                    fault,
                    branch_id,
                    lobby,
                    {"note": "已修复"},
                )
        self.event(
            rows,
            evs,
            "checklist.signed_off",
            start + timedelta(seconds=40 * ITEMS + rng.randint(-600, 1500)),
            run,
            branch_id,
            lobby,
            {"day": day.isoformat()},
        )
        for _ in range(visits):
            v = sub()
            at = opening + timedelta(seconds=rng.randint(0, 8 * 3600))
            self.event(
                rows,
                evs,
                "visit.greeted",
                at,
                v,
                branch_id,
                lobby,
                {"purpose": rng.choices(PURPOSES, PURPOSE_WEIGHTS)[0]},
            )
            route = rng.choices(ROUTES, ROUTE_WEIGHTS)[0]
            at += timedelta(seconds=rng.randint(20, 180))
            triage = {"route": route}
            if route == "counter":
                triage["form_checked"] = True
                triage["form_redone"] = rng.random() < 0.1
            self.event(rows, evs, "visit.triaged", at, v, branch_id, lobby, triage)
            if rng.random() < 0.5:
                at += timedelta(seconds=rng.randint(60, 600))
                self.event(rows, evs, "visit.engaged", at, v, branch_id, lobby, {})
                if rng.random() < 0.6:
                    at += timedelta(seconds=rng.randint(60, 600))
                    self.event(
                        rows,
                        evs,
                        "visit.recommended",
                        at,
                        v,
                        branch_id,
                        lobby,
                        {"products": [rng.choice(PRODUCTS)], "response": rng.choice(RESPONSES)},
                    )
            outcome = "served"
            if route == "wealth" and rng.random() < 0.6:
                r = sub()
                at += timedelta(seconds=60)
                self.event(
                    rows,
                    evs,
                    "visit.referred",
                    at,
                    v,
                    branch_id,
                    lobby,
                    {"referral_id": r, "to": "wealth"},
                )
                self.event(
                    rows,
                    evs,
                    "referral.created",
                    at,
                    r,
                    branch_id,
                    lobby,
                    {"visit_id": v, "to": "wealth"},
                )
                if rng.random() < 0.8:
                    result = rng.choice(["met", "sold", "no_sale", "did_not_come"])
                    self.event(
                        rows,
                        evs,
                        "referral.outcome",
                        at + timedelta(hours=2),
                        r,
                        branch_id,
                        wealth,
                        {
                            "result": result,
                            **({"amount_band": "50k_200k"} if result == "sold" else {}),
                        },
                    )
                outcome = "referred"
            elif rng.random() < 0.05:
                outcome = "walked_away"
            at += timedelta(seconds=int(rng.expovariate(1 / 600)))
            close = {"outcome": outcome}
            if rng.random() < 0.3:
                close["satisfaction"] = rng.randint(3, 5)
            self.event(rows, evs, "visit.closed", at, v, branch_id, lobby, close)
        return rows, evs


def main():
    global Ev  # Gen builds the folds' own event objects
    args = parse_args()
    from app import create_app
    from app.extensions import db
    from app.models import Branch, Event, Role, User
    from app.supervisor.figures import compute, period_for
    from app.supervisor.projection import BranchClock, Ev, insert_projection, project_events

    url = args.database_url or f"sqlite:////tmp/supervisor_bench_{os.getpid()}.sqlite3"
    schema = None
    if url.startswith("postgresql"):
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(url)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{schema}"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    rng = random.Random(args.seed)
    first_day = date(2026, 1, 1)
    try:
        with app.app_context():
            db.create_all()
            branches = [
                Branch(code=f"b{i:03d}", name=f"支行{i}", timezone=ZONES[i % len(ZONES)])
                for i in range(args.branches)
            ]
            db.session.add_all(branches)
            db.session.flush()
            users = []
            for b in branches:
                for role in (Role.LOBBY_MANAGER, Role.WEALTH_MANAGER):
                    u = User(
                        username=f"{role.value}-{b.code}",
                        role=role,
                        branches=[b],
                        password_hash="x",
                    )
                    users.append(u)
            db.session.add_all(users)
            db.session.commit()
            ids = {u.username: u.id for u in users}
            gen = Gen(rng)
            started = time.perf_counter()
            total = 0
            engine = db.engine
            for b in branches:
                clock = BranchClock.of(b)
                rows_all, evs_all = [], []
                for d in range(args.days):
                    rows, evs = gen.day(
                        b.id,
                        b.timezone,
                        first_day + timedelta(days=d),
                        args.visits,
                        ids[f"lobby_manager-{b.code}"],
                        ids[f"wealth_manager-{b.code}"],
                    )
                    rows_all += rows
                    evs_all += evs
                index = {id(ev): sid for sid, ev in evs_all}
                subjects, totals = project_events(
                    (ev for _, ev in evs_all), clock, subject_of=lambda ev: index[id(ev)]
                )
                with engine.begin() as conn:
                    for i in range(0, len(rows_all), 20000):
                        conn.execute(Event.__table__.insert(), rows_all[i : i + 20000])
                    insert_projection(conn, b.id, subjects, totals)
                total += len(rows_all)
                print(f"\r{b.code}: {total:,} events", end="", flush=True)
            print(
                f"\ngenerated {total:,} events for {args.branches} branches × {args.days} days "
                f"in {time.perf_counter() - started:.0f} s"
            )
            if engine.dialect.name == "postgresql":
                with engine.begin() as conn:
                    conn.execute(text("ANALYZE"))
            with engine.connect() as conn:
                counters = conn.scalar(text("SELECT count(*) FROM figure_day"))
            print(f"figure_day rows: {counters:,}")

            month = period_for("month", first_day + timedelta(days=min(args.days, 60) - 1))
            one = [branches[len(branches) // 2]]
            area = branches[:10]

            def timed(scope):
                samples = []
                for _ in range(args.repeat):
                    db.session.remove()
                    scope_now = [db.session.get(Branch, b.id) for b in scope]
                    t0 = time.perf_counter()
                    fig = compute(scope_now, month, today=month.end)
                    samples.append((time.perf_counter() - t0) * 1000)
                return statistics.median(samples), max(samples), fig

            med, worst, fig = timed(one)
            print(
                f"{engine.dialect.name}: one branch, month {month.start}–{month.end}: "
                f"median {med:.0f} ms, worst {worst:.0f} ms "
                f"({fig['visits']:,} visits, median wait {fig['wait']['median']} min)"
            )
            med, worst, fig = timed(area)
            print(
                f"{engine.dialect.name}: {len(area)} branches together, same month: "
                f"median {med:.0f} ms, worst {worst:.0f} ms ({fig['visits']:,} visits)"
            )
            db.session.remove()
    finally:
        if schema and not args.keep:
            with create_engine(args.database_url).begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        elif url.startswith("sqlite") and not args.keep:
            path = url.split("sqlite:///", 1)[1]
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(path + suffix):
                    os.remove(path + suffix)


if __name__ == "__main__":
    main()
