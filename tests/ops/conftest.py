"""The web fixtures (a migrated database, the app on it, a logged-in superuser) for the operations tests."""

from tests.web.conftest import admin, web  # noqa: F401
