"""The records' small legal-aid configuration and its users (tests/records/conftest.py), for the import tests."""

from tests.records.conftest import World, records_config, world  # noqa: F401
