"""Typed, frozen configuration objects.

The loader turns validated YAML into these; nothing downstream reads raw dicts. Collections are tuples and
lookups go through the small helper methods, so a loaded configuration cannot be changed by accident.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

__all__ = [
    "Label",
    "ChoiceOption",
    "ChoiceList",
    "Conversion",
    "FieldDef",
    "NamingDef",
    "IndexDef",
    "ListingDef",
    "SearchDef",
    "EntityDef",
    "FormSection",
    "FormFieldDef",
    "RuleDef",
    "FormDef",
    "TransitionDef",
    "DeadlineDef",
    "WorkflowDef",
    "AttachmentRuleDef",
    "AttachmentsDef",
    "HolidayDef",
    "CalendarDef",
    "CutoffDef",
    "PeriodsDef",
    "ReportDef",
    "ReportDimensionDef",
    "ReportColumnDef",
    "UnitTypeDef",
    "UnitRow",
    "HierarchyDef",
    "RestructuringRef",
    "GrantDef",
    "RoleDef",
    "ModuleDef",
    "Config",
    "FIELD_TYPES",
    "FieldTraits",
    "BUILTIN_TRAITS",
    "traits_for_storage",
]

FIELD_TYPES = (
    "text",
    "long_text",
    "integer",
    "decimal",
    "boolean",
    "date",
    "datetime",
    "choice",
    "multi_choice",
    "reference",
    "child_table",
    "attachment",
    "org_unit",
    "user",
    "citizen_id",
    "phone",
    "email",
)


@dataclass(frozen=True)
class FieldTraits:
    """What a field type is, so that the loader, search, conditions and the admin ask the type, not its name.

    :param textual: values are text: ``min_length``, ``max_length`` and ``pattern`` apply.
    :param orderable: values have an order: ``min`` and ``max`` apply.
    :param searchable: values are words worth finding by the record search (choice codes are not).
    :param numeric: values are numbers.
    :param has_choices: values are options of a choice list (the field names it with ``list:``).
    :param refers_to: values are the id of something else: ``entity`` (a record), ``unit``, ``user``, ``file``.
    :param value_kind: what values are in a condition (``text``, ``number``, ``bool``, ``date``, ``datetime``,
        ``list``; ``any`` compares with everything).
    :param options: the type-specific keys a field of the type may set (e.g. ``max_length``, ``unit_types``).
    :param has_default: whether a field of the type may have a ``default``.
    :param can_be_unique: whether a field of the type may be ``unique``.
    :param can_be_indexed: whether a field of the type may be named in an index.
    :param multiline: values are paragraphs: edited in a text area, stored without a length limit, left out of
        list columns.
    """

    textual: bool = False
    orderable: bool = False
    searchable: bool = False
    numeric: bool = False
    has_choices: bool = False
    refers_to: str | None = None
    value_kind: str = "any"
    options: frozenset[str] = frozenset()
    has_default: bool = True
    can_be_unique: bool = True
    can_be_indexed: bool = True
    multiline: bool = False

    @property
    def chooses_many(self) -> bool:
        """Values are several options of a choice list, kept as one list."""
        return self.has_choices and self.value_kind == "list"


_TEXT_OPTIONS = frozenset({"min_length", "max_length", "pattern"})
_WORDS = FieldTraits(textual=True, searchable=True, value_kind="text", options=_TEXT_OPTIONS)


def _ids(refers_to: str, options: frozenset[str] = frozenset()) -> FieldTraits:
    return FieldTraits(refers_to=refers_to, value_kind="number", options=options, has_default=False)


BUILTIN_TRAITS: dict[str, FieldTraits] = {
    "text": _WORDS,
    # Long text has no index of its own: too long to be unique.
    "long_text": FieldTraits(textual=True, searchable=True, value_kind="text", options=_TEXT_OPTIONS,
                             can_be_unique=False, multiline=True),
    "citizen_id": _WORDS,
    "phone": _WORDS,
    "email": _WORDS,
    "integer": FieldTraits(orderable=True, numeric=True, value_kind="number", options=frozenset({"min", "max"})),
    "decimal": FieldTraits(orderable=True, numeric=True, value_kind="number",
                           options=frozenset({"min", "max", "max_digits", "decimal_places"})),
    "boolean": FieldTraits(value_kind="bool"),
    "date": FieldTraits(orderable=True, value_kind="date", options=frozenset({"min", "max"})),
    "datetime": FieldTraits(orderable=True, value_kind="datetime", options=frozenset({"min", "max"})),
    # Choice values are codes: text for length checks, not words for search.
    "choice": FieldTraits(textual=True, has_choices=True, value_kind="text", options=_TEXT_OPTIONS | {"list"}),
    "multi_choice": FieldTraits(has_choices=True, value_kind="list", options=frozenset({"list"}), can_be_unique=False,
                                can_be_indexed=False),
    "reference": _ids("entity", frozenset({"entity"})),
    "attachment": FieldTraits(refers_to="file", value_kind="number", has_default=False, can_be_unique=False),
    "org_unit": _ids("unit", frozenset({"unit_types"})),
    "user": _ids("user"),
    "child_table": FieldTraits(value_kind="list", options=frozenset({"fields"}), has_default=False,
                               can_be_indexed=False),
}


def traits_for_storage(storage: str | None) -> FieldTraits:
    """The traits of a plugin type that gave only its storage class.

    Its values compare with anything in a condition: what they mean is the plugin's to say.
    """
    if storage == "text":
        return FieldTraits(textual=True, options=_TEXT_OPTIONS)
    if storage in ("integer", "decimal", "date", "datetime"):
        return FieldTraits(orderable=True, numeric=storage in ("integer", "decimal"), options=frozenset({"min", "max"}))
    return FieldTraits()


@dataclass(frozen=True)
class Label:
    vi: str
    en: str | None = None

    def get(self, lang: str = "vi") -> str:
        if lang == "en" and self.en:
            return self.en
        return self.vi


@dataclass(frozen=True)
class ChoiceOption:
    value: str
    label: Label
    retired: bool = False


@dataclass(frozen=True)
class ChoiceList:
    name: str
    label: Label | None
    options: tuple[ChoiceOption, ...]

    def values(self, include_retired: bool = False) -> tuple[str, ...]:
        return tuple(o.value for o in self.options if include_retired or not o.retired)


@dataclass(frozen=True)
class Conversion:
    from_type: str
    mapping: tuple[tuple[Any, Any], ...] | None = None


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: Label
    help: Label | None = None
    required: bool = False
    unique: bool = False
    index: bool = False
    default: Any = None
    min: Any = None
    max: Any = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    list: str | None = None
    entity: str | None = None
    fields: tuple[FieldDef, ...] = ()
    max_digits: int | None = None
    decimal_places: int | None = None
    renamed_from: str | None = None
    convert: Conversion | None = None
    unit_types: tuple[str, ...] = ()  # org_unit fields: the unit types allowed (empty: any)

    @property
    def traits(self) -> FieldTraits:
        """What the field's type is: as its plugin declared it, a built-in type's own traits otherwise."""
        return self.__dict__.get("_traits") or BUILTIN_TRAITS.get(self.type) or FieldTraits()

    def with_traits(self, traits: FieldTraits) -> FieldDef:
        """This field, knowing its type's traits (the loader tells every field; they are not a YAML key)."""
        object.__setattr__(self, "_traits", traits)
        return self

    @property
    def is_child_table(self) -> bool:
        return self.type == "child_table"

    def child(self, name: str) -> FieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclass(frozen=True)
