import pytest

from tests.restructure.support import write_rs_config


@pytest.fixture
def rs_config(config_dir):
    """The configuration of the restructuring tests (see support.py), in ``config_dir``."""
    return write_rs_config(config_dir)
