"""piccolo-admin, assembled for hoso: the hook points into piccolo-admin 1.14 / piccolo-api 1.11 live here.

Hook points (``tests/admin/test_hook_points.py`` fails loudly when a pinned upgrade moves one):

1. ``piccolo_admin.endpoints.AdminRouter.__init__`` builds each table's CRUD by the module-level name
   ``PiccoloCRUD``. ``build_router`` swaps that name for a factory of ``hoso.admin.crud.ScopedCRUD`` while
   ``create_admin`` runs (and ``AdminRouter`` for ``HosoAdminRouter``), under a lock, and checks afterwards
   that every table got a ``ScopedCRUD``.
2. ``AdminRouter`` mounts its private API at ``/api`` behind starlette's ``AuthenticationMiddleware``; its
   ``backend`` is replaced by ``hoso.admin.auth.HosoAuthBackend`` (hoso's sessions).
3. Routes are inserted in front of piccolo-admin's own: ``/public/login/`` and ``/public/logout/`` (hoso's
   login), ``/api/change-password/`` (hoso's password rules), and hoso's pages under ``/hoso/``.
4. ``HosoAdminRouter.__call__`` bounds request bodies before piccolo-admin reads them: writes to the API's limit
   (Litestar's ``request_max_body_size``), uploads to ``/api/media/`` to the largest field the user may stage a
   file for (403 when none), within their staging quota; over the limit is a 413. Its ``store_file`` (the
   media route's endpoint) checks the field, its ``max_size`` and the quota (``hoso.admin.media``).
5. ``HosoAdminRouter`` answers the table and form lists per user (``get_table_list``, ``get_table_list_grouped``,
   ``get_forms``, ``get_grouped_forms``, ``get_single_form``, ``get_single_form_schema``,
   ``post_single_form``): a user sees the entities their roles can read and the forms they may use.
"""

from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING, Any

import piccolo_admin.endpoints as pae
from fastapi import File, Form, UploadFile
from piccolo.columns import Varchar
from piccolo_admin.endpoints import (
    FormConfigResponseModel,
    GroupedFormsResponseModel,
    GroupedTableNamesResponseModel,
    StoreFileResponseModel,
    TableConfig,
)
from piccolo_api.crud.endpoints import OrderBy
from starlette.exceptions import HTTPException
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.body_limit import RequestBodyLimitResponder
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from hoso.admin import accounts, approvals, home, imports, jobs, pages, plugin_pages, record_page, reports, search
from hoso.admin.auth import (
    AdminUser,
    HosoAuthBackend,
    admin_user,
    auth_error,
    change_password_endpoint,
    login_endpoint,
    logout_endpoint,
    request_lang,
)
from hoso.admin.crud import ScopedCRUD
from hoso.admin.forms import form_configs
from hoso.admin.media import (
    StagedAttachments,
    StagingLimits,
    StagingRefused,
    stageable_fields,
    staged_usage,
    sweep_staged,
)
from hoso.admin.translations import translations
from hoso.i18n import t
from hoso.web.problems import msg

if TYPE_CHECKING:  # pragma: no cover
    from hoso.admin.app import AdminBuild

__all__ = ["HookPointChanged", "HosoAdminRouter", "build_router", "HOOKED_CRUD_METHODS"]

_LOCK = threading.Lock()
DEFAULT_BODY_LIMIT = 10_000_000  # Litestar's default request_max_body_size, when the admin runs outside it
MULTIPART_OVERHEAD = 64 * 1024  # form fields and part headers around an uploaded file
_BODY_METHODS = ("POST", "PUT", "PATCH", "DELETE")
# The PiccoloCRUD methods piccolo-admin's routes call, all overridden by ScopedCRUD.
HOOKED_CRUD_METHODS = ("root", "get_all", "detail", "get_single", "get_ids", "get_count", "get_schema", "get_new",
                       "get_references", "post_single", "patch_single", "put_single", "delete_single", "delete_all",
                       "_apply_filters")


class _OriginChecked(tuple):
    """piccolo-admin's CSRF middleware compares, over HTTPS only, the Origin's host name with a fixed list. The
    admin (``hoso.admin.app.AdminApp``) has already refused every write whose Origin or Referer names neither the
    request's Host nor ``HOSO_ALLOWED_HOSTS`` (port included), so the host that reaches piccolo-admin is one
    that was allowed: a fixed empty list refused every write behind a TLS proxy."""

    def __contains__(self, host: object) -> bool:
        return isinstance(host, str) and bool(host)


