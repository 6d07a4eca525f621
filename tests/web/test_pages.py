"""The server-rendered home page: login form, counts and newest cases, escaping."""

from __future__ import annotations

from tests.web.conftest import PASSWORD


async def test_anonymous_visitors_get_a_login_form(web):
    r = await web.client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html") and "utf-8" in r.headers["content-type"]
    assert '<form class="login" method="post" action="/login">' in r.text
    assert "Đăng nhập" in r.text and 'name="password"' in r.text


async def test_form_login_shows_counts_and_newest_cases_escaped(web):
    await web.user("phuong.admin", superuser=True)
    parent = await web.rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'P01'")
    unit = await web.rt.db.fetchval(
        "INSERT INTO hoso_unit (code, name_vi, type, parent_id) VALUES ({}, {}, {}, {}) RETURNING id",
        "X1", "<script>alert('x')</script> & Co", "centre", parent)
    from hoso.records.service import RecordContext

    svc = web.rt.records()
    ctx = RecordContext.system(web.rt.config, origin="test")
    await svc.create("case", {"received_on": "2024-02-03", "form_of_aid": "TGTT", "unit": unit,
                              "requester": "Đỗ Thị Hoa"}, ctx)

    bad = await web.client.post("/login", data={"username": "phuong.admin", "password": "wrong-password"})
    assert bad.status_code == 401 and "không đúng" in bad.text
    assert len(await web.audit("login_failed")) == 1

    r = await web.client.post("/login", data={"username": "phuong.admin", "password": PASSWORD},
                              follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "hoso_session=" in r.headers["set-cookie"]
    page = await web.client.get("/")
    assert page.status_code == 200
    html = page.text
    assert "Người dùng phuong.admin" in html  # display name
    assert "Vụ việc" in html and "<b>1</b>" in html and "Đơn vị" in html  # count per entity
    assert "X1.TGTT.01.2024" in html and "03/02/2024" in html and "2024-02-03" not in html  # dd/mm/yyyy
    assert 'href="/admin/"' in html and 'href="/schema/swagger"' in html  # the way to the admin and the API docs
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; Co" in html
    assert "<script>" not in html
    assert '<form method="post" action="/logout"' in html

    out = await web.client.post("/logout")  # follows the redirect back to the login form
    assert out.status_code == 200 and 'action="/login"' in out.text
    assert len(await web.audit("logout")) == 1
    assert (await web.client.get("/api/me")).status_code == 401


async def test_users_without_a_role_see_no_records_on_the_page(web):
    await web.user("quang.staff")
    assert (await web.login("quang.staff")).status_code == 200
    html = (await web.client.get("/")).text
    # No unscoped overview for a non-superuser: a link to the admin, where lists are scoped.
    assert 'href="/admin/"' in html and "<table" not in html
