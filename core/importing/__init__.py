"""Importing records from CSV and XLSX files (digitisation, re-entry after a merger): see docs/import.md."""

from hoso.importing.reading import FileProblem, Table, read_table
from hoso.importing.run import DEFAULT_BATCH, ImportOptions, ImportResult, Problem, import_file, preview

__all__ = ["FileProblem", "Table", "read_table", "ImportOptions", "ImportResult", "Problem", "import_file", "preview",
           "DEFAULT_BATCH"]