ORIGIN_CHECKED = _OriginChecked()


class HookPointChanged(RuntimeError):
    """piccolo-admin or piccolo-api no longer has the internals hoso hooks into: do not serve an unscoped admin."""


def _user(request: Request) -> AdminUser:
    user = request.scope.get("user")
    if not isinstance(user, AdminUser):
        raise HTTPException(status_code=401, detail="Auth failed")
    return user


def _localized_413(send, detail: str):
    """``send`` that gives the 413 of starlette's body limit the admin's message (JSON ``detail``)."""
    body = json.dumps({"detail": detail}, ensure_ascii=False).encode("utf-8")
    replacing = False

    async def wrapped(message):
        nonlocal replacing
        if message["type"] == "http.response.start" and message.get("status") == 413:
            replacing = True
            message = {**message, "headers": [(b"content-type", b"application/json"),
                                              (b"content-length", str(len(body)).encode())]}
        elif message["type"] == "http.response.body" and replacing:
            message = {**message, "body": body if not message.get("more_body") else b""}
        await send(message)

    return wrapped


class HosoAdminRouter(pae.AdminRouter):
    """piccolo-admin's router whose table and form lists depend on the user."""

    hoso_build: AdminBuild

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope.get("method") in _BODY_METHODS:
            try:
                limit, detail = await self._body_limit(scope)
            except StagingRefused as exc:
                lang = request_lang(HTTPConnection(scope), self.hoso_build.admin.default_language)
                await JSONResponse({"detail": t(exc.key, lang, **exc.params)}, status_code=exc.status)(
                    scope, receive, send)
                return
            if limit is not None:
                length = dict(scope.get("headers") or []).get(b"content-length", b"")
                if length.strip().isdigit() and int(length) > limit:
                    await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)
                    return
                # starlette's limiter, which FastAPI's body parsing answers with 413 whoever reads the body
                responder = RequestBodyLimitResponder(lambda s, r, se: pae.AdminRouter.__call__(self, s, r, se),
                                                      limit)
                await responder(scope, receive, _localized_413(send, detail))
                return
        await super().__call__(scope, receive, send)

    async def _body_limit(self, scope) -> tuple[int | None, str]:
        """The most bytes this request's body may hold, and the message refusing more."""
        from hoso.records.attachments import human_size

        conn = HTTPConnection(scope)
        lang = request_lang(conn, self.hoso_build.admin.default_language)
        path = scope.get("path", "")[len(scope.get("root_path", "").rstrip("/")):]
        if path == "/api/media/" and scope.get("method") == "POST":
            user = await admin_user(conn)
            if user is None:
                return None, ""  # the authentication answers 401 before the body is read
            sizes = stageable_fields(self.hoso_build, user).values()
            if not sizes:
                raise StagingRefused(403, "staging_forbidden")
            limits = StagingLimits.from_env()
            files, used = staged_usage(user.current.id, limits)
            if files >= limits.max_files:
                raise StagingRefused(429, "staging_files", n=limits.max_files)
            room = limits.max_bytes - used
            if room < max(sizes):
                return max(room, 0) + MULTIPART_OVERHEAD, t("staging_quota", lang,
                                                            limit=human_size(limits.max_bytes))
            return max(sizes) + MULTIPART_OVERHEAD, t("body_too_large", lang, limit=human_size(max(sizes)))
        if path == "/hoso/import/preview" and scope.get("method") == "POST":
            from hoso.settings import get as setting

            limit = setting("HOSO_IMPORT_MAX_BYTES")
            more = t("import_more_than", lang, limit=limit)
            return limit + MULTIPART_OVERHEAD, t("import_too_large", lang, size=more, limit=limit)
        app = scope.get("app")
        limit = getattr(app, "request_max_body_size", None) if app is not None and app is not self else None
        limit = DEFAULT_BODY_LIMIT if not isinstance(limit, int) else limit
        return limit, t("body_too_large", lang, limit=human_size(limit))

    async def store_file(self, request: Request, table_name: str = Form(None),
                         column_name: str = Form(None),
                         file: UploadFile = File(...)) -> StoreFileResponseModel:  # noqa: B008 - FastAPI's markers
        """Stage an upload for one attachment field the user may write, within its limit and their quota."""
        user = _user(request)
        if (table_name, column_name) not in stageable_fields(self.hoso_build, user):
            raise HTTPException(status_code=403, detail=t("staging_forbidden", user.lang))
        storage = self._get_media_storage(table_name=table_name, column_name=column_name)
        try:
            key = await storage.store_file(file_name=str(file.filename), file=file.file, user=user.user)
        except StagingRefused as exc:
            raise HTTPException(status_code=exc.status, detail=t(exc.key, user.lang, **exc.params)) from None
        return StoreFileResponseModel(file_key=key)

    def get_table_list(self, request: Request) -> list[str]:  # type: ignore[override]
        return [s.tablename for s in self.hoso_build.menu_tables(_user(request))]

    def get_table_list_grouped(self, request: Request) -> GroupedTableNamesResponseModel:  # type: ignore[override]
        user = _user(request)
        response = GroupedTableNamesResponseModel()
        for group, specs in self.hoso_build.menu(user):
            names = [s.tablename for s in specs]
            if group is None:
                response.ungrouped.extend(names)
            else:
                response.grouped.setdefault(group, []).extend(names)
        return response

    def _forms_for(self, user: AdminUser):
        off = user.modules_off.get("reports", frozenset()) | user.modules_off.get("menus", frozenset())
        return [f for f in self.hoso_build.forms if f.may(user) and f.name not in off]

    def _form(self, user: AdminUser, slug: str):
        form = next((f for f in self._forms_for(user) if f.name == slug), None)
        if form is None:
            raise HTTPException(status_code=404, detail="No such form found")
        return form

    @staticmethod
    def _form_response(form, lang: str) -> FormConfigResponseModel:
        return FormConfigResponseModel(name=form.label.get(lang), slug=form.name,
                                       description=form.description.get(lang) if form.description else None)

    def get_forms(self, request: Request) -> list[FormConfigResponseModel]:  # type: ignore[override]
        user = _user(request)
        return [self._form_response(f, user.lang) for f in self._forms_for(user)]

    def get_grouped_forms(self, request: Request) -> GroupedFormsResponseModel:  # type: ignore[override]
        user = _user(request)
        response = GroupedFormsResponseModel()
        for form in self._forms_for(user):
            item = self._form_response(form, user.lang)
            if form.group is None:
                response.ungrouped.append(item)
            else:
                response.grouped.setdefault(form.group.get(user.lang), []).append(item)
        return response

    def get_single_form(self, request: Request, form_slug: str) -> FormConfigResponseModel:  # type: ignore[override]
        user = _user(request)
        return self._form_response(self._form(user, form_slug), user.lang)

    def get_single_form_schema(self, request: Request, form_slug: str) -> dict[str, Any]:  # type: ignore[override]
        user = _user(request)
        return self._form(user, form_slug).model(user.lang).model_json_schema()

    async def post_single_form(self, request: Request, form_slug: str) -> Any:
        user = _user(request)
        self._form(user, form_slug)  # 404 unless the user may use it
        try:
            data = await request.json()  # starlette keeps it for piccolo-admin's handler
        except ValueError:
            data = None
        if not isinstance(data, dict):  # piccolo-admin would call the form's model with **data and fail (a 500)
            return JSONResponse({"detail": msg("json_object", user.lang)}, status_code=400)
        return await super().post_single_form(request, form_slug)


