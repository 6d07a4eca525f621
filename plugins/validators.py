"""Built-in record checks: the form's JSON Schema (types, required fields, options, lengths, patterns, bounds),
its conditions (``visible_if``, ``required_if``) and cross-field rules; see ``hoso.records.forms``."""

from __future__ import annotations

from hoso.hookspecs import hookimpl


@hookimpl(trylast=True)
def hoso_validate_record(entity, values, context, form, previous):
    return form.check(values, context.lang, previous, context.today)
