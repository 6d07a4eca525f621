"""Admin forms: workflow transitions, and the hook through which plugins add forms (e.g. report downloads).

piccolo-admin shows *forms* in its sidebar: a pydantic model drawn as a form, and a handler that returns a
message or a file to download. hoso builds them from ``AdminForm`` objects:

* one form per workflow transition and entity ("Thụ lý (Vụ việc trợ giúp pháp lý)"): the record (``sys_record``:
  code or id), optionally the version looked at (``sys_version``), and the fields the transition requires; it calls
  ``RecordService.transition``, so the workflow's states, required fields, guards and roles apply. A user sees
  only the transitions a role of theirs grants (``transition:<name>`` outside ``statistics`` scope);
* forms returned by plugins from the ``hoso_admin_forms(config)`` hook (``hoso.hookspecs``). Report templates (a
  later issue) plug in here: a form whose ``run`` returns ``Download(filename, content, media_type)`` makes the
  browser download a CSV or XLSX file.

```python
from hoso.admin.forms import AdminForm, Download
from hoso.config.types import Label
from hoso.hookspecs import hookimpl

class Period(pydantic.BaseModel):
    year: int

async def cases_csv(req):                       # req: AdminFormRequest (user, data, rt, lang)
    rows, _n = await req.rt.records().list("case", req.user.ctx, page_size=1000)
    return Download("cases.csv", "code\\n" + "\\n".join(r["code"] for r in rows), "text/csv")

@hookimpl
def hoso_admin_forms(config):
    return [AdminForm("cases_csv", Label("Xuất vụ việc", "Export cases"), Period, cases_csv,
                      allowed=lambda user: user.may("export", "case"))]
```
"""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import io
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pydantic
from piccolo_admin.endpoints import FileResponse, FormConfig
from starlette.requests import Request

from hoso.admin.auth import AdminUser
from hoso.config import Config, EntityDef, FieldDef
from hoso.config.types import Label
from hoso.db import quote
from hoso.i18n import t
from hoso.records.errors import NotFound, RecordError, ValidationError

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild
    from hoso.runtime import Runtime

__all__ = ["AdminForm", "AdminFormRequest", "Download", "transition_forms", "plugin_forms", "form_configs",
           "resolve_record", "AmbiguousRecord"]

AMBIGUOUS_SHOWN = 10  # matches listed when a code names several records
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class Download:
    """A file a form sends back to the browser (e.g. a report as CSV or XLSX)."""

    filename: str
    content: bytes | str
    media_type: str = "text/csv"


@dataclass
class AdminFormRequest:
    user: AdminUser
    data: pydantic.BaseModel
    request: Request

    @property
    def rt(self) -> Runtime:
        return self.user.build.rt

    @property
    def lang(self) -> str:
        return self.user.lang


FormResult = str | Download | None


@dataclass
class AdminForm:
    """One form of the admin.

    :param name: unique slug (``[a-z0-9_-]``), part of the form's URL.
    :param label: the title shown in the sidebar and above the form.
    :param fields: the pydantic model of the form, or a function ``lang -> model`` (labels per language).
    :param run: ``async (AdminFormRequest) -> str | Download | None``; raise ``ValueError`` to show an error.
    :param group: the sidebar group; ``description``: a line under the title.
    :param allowed: ``(AdminUser) -> bool``: who sees and may submit the form (default: every logged-in user).
    """

    name: str
    label: Label
    fields: Any
    run: Callable[[AdminFormRequest], FormResult | Awaitable[FormResult]]
    group: Label | None = None
    description: Label | None = None
    allowed: Callable[[AdminUser], bool] | None = None

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"admin form name {self.name!r}: expected lower-case letters, digits, _ and -")
        self._models: dict[str, type[pydantic.BaseModel]] = {}

    def model(self, lang: str) -> type[pydantic.BaseModel]:
        if isinstance(self.fields, type) and issubclass(self.fields, pydantic.BaseModel):
            return self.fields
        if lang not in self._models:
            self._models[lang] = self.fields(lang)
        return self._models[lang]

    def may(self, user: AdminUser) -> bool:
        return self.allowed is None or bool(self.allowed(user))

    async def submit(self, request: Request, user: AdminUser, raw: dict) -> FormResult:
        data = self.model(user.lang)(**raw)
        result = self.run(AdminFormRequest(user, data, request))
        if inspect.isawaitable(result):
            result = await result
        return result


