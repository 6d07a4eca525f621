"""Workflows: ``forms_config/workflows/*.yaml``, the states of an entity's records and the steps between them."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _an, _did_you_mean, _label
from ..types import DeadlineDef, TransitionDef, WorkflowDef
from .entity import names_under


def build(ctx, files) -> list[WorkflowDef]:
    workflows: list[WorkflowDef] = []
    seen: dict[str, str] = {}
    for f in files:
        d = f.data
        if d["workflow"] in seen:
            f.error(("workflow",), f"workflow {d['workflow']!r} is already defined in {seen[d['workflow']]}")
            continue
        if not f.partial:
            seen[d["workflow"]] = f.rel
        e = ctx.checker.entity_ref(f, ("entity",), d["entity"], ctx.results["entity"])
        states = d["states"]
        if e is not None:
            _check_state_field(ctx, f, d, e, states)
        if d["initial"] not in states:
            f.error(("initial",), f"initial state {d['initial']!r} is not one of the states"
                    f"{_did_you_mean(d['initial'], states)}; states: {', '.join(states)}")
        transitions = _transitions(ctx, f, d, e, states, workflows)
        deadlines = _deadlines(ctx, f, d, e, states)
        for j, state in enumerate(d.get("read_only_states", ())):
            if state not in states:
                f.error(("read_only_states", j), f"unknown state {state!r}{_did_you_mean(state, states)}; states: "
                        f"{', '.join(states)}")
        if not f.partial:
            workflows.append(WorkflowDef(d["workflow"], d["entity"], d["state_field"], d["initial"], tuple(states),
                                         tuple(transitions), _label(d.get("label")), tuple(deadlines), source=f.rel,
                                         read_only_states=tuple(d.get("read_only_states", ()))))
    return workflows


def _check_state_field(ctx, f, d: dict, e, states: list) -> None:
    lists = ctx.results["lists"]
    if not e.has_field(d["state_field"]):
        ctx.checker.fields_exist(f, e, d["entity"], [(("state_field",), d["state_field"])], "state_field")
        return
    sf = e.field(d["state_field"])
    if sf.type != "choice":
        f.error(("state_field",), f"the state field must be a choice field; {sf.name!r} is {_an(sf.type)} field")
    elif sf.list in lists:
        options = lists[sf.list].values(include_retired=True)
        for j, s in enumerate(states):
            if s not in options:
                f.error(("states", j), f"state {s!r} is not an option of list {sf.list!r}"
                        f"{_did_you_mean(s, options)}; options: {', '.join(options)}")


def _transitions(ctx, f, d: dict, e, states: list, workflows: list[WorkflowDef]) -> list[TransitionDef]:
    transitions = []
    for tname, t in d["transitions"].items():
        for j, s in enumerate(t["from"]):
            if s not in states:
                f.error(("transitions", tname, "from", j),
                        f"unknown state {s!r}{_did_you_mean(s, states)}; states: {', '.join(states)}")
        if t["to"] not in states:
            f.error(("transitions", tname, "to"),
                    f"unknown state {t['to']!r}{_did_you_mean(t['to'], states)}; states: {', '.join(states)}")
        ctx.checker.fields_exist(f, e, d["entity"],
                                 [(("transitions", tname, "requires", j), n)
                                  for j, n in enumerate(t.get("requires", ()))],
                                 f"transition {tname!r}")
        moves_to = t.get("moves_to")
        if moves_to is not None and e is not None:
            _check_moves_to(ctx, f, d, e, tname, moves_to)
        transitions.append(TransitionDef(tname, tuple(t["from"]), t["to"], _label(t["label"]),
                                         tuple(t.get("requires", ())), moves_to))
        # Role grants name transitions per entity ("transition:accept"), so a name means one transition.
        other = next((w for w in workflows if w.entity == d["entity"]
                      and any(x.name == tname for x in w.transitions)), None)
        if other is not None:
            f.error(("transitions", tname), f"transition {tname!r} is also defined by workflow {other.name!r} "
                    f"of entity {d['entity']!r}: transition names are unique per entity", key=True)
    return transitions


def _check_moves_to(ctx, f, d: dict, e, tname: str, name: str) -> None:
    where = ("transitions", tname, "moves_to")
    if not e.unit_field:
        f.error(where, f"entity {d['entity']!r} has no unit_field: its records cannot move to another unit")
    elif not e.has_field(name):
        ctx.checker.fields_exist(f, e, d["entity"], [(where, name)], f"transition {tname!r}")
    elif e.field(name).type != "org_unit":
        f.error(where, f"expected an org_unit field; {name!r} is {_an(e.field(name).type)} field")


def _deadlines(ctx, f, d: dict, e, states: list) -> list[DeadlineDef]:
    deadlines = []
    for state, dd in d.get("deadlines", {}).items():
        if state not in states:
            f.error(("deadlines", state), f"unknown state {state!r}{_did_you_mean(state, states)}; states: "
                    f"{', '.join(states)}", key=True)
        if e is not None:
            if not e.has_field(dd["from_field"]):
                ctx.checker.fields_exist(f, e, d["entity"], [(("deadlines", state, "from_field"), dd["from_field"])],
                                         "deadline")
            elif e.field(dd["from_field"]).type != "date":
                f.error(("deadlines", state, "from_field"), f"expected a date field; {dd['from_field']!r} is "
                        f"{_an(e.field(dd['from_field']).type)} field")
        deadlines.append(DeadlineDef(state, dd["within"], dd["from_field"], _label(dd.get("label"))))
    return deadlines


def declared_names(data, text: str) -> set[str] | None:
    """A workflow that failed to load declares the entity it belongs to (its transitions are unknown)."""
    return names_under("entity", data, text)


KIND = ConfigKind("workflow", "forms_config/workflows", SCHEMA_DIR / "workflow.schema.json", build,
                  after=("lists", "entity"), config_field="workflows", export=tuple, declared_names=declared_names)