class NamingDef:
    field: str
    pattern: str
    sequence_per: tuple[str, ...] = ()
    date_field: str | None = None


@dataclass(frozen=True)
class IndexDef:
    fields: tuple[str, ...]
    unique: bool = False


@dataclass(frozen=True)
class ListingDef:
    """How an entity's lists are read (YAML ``list:``): the default sort and the columns a list may be sorted
    by, each of which gets an index starting with the record's unit (``hoso migrate`` builds them)."""

    sort: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ()


@dataclass(frozen=True)
class SearchDef:
    """The entity's search index (YAML ``search:``) over the folded search text, and the fields whose words are
    searched (empty: every searchable field). ``trigram``: a word of the query is found anywhere in the text
    (PostgreSQL: a pg_trgm GIN index; SQLite: an FTS5 table with the trigram tokenizer); ``fulltext``: a word of
    the query is found at the start of a word of the text (PostgreSQL: a GIN index over ``to_tsvector('simple')``;
    SQLite: an FTS5 table with the ``unicode61 remove_diacritics 2`` tokenizer)."""

    index: str = "trigram"
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleDef:
    """A cross-field rule (``ended_on >= received_on``); a record breaking it is refused, naming ``field``."""

    rule: str
    field: str
    message: Label | None = None


# Attachments may be large scanned case files: the default limit is 2 GiB per file.
DEFAULT_ATTACHMENT_MAX_SIZE = 2 * 1024 ** 3


@dataclass(frozen=True)
class AttachmentRuleDef:
    """Limits of one attachment field (None / empty: the entity's limits)."""

    name: str
    max_size: int | None = None
    types: tuple[str, ...] = ()