def to_piccolo(result: FormResult) -> Any:
    """An AdminForm result as piccolo-admin's form endpoint returns it."""
    if isinstance(result, Download):
        content = result.content
        contents = io.BytesIO(content) if isinstance(content, bytes) else io.StringIO(content)
        return FileResponse(contents=contents, file_name=result.filename, media_type=result.media_type)
    return result


def form_configs(build: AdminBuild) -> list[FormConfig]:
    """piccolo-admin FormConfigs for every AdminForm (names in the default language; hoso's router serves
    each user's language and checks ``allowed``)."""
    lang = build.admin.default_language
    out = []
    for form in build.forms:
        async def endpoint(request: Request, data: pydantic.BaseModel, _form: AdminForm = form):
            user = request.scope.get("user")
            if not isinstance(user, AdminUser) or not _form.may(user):
                raise ValueError(t("admin_forbidden", getattr(user, "lang", lang)))
            return to_piccolo(await _form.submit(request, user, data.model_dump()))

        config = FormConfig(name=form.label.get(lang), pydantic_model=form.model(lang), endpoint=endpoint,
                            description=form.description.get(lang) if form.description else None,
                            form_group=form.group.get(lang) if form.group else None)
        config.slug = form.name
        out.append(config)
    return out


# -- workflow transitions -------------------------------------------------------------------------------------


_STORAGE_TYPES: dict[str, Any] = {"date": dt.date, "datetime": dt.datetime, "boolean": bool, "integer": int,
                                  "decimal": decimal.Decimal}


def _python_type(build: AdminBuild, fd: FieldDef) -> Any:
    if fd.traits.refers_to is not None:
        return str  # a name, code or id: see resolve_link
    if fd.traits.chooses_many:
        return list[str]
    registry = build.rt.registry
    storage = registry.field_type(fd.type).storage if fd.type in registry.field_types else "text"
    return _STORAGE_TYPES.get(storage, str)


# What a link field is typed as, by what it refers to (a file is uploaded, not typed).
_LINK_HELP = {
    "entity": {"vi": "Tên (hoặc số hiệu) của hồ sơ", "en": "The record's name (or ID)"},
    "unit": {"vi": "Mã, tên hoặc số hiệu của đơn vị", "en": "The unit's code, name or ID"},
    "user": {"vi": "Tên đăng nhập (hoặc số hiệu) của tài khoản", "en": "The account's username (or ID)"},
}


def _field_extra(build: AdminBuild, fd: FieldDef, lang: str) -> dict:
    # piccolo-admin's custom forms have no foreign-key picker: links are typed as a name, code or id.
    help_text = fd.help.get(lang) if fd.help else None
    link_help = _LINK_HELP.get(fd.traits.refers_to or "")
    if link_help:
        help_text = "; ".join(filter(None, [help_text, link_help.get(lang) or link_help["vi"]]))
    extra: dict[str, Any] = {"help_text": help_text, "nullable": True}
    if fd.list:
        extra["choices"] = build.choices(fd, lang)
    if fd.traits.multiline:
        extra["widget"] = "text-area"
    return extra


def choice_values(config: Config, fd: FieldDef, raw: Any) -> Any:
    """Options typed in a custom form (which has no drop-down) by value or by label, as values; anything else is
    left for the record service to refuse with the list of options."""
    options = config.choice_list(fd.list).options
    by_text = {o.value.lower(): o.value for o in options}
    for o in options:
        for text in (o.label.vi, o.label.en):
            if text:
                by_text.setdefault(text.strip().lower(), o.value)

    def one(v: Any) -> Any:
        return by_text.get(v.strip().lower(), v) if isinstance(v, str) else v

    return [one(v) for v in raw] if isinstance(raw, list) else one(raw)


