"""Sessions held in a year, counted through the record service so the reader's scope applies."""

from __future__ import annotations

from hoso_outreach.guard import ENTITY

PAGE = 500
HELD = ["held", "reported"]


async def summarise(records, context, year: int) -> dict:
    """Sessions held in ``year`` that ``context`` may read: how many, how many people came, in which communes.

    :param records: the record service (``runtime.records()``).
    :param context: the reader (a ``RecordContext``); a reader sees the sessions of their own scope only.
    """
    filters = {"held_on": {"gte": f"{year}-01-01", "lte": f"{year}-12-31"}, "status": {"in": HELD}}
    sessions, attendees, communes = 0, 0, set()
    page = 1
    while True:
        rows, total = await records.list(ENTITY, context, filters=filters, sort=["held_on"], page=page,
                                         page_size=PAGE)
        for row in rows:
            sessions += 1
            attendees += row.get("attendees") or 0
            communes.add(row["commune"])
        if page * PAGE >= total:
            break
        page += 1
    return {"year": year, "sessions": sessions, "attendees": attendees, "communes": sorted(communes)}
