"""Forms compiled to JSON Schema, with conditions and cross-field rules.

Every write goes through a compiled form: the form the caller names, or the entity's own form (all its fields)
when it names none. The field conditions of every form of the entity hold on all of them (they describe the
record, whichever screen writes it). A compiled form holds

* ``schema``: a JSON Schema (draft 2020-12) of every field of the entity, validated with ``jsonschema``: types,
  required fields, choice options, lengths, patterns and bounds. Entity constraints hold on every form;
* the form's layout (sections, field order, labels and help in Vietnamese and English) and its conditions
  (``visible_if``, ``required_if``) and rules, checked by ``hoso.config.conditions`` (never ``eval``);
* ``version``: a content hash of all that; a record stores the version it was saved under
  (``sys_form_version``) and ``hoso_form_version`` keeps each version's definition.

Values are checked after the field types have parsed them (so ``"2025-01-31"`` is already a date): the schema
sees the JSON form of the parsed values, the conditions see the Python values.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import fastjsonschema
import jsonschema

from hoso.config import Config, EntityDef, FieldDef, FormDef, Label, RuleDef
from hoso.config.conditions import Expression, compile_expression, entity_field_info
from hoso.i18n import local_today, t
from hoso.jsonconv import schema_value as json_value

if TYPE_CHECKING:  # pragma: no cover
    from hoso.fields import Registry

__all__ = ["CompiledForm", "FormField", "FormCache", "compile_form", "json_value", "top_field"]

_STORAGE_SCHEMA = {"text": {"type": "string"}, "integer": {"type": "integer"}, "decimal": {"type": "number"},
                   "boolean": {"type": "boolean"}, "date": {"type": "string", "format": "date"},
                   "datetime": {"type": "string", "format": "date-time"}}


def _comparable(instance: str, bound: str):
    """Two ISO dates or date-times as values that compare, or None when either is not ISO text."""
    try:
        value, limit = _iso(instance), _iso(str(bound))
    except ValueError:
        return None
    if isinstance(value, dt.datetime) != isinstance(limit, dt.datetime):
        value = value.date() if isinstance(value, dt.datetime) else value
        limit = limit.date() if isinstance(limit, dt.datetime) else limit
    elif isinstance(value, dt.datetime) and (value.tzinfo is None) != (limit.tzinfo is None):
        value, limit = value.replace(tzinfo=None), limit.replace(tzinfo=None)
    return value, limit


def _format_minimum(validator, bound, instance, schema):
    """``formatMinimum``: a date or date-time (ISO text) not before ``bound``."""
    pair = _comparable(instance, bound) if isinstance(instance, str) else None
    if pair and pair[0] < pair[1]:
        yield jsonschema.ValidationError(f"{instance} is before {bound}")


def _format_maximum(validator, bound, instance, schema):
    """``formatMaximum``: a date or date-time (ISO text) not after ``bound``."""
    pair = _comparable(instance, bound) if isinstance(instance, str) else None
    if pair and pair[0] > pair[1]:
        yield jsonschema.ValidationError(f"{instance} is after {bound}")


def _iso(text: str):
    return dt.datetime.fromisoformat(text) if "T" in text or " " in text else dt.date.fromisoformat(text)


_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"formatMinimum": _format_minimum, "formatMaximum": _format_maximum})


# The keywords of hoso's generated schemas that fastjsonschema (draft 7) reads as jsonschema (2020-12) does, the
# annotations both ignore, and the two date bounds of hoso's own (checked beside it); a schema with any other
# keyword (or ``items`` as a list) is checked by jsonschema alone.
_FAST_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "enum", "const", "maxLength", "minLength", "pattern",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "items", "uniqueItems", "minItems",
    "maxItems", "format", "title", "description", "readOnly", "default", "$schema", "formatMinimum", "formatMaximum"})
_BOUNDS = ("formatMinimum", "formatMaximum")


def _fast_keywords_only(s: Any) -> bool:
    if not isinstance(s, dict):
        return isinstance(s, bool)
    for key, value in s.items():
        if key.startswith("x-"):
            continue
        if key not in _FAST_KEYWORDS:
            return False
        if key == "properties" and not all(_fast_keywords_only(v) for v in value.values()):
            return False
        if key in ("items", "additionalProperties") and not _fast_keywords_only(value):
            return False
    return True


def _plain(s: Any, formats: set[str]) -> Any:
    """The schema for fastjsonschema: draft 7, without the date bounds and annotations; the formats it names are
    collected (jsonschema does not check formats unless asked, so neither may the fast check)."""
    if not isinstance(s, dict):
        return s
    out: dict[str, Any] = {}
    for key, value in s.items():
        if key.startswith("x-") or key in _BOUNDS or key == "$schema":
            continue
        if key == "format":
            formats.add(value)
        if key == "properties":
            value = {name: _plain(v, formats) for name, v in value.items()}
        elif key in ("items", "additionalProperties"):
            value = _plain(value, formats)
        out[key] = value
    return out


def _bounded(s: Any) -> dict | None:
    """The part of the schema that holds a date bound: what ``_bounds_hold`` walks."""
    if not isinstance(s, dict):
        return None
    out: dict[str, Any] = {k: s[k] for k in _BOUNDS if k in s}
    props = {name: b for name, v in (s.get("properties") or {}).items() if (b := _bounded(v)) is not None}
    if props:
        out["properties"] = props
    items = _bounded(s.get("items"))
    if items is not None:
        out["items"] = items
    return out or None


def _bounds_hold(s: dict, v: Any) -> bool:
    """``formatMinimum`` and ``formatMaximum`` as the jsonschema validator applies them, where ``s`` places them."""
    if isinstance(v, str):
        for key in _BOUNDS:
            if key in s and (pair := _comparable(v, s[key])):
                if (pair[0] < pair[1]) if key == "formatMinimum" else (pair[0] > pair[1]):
                    return False
    props = s.get("properties")
    if props and isinstance(v, dict) and not all(_bounds_hold(sub, v[k]) for k, sub in props.items() if k in v):
        return False
    items = s.get("items")
    return not (items and isinstance(v, list) and not all(_bounds_hold(items, x) for x in v))


def fast_check(schema: dict) -> Callable[[Any], bool] | None:
    """A check that says True only of instances the schema's jsonschema validator finds no error in, and does so
    for valid records several times faster (fastjsonschema compiles the schema to Python); None when the schema
    has a keyword it might read otherwise. ``CompiledForm.check`` asks jsonschema for the errors only when it says
    False (a record with a fault, or a case it leaves to jsonschema)."""
    if not _fast_keywords_only(schema):
        return None
    formats: set[str] = set()
    plain = {**_plain(schema, formats), "$schema": "http://json-schema.org/draft-07/schema#"}
    try:
        validate = fastjsonschema.compile(plain, formats={name: (lambda _v: True) for name in formats})
    except fastjsonschema.JsonSchemaDefinitionException:
        return None
    bounded = _bounded(schema)

    def check(instance: Any) -> bool:
        try:
            validate(instance)
        except fastjsonschema.JsonSchemaValueException:
            return False
        return bounded is None or _bounds_hold(bounded, instance)

    return check


def _empty(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, (list, tuple)) and len(v) == 0)


def _label(label: Label | None) -> dict | None:
    return None if label is None else {k: v for k, v in (("vi", label.vi), ("en", label.en)) if v}


@dataclass(frozen=True)
class FormField:
    """One field as a form shows it."""

    name: str
    definition: FieldDef
    label: Label
    help: Label | None
    required: bool
    on_form: bool
    visible_if: tuple[Expression, ...] = ()  # all must hold (the field's own and its section's)
    required_if: Expression | None = None

    def visible(self, values: dict, today: dt.date) -> bool:
        return all(c.holds(values, today) for c in self.visible_if)


@dataclass
class CompiledForm:
    """A form ready to check records; see the module docstring."""

    name: str | None
    entity: EntityDef
    fields: dict[str, FormField]
    sections: list[dict]
    rules: list[tuple[Expression, RuleDef]]
    schema: dict
    version: str = ""
    _validator: Any = field(default=None, repr=False)
    _fast: Callable[[Any], bool] | None = field(default=None, repr=False)  # see ``fast_check``
    _config: Config | None = field(default=None, repr=False)
    # Fields hidden from the writer the form checks for (see ``for_writer``).
    hidden: frozenset[str] = frozenset()

    def for_writer(self, hidden: set[str] | frozenset[str]) -> CompiledForm:
        """This form checking the writes of someone who may not see ``hidden``: a rule over a hidden field must
        not tell them anything about its value (see ``check``)."""
        hidden = frozenset(hidden)
        return self if hidden == self.hidden else dataclasses.replace(self, hidden=hidden)

    @property
    def label(self) -> str:
        return self.name or self.entity.name

    @property
    def field_names(self) -> list[str]:
        """The fields on the form, in order."""
        return [n for n, f in self.fields.items() if f.on_form]

    def definition(self) -> dict:
        """The form as JSON: the schema of the fields it shows, its sections, conditions and rules.

        This is what a client needs to draw the form, and what ``hoso_form_version`` keeps.
        """
        on_form = set(self.field_names)
        props = {k: v for k, v in self.schema["properties"].items() if k in on_form}
        public = {**self.schema, "properties": props,
                  "required": [r for r in self.schema.get("required", []) if r in on_form]}
        return {"form": self.name, "entity": self.entity.name, "version": self.version, "schema": public,
                "sections": self.sections,
                "rules": [{"rule": r.rule, "field": r.field, "message": _label(r.message)} for _e, r in self.rules]}

    def check(self, values: dict, lang: str = "vi", previous: dict | None = None,
              today: dt.date | None = None) -> list[tuple[str, str]]:
        """Problems with a complete record ``values`` (parsed Python values), each ``(field, message)``.

        ``previous`` is the record before an update: a value that did not change may keep a retired option.
        """
        today = today or local_today()
        instance = {k: json_value(v) for k, v in values.items() if k in self.fields and not _empty(v)}
        problems: list[tuple[str, str]] = []
        updating, hidden = previous is not None, self.hidden
        errors = [] if self._fast is not None and self._fast(instance) else self._validator.iter_errors(instance)
        for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
            found = self._problem(err, lang, values, previous)
            # A stored hidden value the writer cannot change is not theirs to fix, and naming its fault tells it.
            problems += [p for p in found if not (updating and top_field(p[0]) in hidden)]
        for name, ff in self.fields.items():
            if not (ff.visible_if or ff.required_if or ff.required):
                continue
            involved = {name}.union(*(c.fields for c in ff.visible_if),
                                    ff.required_if.fields if ff.required_if else ())
            if previous is not None and involved & hidden:
                # As for rules (see _hidden_rule): the answer may not depend on a hidden value.
                problems += self._changed_visible(involved, values, previous, lang)
                continue
            value = values.get(name)
            if ff.visible_if and not ff.visible(values, today):
                if not _empty(value):
                    cond = " and ".join(c.source for c in ff.visible_if)
                    problems.append((name, t("not_applicable", lang, condition=cond) if not involved & hidden
                                     else t("not_applicable_here", lang)))
                continue
            if _empty(value) and (ff.required or (ff.required_if and ff.required_if.holds(values, today))):
                problems.append((name, t("required", lang)))
        for expr, rule in self.rules:
            secret = expr.fields & self.hidden
            if secret:
                problems += self._hidden_rule(expr, rule, values, lang, previous, today)
            elif expr.fails(values, today):
                msg = rule.message.get(lang) if rule.message else t("rule_failed", lang, rule=rule.rule)
                problems.append((rule.field, msg))
        order = {name: i for i, name in enumerate(self.fields)}
        return sorted(_unique(problems), key=lambda p: order.get(top_field(p[0]), len(order)))

    def _hidden_rule(self, expr: Expression, rule: RuleDef, values: dict, lang: str, previous: dict | None,
                     today: dt.date) -> list[tuple[str, str]]:
        """A rule over a field hidden from the writer.

        Its answer must not depend on the hidden value, or a writer could learn it by trying values (a hidden
        date was recovered in 11 updates of the other date of ``ended_on >= received_on``). So:

        * on an update, the stored hidden value is secret: a change of one of the rule's visible fields is
          refused, whatever the hidden value, with a message naming no hidden field; someone who may see the
          whole rule makes that change. A write leaving the rule's fields alone does not evaluate it;
        * on a create, the hidden fields hold what the configuration gives them (the writer cannot write them),
          so the rule is evaluated as usual, but its message names none of them.
        """
        if previous is not None:
            return self._changed_visible(expr.fields, values, previous, lang)
        if expr.fails(values, today):
            visible = [n for n in self.fields if n in expr.fields and n not in self.hidden]
            return [(visible[0] if visible else "record", t("rule_failed_hidden", lang))]
        return []

    def _changed_visible(self, names: set[str] | frozenset[str], values: dict, previous: dict,
                         lang: str) -> list[tuple[str, str]]:
        """The fields of ``names`` the writer sees and changes, each refused because a check over them involves
        a field hidden from the writer (the refusal is the same whatever the hidden value)."""
        return [(n, t("rule_over_hidden", lang)) for n in self.fields if n in names and n not in self.hidden
                and json_value(values.get(n)) != json_value(previous.get(n))]

    def _problem(self, err: jsonschema.ValidationError, lang: str, values: dict, previous: dict | None):
        path = list(err.absolute_path)
        fd = self._field_at(path)
        where = _path_name(path)
        kind = err.validator
        if kind == "required":
            missing = err.message.split("'")[1] if "'" in err.message else ""
            return [(_path_name(path + [missing]), t("required", lang))]
        if kind == "additionalProperties":
            known = err.schema.get("properties", {}) if isinstance(err.schema, Mapping) else {}
            extra = [k for k in err.instance if k not in known] if isinstance(err.instance, dict) else []
            return [(_path_name(path + [k]), t("unknown_field", lang)) for k in extra]
        if kind == "enum":
            options = self._options(fd)
            if fd is not None and fd.traits.chooses_many:
                where = _path_name([p for p in path if not isinstance(p, int)] if len(path) == 2 else path)
            if previous is not None and len(path) <= 2 and _retired_kept(err.instance, previous.get(path[0])):
                return []
            return [(where, t("not_an_option", lang, value=err.instance, options=", ".join(options)))]
        if kind in ("maxLength", "minLength"):
            return [(where, t("too_long" if kind == "maxLength" else "too_short", lang, n=err.validator_value))]
        if kind == "pattern":
            return [(where, t("pattern", lang, pattern=fd.pattern if fd else err.validator_value))]
        if kind in ("minimum", "formatMinimum"):
            return [(where, t("too_small", lang, n=fd.min if fd and fd.min is not None else err.validator_value))]
        if kind in ("maximum", "formatMaximum"):
            return [(where, t("too_large", lang, n=fd.max if fd and fd.max is not None else err.validator_value))]
        return [(where, t("invalid", lang, reason=err.message))]

    def _field_at(self, path: list) -> FieldDef | None:
        names = [p for p in path if isinstance(p, str)]
        if not names or names[0] not in self.fields:
            return None
        fd = self.fields[names[0]].definition
        if len(names) > 1 and fd.is_child_table:
            return next((c for c in fd.fields if c.name == names[1]), None)
        return fd

    def _options(self, fd: FieldDef | None) -> list[str]:
        if fd is None or not fd.list:
            return []
        return list(self._config.choice_list(fd.list).values()) if self._config else []


def top_field(field_path: str) -> str:
    """The top-level field of a problem's path (``hearings[0].court`` -> ``hearings``)."""
    return field_path.split("[", 1)[0].split(".", 1)[0]