async def resolve_link(build: AdminBuild, user: AdminUser, fd: FieldDef, value: Any) -> Any:
    """The id a transition form's link field names: an id, a record's title, a unit's code or name, or a
    username. A record must be one the user may read; a name matching several rows is refused."""
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    db = build.rt.db
    refers_to = fd.traits.refers_to
    if refers_to == "entity":
        target = build.rt.config.entity(fd.entity)
        title = target.title_field
        if not title:
            raise ValidationError([(fd.name, t("record_unknown", user.lang, value=text))])
        pred = build.rt.scope.predicate(user.actor, "read", target, "t")
        rows = await db.fetch(f"SELECT t.id FROM {quote(target.table)} t WHERE t.{quote(title)} = {{}} "
                              f"AND t.sys_deleted_at IS NULL AND ({pred.sql}) LIMIT 2", text, *pred.args)
    elif refers_to == "unit":
        rows = await db.fetch("SELECT id FROM hoso_unit WHERE (code = {} OR name_vi = {} OR name_en = {}) "
                              "AND valid_to IS NULL LIMIT 2", text, text, text)
        if not rows:  # an old code leads to the unit that holds it now (see hoso.units.resolve_unit_code)
            from hoso.units import UnitCodeError, resolve_unit_code

            try:
                rows = [(await resolve_unit_code(db, text))[0]]
            except UnitCodeError as exc:
                if exc.known:  # a closed unit: say so, naming its successor
                    raise ValidationError([(fd.name, exc.message(user.lang))]) from None
    else:
        rows = await db.fetch("SELECT id FROM hoso_user WHERE username = {} LIMIT 2", text)
    if len(rows) != 1:
        raise ValidationError([(fd.name, t("record_unknown" if not rows else "ambiguous", user.lang, value=text))])
    return int(rows[0]["id"])


class AmbiguousRecord(NotFound):
    """A code that names several records the user may read: the message lists them (by id) to choose from."""


async def resolve_record(build: AdminBuild, user: AdminUser, entity: EntityDef, value: str) -> int:
    """The id of the record ``value`` names: an id, or a code/title matching exactly one record ``user`` may read.

    Codes are unique per unit only, so a code may match records of several units: that is refused
    (AmbiguousRecord, listing the matches within the user's scope by id and unit), never the first one taken."""
    value = (value or "").strip()
    pred = build.rt.scope.predicate(user.actor, "read", entity, "t")
    where = f"t.sys_deleted_at IS NULL AND ({pred.sql})"
    found = None
    if value.isdigit() and int(value) < 2 ** 63:
        found = await build.rt.db.fetchval(f"SELECT t.id FROM {quote(entity.table)} t WHERE t.id = {{}} AND {where}",
                                           int(value), *pred.args)
    key = entity.naming.field if entity.naming else entity.title_field
    if key in user.hidden(entity.name):
        key = None  # a lookup by a hidden value would confirm it
    if found is None and key and value:
        unit = f"t.{quote(entity.unit_field)}" if entity.unit_field else "NULL"
        rows = await build.rt.db.fetch(
            f"SELECT t.id AS id, {unit} AS unit_id FROM {quote(entity.table)} t WHERE t.{quote(key)} = {{}} "
            f"AND {where} ORDER BY t.id LIMIT {AMBIGUOUS_SHOWN + 1}", value, *pred.args)
        if len(rows) > 1:
            units = await build.readables(user, "unit", None, {r["unit_id"] for r in rows if r["unit_id"]})
            choices = [f"#{r['id']}" + (f" ({units[int(r['unit_id'])]})" if r["unit_id"] else "")
                       for r in rows[:AMBIGUOUS_SHOWN]]
            if len(rows) > AMBIGUOUS_SHOWN:
                choices.append("…")
            raise AmbiguousRecord(t("ambiguous_record", user.lang, value=value, choices=", ".join(choices)))
        found = rows[0]["id"] if rows else None
    if found is None:
        raise NotFound(t("record_unknown", user.lang, value=value))
    return int(found)


def record_error_text(exc: RecordError, entity: EntityDef, lang: str) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for field, message in exc.problems:
            top = field.split("[", 1)[0].split(".", 1)[0]
            label = entity.field(top).label.get(lang) if entity.has_field(top) else top
            parts.append(f"{label} ({field}): {message}")
        return "; ".join(parts)
    return str(exc)


