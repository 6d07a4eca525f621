"""Choice lists: ``forms_config/lists/*.yaml``, the options choice fields pick from."""

from __future__ import annotations

from ..kind import ConfigKind
from ..loader import SCHEMA_DIR, _label
from ..types import ChoiceList, ChoiceOption, Label


def build(ctx, files) -> dict[str, ChoiceList]:
    lists: dict[str, ChoiceList] = {}
    for f in files:
        for name, d in f.data["lists"].items():
            if name in lists:
                f.error(("lists", name), f"choice list {name!r} is defined twice", key=True)
                continue
            values = [o["value"] for o in d["options"]]
            for j, v in enumerate(values):
                if values.index(v) != j:
                    f.error(("lists", name, "options", j, "value"), f"duplicate option value {v!r}")
            if f.partial:
                continue  # checked, not used
            lists[name] = ChoiceList(name, _label(d.get("label")),
                                     tuple(ChoiceOption(o["value"], Label(o["vi"], o.get("en")),
                                                        o.get("retired", False))
                                           for o in d["options"]))
    return lists


def declared_names(data, text: str) -> set[str] | None:
    if isinstance(data, dict) and isinstance(data.get("lists"), dict):
        return {str(k) for k in data["lists"]}
    return None


KIND = ConfigKind("lists", "forms_config/lists", SCHEMA_DIR / "lists.schema.json", build,
                  config_field="lists", export=lambda r: tuple(r.values()), described_as="a lists",
                  declared_names=declared_names)
