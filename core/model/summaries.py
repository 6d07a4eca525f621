"""Summary tables: a report template's counts kept at a fine grain in every write's transaction.

A template with ``summary: true`` gets a table at the grain (recorded unit, the unit a split made the record
answer to, month of the date field, each field the rows group by) with one counter per count measure (its
condition, the per-option tests included), a sum and a count of values per sum of whole numbers, and ``_n``, the
records the template's filter lets through; beside it a national roll-up (the same without the two unit columns)
for runs over every unit. Triggers on the entity's table, generated from the template (PL/pgSQL
on PostgreSQL, SQL triggers on SQLite), subtract a row's old contribution and add its new one on every insert,
update (edits, soft deletes and restores, unit moves of a restructuring) and delete, in the write's transaction.

The table's name carries a hash of what it holds (the grain, the counters' SQL, the column types): a changed
template is a new table, built and back-filled by migrate; the old one is dropped. The engine serves a live run
from the table only when that name exists (hoso.reports.summary), so a table of another template version is never
read.
"""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
from dataclasses import dataclass, field

from hoso.config import Config, EntityDef, ReportDef
from hoso.config.conditions import compile_expression, entity_field_info
from hoso.config.conditions_sql import SqlField, to_sql
from hoso.db import Database, quote
from hoso.fields import Registry
from hoso.model.tables import SCOPE_COLUMN

__all__ = ["Summary", "SummaryColumn", "PREFIX", "ROLLUP", "BUCKET", "RECORDS", "desired_summaries", "summary_current",
           "existing_summaries", "build_summary", "drop_summary", "summary_for"]

PREFIX = "hoso_sum_"
ROLLUP = "_all"  # the national roll-up's name: the summary table's and this
STRIPE, STRIPES = "_stripe", 16  # the roll-up's rows per group, so that concurrent writers seldom wait on one
BUCKET = "_bucket"  # the first day of the month of the report's date field
RECORDS = "_n"  # records the template's filter lets through: a group with none is no row of the report
_NO_DAY = dt.date(2000, 1, 1)  # conditions of a summary never read today() (checked when the template loads)


@dataclass(frozen=True)
class SummaryColumn:
    """One additive column: ``count`` (records whose ``where`` holds), ``sum`` (of ``field`` where it holds) or
    ``values`` (records whose ``field`` has a value where it holds: a sum of none is no value, not 0)."""

    name: str
    kind: str
    measure: int  # index among the template's measures (attributes left out); -1 for RECORDS
    where: str | None = None
    field: str | None = None


