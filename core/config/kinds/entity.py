"""Entities: ``forms_config/entities/*.yaml``, the record types, their fields and tables."""

from __future__ import annotations

import datetime as dt
import re
import string
from collections.abc import Iterable
from typing import Any

from .._yaml import position_of
from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, ConfigFile, _an, _describe, _did_you_mean, _label
from ..types import (
    AttachmentRuleDef,
    AttachmentsDef,
    ChoiceList,
    Conversion,
    EntityDef,
    FieldDef,
    FieldTraits,
    IndexDef,
    ListingDef,
    NamingDef,
    RuleDef,
    SearchDef,
)


def build(ctx, files) -> dict[str, EntityDef]:
    lists = ctx.results["lists"]
    entities: dict[str, EntityDef] = {}
    entity_files: dict = {}
    partial_entities: list = []
    for f in files:
        e = _entity(f)
        if e.name in entities:
            f.error(("entity",), f"entity {e.name!r} is already defined in {entities[e.name].source}")
            continue
        if e.table.startswith("hoso_"):
            f.error(("table",) if "table" in f.data else ("entity",),
                    f"table names starting with 'hoso_' are reserved for the system; found {e.table!r}")
            ctx.broken.setdefault("entity", set()).add(e.name)  # no "unknown entity" errors elsewhere
            continue
        if f.partial:
            partial_entities.append((f, e))
            continue
        entities[e.name] = e
        entity_files[e.name] = f
    for name in _table_clashes(entities, entity_files):
        del entities[name]
        ctx.broken.setdefault("entity", set()).add(name)
    for name, e in entities.items():
        check_entity(ctx, entity_files[name], e, lists, entities)
    for f, e in partial_entities:
        check_entity(ctx, f, e, lists, entities)
    return entities


def declared_names(data, text: str) -> set[str] | None:
    return names_under("entity", data, text)


def names_under(key: str, data, text: str) -> set[str] | None:
    """The name a file gives under the top-level ``key``, read from the text when the YAML did not load."""
    if isinstance(data, dict) and isinstance(data.get(key), str):
        return {data[key]}
    m = re.search(rf"(?m)^{key}:[ \t]*[\"']?([A-Za-z_][A-Za-z0-9_]*)[\"']?[ \t]*(#.*)?$", text)
    return {m[1]} if m else None


# Columns every record table has: a field may not take their names.
RESERVED_NAMES = {"id"}


RESERVED_CHILD_NAMES = {"id", "parent_id", "position"}


def _field(name: str, d: dict, traits: dict[str, FieldTraits]) -> FieldDef:
    conv = None
    if "convert" in d:
        mapping = d["convert"].get("map")
        conv = Conversion(
            from_type=d["convert"]["from"],
            mapping=tuple(mapping.items()) if mapping is not None else None,
        )
    return FieldDef(
        name=name,
        type=d["type"],
        label=_label(d["label"]),
        help=_label(d.get("help")),
        required=d.get("required", False),
        unique=d.get("unique", False),
        index=d.get("index", False),
        default=tuple(d["default"]) if isinstance(d.get("default"), list) else d.get("default"),
        min=d.get("min"),
        max=d.get("max"),
        min_length=d.get("min_length"),
        max_length=d.get("max_length"),
        pattern=d.get("pattern"),
        list=d.get("list"),
        entity=d.get("entity"),
        fields=tuple(_field(n, c, traits) for n, c in d.get("fields", {}).items()),
        max_digits=d.get("max_digits"),
        decimal_places=d.get("decimal_places"),
        renamed_from=d.get("renamed_from"),
        convert=conv,
        unit_types=tuple(d.get("unit_types", ())),
    ).with_traits(traits.get(d["type"]) or FieldTraits())


