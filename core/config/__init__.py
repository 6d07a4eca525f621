"""Configuration: read YAML, validate it against JSON Schema, return frozen typed objects."""

from .kind import ConfigKind
from .loader import ConfigErrors, ConfigFile, ConfigIssue, load
from .types import *  # noqa: F401,F403
from .types import Config
from .types import __all__ as _types_all


def load_config(root=None, field_types=None, **options) -> Config:
    """Load and check the configuration under ``root`` with the built-in kinds and the ``options`` of
    ``hoso.config.loader.load`` (plugin kinds, folders, actions, scope kinds); raise ConfigErrors listing every
    problem."""
    from .kinds import BUILTIN_KINDS  # the kinds build on the loader's machinery: imported once it is loaded

    return load(root, field_types, builtin_kinds=BUILTIN_KINDS, **options)


__all__ = ["ConfigErrors", "ConfigFile", "ConfigIssue", "ConfigKind", "load_config", *_types_all]
