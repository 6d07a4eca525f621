"""Lineage lookups, kept here for the restructuring's callers; the queries live in ``hoso.lineage``."""

from hoso.lineage import find_unit_by_code, lookup_successor

__all__ = ["lookup_successor", "find_unit_by_code"]