def _entity(f: ConfigFile) -> EntityDef:
    d = f.data
    naming = None
    if "naming" in d:
        n = d["naming"]
        naming = NamingDef(
            field=n["field"],
            pattern=n["pattern"],
            sequence_per=tuple(n.get("sequence_per", ())),
            date_field=n.get("date_field"),
        )
    return EntityDef(
        name=d["entity"],
        label=_label(d["label"]),
        table=d.get("table", d["entity"]),
        fields=tuple(_field(n, fd, f.loader.traits) for n, fd in d["fields"].items()),
        unit_field=d.get("unit_field"),
        title_field=d.get("title_field"),
        naming=naming,
        indexes=tuple(IndexDef(tuple(i["fields"]), i.get("unique", False)) for i in d.get("indexes", ())),
        rules=_rules(d.get("rules", ())),
        attachments=_attachments(d["attachments"]) if "attachments" in d else None,
        source=f.rel,
        listing=_listing(d.get("list") or {}),
        search=SearchDef(d["search"]["index"], tuple(d["search"].get("fields", ()))) if "search" in d else None,
    )


def _listing(d: dict) -> ListingDef:
    sort = d.get("sort", ())
    return ListingDef(sort=(sort,) if isinstance(sort, str) else tuple(sort), sortable=tuple(d.get("sortable", ())))


def _rules(items: Iterable[dict]) -> tuple[RuleDef, ...]:
    return tuple(RuleDef(r["rule"], r["field"], _label(r.get("message"))) for r in items)


_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGT]i?B|B)\s*$")


_SIZE_UNITS = {"B": 1, "KB": 1000, "MB": 1000 ** 2, "GB": 1000 ** 3, "TB": 1000 ** 4,
               "KiB": 1024, "MiB": 1024 ** 2, "GiB": 1024 ** 3, "TiB": 1024 ** 4}


def parse_size(text: str) -> int:
    """Bytes in a size such as "500MB", "2GB" or "4GiB"; raises ValueError."""
    m = _SIZE.match(str(text))
    if not m:
        raise ValueError(f"expected a size such as 500MB or 2GB; found {text!r}")
    return int(float(m[1]) * _SIZE_UNITS[m[2]])


def _attachments(d: dict) -> AttachmentsDef:
    def size(v):
        return parse_size(v) if v is not None else None

    return AttachmentsDef(size(d.get("max_size")), tuple(d.get("types", ())),
                          tuple(AttachmentRuleDef(n, size(o.get("max_size")), tuple(o.get("types", ())))
                                for n, o in d.get("fields", {}).items()))


def _expression_problem(text: str, entity: EntityDef, lists: dict[str, ChoiceList]) -> str | None:
    """Why ``text`` is not a valid condition over ``entity``'s fields (None: it is valid)."""
    from hoso.config.conditions import ExpressionError, compile_expression, entity_field_info

    info = entity_field_info(entity.fields, lambda n: lists[n].values(include_retired=True) if n in lists else None)
    try:
        compile_expression(text, info)
    except ExpressionError as exc:
        return f"invalid expression {text!r}: {exc}"
    return None


def _check_rules(f: ConfigFile, path: tuple, rules: tuple[RuleDef, ...], entity: EntityDef,
                 lists: dict[str, ChoiceList]) -> None:
    names = [fd.name for fd in entity.fields]
    for i, r in enumerate(rules):
        problem = _expression_problem(r.rule, entity, lists)
        if problem:
            f.error(path + (i, "rule"), problem)
        if r.field not in names:
            f.error(path + (i, "field"), f"unknown field {r.field!r}{_did_you_mean(r.field, names)}")


# Unit attributes a naming pattern may use, e.g. {unit.short_code}.
UNIT_ATTRIBUTES = ("code", "short_code", "name_vi")
# The widest a naming placeholder may pad its value ({seq:06} pads to 6); a code is a few dozen characters.
MAX_NAMING_WIDTH = 12


_PLACEHOLDER = re.compile(r"^(?P<name>[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)?)(?::(?P<spec>0?\d+))?$")