@dataclass(frozen=True)
class Summary:
    report: ReportDef
    entity: EntityDef
    table: str
    keys: tuple[str, ...]  # key columns: BUCKET (with a date field), the unit, the scope unit, the row fields
    columns: tuple[SummaryColumn, ...]
    dialect: str
    registry: Registry
    _fields: dict[str, dict[str, SqlField]] = field(default_factory=dict, compare=False, repr=False)

    # -- SQL over one row (``t`` in a select, ``NEW``/``OLD`` in a trigger) -------------------------------------
    def fields(self, row: str) -> dict[str, SqlField]:
        """The entity's columns as SQL over ``row`` (kept per row name: every condition of the table reads them)."""
        if row not in self._fields:
            self._fields[row] = self._fields_of(row)
        return self._fields[row]

    def _fields_of(self, row: str) -> dict[str, SqlField]:
        e = self.entity
        storage = {fd.type: self.registry.field_type(fd.type).storage for fd in e.column_fields}
        info = entity_field_info(e.column_fields, storage_of=storage)
        return {fd.name: SqlField(f"{row}.{quote(fd.name)}", info[fd.name].kind, fd.traits.chooses_many)
                for fd in e.column_fields}

    def condition(self, text: str | None, row: str) -> str:
        """``text`` compiled over ``row`` with its constants written in (a trigger's body takes no arguments)."""
        if not text:
            return "(1 = 1)"
        sql, args = to_sql(compile_expression(text), self.fields(row), today=_NO_DAY, dialect=self.dialect)
        parts = sql.split("{}")
        out = parts[0]
        for arg, rest in zip(args, parts[1:], strict=True):
            out += _literal(arg, self.dialect) + rest
        return out

    def key_sql(self, key: str, row: str) -> str:
        if key == STRIPE:
            return f"({row}.id % {STRIPES})"
        if key == BUCKET:
            col = f"{row}.{quote(self.report.date_field or '')}"
            if self.dialect == "sqlite":
                return f"(substr({col}, 1, 7) || '-01')"
            return f"CAST(date_trunc('month', {col}) AS date)"
        return f"{row}.{quote(key)}"

    def counts(self, row: str) -> str:
        """Whether ``row`` is counted at all: live and let through by the template's filter."""
        return f"({row}.sys_deleted_at IS NULL AND ({self.condition(self.report.filter, row)}) IS TRUE)"

    def value_sql(self, c: SummaryColumn, row: str) -> str:
        """What ``row`` adds to column ``c`` when it is counted."""
        if c.kind == "count" and c.where is None:
            return "1"
        test = f"({self.condition(c.where, row)}) IS TRUE"
        if c.field is not None:
            test += f" AND {row}.{quote(c.field)} IS NOT NULL"
        return f"(CASE WHEN {test} THEN {row}.{quote(c.field or '')} ELSE 0 END)" if c.kind == "sum" else \
            f"(CASE WHEN {test} THEN 1 ELSE 0 END)"

    def watched(self) -> list[str]:
        """The entity's columns the table depends on: an update changing none of them changes no count."""
        names = {"sys_deleted_at", *(k for k in self.keys if k != BUCKET)}
        if self.report.date_field:
            names.add(self.report.date_field)
        for text in [self.report.filter, *(c.where for c in self.columns)]:
            if text:
                names.update(compile_expression(text).fields)
        names.update(c.field for c in self.columns if c.field)
        return sorted(names)

    # -- DDL -------------------------------------------------------------------------------------------------------
    @property
    def function(self) -> str:
        return f"{self.table}_f"

    def triggers(self) -> list[str]:
        if self.dialect == "sqlite":
            return [f"{self.table}_{s}" for s in ("i", "d", "uo", "un")]
        return [f"{self.table}_t", f"{self.table}_u"]

    @property
    def rollup(self) -> str | None:
        """The national roll-up (the grain without the units: for runs over every unit), when it has a key."""
        return f"{self.table}{ROLLUP}" if self.rollup_keys else None

    @property
    def rollup_keys(self) -> tuple[str, ...]:
        """The grain without the units, and a stripe of the record id: concurrent writers of the same month and
        row fields update different rows (the report sums the stripes; which one holds a count does not matter)."""
        unit_keys = (self.entity.unit_field, SCOPE_COLUMN) if self.entity.unit_field else ()
        keys = tuple(k for k in self.keys if k not in unit_keys)
        return (*keys, STRIPE) if keys else ()

    def _tables(self) -> list[tuple[str, tuple[str, ...]]]:
        return [(self.table, self.keys)] + ([(self.rollup, self.rollup_keys)] if self.rollup else [])

    def _add_sqlite(self, row: str, sign: str) -> str:
        out = []
        for table, key_names in self._tables():
            keys = ", ".join(quote(k) for k in key_names)
            same = " AND ".join(f"{quote(k)} IS {self.key_sql(k, row)}" for k in key_names)
            values = ", ".join(self.key_sql(k, row) for k in key_names)
            sets = ", ".join(f"{quote(c.name)} = {quote(c.name)} {sign} {self.value_sql(c, row)}"
                             for c in self.columns)
            t = quote(table)
            out.append(f"INSERT INTO {t} ({keys}) SELECT {values} WHERE NOT EXISTS (SELECT 1 FROM {t} WHERE {same}); "
                       f"UPDATE {t} SET {sets} WHERE {same};")
        return " ".join(out)

    def _add_postgres(self, row: str, sign: str) -> str:
        out = []
        for table, key_names in self._tables():
            t = quote(table)
            cols = ", ".join([*(quote(k) for k in key_names), *(quote(c.name) for c in self.columns)])
            values = ", ".join([*(self.key_sql(k, row) for k in key_names),
                                *(f"{sign}{self.value_sql(c, row)}" for c in self.columns)])
            sets = ", ".join(f"{quote(c.name)} = {t}.{quote(c.name)} + excluded.{quote(c.name)}"
                             for c in self.columns)
            out.append(f"INSERT INTO {t} ({cols}) VALUES ({values}) "
                       f"ON CONFLICT ({', '.join(quote(k) for k in key_names)}) DO UPDATE SET {sets};")
        return " ".join(out)

    def create_sql(self) -> list[str]:
        """The table (empty), its key index, its back-fill from the live records and its triggers."""
        src = quote(self.entity.table)
        out: list[str] = []
        counter = "integer" if self.dialect == "sqlite" else "bigint"
        names = ", ".join(quote(c.name) for c in self.columns)
        for table, key_names in self._tables():
            t = quote(table)
            keys = ", ".join(f"{self.key_sql(k, 't')} AS {quote(k)}" for k in key_names)
            out.append(f"CREATE TABLE {t} AS SELECT {keys} FROM {src} t WHERE 1 = 0")
            out += [f"ALTER TABLE {t} ADD COLUMN {quote(c.name)} {counter} NOT NULL DEFAULT 0" for c in self.columns]
            key_list = ", ".join(quote(k) for k in key_names)
            if self.dialect == "sqlite":
                out.append(f"CREATE INDEX {quote(table + '_k')} ON {t} ({key_list})")
            else:
                out.append(f"CREATE UNIQUE INDEX {quote(table + '_k')} ON {t} ({key_list}) NULLS NOT DISTINCT")
        if self.entity.unit_field and BUCKET in self.keys:
            # a province or a centre reads its units' rows of the period: by the recorded unit (a unit asked for,
            # as recorded) and by the unit the record answers to (scopes, a mapped structure)
            unit, scope = quote(self.entity.unit_field), quote(SCOPE_COLUMN)
            out.append(f"CREATE INDEX {quote(self.table + '_u')} ON {quote(self.table)} ({unit}, {quote(BUCKET)})")
            out.append(f"CREATE INDEX {quote(self.table + '_s')} ON {quote(self.table)} "
                       f"((COALESCE({scope}, {unit})), {quote(BUCKET)})")
        out.append(f"INSERT INTO {quote(self.table)} ({', '.join(quote(k) for k in self.keys)}, {names}) "
                   + self._aggregate(self.keys, "1 = 1"))
        if self.rollup:  # from the fine table's rows, not the records: all in stripe 0
            up = ", ".join(quote(k) for k in self.rollup_keys if k != STRIPE)
            out.append(f"INSERT INTO {quote(self.rollup)} ({up}, {quote(STRIPE)}, {names}) SELECT {up}, 0, "
                       + ", ".join(f"SUM({quote(c.name)})" for c in self.columns)
                       + f" FROM {quote(self.table)} GROUP BY {up}")
        out += self._triggers_sql()
        return out

    def _aggregate(self, key_names: tuple[str, ...], where: str) -> str:
        """A SELECT of what the entity's rows ``t`` matching ``where`` add to a table of ``key_names``: its keys,
        then one sum per column (the groups in which no row counts are no row)."""
        keys = ", ".join(f"{self.key_sql(k, 't')} AS {quote(k)}" for k in key_names)
        sums = ", ".join(f"SUM({self.value_sql(c, 't')}) AS {quote(c.name)}" for c in self.columns)
        group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(key_names)))}" if key_names else ""
        return (f"SELECT {keys}, {sums} FROM {quote(self.entity.table)} t WHERE ({where}) AND {self.counts('t')}"
                f"{group}")

    def insert_triggers(self) -> list[str]:
        """The triggers that count a new row (``add_sql`` does their work for many rows at once)."""
        return [self.triggers()[0]]

    def add_sql(self, where: str) -> list[str]:
        """Statements adding the entity's rows ``t`` matching ``where`` (SQL over ``t``) to the table and its
        roll-up, as the insert trigger adds them one by one: for rows written with that trigger off."""
        out = []
        for table, key_names in self._tables():
            t = quote(table)
            cols = ", ".join([*(quote(k) for k in key_names), *(quote(c.name) for c in self.columns)])
            select = self._aggregate(key_names, where)
            if self.dialect == "sqlite":  # its key index is not unique (NULL keys): update the groups, add the others
                same = " AND ".join(f"{t}.{quote(k)} IS d.{quote(k)}" for k in key_names)
                sets = ", ".join(f"{quote(c.name)} = {t}.{quote(c.name)} + d.{quote(c.name)}" for c in self.columns)
                there = " AND ".join(f"s.{quote(k)} IS d.{quote(k)}" for k in key_names)
                out += [f"UPDATE {t} SET {sets} FROM ({select}) AS d WHERE {same}",
                        f"INSERT INTO {t} ({cols}) SELECT {cols} FROM ({select}) AS d "
                        f"WHERE NOT EXISTS (SELECT 1 FROM {t} s WHERE {there})"]
            else:
                sets = ", ".join(f"{quote(c.name)} = {t}.{quote(c.name)} + excluded.{quote(c.name)}"
                                 for c in self.columns)
                out.append(f"INSERT INTO {t} ({cols}) {select} "
                           f"ON CONFLICT ({', '.join(quote(k) for k in key_names)}) DO UPDATE SET {sets}")
        return out

    def _triggers_sql(self) -> list[str]:
        """The triggers keeping the table (on PostgreSQL with their function)."""
        src = quote(self.entity.table)
        out: list[str] = []
        changed = " OR ".join(f"OLD.{quote(c)} IS {'NOT' if self.dialect == 'sqlite' else 'DISTINCT FROM'} "
                              f"NEW.{quote(c)}" for c in self.watched())
        if self.dialect == "sqlite":
            i, d, uo, un = (quote(n) for n in self.triggers())
            out += [
                f"CREATE TRIGGER {i} AFTER INSERT ON {src} WHEN {self.counts('NEW')} BEGIN "
                f"{self._add_sqlite('NEW', '+')} END",
                f"CREATE TRIGGER {d} AFTER DELETE ON {src} WHEN {self.counts('OLD')} BEGIN "
                f"{self._add_sqlite('OLD', '-')} END",
                f"CREATE TRIGGER {uo} AFTER UPDATE ON {src} WHEN ({changed}) AND {self.counts('OLD')} BEGIN "
                f"{self._add_sqlite('OLD', '-')} END",
                f"CREATE TRIGGER {un} AFTER UPDATE ON {src} WHEN ({changed}) AND {self.counts('NEW')} BEGIN "
                f"{self._add_sqlite('NEW', '+')} END",
            ]
        else:
            fn, (ti, tu) = quote(self.function), (quote(n) for n in self.triggers())
            out += [
                f"CREATE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF TG_OP IN ('UPDATE', 'DELETE') AND {self.counts('OLD')} THEN {self._add_postgres('OLD', '-')} "
                f"END IF; IF TG_OP IN ('UPDATE', 'INSERT') AND {self.counts('NEW')} THEN "
                f"{self._add_postgres('NEW', '')} END IF; RETURN NULL; END $$",
                f"CREATE TRIGGER {ti} AFTER INSERT OR DELETE ON {src} FOR EACH ROW EXECUTE FUNCTION {fn}()",
                f"CREATE TRIGGER {tu} AFTER UPDATE ON {src} FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {fn}()",
                *(f"ANALYZE {quote(table)}" for table, _k in self._tables()),
            ]
        return out


