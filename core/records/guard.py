"""The write guard: every plugin's ``hoso_write_guard`` asked before a record is written (see docs/hooks.md)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from hoso.plugin_manager import await_me_maybe
from hoso.records.errors import ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.config import EntityDef
    from hoso.records.context import RecordContext
    from hoso.runtime import Runtime

__all__ = ["write_guard", "guard_batch", "guarding_a_batch"]

_BATCH: ContextVar[bool] = ContextVar("hoso_guard_batch", default=False)


@contextmanager
def guard_batch() -> Iterator[None]:
    """Within the block (inside a write's transaction), the guard is asked for the records of one batch
    (``create_many``, an import): a guard may read what does not change within the transaction once for all of
    them (``guarding_a_batch``)."""
    token = _BATCH.set(True)
    try:
        yield
    finally:
        _BATCH.reset(token)


def guarding_a_batch() -> bool:
    """Whether the guard is being asked for the records of one batch, all in one transaction (``guard_batch``)."""
    return _BATCH.get()


async def write_guard(rt: Runtime, entity: EntityDef, action: str, before: dict | None, after: dict | None,
                      ctx: RecordContext) -> None:
    """Raise ValidationError with every refusal of the plugins' guards (a bare message names no field)."""
    problems: list[tuple[str, str]] = []
    for result in rt.pm.hook.hoso_write_guard(entity=entity, action=action, before=before, after=after,
                                              context=ctx, db=rt.db):
        result = await await_me_maybe(result)
        if not result:
            continue
        if isinstance(result, str):
            problems.append(("", result))
        else:
            problems += [(str(f), str(m)) for f, m in result]
    if problems:
        raise ValidationError(problems)
