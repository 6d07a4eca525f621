"""Fields of a record that the system sets, never a payload: the one answer for the API, the admin and imports.

The naming series gives the code, the workflow moves the state fields (a new record starts at the initial
state), and files come through uploads. The record service refuses a payload writing them; the API leaves them
out of its body schemas, and the admin marks them and does not send them back unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hoso.config import Config, EntityDef

__all__ = ["SystemFields", "system_fields"]


@dataclass(frozen=True)
class SystemFields:
    code: str | None = None
    states: dict[str, str | None] = field(default_factory=dict)  # state field -> the state a record starts in
    attachments: frozenset[str] = frozenset()

    @property
    def names(self) -> set[str]:
        """Every field a payload may not write."""
        out = set(self.states) | set(self.attachments)
        if self.code:
            out.add(self.code)
        return out


def system_fields(config: Config, entity: EntityDef | None) -> SystemFields:
    """The system-set fields of ``entity`` (none for a table that is not an entity); worked out once per entity
    and configuration (every write asks)."""
    if entity is None:
        return SystemFields()
    kept = entity.__dict__.get("_system_fields")
    if kept is not None and kept[0] is config:
        return kept[1]
    found = SystemFields(
        code=entity.naming.field if entity.naming else None,
        states={w.state_field: w.initial for w in config.workflows_for(entity.name)},
        attachments=frozenset(f.name for f in entity.fields if f.traits.refers_to == "file"),
    )
    entity.__dict__["_system_fields"] = (config, found)
    return found