def naming_placeholders(pattern: str) -> list[tuple[str, str | None]]:
    """The ``{name[:spec]}`` placeholders of a naming pattern; raises ValueError on a malformed one."""
    out = []
    try:
        parsed = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        why = {"expected '}' before end of string": "a '{' is never closed",
               "Single '}' encountered in format string": "a '}' has no '{' before it",
               "unexpected '{' in field name": "a '{' inside a placeholder"}.get(str(exc), str(exc))
        raise ValueError(f"malformed placeholder in {pattern!r}: {why}; placeholders look like {{field}}, "
                         "{unit.code}, {seq:02} or {year}, and a literal brace is written {{ or }}") from None
    for _lit, name, spec, conv in parsed:
        if name is None:
            continue
        if conv:
            raise ValueError(f"placeholder {{{name}!{conv}}}: conversions are not allowed")
        m = _PLACEHOLDER.match(name + (f":{spec}" if spec else ""))
        if not m:
            raise ValueError(f"placeholder {{{name}{':' + spec if spec else ''}}} is not of the form "
                             "{field}, {unit.code}, {seq:02} or {year}")
        if m["spec"] and int(m["spec"]) > MAX_NAMING_WIDTH:
            raise ValueError(f"placeholder {{{name}:{spec}}} pads to {int(m['spec']):,} characters: a width of at most "
                             f"{MAX_NAMING_WIDTH} is allowed, such as {{seq:06}}")
        out.append((m["name"], m["spec"]))
    return out


def _table_clashes(entities: dict[str, EntityDef], files: dict[str, ConfigFile]) -> set[str]:
    """Report every table claimed by two entities; return the entities that lose their claim.

    A table named in a ``table:`` key loses to one that an entity (or its child table) is called by default,
    because the explicit name is the one somebody chose; otherwise the claim read later loses. The message is
    given where the losing claim is made and names where the other one is.
    """
    claims: dict[str, list[tuple[bool, int, str, tuple, bool, str | None]]] = {}
    for order, (name, e) in enumerate(entities.items()):
        explicit = "table" in files[name].data
        claims.setdefault(e.table, []).append((explicit, order, name, ("table",) if explicit else ("entity",),
                                               False, None))
        for c in e.child_tables:
            claims.setdefault(e.child_table_name(c.name), []).append((explicit, order, name, ("fields", c.name),
                                                                      True, c.name))
    losers: set[str] = set()
    for table, claimants in claims.items():
        if len(claimants) < 2:
            continue
        winner, *others = sorted(claimants)
        wf = files[winner[2]]
        line, _col = position_of(wf.positions, winner[3], key=winner[4])
        first = f"entity {winner[2]!r} ({wf.rel}:{line})"
        for _explicit, _order, name, path, key, child in others:
            what = f"the table of child table {child!r}, {table!r}," if child else f"table {table!r}"
            files[name].error(path, f"{what} is already used by {first}", key=key)
            losers.add(name)
    return losers


def _coerce_bound(t: str, v: Any):
    if t == "integer":
        if isinstance(v, bool) or not isinstance(v, int):
            raise ValueError(f"expected a whole number; found {_describe(v)}")
        return v
    if t == "decimal":
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"expected a number; found {_describe(v)}")
        return v
    if t == "date":
        try:
            return dt.date.fromisoformat(str(v))
        except ValueError:
            raise ValueError(f"expected a date as YYYY-MM-DD; found {_describe(v)}") from None
    if t == "datetime":
        try:
            return dt.datetime.fromisoformat(str(v))
        except ValueError:
            raise ValueError(f"expected a date and time as YYYY-MM-DDTHH:MM; found {_describe(v)}") from None
    return v


def _check_default(fd: FieldDef, lists: dict[str, ChoiceList]) -> str | None:
    v = fd.default
    t = fd.type
    if not fd.traits.has_default:
        return f"{_an(t)} field cannot have a default"
    if t == "boolean" and not isinstance(v, bool):
        return f"expected true or false; found {_describe(v)}"
    if fd.traits.orderable:
        try:
            _coerce_bound(t, v)
        except ValueError as exc:
            return str(exc)
    if fd.traits.value_kind == "text" and not fd.traits.has_choices and not isinstance(v, str):
        return f"expected a string; found {_describe(v)}"
    if t == "choice" and isinstance(v, tuple):
        return f"expected one option of list {fd.list!r}; found a list"
    if t == "choice" and fd.list in lists and v not in lists[fd.list].values():
        return (f"expected one of {', '.join(map(repr, lists[fd.list].values()))} (the options of list "
                f"{fd.list!r}); found {v!r}" + _did_you_mean(str(v), lists[fd.list].values()))
    if t == "multi_choice" and fd.list in lists:
        vals = v if isinstance(v, tuple) else (v,)
        bad = [x for x in vals if x not in lists[fd.list].values()]
        if bad:
            return (f"expected options of list {fd.list!r} ({', '.join(map(repr, lists[fd.list].values()))}); "
                    f"found {bad[0]!r}" + _did_you_mean(str(bad[0]), lists[fd.list].values()))
    return None


