"""A record's history, read from the audit: every change, as the reader may see it, and the workflow steps."""

from __future__ import annotations

import json

from hoso.config import Config, EntityDef
from hoso.records.access import Access, may_see_addresses
from hoso.records.context import RecordContext, as_datetime
from hoso.records.store import RecordStore

__all__ = ["history", "transitions_of", "history_entry"]


async def history(store: RecordStore, entity: EntityDef, record_id: int, access: Access,
                  ctx: RecordContext) -> list[dict]:
    """Every audit entry of the record, oldest first: ``{id, at, action, actor, actor_id, origin, changes,
    detail}``. ``changes`` maps fields to ``[before, after]`` (hidden fields left out); ``detail`` holds the
    rest (``transition``, ``workflow``, a file's name, size and sha256). A deleted record's history is
    readable by those who may restore it."""
    await store.require_visible(entity, record_id, access, ctx)
    hidden = await access.hidden(entity)
    addresses = may_see_addresses(store.rt, await access.roles(), access.superuser)
    rows = await store.db.fetch(
        "SELECT id, at, actor_id, actor, origin, action, changes FROM hoso_audit WHERE entity = {} "
        "AND record_id = {} ORDER BY id", entity.name, record_id)
    out = []
    for r in rows:
        raw = json.loads(r["changes"]) if r["changes"] else {}
        entry = history_entry(raw, hidden)
        if entry is None:
            continue
        changes, detail = entry
        at = as_datetime(r["at"]) if isinstance(r["at"], str) else r["at"]
        out.append({"id": r["id"], "at": at, "action": r["action"], "actor": r["actor"],
                    "actor_id": r["actor_id"], "origin": r["origin"] if addresses else None,
                    "changes": changes, "detail": detail})
    return out


def transitions_of(config: Config, entity: EntityDef, entries: list[dict]) -> list[dict]:
    """The workflow steps among history ``entries``: ``{at, transition, workflow, from, to, actor, actor_id,
    origin}``."""
    out = []
    states = {w.name: w.state_field for w in config.workflows_for(entity.name)}
    for h in entries:
        if h["action"] != "transition":
            continue
        wf = h["detail"].get("workflow")
        before, after = h["changes"].get(states.get(wf, ""), [None, None])
        out.append({"at": h["at"], "transition": h["detail"].get("transition"), "workflow": wf,
                    "from": before, "to": after, "actor": h["actor"], "actor_id": h["actor_id"],
                    "origin": h["origin"]})
    return out


def history_entry(raw: dict, hidden: set[str]) -> tuple[dict, dict] | None:
    """An audit entry's ``(changes, detail)`` as a reader with ``hidden`` fields may see it, or None when the
    entry is about hidden fields only (an update of them, a file stored in or read from one): showing it would
    tell that a hidden field changed, and a file's name, size and checksum say what it holds."""
    fields = {k for k in raw if not k.startswith("@")}
    file = raw.get("@file")
    if isinstance(file, dict) and isinstance(file.get("field"), str):
        fields.add(file["field"])
    if hidden and fields and fields <= hidden:
        return None
    changes = {k: v for k, v in raw.items() if not k.startswith("@") and k not in hidden}
    detail = {k[1:]: v for k, v in raw.items() if k.startswith("@")}
    if fields & hidden:
        detail.pop("file", None)
    return changes, detail
