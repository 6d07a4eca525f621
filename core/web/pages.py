"""The small server-rendered home page: a login form, or counts per entity and the newest cases.

Plain HTML with a little inline CSS; every value from the database or the configuration is escaped.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TYPE_CHECKING, Any

from hoso.db import quote

if TYPE_CHECKING:  # pragma: no cover
    from hoso.runtime import Runtime
    from hoso.web.auth import CurrentUser

__all__ = ["login_page", "home_page", "newest_cases", "entity_counts"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:0;color:#1f2933;background:#f5f7fa}
header{background:#7a1f1f;color:#fff;padding:.6rem 1.2rem;display:flex;justify-content:space-between;align-items:center}
header h1{font-size:1.1rem;margin:0}
header form{margin:0}
main{padding:1rem 1.2rem;max-width:1100px}
table{border-collapse:collapse;background:#fff;width:100%;font-size:.9rem}
th,td{border:1px solid #d9e2ec;padding:.3rem .5rem;text-align:left}
th{background:#e4e7eb}
.counts{display:flex;gap:.8rem;flex-wrap:wrap;margin-bottom:1rem}
.count{background:#fff;border:1px solid #d9e2ec;padding:.5rem .8rem}
.count b{display:block;font-size:1.4rem}
.login{max-width:340px;margin:4rem auto;background:#fff;border:1px solid #d9e2ec;padding:1.2rem}
.login label{display:block;margin:.6rem 0 .2rem}
.login input{width:100%;box-sizing:border-box;padding:.4rem}
.error{color:#a61b1b}
button{padding:.4rem .9rem;margin-top:.8rem}
"""

TITLE = "Hồ sơ trợ giúp pháp lý"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )


def login_page(error: str | None = None, username: str = "") -> str:
    err = f'<p class="error" role="alert">{escape(error)}</p>' if error else ""
    body = (
        '<form class="login" method="post" action="/login">'
        f"<h1>{escape(TITLE)}</h1>{err}"
        '<label for="username">Tên đăng nhập</label>'
        f'<input id="username" name="username" autocomplete="username" required value="{escape(username)}">'
        '<label for="password">Mật khẩu</label>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required>'
        '<button type="submit">Đăng nhập</button></form>'
    )
    return _page(f"Đăng nhập - {TITLE}", body)


_DATE: dict = {}  # marks a date column of the overview: shown as dd/mm/yyyy


def _vn_date(v: Any) -> Any:
    """A date (or its ISO text, as SQLite returns it) as dd/mm/yyyy; anything else unchanged."""
    if isinstance(v, str):
        try:
            v = dt.date.fromisoformat(v[:10])
        except ValueError:
            return v
    return v.strftime("%d/%m/%Y") if isinstance(v, dt.date) else v


def _cell(v: Any) -> str:
    return "" if v is None else escape(str(v))


# The overview below is shown to superusers only (national scope), so it reads without a scope predicate.
async def entity_counts(rt: Runtime) -> list[tuple[str, int]]:
    out = []
    for e in rt.config.entities:
        n = await rt.db.fetchval(f"SELECT COUNT(*) AS n FROM {quote(e.table)} WHERE sys_deleted_at IS NULL")
        out.append((e.label.get("vi"), int(n or 0)))
    return out


async def newest_cases(rt: Runtime, limit: int = 50) -> tuple[list[str], list[list[Any]]]:
    """Headers and rows of the ``limit`` newest cases (code, received on, requester, unit, status)."""
    if not rt.config.has_entity("case"):
        return [], []
    e = rt.config.entity("case")
    cols: list[tuple[str, str, Any]] = []  # (select expression, header, choice labels or None)
    code_field = e.naming.field if e.naming else ("code" if e.has_field("code") else None)
    for name in (code_field, "received_on", "requester_name"):
        if name and e.has_field(name) and not e.field(name).is_child_table:
            cols.append((f"c.{quote(name)}", e.field(name).label.get("vi"),
                         _DATE if e.field(name).type == "date" else None))
    join = ""
    if e.unit_field and e.has_field(e.unit_field):
        join = f" LEFT JOIN hoso_unit u ON u.id = c.{quote(e.unit_field)}"
        cols.append(("u.name_vi", e.field(e.unit_field).label.get("vi"), None))
    if e.has_field("status"):
        fd = e.field("status")
        labels = None
        if fd.list:
            labels = {o.value: o.label.get("vi") for o in rt.config.choice_list(fd.list).options}
        cols.append(("c.status", fd.label.get("vi"), labels))
    if not cols:
        return [], []
    select = ", ".join(f"{expr} AS c{i}" for i, (expr, _h, _l) in enumerate(cols))
    rows = await rt.db.fetch(
        f"SELECT {select} FROM {quote(e.table)} c{join} WHERE c.sys_deleted_at IS NULL "
        f"ORDER BY c.id DESC LIMIT {{}}", limit)
    out = []
    for r in rows:
        line = []
        for i, (_expr, _h, labels) in enumerate(cols):
            v = r[f"c{i}"]
            if labels is _DATE:
                line.append(_vn_date(v))
            else:
                line.append(labels.get(v, v) if labels and v is not None else v)
        out.append(line)
    return [h for _e, h, _l in cols], out


async def home_page(rt: Runtime, user: CurrentUser) -> str:
    header = (
        f"<header><h1>{escape(TITLE)}</h1><div>{escape(user.name)} "
        '<form method="post" action="/logout" style="display:inline">'
        '<button type="submit" style="margin:0 0 0 .6rem">Đăng xuất</button></form></div></header>'
    )
    if not user.superuser:
        # Everyone else works in the admin, where every list is scoped to their units by the record service.
        main = ('<main><p>Hồ sơ trong phạm vi đơn vị của bạn ở <a href="/admin/">trang quản trị</a>.</p></main>')
        return _page(TITLE, header + main)
    counts = "".join(f'<div class="count">{escape(label)}<b>{n}</b></div>' for label, n in await entity_counts(rt))
    headers, rows = await newest_cases(rt)
    if headers:
        head = "".join(f"<th>{escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in r) + "</tr>" for r in rows)
        if not rows:
            body = f'<tr><td colspan="{len(headers)}">Chưa có vụ việc nào.</td></tr>'
        table = f"<h2>Vụ việc mới nhất</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    else:
        table = ""
    links = ('<p><a href="/admin/">Trang quản trị / Admin</a> · <a href="/schema/swagger">Tài liệu API / API '
             'documentation</a></p>')
    main = f'<main>{links}<h2>Số hồ sơ</h2><div class="counts">{counts}</div>{table}</main>'
    return _page(TITLE, header + main)
