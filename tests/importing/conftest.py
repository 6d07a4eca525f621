"""Fixtures of the import tests: the records' small legal-aid configuration and its users (tests/records), and the
admin served on the seeded reference configuration (tests/admin)."""

from tests.admin.conftest import admin, admin_db, prepared  # noqa: F401
from tests.records.conftest import World, records_config, world  # noqa: F401
