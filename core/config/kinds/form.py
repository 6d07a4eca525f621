"""Forms: ``forms_config/forms/*.yaml``, the sections, conditions and rules a record is entered through."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _did_you_mean, _label
from ..types import FormDef, FormFieldDef, FormSection
from .entity import _check_rules, _expression_problem, _rules


def build(ctx, files) -> list[FormDef]:
    lists, entities = ctx.results["lists"], ctx.results["entity"]
    forms: list[FormDef] = []
    seen: dict[str, str] = {}
    for f in files:
        d = f.data
        if d["form"] in seen:
            f.error(("form",), f"form {d['form']!r} is already defined in {seen[d['form']]}")
            continue
        if not f.partial:
            seen[d["form"]] = f.rel
        e = ctx.checker.entity_ref(f, ("entity",), d["entity"], entities)
        refs = [(("sections", i, "fields", j), name)
                for i, s in enumerate(d["sections"]) for j, name in enumerate(s["fields"])]
        ctx.checker.fields_exist(f, e, d["entity"], refs, "form")
        options = tuple(FormFieldDef(n, _label(o.get("label")), _label(o.get("help")), o.get("required"),
                                     o.get("visible_if"), o.get("required_if")) for n, o in d.get("fields", {}).items())
        rules = _rules(d.get("rules", ()))
        if e is not None:
            _check_form(f, d, e, options, [name for _path, name in refs], lists)
            _check_rules(f, ("rules",), rules, e, lists)
        if not f.partial:
            forms.append(FormDef(d["form"], d["entity"], _label(d["label"]),
                                 tuple(FormSection(_label(s["title"]), tuple(s["fields"]), s.get("visible_if"))
                                       for s in d["sections"]),
                                 options, rules, source=f.rel))
    return forms


def _check_form(f, d: dict, e, options, on_form: list[str], lists) -> None:
    for o in options:
        if o.name not in on_form:
            f.error(("fields", o.name), f"field {o.name!r} is not in any section of this form"
                    f"{_did_you_mean(o.name, on_form)}", key=True)
        for key in ("visible_if", "required_if"):
            if getattr(o, key) is not None and (problem := _expression_problem(getattr(o, key), e, lists)):
                f.error(("fields", o.name, key), problem)
    for i, sec in enumerate(d["sections"]):
        if "visible_if" in sec and (problem := _expression_problem(sec["visible_if"], e, lists)):
            f.error(("sections", i, "visible_if"), problem)
        # A field the entity requires cannot be left out by a condition: it could never be filled in.
        for name in sec["fields"] if "visible_if" in sec else ():
            if e.has_field(name) and e.field(name).required:
                f.error(("sections", i, "visible_if"), f"field {name!r} is required by entity "
                        f"{e.name!r}, so its section cannot be hidden by a condition")
    for o in options:
        if o.visible_if is not None and e.has_field(o.name) and e.field(o.name).required:
            f.error(("fields", o.name, "visible_if"), f"field {o.name!r} is required by entity {e.name!r}, "
                    "so it cannot be hidden by a condition")


KIND = ConfigKind("form", "forms_config/forms", SCHEMA_DIR / "form.schema.json", build,
                  after=("lists", "entity"), config_field="forms", export=tuple)