def check_entity(ctx, f, e: EntityDef, lists: dict[str, ChoiceList], entities: dict[str, EntityDef]):
    """The checks of one entity: its fields and their keys, rules, attachments, indexes and naming series."""
    for fd in e.fields:
        _check_field(ctx, f, fd, ("fields", fd.name), False, lists, entities)
    names = {fd.name for fd in e.fields}
    for fd in e.fields:
        if fd.renamed_from and fd.renamed_from in names:
            f.error(("fields", fd.name, "renamed_from"),
                    f"renamed_from {fd.renamed_from!r} names a field that still exists in this entity")
    _check_rules(f, ("rules",), e.rules, e, lists)
    if e.attachments is not None:
        for name in (r.name for r in e.attachments.fields):
            if name not in names:
                f.error(("attachments", "fields", name), f"unknown field {name!r}{_did_you_mean(name, names)}",
                        key=True)
            elif e.field(name).type != "attachment":
                f.error(("attachments", "fields", name), f"{name!r} is {_an(e.field(name).type)} field, not an "
                        "attachment field", key=True)
    for key in ("unit_field", "title_field"):
        v = getattr(e, key)
        if v is not None:
            if v not in names:
                f.error((key,), f"unknown field {v!r}{_did_you_mean(v, names)}; fields of {e.name!r}: "
                        f"{', '.join(sorted(names))}")
            elif key == "unit_field" and e.field(v).type != "org_unit":
                f.error((key,), f"unit_field must name an org_unit field; {v!r} is {_an(e.field(v).type)} field")
    for i, idx in enumerate(e.indexes):
        for j, name in enumerate(idx.fields):
            if name not in names:
                f.error(("indexes", i, "fields", j), f"unknown field {name!r}{_did_you_mean(name, names)}")
            elif not e.field(name).traits.can_be_indexed:
                f.error(("indexes", i, "fields", j), f"{_an(e.field(name).type)} field cannot be indexed")
    _check_naming(f, e, names)
    _check_listing(f, e, names)


# System columns a list may sort on (besides the fields); hoso.records.query lists the same ones.
LIST_SORT_SYSTEM_COLUMNS = ("id", "sys_version", "sys_created_at", "sys_created_by", "sys_updated_at",
                            "sys_updated_by", "sys_deleted_at")


def _check_listing(f, e: EntityDef, names: set[str]) -> None:
    """``list.sortable`` and ``list.sort`` name sortable columns; ``search.fields`` name searchable fields."""
    def sortable_problem(name: str) -> str | None:
        if name in LIST_SORT_SYSTEM_COLUMNS:
            return None
        if name not in names:
            return f"unknown field {name!r}{_did_you_mean(name, names)}"
        fd = e.field(name)
        if fd.is_child_table or fd.traits.chooses_many or not fd.traits.can_be_indexed:
            return f"a list cannot be sorted by {_an(fd.type)} field"
        return None

    for i, name in enumerate(e.listing.sortable):
        problem = sortable_problem(name)
        if problem:
            f.error(("list", "sortable", i), problem)
    for i, key in enumerate(e.listing.sort):
        problem = sortable_problem(key.lstrip("-"))
        if problem:
            f.error(("list", "sort") + ((i,) if isinstance((f.data.get("list") or {}).get("sort"), list) else ()),
                    problem)
    if e.search is not None:
        for i, name in enumerate(e.search.fields):
            if name not in names:
                f.error(("search", "fields", i), f"unknown field {name!r}{_did_you_mean(name, names)}")
            elif not e.field(name).traits.searchable:
                f.error(("search", "fields", i), f"{_an(e.field(name).type)} field holds no words to search; "
                        "searchable fields are text fields")