def transition_forms(build: AdminBuild) -> list[AdminForm]:
    config: Config = build.rt.config
    forms: list[AdminForm] = []
    for wf in config.workflows:
        if not config.has_entity(wf.entity):
            continue
        entity = config.entity(wf.entity)
        for tr in wf.transitions:
            requires = [entity.field(n) for n in tr.requires if entity.has_field(n)]

            def make_model(lang: str, _tr=tr, _requires=requires, _entity=entity) -> type[pydantic.BaseModel]:
                fields: dict[str, Any] = {
                    # sys_ names: an entity field cannot take them
                    "sys_record": (str, pydantic.Field(title=t("record", lang), json_schema_extra={"extra": {
                        "help_text": t("record_help", lang)}})),
                    "sys_version": (int | None, pydantic.Field(default=None, title=t("expected_version", lang),
                                                              json_schema_extra={"extra": {
                                                                  "help_text": t("expected_version_help", lang),
                                                                  "nullable": True}})),
                }
                for fd in _requires:
                    fields[fd.name] = (_python_type(build, fd) | None, pydantic.Field(
                        default=None, title=fd.label.get(lang),
                        json_schema_extra={"extra": _field_extra(build, fd, lang)}))
                return pydantic.create_model(f"Transition_{_entity.name}_{_tr.name}_{lang}", **fields)

            def allowed(user: AdminUser, _entity=entity, _tr=tr) -> bool:
                return user.may(f"transition:{_tr.name}", _entity.name)

            async def run(req: AdminFormRequest, _entity=entity, _tr=tr, _wf=wf, _requires=requires) -> str:
                user, lang = req.user, req.lang
                service = build.rt.records()
                data = req.data.model_dump()
                try:
                    record_id = await resolve_record(build, user, _entity, str(data.pop("sys_record") or ""))
                    version = data.pop("sys_version", None)
                    if version is None:
                        version = (await service.get(_entity.name, record_id, user.ctx))["sys_version"]
                    payload = {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else
                                   str(v) if isinstance(v, decimal.Decimal) else v)
                               for k, v in data.items() if v not in (None, "", [])}
                    for fd in _requires:
                        if fd.traits.refers_to in _LINK_HELP and fd.name in payload:
                            payload[fd.name] = await resolve_link(build, user, fd, payload[fd.name])
                        elif fd.list and fd.name in payload:
                            payload[fd.name] = choice_values(build.rt.config, fd, payload[fd.name])
                    spec = build.tables.by_entity[_entity.name]
                    record = await service.transition(_entity.name, record_id, _tr.name, payload, int(version),
                                                      user.ctx, form=spec.form)
                except RecordError as exc:
                    raise ValueError(t("form_failed", lang, reason=record_error_text(exc, _entity, lang))) from None
                key = _entity.naming.field if _entity.naming else _entity.title_field
                shown = record.get(key) if key else None
                return t("transition_done", lang, step=_tr.label.get(lang), record=shown or f"#{record_id}",
                         state=build.state_label(_wf, record.get(_wf.state_field), lang))

            def states(lang: str, _wf=wf, _tr=tr) -> str:
                return ", ".join(build.state_label(_wf, st, lang) for st in _tr.from_states)

            forms.append(AdminForm(
                name=f"{entity.name}-{tr.name}".replace("_", "-"),
                label=Label(t("transition_form", "vi", step=tr.label.vi, entity=entity.label.vi),
                            t("transition_form", "en", step=tr.label.get("en"), entity=entity.label.get("en"))),
                fields=make_model,
                run=run,
                group=Label(t("transition_group", "vi", entity=entity.label.vi),
                            t("transition_group", "en", entity=entity.label.get("en"))),
                description=Label(
                    t("transition_description", "vi", states=states("vi"), to=build.state_label(wf, tr.to, "vi"),
                      requires=", ".join(f.label.vi for f in requires) or t("nothing", "vi")),
                    t("transition_description", "en", states=states("en"), to=build.state_label(wf, tr.to, "en"),
                      requires=", ".join(f.label.get("en") for f in requires) or t("nothing", "en"))),
                allowed=allowed,
            ))
    return forms


def plugin_forms(build: AdminBuild) -> list[AdminForm]:
    pm = build.rt.pm
    out: list[AdminForm] = []
    for result in pm.hook.hoso_admin_forms(config=build.rt.config):
        for form in result or ():
            if not isinstance(form, AdminForm):
                raise TypeError(f"hoso_admin_forms returned {form!r}: expected hoso.admin.forms.AdminForm objects")
            out.append(form)
    return out
