"""Passwords are stored as PBKDF2-SHA256 with the OWASP-recommended count of rounds (the test suite lowers the
count for its own accounts in tests/conftest.py, so the production count is checked in a fresh interpreter)."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import REPO


def test_production_accounts_are_hashed_with_600000_rounds():
    code = (
        "import hoso.model.tables  # noqa: F401\n"
        "from piccolo.apps.user.tables import BaseUser\n"
        "stored = BaseUser.hash_password('Correct-Horse-Battery-9')\n"
        "print(stored.split('$')[0], stored.split('$')[1])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["pbkdf2_sha256", "600000"]
