"""A deployment with three approval levels (centre -> province -> ministry), served over HTTP on both engines.

Units: the ministry CUC; provinces P01 (centres TT, TT2) and P02 (centre TT3). Accounts: a director per centre
(``approve_reports`` on its subtree: submits), a provincial officer per province (approves), a ministry officer
(national), and centre staff without ``approve_reports``.

Report runs come from ``scoped_run``: a count of the cases by form of aid within the requester's
``run_reports`` scope, the unit's subtree and the period, computed in SQL with the scope predicate, so that what
the approval stores and serves can be checked against the records each user may see.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from typing import Any

import pytest

from hoso import accounts
from hoso.config.types import Label
from hoso.db import quote
from hoso.records.access import Access
from hoso.reports.model import Column, Dimension, ReportRequest, ReportResult, ResultRow
from hoso.reports.periods import resolve_period
from hoso.scope import Actor
from hoso.web.tokens import create_token
from tests.records.conftest import CALENDAR, CASE, INTAKE, LISTS, PERFORMER, WORKFLOW
from tests.web.conftest import PASSWORD, Web, running

HIERARCHY = """
levels: [ministry, province, centre]
unit_types:
  ministry: {level: ministry, label: {vi: Bộ, en: Ministry}}
  province: {level: province, label: {vi: Tỉnh, en: Province}}
  centre: {level: centre, label: {vi: Trung tâm, en: Centre}}
units:
  - file: units/units.csv
"""

UNITS = """
code,name_vi,name_en,type,parent_code,valid_from
CUC,Cục Trợ giúp pháp lý,Legal Aid Department,ministry,,2019-01-01
P01,Tỉnh Một,Province One,province,CUC,2019-01-01
TT,Trung tâm Một,Centre One,centre,P01,2019-01-01
TT2,Trung tâm Hai,Centre Two,centre,P01,2019-01-01
P02,Tỉnh Hai,Province Two,province,CUC,2019-01-01
TT3,Trung tâm Ba,Centre Three,centre,P02,2019-01-01
"""

APPROVALS = """
levels:
  - level: centre
  - level: province
  - level: ministry
lock_at: province
period_fields:
  case: received_on
"""

REPORT = """
report: cases_by_form
entity: case
label: {vi: Vụ việc theo hình thức, en: Cases by form of aid}
date_field: received_on
rows: [form_of_aid]
columns:
  - {key: total, measure: count, label: {vi: Tổng số, en: Total}}
