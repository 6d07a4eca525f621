"""The lifecycle rules of the law that configuration alone cannot state.

Hook implementations here carry their own names and say which hook they implement with ``specname``;
``hoso_legal_aid`` registers them (see its ``__init__``).
"""

from __future__ import annotations

__all__: list[str] = []