def _literal(value: object, dialect: str) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return ("1" if value else "0") if dialect == "sqlite" else ("TRUE" if value else "FALSE")
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(value) if isinstance(value, float) else str(value)
    if isinstance(value, dt.datetime):
        text = value.isoformat(sep=" ")
        return f"'{text}'" if dialect == "sqlite" else f"TIMESTAMPTZ '{text}'"
    if isinstance(value, dt.date):
        return f"'{value.isoformat()}'" if dialect == "sqlite" else f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def summary_for(config: Config, registry: Registry, report: ReportDef, dialect: str) -> Summary | None:
    """The summary table of ``report`` on ``dialect`` (None when the template asks for none)."""
    if not report.summary:
        return None
    entity = config.entity(report.entity)
    keys: list[str] = [BUCKET] if report.date_field else []
    if entity.unit_field:
        keys += [entity.unit_field, SCOPE_COLUMN]
    for d in report.rows:
        if d.kind == "field" and d.field not in keys:
            keys.append(d.field)
    columns = [SummaryColumn(RECORDS, "count", -1)]
    measures = [c for c in report.columns if c.measure != "attribute"]
    for j, m in enumerate(measures):
        if m.measure == "sum":
            columns.append(SummaryColumn(f"_m{j}", "sum", j, m.where, m.field))
            columns.append(SummaryColumn(f"_m{j}_v", "values", j, m.where, m.field))
        else:
            columns.append(SummaryColumn(f"_m{j}", "count", j, m.where))
    probe = Summary(report, entity, "", tuple(keys), tuple(columns), dialect, registry)
    types = {fd.name: fd.type for fd in entity.column_fields}
    shape = {"v": 4, "dialect": dialect, "entity": entity.table,
             "keys": [(k, probe.key_sql(k, "t"), types.get(k)) for k in keys],
             "counts": probe.counts("t"), "columns": [(c.name, probe.value_sql(c, "t")) for c in columns],
             "watched": probe.watched()}
    digest = hashlib.sha256(json.dumps(shape, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:10]
    table = f"{PREFIX}{report.name[:30]}_{digest}"
    return Summary(report, entity, table, tuple(keys), tuple(columns), dialect, registry)


def desired_summaries(config: Config, registry: Registry, dialect: str) -> dict[str, Summary]:
    """The summary tables the configuration asks for, by table name."""
    out: dict[str, Summary] = {}
    for r in config.reports:
        s = summary_for(config, registry, r, dialect)
        if s is not None:
            out[s.table] = s
    return out


async def existing_summaries(db: Database) -> set[str]:
    return {n for n in await db.table_names() if n.startswith(PREFIX) and not n.endswith(ROLLUP)}


async def _trigger_names(db: Database) -> set[str]:
    if db.is_sqlite:
        rows = await db.fetch("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    else:
        rows = await db.fetch("SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal")
    return {r["name"] for r in rows}


async def summary_current(db: Database, s: Summary) -> bool:
    """Whether the table and every trigger keeping it are in the database."""
    tables = {t for t, _k in s._tables()}
    return tables <= await db.table_names() and set(s.triggers()) <= await _trigger_names(db)


async def build_summary(db: Database, s: Summary) -> None:
    """Create, back-fill and start keeping ``s`` (inside the caller's transaction)."""
    await drop_summary(db, s.table)
    for statement in s.create_sql():
        await db.execute(statement)


async def drop_summary(db: Database, table: str) -> None:
    """Drop a summary table and the triggers keeping it (named after it)."""
    if db.is_sqlite:
        for suffix in ("i", "d", "uo", "un"):
            await db.execute(f"DROP TRIGGER IF EXISTS {quote(f'{table}_{suffix}')}")
    else:
        await db.execute(f"DROP FUNCTION IF EXISTS {quote(table + '_f')}() CASCADE")
    await db.execute(f"DROP TABLE IF EXISTS {quote(table)}")
    await db.execute(f"DROP TABLE IF EXISTS {quote(table + ROLLUP)}")