totals: true
"""

ROLES = {
    "director": """
        role: director
        label: {vi: Giám đốc Trung tâm}
        grants:
          - entity: case
            scope: subtree
            actions: [read, create, update, delete, restore, run_reports, approve_reports]
    """,
    "staff": """
        role: staff
        label: {vi: Cán bộ Trung tâm}
        grants:
          - entity: case
            scope: subtree
            actions: [read, create, update, run_reports]
    """,
    "officer": """
        role: officer
        label: {vi: Cán bộ Sở}
        grants:
          - entity: case
            scope: subtree
            actions: [read, run_reports, approve_reports]
    """,
    "ministry": """
        role: ministry
        label: {vi: Cán bộ Cục}
        grants:
          - entity: case
            scope: national
            actions: [read, run_reports, approve_reports]
    """,
}

USERS = {
    "dir1": ("TT", "director"),
    "dir2": ("TT2", "director"),
    "dir3": ("TT3", "director"),
    "staff1": ("TT", "staff"),
    "prov1": ("P01", "officer"),
    "prov2": ("P02", "officer"),
    "min": ("CUC", "ministry"),
}


def write_config(config_dir) -> None:
    config_dir.write("forms_config/lists/lists.yaml", LISTS)
    config_dir.write("forms_config/entities/case.yaml", CASE)
    config_dir.write("forms_config/entities/performer.yaml", PERFORMER)
    config_dir.write("forms_config/forms/case_intake.yaml", INTAKE)
    config_dir.write("forms_config/workflows/case_lifecycle.yaml", WORKFLOW)
    config_dir.write("forms_config/calendar.yaml", CALENDAR)
    config_dir.write("forms_config/reports/cases_by_form.yaml", REPORT)
    config_dir.write("roles_config/hierarchy.yaml", HIERARCHY)
    config_dir.write("roles_config/units/units.csv", UNITS)
    config_dir.write("roles_config/approvals.yaml", APPROVALS)
    for name, text in ROLES.items():
        config_dir.write(f"roles_config/roles/{name}.yaml", text)


def template_hash(report) -> str:
    return hashlib.sha256(repr(report).encode()).hexdigest()


async def scoped_run(rt, ctx, request: ReportRequest) -> ReportResult:
    """Cases by form of aid that the requester may count (``run_reports`` predicate), in the unit's subtree and
    the period, as one SQL statement."""
    report = next(r for r in rt.config.reports if r.name == request.report)
    entity = rt.config.entity(report.entity)
    pred = await Access(rt, ctx).scoped("run_reports", entity)
    where, args = [f"({pred.sql})", "t.sys_deleted_at IS NULL"], list(pred.args)
    period = resolve_period(rt, report, request.period)
    if period is not None:
        where.append("t.received_on BETWEEN {} AND {}")
        args += [period.start, period.end]
    unit = None
    if request.unit:
        row = (await rt.db.fetch("SELECT id, code, name_vi, name_en FROM hoso_unit WHERE code = {}", request.unit))[0]
        unit = {"code": row["code"], "name_vi": row["name_vi"], "name_en": row["name_en"]}
        where.append("t.unit IN (SELECT c.descendant_id FROM hoso_unit_closure c WHERE c.ancestor_id = {})")
        args.append(row["id"])
    rows = await rt.db.fetch(f"SELECT t.form_of_aid AS k, COUNT(*) AS n FROM {quote(entity.table)} t "
                             f"WHERE {' AND '.join(where)} GROUP BY t.form_of_aid ORDER BY t.form_of_aid", *args)
    out = [ResultRow((r["k"],), (r["k"],), [int(r["n"])]) for r in rows]
    total = ResultRow((None,), ("Tổng",), [sum(int(r["n"]) for r in rows)], kind="total")
    return ReportResult(report, request, [Dimension("form_of_aid", Label("Hình thức", "Form of aid"))],
                        [Column("total", Label("Tổng", "Total"))], out, total,
                        dt.datetime.now(dt.UTC), period=period, unit=unit, template_hash=template_hash(report))


@dataclass
class Deployment:
    web: Web
    ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)

    @property
    def rt(self):
        return self.web.rt

    async def req(self, method: str, url: str, user: str, **kw):
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Accept-Language": "en",
                   **kw.pop("headers", {})}
        return await self.web.client.request(method, url, headers=headers, **kw)

    async def create_case(self, user: str, unit: str, received_on: str = "2025-03-03", **extra: Any) -> dict:
        body = {"received_on": received_on, "form_of_aid": "TV", "requester": "Nguyễn Văn An", "age": 40,
                "unit": self.units[unit], **extra}
        r = await self.req("POST", "/api/records/case", user, json=body)
        assert r.status_code == 201, r.text
        return r.json()

    async def submit(self, user: str, unit: str = "TT", period: str = "2025-H1", **extra: Any):
        return await self.req("POST", "/api/report-submissions", user,
                              json={"report": "cases_by_form", "period": period, "unit": unit, **extra})

    async def act(self, user: str, sid: int, step: str, **body: Any):
        return await self.req("POST", f"/api/report-submissions/{sid}/{step}", user, json=body)

    async def count(self, table: str) -> int:
        return await self.web.count(table)


@pytest.fixture
async def deployment(config_dir, database_url, monkeypatch):
    """The deployment, its report runs made by ``scoped_run``."""
    from hoso.web import reports_approval_api

    monkeypatch.setattr(reports_approval_api, "run_report", scoped_run)
    async for d in _deployment(config_dir, database_url):
        yield d


@pytest.fixture
async def engine_deployment(config_dir, database_url):
    """The deployment, its report runs made by the report engine."""
    async for d in _deployment(config_dir, database_url):
        yield d


async def _deployment(config_dir, database_url):
    write_config(config_dir)
    async with running(config_dir.root, database_url) as web:
        d = Deployment(web)
        rt = web.rt
        for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
            d.units[r["code"]] = int(r["id"])
        root = Actor(None, "root", superuser=True, origin="test-setup")
        start = dt.date.today() - dt.timedelta(days=30)
        for name, (unit, role) in USERS.items():
            d.ids[name] = await accounts.create_account(rt, root, name, PASSWORD, unit, roles=(role,),
                                                        starts_on=start)
            d.tokens[name] = (await create_token(rt, root, d.ids[name], f"token of {name}"))[1]
        yield d
