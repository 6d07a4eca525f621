"""Restructuring by configuration: dated change sets of the unit tree, planned, then applied in one transaction.

A change set (``roles_config/restructurings/*.yaml``, schema ``core/schemas/restructuring.schema.json``) has a name,
an effective date and operations applied in file order: create, rename (and recode), move, merge, split, close and
abolish_level, plus rules re-homing the users of closing units. History is never rewritten: records keep the unit
they were recorded under, closed units keep their rows and codes, and lineage rows say what became of them. Scopes
follow lineage through the unit closure (a successor answers for the units merged into it) and, after a split,
through each record's ``sys_scope_unit``. See docs/restructuring.md.
"""

from hoso.config.kinds.restructuring import ChangeSet, Operation, RestructureErrors, load_restructuring

from .engine import Simulation
from .lineage import find_unit_by_code, lookup_successor
from .run import ApplyResult, OpPlan, Plan, RestructureError, applied_restructurings, apply, plan

__all__ = ["ChangeSet", "Operation", "RestructureErrors", "RestructureError", "load_restructuring", "Simulation",
           "lookup_successor", "find_unit_by_code", "Plan", "OpPlan", "ApplyResult", "plan", "apply",
           "applied_restructurings"]