@dataclass(frozen=True)
class AttachmentsDef:
    """Size limit (bytes) and allowed media types of an entity's attachments, with per-field overrides."""

    max_size: int | None = None
    types: tuple[str, ...] = ()
    fields: tuple[AttachmentRuleDef, ...] = ()

    def limits(self, field: str) -> tuple[int, tuple[str, ...]]:
        """(max size in bytes, allowed media types; empty: any) for ``field``."""
        max_size, types = self.max_size or DEFAULT_ATTACHMENT_MAX_SIZE, self.types
        for f in self.fields:
            if f.name == field:
                return f.max_size or max_size, f.types or types
        return max_size, types


@dataclass(frozen=True)
class EntityDef:
    name: str
    label: Label
    table: str
    fields: tuple[FieldDef, ...]
    unit_field: str | None = None
    title_field: str | None = None
    naming: NamingDef | None = None
    indexes: tuple[IndexDef, ...] = ()
    rules: tuple[RuleDef, ...] = ()
    attachments: AttachmentsDef | None = None
    source: str = ""
    listing: ListingDef = ListingDef()
    search: SearchDef | None = None

    @cached_property
    def search_fields(self) -> tuple[FieldDef, ...]:
        """The fields whose words the record search finds: the declared ``search.fields``, else every searchable
        column field. (Found once: every record written computes its search text from them.)"""
        if self.search is not None and self.search.fields:
            return tuple(f for f in self.column_fields if f.name in self.search.fields)
        return tuple(f for f in self.column_fields if f.traits.searchable)

    def attachment_limits(self, field: str) -> tuple[int, tuple[str, ...]]:
        return (self.attachments or AttachmentsDef()).limits(field)

    @cached_property
    def _by_name(self) -> dict[str, FieldDef]:
        # looked up for every value of every record written (validation, generators): once per name, not a scan
        found: dict[str, FieldDef] = {}
        for f in self.fields:
            found.setdefault(f.name, f)
        return found

    def field(self, name: str) -> FieldDef:
        found = self._by_name.get(name)
        if found is None:
            raise KeyError(f"entity {self.name!r} has no field {name!r}")
        return found

    def has_field(self, name: str) -> bool:
        return name in self._by_name

    @cached_property
    def column_fields(self) -> tuple[FieldDef, ...]:
        """Fields stored as columns of the entity's own table (child tables have tables of their own)."""
        return tuple(f for f in self.fields if not f.is_child_table)

    @cached_property
    def child_tables(self) -> tuple[FieldDef, ...]:
        return tuple(f for f in self.fields if f.is_child_table)

    def child_table_name(self, field_name: str) -> str:
        return f"{self.table}__{field_name}"


@dataclass(frozen=True)
class FormSection:
    title: Label
    fields: tuple[str, ...]
    visible_if: str | None = None


@dataclass(frozen=True)
class FormFieldDef:
    """How one field behaves on a form: label and help overrides, and conditions (hoso.config.conditions)."""

    name: str
    label: Label | None = None
    help: Label | None = None
    required: bool | None = None
    visible_if: str | None = None
    required_if: str | None = None


@dataclass(frozen=True)
class FormDef:
    name: str
    entity: str
    label: Label
    sections: tuple[FormSection, ...]
    fields: tuple[FormFieldDef, ...] = ()
    rules: tuple[RuleDef, ...] = ()
    source: str = ""

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(n for s in self.sections for n in s.fields)

    def field_options(self, name: str) -> FormFieldDef:
        for f in self.fields:
            if f.name == name:
                return f
        return FormFieldDef(name)


@dataclass(frozen=True)
class TransitionDef:
    name: str
    from_states: tuple[str, ...]
    to: str
    label: Label
    requires: tuple[str, ...] = ()
    # An org_unit field whose value becomes the record's unit when the transition is taken (a transfer to
    # another unit): the actor needs the transition's grant on the record where it is, not where it goes.
    moves_to: str | None = None


@dataclass(frozen=True)
class DeadlineDef:
    """A record may stay in ``state`` for ``within`` ("3 working days", "30 days") counted from ``from_field``."""

    state: str
    within: str
    from_field: str
    label: Label | None = None


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    entity: str
    state_field: str
    initial: str
    states: tuple[str, ...]
    transitions: tuple[TransitionDef, ...]
    label: Label | None = None
    deadlines: tuple[DeadlineDef, ...] = ()
    source: str = ""
    read_only_states: tuple[str, ...] = ()

    def transition(self, name: str) -> TransitionDef:
        for t in self.transitions:
            if t.name == name:
                return t
        raise KeyError(name)