def _check_field(ctx, f, fd: FieldDef, path: tuple, in_child: bool, lists: dict[str, ChoiceList],
                 entities: dict[str, EntityDef]) -> None:
    """The checks of one field (and of a child table's columns): its name, what it refers to, its bounds."""
    reserved = RESERVED_CHILD_NAMES if in_child else RESERVED_NAMES
    if fd.name in reserved or fd.name.startswith("sys_"):
        f.error(path, f"the field name {fd.name!r} is reserved for the system (reserved: "
                f"{', '.join(sorted(reserved))} and names starting with 'sys_')", key=True)
    _check_field_links(ctx, f, fd, path, in_child, lists, entities)
    _check_field_values(f, fd, path, lists)


def _check_field_links(ctx, f, fd: FieldDef, path: tuple, in_child: bool, lists: dict[str, ChoiceList],
                       entities: dict[str, EntityDef]) -> None:
    """What a field points to: its choice list, referenced entity, unit types and child columns."""
    t = fd.type
    if fd.traits.has_choices:
        if not fd.list:
            f.error(path, f"missing key 'list': {_an(t)} field needs the name of a choice list")
        elif fd.list not in lists and fd.list not in ctx.broken.get("lists", ()):
            f.error(path + ("list",), f"unknown choice list {fd.list!r}" + _did_you_mean(fd.list, lists)
                    + (f"; defined lists: {', '.join(sorted(lists))}" if lists else "; no lists are defined")
                    + ctx.unreadable_note("lists"))
    elif fd.list:
        f.error(path + ("list",), f"'list' applies only to choice fields, not to {_an(t)} field")
    if fd.traits.refers_to == "entity":
        if not fd.entity:
            f.error(path, "missing key 'entity': a reference field needs the entity it points to")
        elif fd.entity not in entities and fd.entity not in ctx.broken.get("entity", ()):
            f.error(path + ("entity",), f"unknown entity {fd.entity!r}" + _did_you_mean(fd.entity, entities)
                    + f"; defined entities: {', '.join(sorted(entities))}"
                    + ctx.unreadable_note("entity"))
    elif fd.entity:
        f.error(path + ("entity",), f"'entity' applies only to reference fields, not to {_an(t)} field")
    if fd.unit_types and "unit_types" not in fd.traits.options:
        f.error(path + ("unit_types",), f"'unit_types' applies only to org_unit fields, not to {_an(t)} field")
    if t == "child_table":
        if in_child:
            f.error(path + ("type",), "child tables cannot be nested inside a child table")
        if not fd.fields:
            f.error(path, "missing key 'fields': a child_table field needs the columns of its rows")
        for child in fd.fields:
            _check_field(ctx, f, child, path + ("fields", child.name), True, lists, entities)
        if fd.unique or fd.index:
            f.error(path, "a child_table field cannot be unique or indexed")
    elif fd.fields:
        f.error(path + ("fields",), f"'fields' applies only to child_table fields, not to {_an(t)} field")


