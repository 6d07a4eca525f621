"""The check of the "held" step (transition ``hold``) of an outreach session."""

from __future__ import annotations

from hoso_outreach.messages import text

ENTITY = "outreach_session"


def check_hold(entity: str, transition: str, values: dict, lang: str) -> list[tuple[str, str]] | None:
    """Problems that refuse marking a session as held, as ``(field, message)`` pairs; None to allow.

    ``values`` is the record as the step would leave it, so a date sent with the step is judged, not the one
    stored before it.
    """
    if entity != ENTITY or transition != "hold":
        return None
    problems = []
    held, planned = values.get("held_on"), values.get("planned_on")
    if held is not None and planned is not None and held < planned:
        problems.append(("held_on", text("held_before_planned", lang, held=f"{held:%d/%m/%Y}",
                                         planned=f"{planned:%d/%m/%Y}")))
    if values.get("attendees") is None:
        problems.append(("attendees", text("attendees_missing", lang)))
    return problems or None
