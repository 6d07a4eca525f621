"""The admin inside the hoso web application: built at start-up, rebuilt after ``hoso migrate``.

``AdminApp`` is an ASGI application mounted by Litestar at ``/admin`` (``handlers()``); ``/admin`` redirects to
``/admin/``. It holds one ``AdminBuild`` (the admin tables, forms and piccolo-admin router of one configuration).
Before serving a request it checks, at most every ``HOSO_ADMIN_RELOAD_SECONDS`` (default 2), which definitions
the database holds (``hoso_schema_state``): when ``hoso migrate`` applied new ones, it loads the configuration
again from disk and, if it is the one applied, builds a new admin (and a runtime for it, sharing the database,
plugins and field types) and swaps it in. Requests already running finish on the build they started with.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import anyio

from hoso.admin.auth import LANG_COOKIE, AdminUser
from hoso.admin.config import ADMIN_FILE, AdminConfig, load_admin_config
from hoso.admin.crud import CURRENT_USER, ScopedCRUD
from hoso.admin.filters import picker_match, picker_units
from hoso.admin.forms import AdminForm, plugin_forms, transition_forms
from hoso.admin.tables import VERSION_COLUMN, AdminTables, TableSpec, build_admin_tables
from hoso.config import FieldDef, WorkflowDef
from hoso.db import quote
from hoso.i18n import local_today, t
from hoso.records.search import fold
from hoso.records.system_fields import system_fields
from hoso.settings import get as setting
from hoso.web.problems import msg, problem_message
from hoso.web.security import origin_allowed

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime
    from hoso.web.auth import WebSettings

__all__ = ["AdminApp", "AdminBuild", "MOUNT"]

log = logging.getLogger("hoso.admin")
# piccolo-admin loads the translation the user picks: the language of labels and messages follows it.
_TRANSLATION = re.compile(r"^/public/translations/([A-Za-z-]+)/?$")
MOUNT = "/admin"
OPTIONS_LIMIT = 200

_SYSTEM_TITLES = {
    "unit": {"code": ("Mã", "Code"), "name_vi": ("Tên tiếng Việt", "Name (Vietnamese)"),
             "name_en": ("Tên tiếng Anh", "Name (English)"), "type": ("Loại đơn vị", "Unit type"),
             "valid_from": ("Hiệu lực từ", "Valid from"), "valid_to": ("Hiệu lực đến", "Valid to")},
    "user": {"username": ("Tên đăng nhập", "Username"), "display_name": ("Họ và tên", "Name")},
}
_SYSTEM_LABELS = {"unit": ("Đơn vị", "Units"), "user": ("Tài khoản", "Accounts")}


class AdminBuild:
    """The admin of one configuration: tables, forms and the piccolo-admin router."""

    PICKER_MATCHES = 20000  # a picker's search sorts this many matches at most (``options``)

    def __init__(self, rt: Runtime, settings: WebSettings, admin: AdminConfig, admin_mtime: float | None = None):
        self.rt = rt
        self.settings = settings
        self.admin = admin
        self.admin_mtime = admin_mtime
        self.hash = rt.config.content_hash
        self.tables: AdminTables = build_admin_tables(rt.db, rt.config, rt.registry, admin)
        self.cruds: dict[str, ScopedCRUD] = {}
        self.forms: list[AdminForm] = transition_forms(self) + plugin_forms(self)
        names = [f.name for f in self.forms]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"admin forms with the same name: {', '.join(duplicates)}")
        self._router: Any = None
        self._router_lock = threading.Lock()

    @property
    def router(self) -> Any:
        """piccolo-admin's application for this build, made at its first use (about half a second of work: a
        process that serves only the API never makes it). ``AdminApp`` makes it in a thread."""
        if self._router is None:
            with self._router_lock:
                if self._router is None:
                    from hoso.admin.router import build_router

                    self._router = build_router(self)
        return self._router

    @property
    def router_ready(self) -> bool:
        return self._router is not None

    # -- menus and labels ----------------------------------------------------------------------------------
    def table_label(self, spec: TableSpec, lang: str) -> str:
        if spec.kind == "entity":
            return spec.entity_def.label.get(lang)
        if spec.kind == "child":
            return f"{spec.entity_def.label.get(lang)}: {spec.child_def.label.get(lang)}"
        vi, en = _SYSTEM_LABELS[spec.kind]
        return en if lang == "en" else vi

    def table_labels(self, lang: str) -> list[tuple[TableSpec, str]]:
        return [(s, self.table_label(s, lang)) for s in self.tables.specs.values()]

    def menu_tables(self, user: AdminUser) -> list[TableSpec]:
        """The tables listed in the user's menu: the entities their roles can read (units for superusers)."""
        order = [n for _g, names in self.admin.menu for n in names]
        entities = [s for s in self.tables.by_entity.values() if user.may("read", s.entity_def.name)]
        entities.sort(key=lambda s: (order.index(s.entity_def.name) if s.entity_def.name in order else len(order),
                                     s.entity_def.label.get(user.lang)))
        return entities + ([self.tables.unit] if user.superuser else [])

    def menu(self, user: AdminUser) -> list[tuple[str | None, list[TableSpec]]]:
        out: list[tuple[str | None, list[TableSpec]]] = []
        groups: dict[str | None, list[TableSpec]] = {}
        for spec in self.menu_tables(user):
            if spec.kind == "entity":
                label = self.admin.menu_group(spec.entity_def.name)
                group = label.get(user.lang) if label else None
            else:
                group = "Hệ thống" if user.lang != "en" else "System"
            if group not in groups:
                groups[group] = []
                out.append((group, groups[group]))
            groups[group].append(spec)
        return out

    def choices(self, fd: FieldDef, lang: str) -> dict[str, dict[str, str]]:
        options = self.rt.config.choice_list(fd.list).options
        return {o.value: {"display_name": o.label.get(lang) + (f" ({t('retired_mark', lang)})" if o.retired else ""),
                          "value": o.value} for o in options}

    def state_label(self, wf: WorkflowDef, state: Any, lang: str) -> str:
        entity = self.rt.config.entity(wf.entity)
        fd = entity.field(wf.state_field) if entity.has_field(wf.state_field) else None
        if fd is not None and fd.list:
            for o in self.rt.config.choice_list(fd.list).options:
                if o.value == state:
                    return o.label.get(lang)
        return str(state)

    # -- the schema the admin draws its forms and lists from ----------------------------------------------------
    def schema_for(self, user: AdminUser, spec: TableSpec, schema: dict) -> dict:
        lang = user.lang
        entity = spec.entity
        shown = entity if spec.kind == "entity" else None  # a child table's entity is its parent's
        hidden = user.hidden(shown.name) if shown else set()
        read_only = user.read_only(shown.name) if shown else set()
        given = system_fields(self.rt.config, shown)
        code, states = given.code, given.states
        props: dict[str, Any] = {}
        for name, prop in (schema.get("properties") or {}).items():
            if name in hidden:
                continue
            extra = prop.setdefault("extra", {})
            fd = spec.field(name)
            if fd is not None:
                marks = []
                if name == code:
                    marks.append(t("system_mark", lang))
                elif name in states:
                    marks.append(t("workflow_mark", lang))
                elif name in read_only:
                    marks.append(t("read_only_mark", lang))
                prop["title"] = fd.label.get(lang) + (f" ({', '.join(marks)})" if marks else "")
                extra["help_text"] = fd.help.get(lang) if fd.help else None
                if fd.list:
                    extra["choices"] = self.choices(fd, lang)
            elif name == VERSION_COLUMN:
                prop["title"] = t("version", lang)
                extra["help_text"] = t("version_help", lang)
            elif name == "parent_id" and entity is not None:
                prop["title"] = entity.label.get(lang)
            elif name == "position":
                prop["title"] = t("position", lang)
            elif spec.kind in _SYSTEM_TITLES and name in _SYSTEM_TITLES[spec.kind]:
                vi, en = _SYSTEM_TITLES[spec.kind][name]
                prop["title"] = en if lang == "en" else vi
            props[name] = prop
        schema["properties"] = props
        if spec.kind == "entity":
            schema["required"] = [f.name for f in spec.fields if f.required and f.name in props and f.name != code
                                  and f.name not in states and f.traits.refers_to != "file"]
        elif spec.kind == "child":
            schema["required"] = ["parent_id"] + [f.name for f in spec.fields if f.required and f.name in props]
        else:
            schema["required"] = []
        extra = schema.setdefault("extra", {})
        label = self.table_label(spec, lang)
        schema["title"] = label
        extra["help_text"] = label
        extra["visible_column_names"] = [n for n in extra.get("visible_column_names") or ["id", *props]
                                         if n == "id" or n in props]
        if extra.get("link_column_name") not in (None, "id") and extra["link_column_name"] not in props:
            extra["link_column_name"] = "id"  # the title field is hidden from this user: link rows by id
            extra["visible_column_names"].insert(0, "id")
        attachments = {f.name for f in spec.fields if f.traits.refers_to == "file"}
        extra["visible_filter_names"] = [n for n in ["id", *props] if n not in attachments and n != VERSION_COLUMN]
        extra["visible_fields_options"] = [n for n in extra.get("visible_fields_options") or []
                                           if n == "id" or n in props]
        extra["media_columns"] = [n for n in extra.get("media_columns") or [] if n in props]
        return schema

    # -- readable values and drop-down options ----------------------------------------------------------------
    def _readable_sql(self, user: AdminUser, kind: str, target: str | None) -> tuple[str, str, str, tuple]:
        """(FROM clause, readable expression, WHERE clause, args) for the rows of a linked table over alias t."""
        lang = user.lang
        if kind in ("entity", "parent"):
            entity = self.rt.config.entity(target)
            pred = self.rt.scope.predicate(user.actor, "read", entity, "t")
            title = entity.title_field
            if not title or title in user.hidden(entity.name) or not entity.has_field(title):
                readable = "NULL"
            else:
                readable = f"t.{quote(title)}"
            return (quote(entity.table), readable, f"t.sys_deleted_at IS NULL AND ({pred.sql})", pred.args)
        if kind == "unit":
            name = "COALESCE(t.name_en, t.name_vi)" if lang == "en" else "t.name_vi"
            return ("hoso_unit", name, "1 = 1", ())
        pred = self.cruds["hoso_user"].scope_sql(user, "t")
        return ("hoso_user", "COALESCE(t.display_name, t.username)", pred.sql, pred.args)

    def _fallback(self, user: AdminUser, kind: str, target: str | None, row_id: Any) -> str:
        if kind in ("entity", "parent"):
            return f"{self.rt.config.entity(target).label.get(user.lang)} #{row_id}"
        return f"#{row_id}"

    async def readables(self, user: AdminUser, kind: str, target: str | None, ids: set) -> dict[int, str]:
        """Readable values of the linked rows ``ids``: the title of those ``user`` may read, else ``<label> #id``."""
        wanted = sorted({int(i) for i in ids})
        if not wanted:
            return {}
        source, readable, where, args = self._readable_sql(user, kind, target)
        marks = ", ".join("{}" for _ in wanted)
        rows = await self.rt.db.fetch(
            f"SELECT t.id AS id, {readable} AS readable FROM {source} t WHERE t.id IN ({marks}) AND ({where})",
            *wanted, *args)
        found = {int(r["id"]): str(r["readable"]) for r in rows if r["readable"] not in (None, "")}
        return {i: found.get(i) or self._fallback(user, kind, target, i) for i in wanted}

    async def options(self, user: AdminUser, kind: str, target: str | None, search: str | None,
                      limit: int | None, offset: int) -> list[tuple[int, str]]:
        """The choices of a foreign-key drop-down: rows the user may read, by readable value."""
        source, readable, where, args = self._readable_sql(user, kind, target)
        clauses = [f"({where})"]
        extra_args: list[Any] = []
        if kind == "unit":
            clauses.append("(t.valid_to IS NULL OR t.valid_to > {})")
            extra_args.append(local_today())
            within = picker_units(self.rt.config, user)
            if within is not None:
                clauses.append(within.sql)
                extra_args += within.args
        searched = bool(search and search.strip())
        if searched:
            # a word prefix ignoring case and diacritics ("tra vinh" finds "Trà Vinh"), or the id
            found, found_args = picker_match(readable, search or "")
            clauses.append(found)
            extra_args += found_args
        limit = min(limit or OPTIONS_LIMIT, 1000)
        offset = max(offset, 0)
        select = f"SELECT t.id AS id, {readable} AS readable FROM {source} t WHERE {' AND '.join(clauses)}"
        rows = None
        if searched and len(fold(search or "")) >= 3:
            # The matches first, at most PICKER_MATCHES of them, then sorted. PostgreSQL would otherwise walk the
            # readable value's index in order, folding each row until enough match: for a text near the end of the
            # order, 700,000 cases read (3.5 s, against 50 ms from the fold index, a trigram index, which serves
            # three letters or more). So the matches are read from that index alone. More matches than that: the
            # walk in order, as before.
            cap = self.PICKER_MATCHES
            sql = (f"SELECT id, readable, COUNT(*) OVER () AS matches FROM ({select} LIMIT {cap + 1}) m "
                   "ORDER BY 2, 1 LIMIT {} OFFSET {}")
            if self.rt.db.is_sqlite:  # (no fold index there; and a transaction would take the write lock)
                found_rows = await self.rt.db.fetch(sql, *args, *extra_args, limit, offset)
            else:
                async with self.rt.db.transaction():  # the settings last for this statement's transaction only
                    for scan in ("seqscan", "indexscan", "indexonlyscan"):
                        await self.rt.db.execute(f"SET LOCAL enable_{scan} = off")
                    found_rows = await self.rt.db.fetch(sql, *args, *extra_args, limit, offset)
            if (found_rows and int(found_rows[0]["matches"]) <= cap) or (not found_rows and not offset):
                rows = found_rows
        if rows is None:
            rows = await self.rt.db.fetch(f"{select} ORDER BY 2, t.id LIMIT {{}} OFFSET {{}}", *args, *extra_args,
                                          limit, offset)
        return [(int(r["id"]), str(r["readable"]) if r["readable"] not in (None, "")
                 else self._fallback(user, kind, target, r["id"])) for r in rows]