def _retired_kept(value: Any, before: Any) -> bool:
    """A value that is not an active option but was already stored (e.g. an option retired since)."""
    if before is None:
        return False
    if isinstance(before, (list, tuple)):
        return value in before
    return value == before


def _unique(problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen, out = set(), []
    for p in problems:
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _path_name(path: list) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


# -- compiling ----------------------------------------------------------------------------------------------------


def _field_schema(fd: FieldDef, config: Config, registry: Registry | None) -> dict:
    t_ = fd.type
    if t_ == "child_table":
        props = {c.name: _field_schema(c, config, registry) for c in fd.fields}
        required = [c.name for c in fd.fields if c.required and c.traits.refers_to != "file"]
        s: dict[str, Any] = {"type": "array", "items": {"type": "object", "properties": props,
                                                          "additionalProperties": False}}
        if required:
            s["items"]["required"] = required
    elif fd.traits.has_choices:
        options = list(config.choice_list(fd.list).values()) if fd.list else []
        one = {"type": "string", "enum": options} if options else {"type": "string"}
        s = {"type": "array", "items": one, "uniqueItems": True} if fd.traits.chooses_many else dict(one)
        if fd.list:
            s["x-list"] = fd.list
    elif fd.traits.refers_to is not None:
        s = {"type": "integer", "minimum": 1}
        if fd.entity:
            s["x-entity"] = fd.entity
    elif t_ in ("integer", "decimal"):
        s = {"type": "integer" if t_ == "integer" else "number"}
        if fd.min is not None:
            s["minimum"] = fd.min
        if fd.max is not None:
            s["maximum"] = fd.max
    elif t_ in ("date", "datetime"):
        s = dict(_STORAGE_SCHEMA[t_])
        if fd.min is not None:
            s["formatMinimum"] = str(fd.min)
        if fd.max is not None:
            s["formatMaximum"] = str(fd.max)
    elif t_ == "boolean":
        s = {"type": "boolean"}
    else:
        storage = "text"
        if registry is not None and t_ in registry.field_types:
            storage = registry.field_type(t_).storage
        s = dict(_STORAGE_SCHEMA.get(storage, {}))
    if s.get("type") == "string" and "enum" not in s:
        if fd.min_length is not None:
            s["minLength"] = fd.min_length
        if fd.max_length is not None:
            s["maxLength"] = fd.max_length
        if fd.pattern:
            s["pattern"] = f"^(?:{fd.pattern})$"
    s["title"] = fd.label.vi
    s["x-label"] = _label(fd.label)
    if fd.help:
        s["x-help"] = _label(fd.help)
    s["x-type"] = t_
    return s


def _record_conditions(config: Config, entity: EntityDef) -> dict[str, tuple[list[str], list[str]]]:
    """Field conditions of every form of ``entity``: ``field -> (visible_if sources, required_if sources)``.

    A form's field conditions (``fields.<name>.visible_if`` / ``required_if``) describe the record, not the
    screen: they hold on every write of the entity, whichever form (or none) it goes through, so the API and the
    admin enforce the same ones. Section conditions and ``required`` stay the form's own."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for form in config.forms:
        if form.entity != entity.name:
            continue
        for opts in form.fields:
            visible, required = out.setdefault(opts.name, ([], []))
            if opts.visible_if and opts.visible_if not in visible:
                visible.append(opts.visible_if)
            if opts.required_if and opts.required_if not in required:
                required.append(opts.required_if)
    return out


def compile_form(config: Config, entity: EntityDef, form: FormDef | None, registry: Registry | None = None,
                 state_fields: tuple[str, ...] = ()) -> CompiledForm:
    """Compile ``form`` (None: the entity's own form of all its fields) of ``entity``, with the field conditions
    of all the entity's forms (``_record_conditions``)."""
    info = entity_field_info(entity.fields, lambda n: config.choice_list(n).values(include_retired=True))

    def expr(text: str) -> Expression:
        return compile_expression(text, info)

    on_form: dict[str, int] = {}
    section_conditions: dict[str, Expression] = {}
    sections = []
    if form is None:
        sections.append({"title": _label(entity.label), "fields": [f.name for f in entity.fields]})
        on_form = {f.name: 0 for f in entity.fields}
    else:
        for i, sec in enumerate(form.sections):
            entry: dict[str, Any] = {"title": _label(sec.title), "fields": list(sec.fields)}
            if sec.visible_if:
                entry["visible_if"] = sec.visible_if
            sections.append(entry)
            for name in sec.fields:
                on_form.setdefault(name, i)
                if sec.visible_if:
                    section_conditions[name] = expr(sec.visible_if)
    code_field = entity.naming.field if entity.naming else None
    fields: dict[str, FormField] = {}
    props: dict[str, dict] = {}
    required: list[str] = []
    # Fields on the form first, in the form's order; then the rest of the entity.
    ordered = sorted(entity.fields, key=lambda f: (f.name not in on_form, list(on_form).index(f.name)
                                                   if f.name in on_form else 0))
    shared = _record_conditions(config, entity)
    for fd in ordered:
        opts = form.field_options(fd.name) if form is not None else None
        conditions = []
        if fd.name in section_conditions:
            conditions.append(section_conditions[fd.name])
        visible_if, required_if = shared.get(fd.name, ([], []))
        conditions += [expr(c) for c in visible_if]
        form_required = bool(opts and opts.required)
        ff = FormField(fd.name, fd, (opts.label if opts and opts.label else fd.label),
                       (opts.help if opts and opts.help else fd.help), form_required and fd.name in on_form,
                       fd.name in on_form, tuple(conditions),
                       expr(" or ".join(f"({c})" for c in required_if)) if required_if else None)
        fields[fd.name] = ff
        s = _field_schema(fd, config, registry)
        if ff.label is not fd.label:
            s["title"], s["x-label"] = ff.label.vi, _label(ff.label)
        if ff.help is not None:
            s["x-help"] = _label(ff.help)
        if conditions:
            s["x-visible-if"] = " and ".join(c.source for c in conditions)
        if ff.required_if is not None:
            s["x-required-if"] = ff.required_if.source
        if fd.name in state_fields or fd.name == code_field:
            s["readOnly"] = True
        props[fd.name] = s
        entity_required = fd.required and fd.name != code_field and fd.traits.refers_to != "file"
        if entity_required or (ff.required and not conditions):
            required.append(fd.name)
    rules = [(expr(r.rule), r) for r in entity.rules + (form.rules if form is not None else ())]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
              "title": (form.label if form is not None else entity.label).vi,
              "x-label": _label(form.label if form is not None else entity.label),
              "properties": props, "required": required, "additionalProperties": False}
    compiled = CompiledForm(form.name if form is not None else None, entity, fields, sections, rules, schema)
    compiled._config = config
    compiled._validator = _Validator(schema)
    compiled._fast = fast_check(schema)
    body = json.dumps({"schema": schema, "sections": sections,
                       "rules": [[r.rule, r.field, _label(r.message)] for _e, r in rules]},
                      sort_keys=True, ensure_ascii=False, default=str)
    compiled.version = hashlib.sha256(body.encode()).hexdigest()[:32]
    return compiled


class FormCache:
    """Compiled forms of one configuration, built on first use and kept."""

    def __init__(self, config: Config, registry: Registry | None = None):
        self.config = config
        self.registry = registry
        self._cache: dict[tuple[str, str | None], CompiledForm] = {}

    def get(self, entity: EntityDef, form_name: str | None) -> CompiledForm:
        key = (entity.name, form_name)
        if key not in self._cache:
            form = None
            if form_name is not None:
                form = next((f for f in self.config.forms if f.name == form_name and f.entity == entity.name), None)
                if form is None:
                    raise KeyError(form_name)
            states = tuple(w.state_field for w in self.config.workflows_for(entity.name))
            self._cache[key] = compile_form(self.config, entity, form, self.registry, states)
        return self._cache[key]