@dataclass(frozen=True)
class ReportDimensionDef:
    """A row dimension of a report: a field's values, the unit rolled up to a level, or a period of the date."""

    kind: str  # "field", "unit" or "period"
    field: str  # the field grouped on (for "unit": the unit field; for "period": the report's date field)
    level: str | None = None  # "unit": a hierarchy level (None: the recorded unit); "period": month ... year
    label: Label | None = None

    @property
    def key(self) -> str:
        if self.kind == "unit":
            return f"unit@{self.level}" if self.level else self.field
        if self.kind == "period":
            return f"period:{self.level}"
        return self.field


@dataclass(frozen=True)
class ReportColumnDef:
    """A measure of a report: one column of numbers."""

    key: str
    measure: str  # count, count_distinct, sum, avg, min, max, attribute
    label: Label
    field: str | None = None  # the field measured (count: none); attribute: "reference_field.target_field"
    where: str | None = None  # a condition (the forms' language): only the records for which it holds count
    groups: tuple[Label, ...] = ()  # header groups above the column, outermost first
    people: bool = True  # counts people (small cells of it may be suppressed) rather than cases or amounts
    date_field: str | None = None  # a date of its own: a period selects this column's records by it


@dataclass(frozen=True)
class ReportDef:
    name: str
    entity: str
    label: Label
    rows: tuple[ReportDimensionDef, ...]
    columns: tuple[ReportColumnDef, ...]
    date_field: str | None = None  # what periods select on and period dimensions group by
    filter: str | None = None  # a condition every counted record meets
    parameters: tuple[str, ...] = ()  # fields a run may filter on (the list API's filter language)
    subtotals: bool = False
    totals: bool = True
    description: Label | None = None
    source: str = ""
    summary: bool = False  # served from a summary table kept in every write's transaction (docs/reports.md)

    def column(self, key: str) -> ReportColumnDef:
        for c in self.columns:
            if c.key == key:
                return c
        raise KeyError(key)


@dataclass(frozen=True)
class UnitTypeDef:
    name: str
    level: str
    label: Label


@dataclass(frozen=True)
class UnitRow:
    code: str
    name_vi: str
    type: str
    name_en: str | None = None
    parent_code: str | None = None
    valid_from: dt.date | None = None
    # The short name a unit uses inside its own codes, e.g. "TT" in case code TT.TV.01.2018.
    short_code: str | None = None


@dataclass(frozen=True)
class RestructuringRef:
    """A change set the hierarchy declares (a file of its restructurings folder), as far as start-up needs it."""

    name: str
    effective: dt.date
    content_hash: str
    path: str  # absolute path of the file
    rel: str  # the file as messages name it, e.g. roles_config/restructurings/2025-07-01-provinces.yaml


@dataclass(frozen=True)
class HierarchyDef:
    levels: tuple[str, ...]
    unit_types: tuple[UnitTypeDef, ...]
    units: tuple[UnitRow, ...] = ()
    # The units above are the base; these change sets, in date order, are the history applied to it.
    # ``restructurings_folder`` is None when the hierarchy declares no history (change sets applied to the
    # database by ``hoso restructure apply`` are then not compared with any file).
    restructurings: tuple[RestructuringRef, ...] = ()
    restructurings_folder: str | None = None

    def unit_type(self, name: str) -> UnitTypeDef:
        for t in self.unit_types:
            if t.name == name:
                return t
        raise KeyError(name)


@dataclass(frozen=True)
class GrantDef:
    entity: str
    actions: tuple[str, ...]
    scope: str  # one of hoso.scope.SCOPES, or "link" (see ``link``)
    hidden_fields: tuple[str, ...] = ()
    read_only_fields: tuple[str, ...] = ()
    # scope {field: F, to: E.G}: rows whose reference F is the G of a record of entity E whose user field is the
    # user (e.g. a lawyer's organisation: case.organisation = the organisation of the lawyer's performer record),
    # within the subtree of the role's assignment. (F, E, G), or None for the other scopes.
    link: tuple[str, str, str] | None = None
    # Reports (hoso.reports.disclosure): the finest hierarchy level shown, the small-cell threshold (0: none),
    # and whether a cell's records may be opened (None: as the scope allows; a statistics scope never does).
    finest_level: str | None = None
    suppress_below: int = 0
    rows: bool | None = None

    @property
    def scope_key(self) -> str:
        """The scope as one string: the scope's name, or ``link:F:E.G``."""
        return f"link:{self.link[0]}:{self.link[1]}.{self.link[2]}" if self.link else self.scope


