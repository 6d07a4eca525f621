"""Plausible records for any configured entity, drawn from its definition.

``RecordGenerator`` reads what the configuration says of an entity (field types, choice lists, references, the
unit types an ``org_unit`` field allows, ``min``/``max``, ``max_length``, required fields, rules such as
``ended_on >= received_on`` or ``received_on <= today()``, and the workflow: the fields each transition requires)
and draws values that the record service accepts: Vietnamese names with their real frequencies (Nguyễn, Trần,
Lê...), province names taken from the unit tree, dates that follow each other as the rules and the workflow
steps want. It is deterministic: the same seed, configuration and pools give the same records.

The generator only draws values; it writes nothing. Records it points to (units, referenced records, users)
come from ``Pools``, which the caller reads from the database. A deployment extends it for its domain by
subclassing and overriding ``entity_values``, ``field_value``, ``transition_weight``, ``stop_probability``,
``step_gap`` or ``step_values``.

A record is created with the fields of its request: every field up to the first one a workflow step requires
(and every required field); the later fields belong to the steps, which ``walk`` draws.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from hoso.config import Config, EntityDef, FieldDef, TransitionDef, WorkflowDef
from hoso.config.conditions import Expression, compile_expression
from hoso.db import quote
from hoso.i18n import local_today

__all__ = ["RecordGenerator", "Pools", "Unit", "jsonable", "FAMILY_NAMES", "parse_rule", "read_pools"]

# Vietnamese family names with their approximate share of the population (per cent).
FAMILY_NAMES: tuple[tuple[str, float], ...] = (
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9.5), ("Phạm", 7), ("Hoàng", 5.1), ("Huỳnh", 2), ("Phan", 4.5),
    ("Vũ", 3.9), ("Võ", 3), ("Đặng", 2.1), ("Bùi", 2), ("Đỗ", 1.4), ("Hồ", 1.3), ("Ngô", 1.3), ("Dương", 1),
    ("Lý", 0.5), ("Đinh", 0.8), ("Trịnh", 0.6), ("Mai", 0.5), ("Lò", 0.3), ("Hà", 0.6), ("Sùng", 0.2),
    ("Cao", 0.4), ("Lương", 0.4), ("Tạ", 0.3), ("Vương", 0.3))
MIDDLE_NAMES = {"male": ("Văn", "Hữu", "Đức", "Minh", "Quang", "Công", "Xuân", "Thành", "Bá", "Đình"),
                "female": ("Thị", "Ngọc", "Thu", "Thanh", "Kim", "Bích", "Thúy", "Hồng", "Diệu", "Mỹ")}
GIVEN_NAMES = {"male": ("An", "Bình", "Cường", "Dũng", "Hùng", "Hải", "Khánh", "Long", "Nam", "Phong", "Quân", "Sơn",
                        "Thắng", "Tuấn", "Việt", "Hiếu", "Toàn", "Lâm", "Trung", "Huy", "Đạt", "Kiên"),
               "female": ("Anh", "Chi", "Dung", "Hà", "Hạnh", "Hoa", "Hương", "Lan", "Linh", "Mai", "Ngọc", "Nhung",
                          "Phương", "Thảo", "Trang", "Yến", "Vân", "Loan", "Hằng", "Diệp", "Huyền", "Nga")}
STREETS = ("Lê Lợi", "Trần Hưng Đạo", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung", "Lý Thường Kiệt",
           "Phan Đình Phùng", "Hùng Vương", "Điện Biên Phủ", "Nguyễn Huệ", "Lê Duẩn", "Trường Chinh")
SENTENCES = ("Dữ liệu minh họa.", "Đã trao đổi với người yêu cầu qua điện thoại.",
             "Hồ sơ đầy đủ giấy tờ theo quy định.", "Người yêu cầu bổ sung giấy tờ chứng minh.",
             "Đề nghị xem xét giải quyết theo quy định của pháp luật.")

_RULE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(>=|<=|>|<)\s*([A-Za-z_]\w*|today\(\))\s*$")
_FLIP = {">=": "<=", "<=": ">=", ">": "<", "<": ">"}


def parse_rule(rule: str) -> tuple[str, str, str] | None:
    """``(left, op, right)`` of a comparison of two fields or of a field with ``today()``; None for any other
    rule (the generator leaves those to the record service)."""
    m = _RULE.match(rule)
    return (m.group(1), m.group(2), m.group(3)) if m else None


@dataclass(frozen=True)
class Unit:
    """An open unit of the tree, as records point to it."""

    id: int
    code: str
    name: str
    type: str
    parent_id: int | None = None


@dataclass
class Pools:
    """What generated records may point to: the open units, the records of each entity (id and unit, so that a
    record points to one of its own unit first), the user accounts."""

    units: list[Unit] = field(default_factory=list)
    records: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)
    users: list[int] = field(default_factory=list)

    def add(self, entity: str, record_id: int, unit: int | None = None) -> None:
        self.records.setdefault(entity, []).append((record_id, unit))


def jsonable(values: Mapping[str, Any]) -> dict:
    """Values as a client sends them to the record service: dates as ISO text, decimals as text."""
    def conv(v: Any) -> Any:
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        return v

    return {k: conv(v) for k, v in values.items()}


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in folded if c.isascii() and (c.isalnum() or c == " ")).lower()


class RecordGenerator:
    """Draws records of the configured entities; see the module docstring."""

    # How often a field that is neither required nor a step's gets a value.
    optional_share = 0.7
    first_day = dt.date(2023, 1, 1)

    def __init__(self, config: Config, *, seed: int = 0, today: dt.date | None = None, pools: Pools | None = None):
        self.config = config
        self.rng = random.Random(seed)
        self.today = today or local_today()
        self.pools = pools or Pools()
        self._unique: dict[tuple[str, str], set[Any]] = {}
        self._conditions: dict[str, dict[str, tuple[list[Expression], list[Expression]]]] = {}
        self._step_fields: dict[str, set[str]] = {}
        self._rules: dict[str, list[tuple[str, str, str]]] = {}
        self._compiled: dict[str, list[Expression]] = {}
        self._order: dict[str, list[FieldDef]] = {}
        self._conditioned: dict[str, list[tuple[str, list[Expression], list[Expression]]]] = {}
        self._units_by_id: dict[int, Unit] = {}
        self._index_units()

    def _index_units(self) -> None:
        self._units_by_id = {u.id: u for u in self.pools.units}
        self._by_type: dict[str, list[Unit]] = {}
        for u in self.pools.units:
            self._by_type.setdefault(u.type, []).append(u)
        self._children: dict[int | None, list[Unit]] = {}
        for u in self.pools.units:
            self._children.setdefault(u.parent_id, []).append(u)

    def set_pools(self, pools: Pools) -> None:
        self.pools = pools
        self._index_units()

    # -- names, places, numbers ---------------------------------------------------------------------------------
    def person(self, gender: str | None = None) -> tuple[str, str]:
        """A Vietnamese full name and its gender (``male``/``female``)."""
        if gender not in MIDDLE_NAMES:
            gender = self.rng.choice(("male", "female"))
        family = self.rng.choices([f for f, _ in FAMILY_NAMES], weights=[w for _, w in FAMILY_NAMES])[0]
        return f"{family} {self.rng.choice(MIDDLE_NAMES[gender])} {self.rng.choice(GIVEN_NAMES[gender])}", gender

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def phone(self) -> str:
        return self.rng.choice(("09", "03", "08", "07")) + self.digits(8)

    def citizen_id(self, province_code: int | None = None, gender: str | None = None,
                   birth_year: int | None = None) -> str:
        """A personal ID as Vietnam issues them: province (3 digits), gender and century, year, 6 digits."""
        province = province_code if province_code is not None else self.rng.randint(1, 96)
        year = birth_year or self.rng.randint(1950, 2005)
        century = 0 if year < 2000 else 2
        return f"{province % 1000:03d}{century + (gender == 'female')}{year % 100:02d}{self.digits(6)}"

    def date_between(self, start: dt.date, end: dt.date) -> dt.date:
        if end < start:
            return start
        return start + dt.timedelta(days=self.rng.randrange((end - start).days + 1))

    def unit(self, unit_id: int | None) -> Unit | None:
        return self._units_by_id.get(unit_id) if unit_id is not None else None

    def province(self, unit_id: int | None) -> str:
        """The name of the province a unit is in, from the unit tree: the name of its province-level ancestor
        (or of itself) without the unit type's label ("Sở Tư pháp tỉnh Lào Cai" -> "tỉnh Lào Cai")."""
        hierarchy = self.config.hierarchy
        levels = {t.name: t for t in hierarchy.unit_types} if hierarchy else {}
        u = self.unit(unit_id)
        chain: list[Unit] = []
        while u is not None and len(chain) < 20:
            chain.append(u)
            u = self.unit(u.parent_id)
        for u in chain:
            t = levels.get(u.type)
            if t is not None and t.level == "province":
                return self._place(u, t.label.vi)
        if chain:
            t = levels.get(chain[0].type)
            return self._place(chain[0], t.label.vi if t else "")
        return "Hà Nội"

    @staticmethod
    def _place(u: Unit, label: str) -> str:
        name = u.name
        if label and name.lower().startswith(label.lower()):
            name = name[len(label):]
        elif " nhà nước " in name:
            name = name.split(" nhà nước ", 1)[1]
        return name.strip(" ,-") or u.name

    def province_code(self, unit_id: int | None) -> int:
        """A number for the unit's province (the digits of its code), for personal IDs."""
        u = self.unit(unit_id)
        digits = "".join(c for c in (u.code.split("-")[-1] if u else "") if c.isdigit())
        return int(digits) if digits else 1

    def address(self, unit_id: int | None) -> str:
        return f"Số {self.rng.randint(1, 300)} đường {self.rng.choice(STREETS)}, {self.province(unit_id)}"

    # -- the definition ---------------------------------------------------------------------------------------
    def workflows(self, entity: EntityDef) -> list[WorkflowDef]:
        return list(self.config.workflows_for(entity.name))

    def step_fields(self, entity: EntityDef) -> set[str]:
        """The fields the workflow steps fill: from the first field a step requires that a new record need not
        have, every later field that is not required."""
        found = self._step_fields.get(entity.name)
        if found is None:
            found = self._step_fields[entity.name] = self._find_step_fields(entity)
        return found

    def _find_step_fields(self, entity: EntityDef) -> set[str]:
        required_by_steps = {f for wf in self.workflows(entity) for t in wf.transitions for f in t.requires}
        out: set[str] = set()
        started = False
        for fd in entity.fields:
            if fd.name in required_by_steps and not fd.required:
                started = True
            if started and not fd.required:
                out.add(fd.name)
        return out

    def options(self, fd: FieldDef) -> tuple[str, ...]:
        return self.config.choice_list(fd.list).values() if fd.list else ()

    # -- one record -------------------------------------------------------------------------------------------
    def values(self, entity_name: str, **given: Any) -> dict:
        """A new record of the entity (Python values; ``jsonable`` turns them into a payload), with ``given``
        values kept as they are."""
        entity = self.config.entity(entity_name)
        values: dict[str, Any] = dict(given)
        values.update({k: v for k, v in self.entity_values(entity, values).items() if k not in given})
        states = {wf.state_field for wf in self.workflows(entity)}
        skip = self.step_fields(entity) | states | {entity.naming.field if entity.naming else ""}
        conditions = self.conditions(entity)
        order = self._order.get(entity.name)
        if order is None:
            order = self._order[entity.name] = sorted(entity.fields, key=_drawing_order)
        for fd in order:
            if fd.name in values or fd.name in skip:
                continue
            if not fd.required and fd.name not in conditions and (
                    fd.default is not None or self.rng.random() >= self.optional_share):
                continue
            v = self.field_value(entity, fd, values)
            if v is not None:
                values[fd.name] = v
        self.keep_rules(entity, values)
        self.keep_conditions(entity, values, lambda name: name not in skip)
        return {k: v for k, v in values.items() if v is not None}

    def conditions(self, entity: EntityDef) -> dict[str, tuple[list[Expression], list[Expression]]]:
        """The field conditions of the entity's forms (they hold on every write): field -> (visible_if,
        required_if)."""
        found = self._conditions.get(entity.name)
        if found is None:
            found = {}
            for form in self.config.forms:
                if form.entity != entity.name:
                    continue
                for opts in form.fields:
                    visible, required = found.setdefault(opts.name, ([], []))
                    if opts.visible_if:
                        visible.append(compile_expression(opts.visible_if))
                    if opts.required_if:
                        required.append(compile_expression(opts.required_if))
            self._conditions[entity.name] = found
        return found

    def keep_conditions(self, entity: EntityDef, values: dict, may_draw: Any = None) -> None:
        """Empty the fields whose ``visible_if`` fails and draw the ones a ``required_if`` asks for (when
        ``may_draw(name)``)."""
        conditioned = self._conditioned.get(entity.name)
        if conditioned is None:  # the fields with a condition, in the forms' order (the others never change)
            conditioned = self._conditioned[entity.name] = [
                (name, visible, required) for name, (visible, required) in self.conditions(entity).items()
                if (visible or required) and entity.has_field(name)]
        for name, visible, required in conditioned:
            shown = all(c.holds(values, self.today) for c in visible)
            if not shown:
                values.pop(name, None)
            elif values.get(name) in (None, "", []) and any(c.holds(values, self.today) for c in required) \
                    and (may_draw is None or may_draw(name)):
                v = self.field_value(entity, entity.field(name), values)
                if v is not None:
                    values[name] = v

    def entity_values(self, entity: EntityDef, values: dict) -> dict:
        """Values a deployment draws together for an entity (a domain's mixes); none by default."""
        return {}

    def field_value(self, entity: EntityDef, fd: FieldDef, values: dict, *, day: dt.date | None = None) -> Any:
        """A value for one field given the record's other ``values`` (None: leave it empty)."""
        kind = fd.type
        rng = self.rng
        unit_id = values.get(entity.unit_field) if entity.unit_field else None
        if kind in ("text", "long_text"):
            return self._text(entity, fd, values, unit_id)
        if kind == "citizen_id":
            return self._unique_value(entity, fd, lambda: self.citizen_id(
                self.province_code(unit_id), values.get("gender"), values.get("birth_year")))
        if kind == "phone":
            return self.phone()
        if kind == "email":
            return self._unique_value(entity, fd, lambda: f"{_ascii(self.person()[0]).replace(' ', '.')}"
                                                          f"{rng.randint(1, 999)}@example.vn")
        if kind == "boolean":
            return rng.random() < 0.5
        if kind in ("integer", "decimal"):
            return self._number(fd)
        if kind in ("date", "datetime"):
            d = self._date(fd, day)
            if kind == "datetime":
                return dt.datetime(d.year, d.month, d.day, rng.randint(7, 17), rng.randint(0, 59), tzinfo=dt.UTC)
            return d
        if kind == "choice":
            opts = self.options(fd)
            return rng.choice(opts) if opts else None
        if kind == "multi_choice":
            opts = self.options(fd)
            return sorted(rng.sample(opts, min(len(opts), 1 if rng.random() < 0.8 else 2))) if opts else None
        if kind == "reference":
            return self.reference(fd.entity, unit_id)
        if kind == "org_unit":
            units = [u for t in (fd.unit_types or self._by_type) for u in self._by_type.get(t, [])]
            return rng.choice(units).id if units else None
        if kind == "user":
            return rng.choice(self.pools.users) if self.pools.users and fd.required else None
        if kind == "child_table":
            rows = []
            for _ in range(rng.randint(1 if fd.required else 0, 3)):
                row: dict[str, Any] = {}
                for sub in fd.fields:
                    if sub.required or rng.random() < self.optional_share:
                        v = self.field_value(entity, sub, {**values, **row}, day=day)
                        if v is not None:
                            row[sub.name] = v
                rows.append(row)
            return rows or None
        return None  # attachments and unknown plugin types: left empty

    def reference(self, entity_name: str | None, unit_id: int | None) -> int | None:
        """A record of ``entity_name``: one of the unit (or of its parent) when there is one."""
        pool = self.pools.records.get(entity_name or "", [])
        if not pool:
            return None
        u = self.unit(unit_id)
        near = [rid for rid, unit in pool if unit is not None and (unit == unit_id or (u and unit == u.parent_id))]
        return self.rng.choice(near) if near else self.rng.choice(pool)[0]

    def _unique_value(self, entity: EntityDef, fd: FieldDef, draw: Any) -> Any:
        if not fd.unique:
            return draw()
        seen = self._unique.setdefault((entity.name, fd.name), set())
        for _ in range(50):
            v = draw()
            if v not in seen:
                seen.add(v)
                return v
        return None

    def _text(self, entity: EntityDef, fd: FieldDef, values: dict, unit_id: int | None) -> str | None:
        rng, name = self.rng, fd.name
        if fd.pattern:
            return None  # a pattern the generator cannot draw from: left empty (or refused if required)
        if "address" in name:
            text = self.address(unit_id)
        elif "name" in name:
            text = self.person(values.get("gender"))[0] if entity.name != "organisation" or name != "name" \
                else f"Công ty Luật TNHH {self.person()[0]} và Cộng sự"
        elif any(w in name for w in ("number", "decision", "code")):
            text = f"{rng.randint(1, 999)}/{rng.choice(('QĐ', 'HĐ', 'TB', 'GCN'))}-{rng.randint(2019, 2025)}"
        elif fd.type == "long_text":
            text = rng.choice(SENTENCES)
        else:
            text = rng.choice(SENTENCES).rstrip(".")
        text = self._unique_value(entity, fd, lambda: text if not fd.unique else f"{text} {self.digits(6)}")
        if text is None:
            return None
        if fd.max_length:
            text = text[:fd.max_length].rstrip()
        if fd.min_length and len(text) < fd.min_length:
            text = text + "." * (fd.min_length - len(text))
        return text

    def _number(self, fd: FieldDef) -> Any:
        name = fd.name
        low = fd.min if fd.min is not None else 0
        high = fd.max if fd.max is not None else max(low + 100, 100)
        if name == "year" or name.endswith("_year") or name.startswith("year_of"):
            low, high = max(low, self.today.year - 85), min(high, self.today.year - 8)
            if high < low:
                low, high = (fd.min or 0), (fd.max or 100)
        if fd.type == "integer":
            return self.rng.randint(int(low), int(high))
        places = fd.decimal_places if fd.decimal_places is not None else 2
        return Decimal(str(round(self.rng.uniform(float(low), float(high)), places))).quantize(
            Decimal(1).scaleb(-places))

    def _date(self, fd: FieldDef, day: dt.date | None) -> dt.date:
        low = _as_date(fd.min) or (dt.date(1950, 1, 1) if "birth" in fd.name else self.first_day)
        high = min(_as_date(fd.max) or self.today, self.today)
        if "birth" in fd.name:
            high = min(high, self.today.replace(year=self.today.year - 18, day=1))
        if day is not None:
            low = max(low, day)
        return self.date_between(low, high)

    def rules(self, entity: EntityDef) -> list[Expression]:
        """The entity's rules, compiled: each drawn step is checked against all of them."""
        compiled = self._compiled.get(entity.name)
        if compiled is None:
            compiled = self._compiled[entity.name] = [compile_expression(r.rule) for r in entity.rules]
        return compiled

    def keep_rules(self, entity: EntityDef, values: dict) -> None:
        """Move dates and numbers so that the entity's comparison rules hold (a rule over an empty field holds)."""
        rules = self._rules.get(entity.name)
        if rules is None:
            rules = self._rules[entity.name] = [r for r in (parse_rule(r.rule) for r in entity.rules) if r]
        steps = self.step_fields(entity)
        for _ in range(3):
            for left, op, right in rules:
                a = values.get(left)
                b = self.today if right == "today()" else values.get(right)
                if a is None or b is None or _holds(a, op, b):
                    continue
                if right == "today()" or not entity.has_field(right):
                    values[left] = b
                elif left in steps or right not in values:
                    values[left] = _shift(b, op)
                else:
                    values[right] = _shift(a, _FLIP[op])

    # -- the workflow -----------------------------------------------------------------------------------------
    def transition_weight(self, entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef,
                          values: dict) -> float:
        """How likely a step is among those the record's state allows (0: never taken)."""
        return 1.0

    def stop_probability(self, entity: EntityDef, workflow: WorkflowDef, state: str, values: dict,
                         day: dt.date) -> float:
        """The chance that a record stays in ``state`` (reached on ``day``) although a step is possible."""
        return 0.15

    def step_gap(self, entity: EntityDef, transition: TransitionDef, values: dict) -> tuple[int, int]:
        """Days between the previous step and this one (smallest, largest)."""
        return 0, 30

    def step_values(self, entity: EntityDef, workflow: WorkflowDef, transition: TransitionDef, values: dict,
                    day: dt.date) -> dict | None:
        """The values sent with a step taken on ``day``: every field it requires that is still empty (date fields
        get ``day``); None when the step cannot be taken (a required value has nothing to point to)."""
        out: dict[str, Any] = {}
        for name in transition.requires:
            if values.get(name) not in (None, "", []):
                continue
            fd = entity.field(name)
            v = day if fd.type == "date" else self.field_value(entity, fd, {**values, **out}, day=day)
            if v is None:
                return None
            out[name] = v
        return out

    def walk(self, entity_name: str, values: dict, *, start: dt.date | None = None) -> list[tuple[str, dict]]:
        """The workflow steps a record takes until today: ``[(transition, values sent with it)]``. Each step is
        dated ``step_gap`` days after the one before (the first after the record's latest date or ``start``);
        the walk stops at a step that would come after today, at a state with no step left, or by chance
        (``stop_probability``). A state is never entered twice."""
        entity = self.config.entity(entity_name)
        steps: list[tuple[str, dict]] = []
        current = dict(values)
        for wf in self.workflows(entity):
            state = current.get(wf.state_field) or wf.initial
            day = start or max((v for v in current.values() if isinstance(v, dt.date)), default=self.today)
            seen = {state}
            while True:
                options = [t for t in wf.transitions if state in t.from_states and t.to not in seen]
                weights = [max(0.0, self.transition_weight(entity, wf, t, current)) for t in options]
                if not options or sum(weights) <= 0:
                    break
                if self.rng.random() < self.stop_probability(entity, wf, state, current, day):
                    break
                tr = self.rng.choices(options, weights=weights)[0]
                low, high = self.step_gap(entity, tr, current)
                when = day + dt.timedelta(days=self.rng.randint(low, high))
                if when > self.today:
                    break
                payload = self.step_values(entity, wf, tr, current, when)
                if payload is None:
                    break
                merged = {**current, **payload}
                self.keep_rules(entity, merged)
                self.keep_conditions(entity, merged, lambda name, sent=payload: name in sent)
                if any(rule.fails(merged, when) for rule in self.rules(entity)):
                    break  # a rule the drawing could not keep (e.g. an urgent request accepted later): stop here
                payload = {k: merged.get(k) for k in payload}
                steps.append((tr.name, payload))
                current.update(payload)
                current[wf.state_field] = state = tr.to
                seen.add(state)
                day = when
        return steps

    def records(self, entity_name: str, count: int, **given: Any) -> Iterable[dict]:
        """``count`` records, one at a time (nothing is kept)."""
        for _ in range(count):
            yield self.values(entity_name, **given)