def _table_configs(build: AdminBuild) -> list[TableConfig]:
    configs = []
    for spec in build.tables.specs.values():
        table = spec.table
        media = [StagedAttachments(getattr(table, f.name),
                                   spec.entity_def.attachment_limits(f.name)[0] if spec.kind == "entity" else None)
                 for f in spec.fields if f.traits.refers_to == "file" and isinstance(getattr(table, f.name), Varchar)]
        visible = [getattr(table, n) for n in spec.list_columns if hasattr(table, n)]
        link = None
        if spec.entity is not None and spec.kind == "entity":
            title = spec.entity.title_field
            if title and title in spec.list_columns and not hasattr(getattr(table, title), "_foreign_key_meta"):
                link = getattr(table, title)
        configs.append(TableConfig(
            table_class=table,
            visible_columns=[table._meta.primary_key, *visible] if visible and link is None else visible or None,
            media_storage=media or None,
            link_column=link,
            order_by=[OrderBy(column=table._meta.primary_key, ascending=False)],
        ))
    return configs


def build_router(build: AdminBuild) -> HosoAdminRouter:
    """piccolo-admin for ``build``, with every table's CRUD scoped (see the module docstring)."""
    rt, settings, admin = build.rt, build.settings, build.admin
    created: list[ScopedCRUD] = []

    def crud_factory(table, **kwargs):
        crud = ScopedCRUD(table, build=build, **kwargs)
        created.append(crud)
        return crud

    table_configs = _table_configs(build)
    with _LOCK:
        if not hasattr(pae, "PiccoloCRUD") or not hasattr(pae, "AdminRouter"):
            raise HookPointChanged("piccolo_admin.endpoints no longer names PiccoloCRUD and AdminRouter")
        original_crud, original_router = pae.PiccoloCRUD, pae.AdminRouter
        # piccolo-admin has no hook for these two classes: they are swapped for this one call (under the lock)
        pae.PiccoloCRUD, pae.AdminRouter = crud_factory, HosoAdminRouter  # type: ignore[misc, assignment]
        try:
            router = pae.create_admin(
                tables=table_configs,
                forms=form_configs(build),
                auth_table=rt.tables.users,
                session_table=rt.tables.sessions,
                session_expiry=settings.session_idle,
                max_session_expiry=settings.session_max,
                increase_expiry=None,
                page_size=20,
                read_only=False,
                production=settings.secure_cookie,
                site_name=admin.site_name.get(admin.default_language),
                default_language_code=admin.default_language,
                translations=translations(admin.default_language),
                auto_include_related=False,
                sidebar_links={t("history", admin.default_language): "./hoso/history/",
                               t("reports", admin.default_language): "./hoso/reports/",
                               t("import_title", admin.default_language): "./hoso/import/",
                               **plugin_pages.menu_links(build, admin.default_language),
                               t("approvals", admin.default_language): "./hoso/approvals/",
                               t("jobs_page", admin.default_language): "./hoso/jobs/",
                               t("search_title", admin.default_language): "./hoso/search/",
                               t("acct_page", admin.default_language): "./hoso/accounts/"},
                allowed_hosts=ORIGIN_CHECKED,
            )
        finally:
            # mypy refuses assigning to a class name; this puts back the classes swapped above
            pae.PiccoloCRUD, pae.AdminRouter = original_crud, original_router  # type: ignore[misc]
    if not isinstance(router, HosoAdminRouter):
        raise HookPointChanged("create_admin no longer builds its router from piccolo_admin.endpoints.AdminRouter")
    if len(created) != len(table_configs) or any(not isinstance(c, ScopedCRUD) for c in created):
        raise HookPointChanged(f"piccolo-admin built {len(created)} scoped CRUDs for {len(table_configs)} tables: "
                               "it no longer builds them by the name piccolo_admin.endpoints.PiccoloCRUD")
    router.hoso_build = build
    build.cruds = {c.spec.tablename: c for c in created}
    sweep_staged()  # staged files left over from before the start, expired since

    # 2. hoso's sessions instead of piccolo_api's
    private = None
    for route in router.routes:
        if isinstance(route, Mount) and route.path == "/api" and isinstance(route.app, AuthenticationMiddleware):
            route.app.backend = HosoAuthBackend()
            route.app.on_error = auth_error  # 403 naming a required password change, else piccolo's 401
            private = route.app.app
    if private is None or not hasattr(private, "router"):
        raise HookPointChanged("piccolo-admin no longer mounts its API at /api behind AuthenticationMiddleware")

    # 3. hoso's login, logout, password change and pages, in front of piccolo-admin's own routes
    front = [
        Route("/public/login/", login_endpoint, methods=["POST"]),
        Route("/public/login", login_endpoint, methods=["POST"]),
        Route("/public/logout/", logout_endpoint, methods=["POST"]),
        Route("/public/logout", logout_endpoint, methods=["POST"]),
        *pages.routes(),
        *reports.routes(),
        *imports.routes(),
        *plugin_pages.page_routes(build),
        *approvals.routes(),
        *jobs.routes(),
        *search.routes(),
        *accounts.routes(),
        *record_page.routes(),
        *home.routes(),
    ]
    router.router.routes[0:0] = front
    private.router.routes.insert(0, Route("/change-password/", change_password_endpoint, methods=["POST"]))
    router.template = pages.inject(router.template)
    router.template = search.inject(router.template)
    router.template = record_page.inject(router.template)
    return router
