"""What the record service raises; the web layer maps each to one HTTP status (see docs/records.md)."""

from __future__ import annotations

__all__ = ["RecordError", "ValidationError", "StaleVersion", "NotFound", "Forbidden", "InvalidTransition",
           "ReadOnlyState", "AttachmentTooLarge", "AttachmentCorrupt"]


class RecordError(Exception):
    """Base class of the record service's errors."""


class ValidationError(RecordError):
    """The payload is not valid; ``problems`` is a list of ``(field, message)`` in the user's language (HTTP 422).

    ``field`` names the field (``hearings[0].held_on`` inside a child table); nothing was written.
    """

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = problems
        super().__init__("; ".join(f"{f}: {m}" for f, m in problems))


class StaleVersion(RecordError):
    """The caller's version is not the record's current version (HTTP 409, with ``current``)."""

    def __init__(self, current: int):
        self.current = current
        super().__init__(f"the record was changed by someone else; its current version is {current}")


class NotFound(RecordError):
    """No such record, or none the actor may see: the two are not told apart (HTTP 404)."""


class Forbidden(RecordError):
    """The actor may see the record (or the entity) but not do this to it (HTTP 403)."""


class InvalidTransition(RecordError):
    """The transition does not start from the record's current state (HTTP 409)."""

    def __init__(self, message: str, state: str | None, allowed_from: tuple[str, ...] = ()):
        self.state = state
        self.allowed_from = allowed_from
        super().__init__(message)


class ReadOnlyState(InvalidTransition):
    """The record is in one of its workflow's ``read_only_states`` (e.g. archived): no edit, delete or file
    (HTTP 409); the workflow's steps from that state remain."""


class AttachmentTooLarge(ValidationError):
    """The file is larger than the field's limit (HTTP 413); no file was kept."""

    def __init__(self, field: str, message: str, limit: int):
        self.limit = limit
        super().__init__([(field, message)])


class AttachmentCorrupt(RecordError):
    """A stored file no longer matches its sha256: raised at the end of a download (and logged)."""