def _drawing_order(fd: FieldDef) -> int:
    """Units first (addresses name their province), then choices (a name follows the gender), then the rest."""
    return {"org_unit": 0, "choice": 1, "multi_choice": 1, "boolean": 1, "integer": 2}.get(fd.type, 3)


def _as_date(v: Any) -> dt.date | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v)[:10])
    except ValueError:
        return None


def _holds(a: Any, op: str, b: Any) -> bool:
    if isinstance(a, dt.datetime) and not isinstance(b, dt.datetime):
        a = a.date()
    if isinstance(b, dt.datetime) and not isinstance(a, dt.datetime):
        b = b.date()
    try:
        return {">=": a >= b, "<=": a <= b, ">": a > b, "<": a < b}[op]
    except TypeError:
        return True


def _shift(b: Any, op: str) -> Any:
    """The value nearest ``b`` for which ``value op b`` holds."""
    step: Any = dt.timedelta(days=1) if isinstance(b, dt.date) else 1
    return b + step if op == ">" else b - step if op == "<" else b


async def read_pools(db: Any, config: Config, entities: Iterable[str] = ()) -> Pools:
    """The open units, the live records of ``entities`` (id and unit) and the active accounts of a database."""
    units = [Unit(int(r["id"]), r["code"], r["name_vi"], r["type"], r["parent_id"]) for r in await db.fetch(
        "SELECT id, code, name_vi, type, parent_id FROM hoso_unit WHERE valid_to IS NULL ORDER BY code")]
    pools = Pools(units=units)
    for name in entities:
        entity = config.entity(name)
        unit = f", {quote(entity.unit_field)} AS unit" if entity.unit_field else ", NULL AS unit"
        for r in await db.fetch(f"SELECT id{unit} FROM {quote(entity.table)} WHERE sys_deleted_at IS NULL "
                                "ORDER BY id"):
            pools.add(name, int(r["id"]), r["unit"])
    pools.users = [int(r["id"]) for r in await db.fetch("SELECT id FROM hoso_user WHERE active ORDER BY id")]
    return pools