@dataclass(frozen=True)
class RoleDef:
    name: str
    label: Label
    grants: tuple[GrantDef, ...]
    can_grant: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class ModuleDef:
    """A module of roles_config/modules.yaml: what it names exists only in the units where it is on.

    ``enabled_for`` holds unit codes as written; a code a restructuring retired still counts, followed through
    lineage to the unit that answers for it today (``hoso.modules``).
    """

    name: str
    label: Label
    enabled_for: tuple[str, ...] = ()
    entities: tuple[str, ...] = ()
    forms: tuple[str, ...] = ()
    workflows: tuple[str, ...] = ()
    roles: tuple[str, ...] = ()
    routes: tuple[str, ...] = ()
    menus: tuple[str, ...] = ()
    reports: tuple[str, ...] = ()


@dataclass(frozen=True)
class HolidayDef:
    """Days off from ``start`` to ``end`` (inclusive)."""

    start: dt.date
    end: dt.date
    label: Label | None = None


@dataclass(frozen=True)
class CutoffDef:
    """The last day of actual data in a reporting period, as (month, day) of the period's year; ``by_reporter``
    gives another for reporters of a unit type or level (a unit type is looked up first, then its level)."""

    actual_to: tuple[int, int]
    by_reporter: tuple[tuple[str, tuple[int, int]], ...] = ()

    def for_reporter(self, names: tuple[str, ...]) -> tuple[int, int]:
        found = dict(self.by_reporter)
        for n in names:
            if n in found:
                return found[n]
        return self.actual_to


@dataclass(frozen=True)
class PeriodsDef:
    """Cut-offs of the reporting periods (``periods:`` in forms_config/calendar.yaml); None: none (the period's
    data runs to its last day)."""

    h1: CutoffDef | None = None
    h2: CutoffDef | None = None
    year: CutoffDef | None = None


@dataclass(frozen=True)
class CalendarDef:
    """Working days for deadlines: weekdays off, public holidays, and weekend days worked in exchange; and the
    reporting periods' cut-offs."""

    weekend: tuple[int, ...] = (5, 6)  # date.weekday(): Monday is 0
    holidays: tuple[HolidayDef, ...] = ()
    working_days: tuple[dt.date, ...] = ()
    periods: PeriodsDef = PeriodsDef()


@dataclass(frozen=True)
class Config:
    """The whole validated configuration of a deployment."""

    root: str
    lists: tuple[ChoiceList, ...] = ()
    entities: tuple[EntityDef, ...] = ()
    forms: tuple[FormDef, ...] = ()
    workflows: tuple[WorkflowDef, ...] = ()
    reports: tuple[ReportDef, ...] = ()
    hierarchy: HierarchyDef | None = None
    roles: tuple[RoleDef, ...] = ()
    modules: tuple[ModuleDef, ...] = ()
    calendar: CalendarDef | None = None
    content_hash: str = ""
    # The digest of each definitions file, by name (``forms_config/...``, or ``plugin:path`` for a plugin's file).
    file_hashes: Mapping[str, str] = field(default_factory=dict, compare=False)
    # What the kinds plugins add (``hoso_config_kinds``) built, by kind name: see ``kind``.
    extensions: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def kind(self, name: str) -> Any:
        """What a plugin's configuration kind built from its files (a ``KeyError`` for a kind not loaded)."""
        try:
            return self.extensions[name]
        except KeyError:
            raise KeyError(f"no configuration kind {name!r} was loaded") from None

    def entity(self, name: str | None) -> EntityDef:
        """The entity named ``name``; a field's link may be None, refused like any unknown name."""
        for e in self.entities:
            if e.name == name:
                return e
        raise KeyError(f"no entity {name!r}")

    def has_entity(self, name: str) -> bool:
        return any(e.name == name for e in self.entities)

    def choice_list(self, name: str | None) -> ChoiceList:
        """The choice list named ``name``; a field's list may be None, refused like any unknown name."""
        for cl in self.lists:
            if cl.name == name:
                return cl
        raise KeyError(f"no choice list {name!r}")

    def workflows_for(self, entity: str) -> Iterator[WorkflowDef]:
        return (w for w in self.workflows if w.entity == entity)

    def form(self, name: str) -> FormDef:
        for f in self.forms:
            if f.name == name:
                return f
        raise KeyError(f"no form {name!r}")

    def role(self, name: str) -> RoleDef:
        for r in self.roles:
            if r.name == name:
                return r
        raise KeyError(f"no role {name!r}")
