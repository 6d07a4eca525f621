"""Reports: templates from forms_config/reports/ compiled to one SQL statement per run.

- ``model``: what a run is asked (``ReportRequest``) and what it answers (``ReportResult``);
- ``periods``: reporting periods and their cut-offs;
- ``structure``: which unit each recorded unit counts under, as recorded or mapped to the structure at a date;
- ``source``: the rows a run reads, live or as they stood at a past moment;
- ``disclosure``: what a role may see of the numbers (levels, small cells, rows);
- ``engine``: the compiler and ``run_report``.
"""

from __future__ import annotations

__all__: list[str] = []