def _reload_seconds() -> float:
    return setting("HOSO_ADMIN_RELOAD_SECONDS")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


class AdminApp:
    """The ASGI application Litestar mounts at ``/admin``."""

    RETRY_SECONDS = 30.0

    def __init__(self, rt: Runtime, settings: WebSettings, mount: str = MOUNT):
        self.base = rt
        self.settings = settings
        self.mount = mount.rstrip("/")
        self.reload_seconds = _reload_seconds()
        self.build: AdminBuild | None = None
        self._checked = 0.0
        self._failed: tuple[str, float | None, float] | None = None
        self._lock = asyncio.Lock()

    @property
    def _admin_file(self) -> Path:
        return Path(self.base.config.root) / ADMIN_FILE

    def _make(self, rt: Runtime) -> AdminBuild:
        # The time first: a change made while the file is read is then picked up by the next refresh.
        mtime = _mtime(Path(rt.config.root) / ADMIN_FILE)
        return AdminBuild(rt, self.settings, load_admin_config(rt.config), mtime)

    async def start(self) -> None:
        """Build the admin for the runtime's configuration (at application start-up, or when a process switches
        to new definitions: in a thread, so that requests go on meanwhile)."""
        self.build = await anyio.to_thread.run_sync(self._make, self.base)
        self._checked = time.monotonic()

    # -- rebuilding after a migration -------------------------------------------------------------------------
    def _rebuild(self, applied: str) -> AdminBuild | None:
        from hoso.config import load_config
        from hoso.model.tables import build_tables
        from hoso.plugin_manager import config_extensions
        from hoso.runtime import Runtime
        from hoso.scope import ScopeRules

        base = self.base
        config = load_config(base.config.root, **base.registry.config_options(), **config_extensions(base.pm))
        if config.content_hash != applied:
            log.warning("the database holds definitions %s but the configuration in %s is %s: the admin keeps "
                        "the definitions it has", applied[:12], base.config.root, config.content_hash[:12])
            return None
        if self.build is not None and config.content_hash == self.build.hash:
            rt = self.build.rt
        else:
            rt = Runtime(config, base.pm, base.registry, base.db, build_tables(base.db, config, base.registry),
                         ScopeRules(config, base.scope.plugin_rules))
        new = self._make(rt)
        new.router  # noqa: B018 - made here, in the rebuild's thread: requests keep the old build meanwhile
        return new

    async def refresh(self, force: bool = False) -> AdminBuild:
        """The current build, rebuilt first when the database or ``admin.yaml`` changed since it was made."""
        build = self.build
        if build is None:
            raise RuntimeError("the admin is not started")
        now = time.monotonic()
        if not force and now - self._checked < self.reload_seconds:
            return build
        self._checked = now
        applied = await self.base.db.fetchval(
            "SELECT content_hash FROM hoso_schema_state ORDER BY id DESC LIMIT 1")
        admin_mtime = _mtime(self._admin_file)
        if applied is None or (applied == build.hash and admin_mtime == build.admin_mtime):
            return build
        if self._failed and self._failed[:2] == (applied, admin_mtime) and now - self._failed[2] < self.RETRY_SECONDS:
            return build
        async with self._lock:
            current = self.build
            if current is not None and current is not build:  # another request rebuilt it meanwhile
                return current
            try:
                new = await anyio.to_thread.run_sync(self._rebuild, applied)
            except Exception:
                log.exception("rebuilding the admin for definitions %s failed; it keeps the previous ones",
                              applied[:12])
                new = None
            if new is None:
                self._failed = (applied, admin_mtime, now)
                return build
            self._failed = None
            self.build = new
            log.info("admin rebuilt for definitions %s", applied[:12])
            return new

    # -- ASGI ------------------------------------------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return
        raw = scope.get("raw_path") or b""
        raw = raw.split(b"?", 1)[0] if isinstance(raw, bytes) else raw
        raw_path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
        if raw_path == self.mount:
            query = scope.get("query_string") or b""
            location = self.mount + "/" + (("?" + query.decode("latin-1")) if query else "")
            await _send_plain(send, 308, b"", [(b"location", location.encode("latin-1"))])
            return
        if raw_path:
            # Litestar hands a mounted app its path with a trailing slash added ("/x.js" -> "/x.js/"): take the
            # path from the request line instead.
            if not raw_path.startswith(self.mount + "/"):
                await _send_plain(send, 404, b"Not Found")
                return
            path = unquote(raw_path[len(self.mount):])
        else:
            path = scope.get("path") or "/"
            if not path.startswith("/"):
                await _send_plain(send, 404, b"Not Found")
                return
        if self.build is None:
            await _send_plain(send, 503, b"The admin is starting")
            return
        if scope["type"] == "http" and not self._same_site(scope):
            body = problem_message(403, msg("cross_origin", _cookie_lang(scope)), slug="forbidden")
            await _send_plain(send, 403, body, content_type=b"application/problem+json")
            return
        build = await self.refresh()
        root = scope.get("root_path", "").rstrip("/") + self.mount
        inner = dict(scope)
        inner["root_path"] = root
        inner["path"] = root + path
        inner["raw_path"] = (root.encode("utf-8") + raw[len(self.mount):]) if raw_path else (root + path).encode()
        inner["hoso.admin"] = build
        inner.pop("user", None)
        inner.pop("auth", None)
        CURRENT_USER.set(None)
        lang = _TRANSLATION.match(path)
        if lang and lang.group(1).lower() in ("vi", "en") and scope["type"] == "http":
            send = _with_cookie(send, f"{LANG_COOKIE}={lang.group(1).lower()}; Path={root}; SameSite=Lax; "
                                      f"Max-Age={365 * 24 * 3600}")
        router = build.router if build.router_ready else await anyio.to_thread.run_sync(lambda: build.router)
        await router(inner, receive, send)

    def _same_site(self, scope) -> bool:
        """Writes must come from this site: Origin (else Referer) naming the Host or an allowed host. This is
        checked before piccolo-admin's double-submit CSRF cookie, which a sibling origin could plant."""
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return True
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}
        return origin_allowed(headers.get("origin"), headers.get("referer"), headers.get("host"),
                              self.settings.allowed_hosts)

    def handlers(self) -> list:
        """The Litestar route handler mounting this app."""
        from litestar import asgi
        from litestar.types import Receive, Scope, Send

        app = self

        @asgi(self.mount, is_mount=True, copy_scope=True, include_in_schema=False)
        async def hoso_admin(scope: Scope, receive: Receive, send: Send) -> None:
            await app(scope, receive, send)

        return [hoso_admin]


def _with_cookie(send, cookie: str):
    """``send`` adding a Set-Cookie header to the response (the admin language the user picked)."""

    async def wrapped(message):
        if message["type"] == "http.response.start" and message.get("status") == 200:
            message = {**message, "headers": [*message.get("headers", []),
                                              (b"set-cookie", cookie.encode("latin-1"))]}
        await send(message)

    return wrapped


def _cookie_lang(scope) -> str:
    for name, value in scope.get("headers") or []:
        if name.lower() == b"cookie" and f"{LANG_COOKIE}=en".encode() in value:
            return "en"
    return "vi"


async def _send_plain(send, status: int, body: bytes, headers: list | None = None,
                      content_type: bytes = b"text/plain; charset=utf-8") -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})
