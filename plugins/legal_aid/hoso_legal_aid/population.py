"""The national population database lookup: an adapter over its HTTP interface, with a fallback.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

__all__: list[str] = []