def _check_field_values(f, fd: FieldDef, path: tuple, lists: dict[str, ChoiceList]) -> None:
    """What a field's values may be: lengths, pattern, bounds, digits, default, conversion, uniqueness."""
    t = fd.type
    if (fd.min_length is not None or fd.max_length is not None or fd.pattern) and not fd.traits.textual:
        f.error(path, f"length and pattern constraints apply to text fields, not to {_an(t)} field")
    if fd.min_length is not None and fd.max_length is not None and fd.min_length > fd.max_length:
        f.error(path + ("min_length",), f"min_length {fd.min_length} is greater than max_length {fd.max_length}")
    if (fd.min is not None or fd.max is not None) and not fd.traits.orderable:
        f.error(path, f"min and max apply to integer, decimal, date and datetime fields, not to {_an(t)} field")
    for key in ("min", "max"):
        v = getattr(fd, key)
        if v is not None and fd.traits.orderable:
            try:
                _coerce_bound(t, v)
            except ValueError as exc:
                f.error(path + (key,), str(exc))
    if fd.min is not None and fd.max is not None and fd.traits.orderable:
        try:
            if _coerce_bound(t, fd.min) > _coerce_bound(t, fd.max):
                f.error(path + ("min",), f"min {fd.min!r} is greater than max {fd.max!r}")
        except (ValueError, TypeError):
            pass
    if fd.pattern:
        try:
            re.compile(fd.pattern)
        except re.error as exc:
            f.error(path + ("pattern",), f"expected a valid regular expression; found {fd.pattern!r} ({exc})")
    if (fd.max_digits is not None or fd.decimal_places is not None) and "max_digits" not in fd.traits.options:
        f.error(path, f"max_digits and decimal_places apply to decimal fields, not to {_an(t)} field")
    if fd.max_digits is not None and fd.decimal_places is not None and fd.decimal_places > fd.max_digits:
        f.error(path + ("decimal_places",), f"decimal_places {fd.decimal_places} is greater than "
                f"max_digits {fd.max_digits}")
    if fd.default is not None:
        problem = _check_default(fd, lists)
        if problem:
            f.error(path + ("default",), problem)
    if fd.convert is not None and fd.convert.from_type == t and fd.convert.mapping is None:
        f.error(path + ("convert",), f"convert.from is {t!r}, the field's own type: nothing to convert")
    if fd.unique and not fd.traits.can_be_unique:
        f.error(path + ("unique",), f"{_an(t)} field cannot be unique")


def _check_naming(f, e: EntityDef, names: set[str]) -> None:
    """The naming series: its code field, date field, pattern placeholders and sequence keys."""
    n = e.naming
    if n is None:
        return
    if n.field not in names:
        f.error(("naming", "field"), f"unknown field {n.field!r}{_did_you_mean(n.field, names)}")
    elif e.field(n.field).type != "text":
        f.error(("naming", "field"), f"the code field must be a text field; {n.field!r} is "
                f"{_an(e.field(n.field).type)} field")
    if n.date_field is not None:
        if n.date_field not in names:
            f.error(("naming", "date_field"),
                    f"unknown field {n.date_field!r}{_did_you_mean(n.date_field, names)}")
        elif e.field(n.date_field).traits.value_kind not in ("date", "datetime"):
            f.error(("naming", "date_field"), f"expected a date or datetime field; {n.date_field!r} is "
                    f"{_an(e.field(n.date_field).type)} field")
    try:
        placeholders = naming_placeholders(n.pattern)
    except ValueError as exc:
        f.error(("naming", "pattern"), str(exc))
        placeholders = []
    if placeholders and not any(p == "seq" for p, _ in placeholders):
        f.error(("naming", "pattern"), "expected a {seq} placeholder for the sequence number; found none in "
                f"{n.pattern!r}")
    for p, _spec in placeholders:
        head, _, tail = p.partition(".")
        if p in ("seq", "year"):
            continue
        if head not in names:
            f.error(("naming", "pattern"),
                    f"placeholder {{{p}}} names unknown field {head!r}{_did_you_mean(head, names)}")
        elif tail:
            if not (e.field(head).traits.refers_to == "unit" and tail in UNIT_ATTRIBUTES):
                f.error(("naming", "pattern"), f"placeholder {{{p}}}: only org_unit fields have "
                        "attributes (.code, .short_code, .name_vi)")
    for j, name in enumerate(n.sequence_per):
        if name != "year" and name not in names:
            f.error(("naming", "sequence_per", j),
                    f"unknown field {name!r}{_did_you_mean(name, names)}; expected a field or 'year'")


KIND = ConfigKind("entity", "forms_config/entities", SCHEMA_DIR / "entity.schema.json", build,
                  after=("lists",), config_field="entities", export=lambda r: tuple(r.values()),
                  described_as="an entity", declared_names=declared_names)
