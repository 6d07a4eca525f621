"""Built-in field checks: required, bounds, lengths, patterns and choice options."""

from __future__ import annotations

import re

from core.hookspecs import hookimpl


def check_field(fd, value, config, lang="vi"):
    """Problems with one parsed value of a field, as messages."""
    from core.i18n import t

    if value is None or value == "" or value == []:
        return [t("required", lang)] if fd.required else []
    problems = []
    if fd.type in ("choice", "multi_choice") and fd.list:
        options = config.choice_list(fd.list).values()
        for v in value if fd.type == "multi_choice" else [value]:
            if v not in options:
                problems.append(t("not_an_option", lang, value=v, options=", ".join(options)))
    if isinstance(value, str):
        if fd.min_length is not None and len(value) < fd.min_length:
            problems.append(t("too_short", lang, n=fd.min_length))
        if fd.max_length is not None and len(value) > fd.max_length:
            problems.append(t("too_long", lang, n=fd.max_length))
        if fd.pattern and not re.fullmatch(fd.pattern, value):
            problems.append(t("pattern", lang, pattern=fd.pattern))
    if fd.min is not None or fd.max is not None:
        from core.config.loader import _coerce_bound

        if fd.min is not None and value < _coerce_bound(fd.type, fd.min):
            problems.append(t("too_small", lang, n=fd.min))
        if fd.max is not None and value > _coerce_bound(fd.type, fd.max):
            problems.append(t("too_large", lang, n=fd.max))
    return problems


@hookimpl(trylast=True)
def hoso_validate_record(entity, values, context):
    problems = []
    for fd in entity.fields:
        if fd.is_child_table:
            for i, row in enumerate(values.get(fd.name) or ()):
                for cf in fd.fields:
                    for msg in check_field(cf, row.get(cf.name), context.config, context.lang):
                        problems.append((f"{fd.name}[{i}].{cf.name}", msg))
            continue
        if entity.naming and fd.name == entity.naming.field:
            continue  # filled by the naming series after validation
        for msg in check_field(fd, values.get(fd.name), context.config, context.lang):
            problems.append((fd.name, msg))
    return problems
