"""Measurement: COUNT(*) of the cases a centre staff member may read, with the scope predicate judged in SQL
(a branch per role of the configuration, each looking up the user's assignments) and with the per-user predicate
(the branch of the role held, the unit bound as a value).

Run with `python bench/scope_predicate.py [--cases N]`. Uses HOSO_BENCH_POSTGRES_URL (default
postgresql://postgres@127.0.0.1:5432/test) and works in a database of its own, dropped afterwards. Prints, for
each predicate, the execution time of EXPLAIN ANALYZE and the planner's row estimate against the actual rows of
the plan node whose rows are counted (per worker when the plan is parallel).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import urlparse, urlunparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HOSO_DISABLE_ENTRYPOINTS", "1")
PG_URL = os.environ.get("HOSO_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
STAFF_UNIT = "TT-01"

from run import _pg  # noqa: E402  (bench/run.py, beside this script: one SQL statement on its own connection)


def _counted(plan: dict) -> dict:
    """The plan node whose rows are counted: the input of the lowest aggregate (per worker, when parallel)."""
    while plan.get("Node Type") in ("Aggregate", "Gather") and plan.get("Plans"):
        below = [p for p in plan["Plans"] if p.get("Parent Relationship") in ("Outer", None)]
        if not below:
            break
        plan = below[0]
    return plan


async def _seed(rt, cases: int) -> None:
    await rt.db.execute(
        'INSERT INTO "case" (code, received_on, request_channel, requester_name, beneficiary_groups, field_of_law, '
        "form_of_aid, status, unit, sys_version) "
        "SELECT 'B' || g, DATE '2024-05-01', 'in_person', 'Người ' || g, '[\"TE\"]', 'DS', 'TV', 'received', "
        "u.ids[1 + g % array_length(u.ids, 1)], 1 FROM generate_series(1, {}) g, "
        "(SELECT array_agg(id ORDER BY id) AS ids FROM hoso_unit) u", cases)
    await rt.db.execute('ANALYZE "case"')


async def _staff(rt) -> int:
    unit = await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = {}", STAFF_UNIT)
    await rt.db.execute(
        "INSERT INTO hoso_user (username, password, email, first_name, last_name, active, admin, superuser, "
        "display_name, unit_id, locked, must_change_password) VALUES ('bench.staff', 'x', 'b@localhost', '', '', "
        "TRUE, FALSE, FALSE, 'bench', {}, FALSE, FALSE)", unit)
    user = await rt.db.fetchval("SELECT id FROM hoso_user WHERE username = 'bench.staff'")
    await rt.db.execute("INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, created_at) "
                        "VALUES ({}, 'centre_staff', {}, {}, {})", user, unit, dt.date(2020, 1, 1),
                        dt.datetime.now(dt.UTC))
    await rt.db.execute("ANALYZE hoso_assignment")
    return int(user)


async def _explain(rt, pred) -> dict:
    rows = await rt.db.fetch(f'EXPLAIN (ANALYZE, FORMAT JSON) SELECT COUNT(*) AS n FROM "case" t '
                             f"WHERE t.sys_deleted_at IS NULL AND ({pred.sql})", *pred.args)
    out = next(iter(rows[0].values()))
    return (json.loads(out) if isinstance(out, str) else out)[0]


async def measure(url: str, cases: int) -> None:
    from hoso.config import load_config
    from hoso.scope import Actor, holdings_on
    from tests.helpers import migrated_runtime

    with tempfile.TemporaryDirectory() as tmp:
        for part in ("forms_config", "roles_config"):
            shutil.copytree(REPO / part, Path(tmp) / part)
        rt = await migrated_runtime(load_config(Path(tmp)), url)
    try:
        await _seed(rt, cases)
        user = await _staff(rt)
        case = rt.config.entity("case")
        held = await holdings_on(rt.db, user, dt.date.today())
        for name, actor in (("judged in SQL", Actor(user, "bench.staff")),
                            ("per user", Actor(user, "bench.staff", holdings=held))):
            pred = rt.scope.predicate(actor, "read", case)
            await _explain(rt, pred)  # warm the cache: both runs read the same pages
            plan = await _explain(rt, pred)
            node = _counted(plan["Plan"])
            print(f"{name:<14} {plan['Execution Time']:9.1f} ms  {node['Node Type']}: estimated "
                  f"{node['Plan Rows']} rows, actual {node['Actual Rows']} (x{node.get('Actual Loops', 1)} loops)",
                  flush=True)
    finally:
        await rt.db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200_000)
    args = parser.parse_args()
    name = f"hoso_bench_{uuid.uuid4().hex[:12]}"
    asyncio.run(_pg(PG_URL, f'CREATE DATABASE "{name}"'))
    try:
        asyncio.run(measure(urlunparse(urlparse(PG_URL)._replace(path="/" + name)), args.cases))
    finally:
        asyncio.run(_pg(PG_URL, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


if __name__ == "__main__":
    main()
