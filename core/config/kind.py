"""What a configuration kind is: where its files live, their JSON Schema, how they become typed objects.

Every YAML kind (entities, forms, roles, ...) is declared by one ``ConfigKind``; the loader reads the kinds
registered through the ``hoso_config_kinds`` hook, so a plugin's kind is read, validated (file:line:column
errors with key paths and did-you-mean hints), cross-checked, hashed into the definitions hash and reported by
``hoso check`` exactly like a built-in one.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["ConfigKind", "KindError", "order_kinds"]


class KindError(Exception):
    """Two kinds claim the same name, or a kind waits for one that is not registered."""


# Compared by identity: the same kind object may be registered by a plugin and passed to the loader again.
@dataclass(frozen=True, eq=False)
class ConfigKind:
    """One kind of configuration file.

    :param name: the kind's name (``entity``, ``notice``); unique among registered kinds.
    :param location: where the files are, relative to a configuration root: a folder of ``.yaml``/``.yml``
        files (``forms_config/notices``) or one file (``roles_config/modules.yaml``). Every kind is optional:
        nothing at the location means no definitions.
    :param schema: the JSON Schema each file must satisfy, as a dict or a path to a JSON file. It may refer to
        the shared definitions (``{"$ref": "hoso:defs#/$defs/label"}`` for a vi/en label).
    :param build: ``build(ctx, files)`` turns the validated files into typed objects and returns them. A file
        (``ctx`` gives ``ctx.results[kind]`` of the kinds named in ``after``) reports problems with
        ``file.error(key_path, message)``; a file with ``partial`` set had schema errors: check what is left
        of it, but do not use what it defines.
    :param check: ``check(ctx, result)``, cross-checks run once every kind is built (``ctx.results`` holds every
        kind's result, ``ctx.files`` every kind's files).
    :param after: kinds whose results ``build`` needs; they are built first.
    :param hashed: whether the files count in the definitions hash that ``hoso migrate`` records.
    :param config_field: the ``Config`` attribute the result becomes (built-in kinds); other kinds are found
        with ``config.kind(name)``.
    :param export: turns the result into what ``Config`` holds (default: the result itself).
    :param described_as: how an empty file is described: "expected <described_as> definition".
    :param declared_names: the names a file that failed to load declares (so that references to them are not
        reported as unknown a second time); None when they cannot be made out.
    :param merged: for a one-file kind: plugins may ship their own copy of the file, and ``build`` receives the
        deployment's file first, then the plugins' (otherwise a second copy is an error).
    """

    name: str
    location: str
    schema: Mapping[str, Any] | str | Path
    build: Callable[[Any, list], Any]
    check: Callable[[Any, Any], None] | None = None
    after: tuple[str, ...] = ()
    hashed: bool = True
    config_field: str | None = None
    export: Callable[[Any], Any] | None = None
    described_as: str = ""
    declared_names: Callable[[Any, str], set[str] | None] | None = None
    merged: bool = False
    _schema_cache: dict = field(default_factory=dict, init=False, repr=False)

    @property
    def many(self) -> bool:
        """A folder of files (True) or one file (False)."""
        return not self.location.endswith((".yaml", ".yml"))

    @property
    def description(self) -> str:
        return self.described_as or f"{'an' if self.name[:1] in 'aeiou' else 'a'} {self.name}"

    def schema_dict(self) -> dict:
        if "schema" not in self._schema_cache:
            s = self.schema
            self._schema_cache["schema"] = (dict(s) if isinstance(s, Mapping)
                                            else json.loads(Path(s).read_text(encoding="utf-8")))
        return self._schema_cache["schema"]

    def value(self, result: Any) -> Any:
        return self.export(result) if self.export is not None else result


def order_kinds(kinds: Iterable[ConfigKind]) -> list[ConfigKind]:
    """The kinds in an order where each comes after those it names in ``after`` (otherwise as given)."""
    pending = list(kinds)
    names = {k.name for k in pending}
    for k in pending:
        for dep in k.after:
            if dep not in names:
                raise KindError(f"configuration kind {k.name!r} needs kind {dep!r}, which no plugin provides")
    done: list[ConfigKind] = []
    while pending:
        ready = [k for k in pending if all(d in {x.name for x in done} for d in k.after)]
        if not ready:
            raise KindError("configuration kinds wait for each other: "
                            + ", ".join(f"{k.name} (after {', '.join(k.after)})" for k in pending))
        done.append(ready[0])
        pending.remove(ready[0])
    return done
