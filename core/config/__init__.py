"""Configuration: read YAML, validate it against JSON Schema, return frozen typed objects."""

from .kind import ConfigKind
from .loader import ConfigErrors, ConfigFile, ConfigIssue, load_config
from .types import *  # noqa: F401,F403
from .types import __all__ as _types_all

__all__ = ["ConfigErrors", "ConfigFile", "ConfigIssue", "ConfigKind", "load_config", *_types_all]
