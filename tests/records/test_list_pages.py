"""Lists at scale: bounded and exact counts, pages by cursor, prefix filters, the search index and the list
indexes that ``hoso migrate`` builds from ``list:`` and ``search:``; on both engines.

Properties are checked against plain Python: cursor pages concatenate to exactly the offset pages, and the
indexed search finds exactly the records whose folded text holds every folded word of the query.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hoso.config import load_config
from hoso.model.migrate import apply_plan, make_plan, search_index, search_table
from hoso.records.errors import ValidationError
from hoso.records.search import fold, search_text
from hoso.records.service import RecordContext
from hoso.runtime import Runtime
from hoso.units import sync_units
from hoso.users import create_user

TODAY = dt.date(2026, 1, 15)

FILES = {
    "forms_config/lists/lists.yaml": """
lists:
  kind:
    options:
      - {value: TV, vi: Tư vấn}
      - {value: TGTT, vi: Tham gia tố tụng}
      - {value: KN, vi: Kiến nghị}
""",
    "forms_config/entities/item.yaml": """
entity: item
label: {vi: Vụ việc, en: Case}
unit_field: unit
list:
  sort: -day
  sortable: [day, name, score]
search: {index: trigram}
fields:
  name: {type: text, label: {vi: Họ tên, en: Name}}
  note: {type: text, label: {vi: Ghi chú, en: Note}}
  day: {type: date, label: {vi: Ngày, en: Day}}
  score: {type: integer, label: {vi: Điểm, en: Score}}
  kind: {type: choice, list: kind, label: {vi: Hình thức, en: Kind}}
  unit: {type: org_unit, label: {vi: Đơn vị, en: Unit}}
  other: {type: reference, entity: other, label: {vi: Liên quan, en: Related}}
""",
    "forms_config/entities/other.yaml": """
entity: other
label: {vi: Khác, en: Other}
fields:
  title: {type: text, label: {vi: Tên, en: Title}}
""",
    "roles_config/hierarchy.yaml": """
levels: [province, centre]
unit_types:
  province: {level: province, label: {vi: Tỉnh}}
  centre: {level: centre, label: {vi: Trung tâm}}
units:
  - file: units/units.csv
""",
    "roles_config/units/units.csv": """code,name_vi,name_en,type,parent_code,valid_from
P01,Tỉnh Một,Province One,province,,2019-01-01
TT,Trung tâm Một,Centre One,centre,P01,2019-01-01
TT2,Trung tâm Hai,Centre Two,centre,P01,2019-01-01
P02,Tỉnh Hai,Province Two,province,,2019-01-01
TT3,Trung tâm Ba,Centre Three,centre,P02,2019-01-01
""",
    "roles_config/roles/staff.yaml": """
role: staff
label: {vi: Cán bộ}
grants:
  - {entity: item, scope: subtree, actions: [read, create, update]}
""",
    "roles_config/roles/desk.yaml": """
role: desk
label: {vi: Văn thư}
grants:
  - {entity: item, scope: unit, actions: [read]}
""",
}

# Syllables with and without diacritics: folded, several of them become the same word.
SYLLABLES = ["Nguyễn", "Nguyen", "NGUYỄN", "Văn", "Van", "An", "Ân", "Đức", "Duc", "Trần", "Thị", "Bình", "Binh",
             "Lê", "Phạm", "Hoàng", "Yến", "Đặng", "Cường", "Dung", "Hồ", "Chí", "Minh", "Anh", "Xuân"]
KINDS = ["TV", "TGTT", "KN", None]


def write_config(root, **replace: str):
    for rel, text in FILES.items():
        for old, new in replace.items():
            text = text.replace(old, new)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


class World:
    def __init__(self, rt):
        self.rt = rt
        self.svc = rt.records()
        self.units: dict[str, int] = {}
        self.users: dict[str, int] = {}
        self.entity = rt.config.entity("item")

    def ctx(self, user: str | None = None, lang: str = "en") -> RecordContext:
        if user is None:
            return RecordContext(self.rt.config, user_id=None, user_name="root", superuser=True, lang=lang, on=TODAY)
        return RecordContext(self.rt.config, user_id=self.users[user], user_name=user, lang=lang, on=TODAY)

    async def add_user(self, name: str, *holdings: tuple[str, str]) -> None:
        uid = await create_user(self.rt, name, "a-long-password", unit_code="TT", origin="test")
        for role, unit in holdings:
            await self.rt.db.execute(
                "INSERT INTO hoso_assignment (user_id, role, unit_id, starts_on, ends_on, created_at) "
                "VALUES ({}, {}, {}, {}, NULL, {})", uid, role, self.units[unit], dt.date(2000, 1, 1),
                dt.datetime.now(dt.UTC))
        self.users[name] = uid

    async def load(self, rows: list[dict]) -> list[int]:
        """Rows written with SQL, as imports and restructuring write them (search text included): the search
        index must follow writes that do not go through the record service."""
        ids = []
        now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        async with self.rt.db.transaction():  # one commit for all the rows (on SQLite one each took 10 ms or more)
            await self.rt.db.execute('DELETE FROM "item"')
            for i, r in enumerate(rows):
                values = {"name": r.get("name"), "note": r.get("note"), "day": r.get("day"), "score": r.get("score"),
                          "kind": r.get("kind"), "unit": self.units[r.get("unit", "TT")], "other": r.get("other")}
                values["sys_search"] = search_text(self.entity.search_fields, values)
                values.update(sys_version=1, sys_created_at=now + dt.timedelta(seconds=i % 3), sys_created_by=None)
                cols = ", ".join(f'"{c}"' for c in values)
                marks = ", ".join("{}" for _ in values)
                await self.rt.db.execute(f'INSERT INTO "item" ({cols}) VALUES ({marks})', *values.values())
        for r in await self.rt.db.fetch('SELECT id FROM "item" ORDER BY id'):
            ids.append(r["id"])
        return ids


async def make_world(config_root, url: str) -> World:
    rt = Runtime.create(load_config(config_root), url)
    await rt.db.start()
    plan = await make_plan(rt.db, rt.config, rt.registry)
    assert plan.ok, plan.render()
    if plan.has_changes:
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
    await sync_units(rt)
    w = World(rt)
    for r in await rt.db.fetch("SELECT id, code FROM hoso_unit"):
        w.units[r["code"]] = r["id"]
    return w


@pytest.fixture
async def world(tmp_path, database_url):
    w = await make_world(write_config(tmp_path / "config"), database_url)
    try:
        await w.add_user("staff", ("staff", "TT"))
        await w.add_user("province", ("staff", "P01"))
        await w.add_user("desk3", ("desk", "TT3"))
        await w.add_user("both", ("staff", "TT"), ("desk", "TT3"))
        yield w
    finally:
        await w.rt.db.close()


async def cursor_ids(w: World, ctx: RecordContext, most: int, **kw) -> list[int]:
    """The ids of the item list read page after page by cursor, from the first; at most ``most`` pages, and
    the last of them must say it is the last."""
    out: list[int] = []
    cursor = None
    for _ in range(most):
        got = await w.svc.list_page("item", ctx, cursor=cursor, count="none", **kw)
        out += [r["id"] for r in got.items]
        cursor = got.next_cursor
        if cursor is None:
            return out
    raise AssertionError("the cursor pages do not end")


def _rows(n: int, seed: int = 1) -> list[dict]:
    rnd = random.Random(seed)
    return [{"name": " ".join(rnd.sample(SYLLABLES, 3)),
             "day": dt.date(2025, 1, 1) + dt.timedelta(days=rnd.randint(0, 9)), "score": rnd.choice([None, 1, 2, 3]),
             "kind": rnd.choice(KINDS), "unit": rnd.choice(["TT", "TT2", "TT3"])}
            for _ in range(n)]


# -- counts -------------------------------------------------------------------------------------------------------


async def test_counts_are_exact_up_to_the_cap_then_bounded(world, monkeypatch):
    w = world
    await w.load(_rows(12))
    root = w.ctx()
    monkeypatch.setenv("HOSO_LIST_COUNT_CAP", "5")
    page = await w.svc.list_page("item", root, page_size=3)
    assert (page.total, page.total_exact, len(page.items)) == (5, False, 3), "more than 5: said as at least 5"
    page = await w.svc.list_page("item", root, page_size=3, count="exact")
    assert (page.total, page.total_exact) == (12, True)
    page = await w.svc.list_page("item", root, page_size=3, count="none")
    assert page.total is None and len(page.items) == 3
    # a selection under the cap is counted exactly in auto mode
    n_kn = sum(1 for r in await w.rt.db.fetch('SELECT kind FROM "item"') if r["kind"] == "KN")
    assert n_kn <= 5
    page = await w.svc.list_page("item", root, filters={"kind": "KN"})
    assert (page.total, page.total_exact) == (n_kn, True)
    # a page past the end still says how many there are
    page = await w.svc.list_page("item", root, page=9, page_size=3, count="exact")
    assert page.items == [] and page.total == 12
    page = await w.svc.list_page("item", root, page=9, page_size=3)
    assert page.items == [] and (page.total, page.total_exact) == (5, False)
    # the scope bounds the count: TT's staff see TT's rows only
    tt = int(await w.rt.db.fetchval('SELECT COUNT(*) FROM "item" WHERE unit = {}', w.units["TT"]))
    assert (await w.svc.list_page("item", w.ctx("staff"), count="exact")).total == tt
    with pytest.raises(ValidationError) as exc:
        await w.svc.list_page("item", root, count="all")
    assert [f for f, _m in exc.value.problems] == ["count"]


# -- cursors ------------------------------------------------------------------------------------------------------

SORT_COLUMNS = ["day", "name", "score", "kind", "id", "sys_created_at", "unit"]


@pytest.fixture
def property_world(tmp_path, database_url):
    root = write_config(tmp_path / "config")

    async def setup():
        w = await make_world(root, database_url)
        await w.add_user("staff", ("staff", "P01"))
        await w.rt.db.close()
        return w.users

    users = asyncio.run(setup())
    return root, database_url, users


row_strategy = st.fixed_dictionaries({
    "name": st.one_of(st.none(), st.lists(st.sampled_from(SYLLABLES), min_size=1, max_size=3).map(" ".join)),
    "day": st.one_of(st.none(), st.dates(dt.date(2025, 1, 1), dt.date(2025, 1, 6))),
    "score": st.one_of(st.none(), st.integers(-2, 2)),
    "kind": st.sampled_from(KINDS),
    "unit": st.sampled_from(["TT", "TT2", "TT3"]),
})
sort_strategy = st.lists(st.tuples(st.sampled_from(SORT_COLUMNS), st.booleans()), min_size=0, max_size=3,
                         unique_by=lambda k: k[0])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, max_size=25), sort=sort_strategy, size=st.integers(1, 7),
       scoped=st.booleans(), kind=st.sampled_from([None, "TV"]))
def test_cursor_pages_concatenate_to_the_offset_pages(property_world, rows, sort, size, scoped, kind):
    root, url, users = property_world

    async def run():
        w = await make_world(root, url)
        w.users = users
        try:
            await w.load(rows)
            ctx = w.ctx("staff") if scoped else w.ctx()
            keys = [("-" if desc else "") + name for name, desc in sort] or None
            filters = {"kind": kind} if kind else None
            everything = await w.svc.list_page("item", ctx, sort=keys, filters=filters, page_size=1000,
                                               count="exact")
            offset: list[int] = []
            page = 1
            while True:
                got = await w.svc.list_page("item", ctx, sort=keys, filters=filters, page=page, page_size=size)
                if not got.items:
                    break
                offset += [r["id"] for r in got.items]
                page += 1
            by_cursor = await cursor_ids(w, ctx, len(rows) + 2, sort=keys, filters=filters, page_size=size)
            expected = [r["id"] for r in everything.items]
            assert offset == expected
            assert by_cursor == expected, (keys, size)
            visible = {r["id"] for r in await w.rt.db.fetch(
                'SELECT id FROM "item"' + (" WHERE unit <> {}" if scoped else ""),
                *([w.units["TT3"]] if scoped else []))
                if not kind or r["id"] in {x["id"] for x in everything.items}}
            assert set(expected) == visible and len(expected) == everything.total
        finally:
            await w.rt.db.close()

    asyncio.run(run())


async def test_forged_or_stale_cursors_are_refused(world):
    w = world
    await w.load(_rows(9))
    root = w.ctx()
    first = await w.svc.list_page("item", root, sort="-day", page_size=2)
    assert first.next_cursor
    second = await w.svc.list_page("item", root, sort="-day", page_size=2, cursor=first.next_cursor)
    assert second.page is None and [r["id"] for r in second.items] != [r["id"] for r in first.items]

    def reforged(values) -> str:
        text = base64.urlsafe_b64decode(first.next_cursor + "=" * (-len(first.next_cursor) % 4)).decode()
        data = json.loads(text.rpartition("|")[0])
        body = json.dumps({"v": values, "f": data["f"]}, separators=(",", ":"))
        check = hashlib.sha256(body.encode()).hexdigest()[:8]
        return base64.urlsafe_b64encode(f"{body}|{check}".encode()).decode()

    c = first.next_cursor
    bad = {
        "altered": c[:-3] + ("A" if c[-3] != "A" else "B") + c[-2:],
        "garbage": "not a cursor!",
        "empty": "",
        "another sort": (await w.svc.list_page("item", root, sort="name", page_size=2)).next_cursor,
        "other filters": (await w.svc.list_page("item", root, sort="-day", page_size=2,
                                                filters={"kind": {"ne": "KN"}})).next_cursor,
        "a date that is none": reforged(["1; DROP TABLE item", 3]),
        "an id that is text": reforged(["2025-01-02", "x'); --"]),
        "an id too large": reforged(["2025-01-02", 2 ** 40]),
        "no id": reforged(["2025-01-02", None]),
        "too few values": reforged([3]),
        "an object": reforged([{"a": 1}, 3]),
    }
    for why, cursor in bad.items():
        with pytest.raises(ValidationError) as exc:
            await w.svc.list_page("item", root, sort="-day", page_size=2, cursor=cursor)
        assert [f for f, _m in exc.value.problems] == ["cursor"], why
    # a well-formed cursor with other values is only a position: still within the scope
    page = await w.svc.list_page("item", w.ctx("staff"), sort="-day", cursor=reforged(["2030-01-01", 10 ** 6]))
    assert {r["unit"] for r in page.items} <= {w.units["TT"]}
    with pytest.raises(ValidationError) as exc:
        await w.svc.list_page("item", root, sort="-day", page=2, cursor=c)
    assert [f for f, _m in exc.value.problems] == ["cursor"]


# -- filters ------------------------------------------------------------------------------------------------------


async def test_each_filter_kind(world):
    w = world
    other = await w.svc.create("other", {"title": "x"}, w.ctx())
    rows = [
        {"name": "Nguyễn Văn An", "day": dt.date(2025, 1, 2), "score": 5, "kind": "TV", "other": other["id"]},
        {"name": "NGUYEN Thi Binh", "day": dt.date(2025, 1, 5), "score": 10, "kind": "TGTT"},
        {"name": "Trần Nguyên", "day": dt.date(2025, 2, 1), "score": None, "kind": "KN", "unit": "TT2"},
        {"name": "Đặng Đức", "day": None, "score": 7, "kind": "TV", "unit": "TT3"},
        {"name": "Ông_Già 100%", "day": dt.date(2025, 1, 3), "score": 1, "kind": None},
    ]
    ids = await w.load(rows)
    root = w.ctx()

    async def found(**filters) -> set[int]:
        page = await w.svc.list_page("item", root, filters=filters, count="exact")
        assert page.total == len(page.items)
        return {ids.index(r["id"]) for r in page.items}

    assert await found(kind="TV") == {0, 3}, "a choice is equal, never a substring"
    assert await found(kind="T") == set()
    assert await found(kind={"in": ["TGTT", "KN"]}) == {1, 2}
    assert await found(other=other["id"]) == {0}
    assert await found(unit=w.units["TT3"]) == {3}
    assert await found(day={"gte": "2025-01-03", "lt": "2025-02-01"}) == {1, 4}
    assert await found(day={"null": True}) == {3}
    assert await found(score={"gt": 1, "lte": 7}) == {0, 3}
    # text by prefix, ignoring case and diacritics, on both engines; LIKE's wildcards are literal
    assert await found(name={"starts": "nguyen"}) == {0, 1, 2}  # a word prefix: "Trần Nguyên" too
    assert await found(name={"starts": "NGUYỄN VĂN"}) == {0}
    assert await found(name={"starts": "guyen"}) == set(), "a prefix, not a substring"
    assert await found(name={"starts": "đặng đ"}) == {3}
    assert await found(name={"starts": "dang d"}) == {3}
    assert await found(name={"starts": "tran nguyen"}) == {2}
    assert await found(name={"starts": "ong_"}) == {4}
    assert await found(name={"starts": "ong%"}) == set()
    assert await found(name={"starts": "on_"}) == set()
    for bad in ({"score": {"starts": "1"}}, {"name": {"starts": "  "}}, {"kind": {"starts": "T"}},
                {"name": {"starts": 3}}):
        with pytest.raises(ValidationError) as exc:
            await w.svc.list_page("item", root, filters=bad)
        assert [f for f, _m in exc.value.problems] == [f"filters.{next(iter(bad))}"], bad


# -- search -------------------------------------------------------------------------------------------------------

word_strategy = st.sampled_from(SYLLABLES + ["guy", "ng", "an", "uyen", "DUC", "đ", "x%", "ễn v", "binh an"])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row_strategy, min_size=1, max_size=20), query=st.lists(word_strategy, min_size=1, max_size=3))
def test_indexed_search_finds_what_the_oracle_finds(property_world, rows, query):
    root, url, users = property_world
    q = " ".join(query)

    async def run():
        w = await make_world(root, url)
        try:
            ids = await w.load(rows)
            words = fold(q).split()
            expected = {ids[i] for i, r in enumerate(rows) if all(x in fold(r["name"] or "") for x in words)}
            page = await w.svc.list_page("item", w.ctx(), search=q, page_size=1000, count="exact")
            assert {r["id"] for r in page.items} == expected and page.total == len(expected), q
            if w.rt.db.is_sqlite:
                assert await w.svc.store.search_table(w.entity), "the FTS5 table is used"
                w.svc.store.cache.search_tables["item"] = None  # the LIKE search alone, as before the index
                plain = await w.svc.list_page("item", w.ctx(), search=q, page_size=1000)
                assert {r["id"] for r in plain.items} == expected
        finally:
            await w.rt.db.close()

    asyncio.run(run())


async def test_search_finds_vietnamese_names_without_diacritics_and_follows_writes(world):
    w = world
    staff = w.ctx("staff")
    rec = await w.svc.create("item", {"name": "Nguyễn Thị Ánh", "unit": w.units["TT"]}, staff)
    await w.svc.create("item", {"name": "Nguyễn Văn Bảo", "unit": w.units["TT3"]}, w.ctx())

    async def names(q: str, ctx=staff) -> list[str]:
        return sorted(r["name"] for r in (await w.svc.list_page("item", ctx, search=q)).items)

    assert await names("nguyen") == ["Nguyễn Thị Ánh"], "the other Nguyễn is out of scope"
    assert await names("NGUYEN", w.ctx()) == ["Nguyễn Thị Ánh", "Nguyễn Văn Bảo"]
    assert await names("anh") == ["Nguyễn Thị Ánh"]
    await w.svc.update("item", rec["id"], {"name": "Hoàng Yến"}, rec["sys_version"], staff)
    assert await names("nguyen") == [] and await names("hoang yen") == ["Hoàng Yến"]
    await w.rt.db.execute('DELETE FROM "item" WHERE id = {}', rec["id"])
    assert await names("hoang") == []



async def test_a_search_of_several_words_reads_the_search_index_once(world):
    """SQLite: the FTS5 table is asked once for every word (FTS5 intersects them), not once per word, which listed
    the rows of each word ("nguyen" alone a third of 1,000,000 cases); PostgreSQL's trigram index serves the LIKEs
    themselves."""
    w = world
    await w.svc.create("item", {"name": "Nguyễn Văn Khánh", "unit": w.units["TT"]}, w.ctx())
    await w.svc.create("item", {"name": "Nguyễn Văn Bảo", "unit": w.units["TT"]}, w.ctx())
    seen: list[str] = []
    fetch = w.rt.db.fetch

    async def spy(sql, *args):
        seen.append(sql)
        return await fetch(sql, *args)

    w.rt.db.fetch = spy  # type: ignore[method-assign]
    try:
        page = await w.svc.list_page("item", w.ctx(), search="nguyễn văn khánh", count="exact")
    finally:
        w.rt.db.fetch = fetch  # type: ignore[method-assign]
    assert [r["name"] for r in page.items] == ["Nguyễn Văn Khánh"] and page.total == 1
    searched = [sql for sql in seen if "sys_search" in sql]
    assert searched
    for sql in searched:  # once per selection (the page's statement carries its count's too)
        assert sql.count(" MATCH ") == (sql.count('FROM "item" t WHERE') if w.rt.db.is_sqlite else 0), sql


# -- migrate: the list and search indexes -------------------------------------------------------------------------


async def _index_names(db, table: str) -> set[str]:
    return await db.index_names(table)


async def test_migrate_builds_and_rebuilds_the_list_and_search_indexes(tmp_path, database_url):
    root = write_config(tmp_path / "config")
    rt = Runtime.create(load_config(root), database_url)
    await rt.db.start()
    try:
        plan = await make_plan(rt.db, rt.config, rt.registry)
        text = plan.render()
        entity = rt.config.entity("item")
        (search_name,) = search_index(entity)
        assert "list index ix_item_list_scope_day_id on (sys_scope_unit, unit, day, id)" in text
        assert "list index ix_item_list_scope_name_id" in text and "list index ix_item_list_scope_score_id" in text
        assert "list index ix_item_list_day_id on (day, id)" in text, "for users whose scope spans every unit"
        assert f"search index (trigram: name, note) {search_name} on (sys_search)" in text
        await apply_plan(rt.db, rt.config, rt.registry, plan, applied_by="test")
        have = await rt.db.index_names("item")
        assert {"ix_item_list_scope_day_id", "ix_item_list_scope_name_id", "ix_item_list_scope_score_id",
                "ix_item_list_day_id", "ix_item_list_name_id", "ix_item_list_score_id"} <= have
        if rt.db.is_sqlite:
            assert search_table(search_name) in await rt.db.table_names()
        else:
            assert search_name in have
        await sync_units(rt)
        unit = int(await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'"))
        for name in ("Nguyễn An", "Trần Bình"):
            await rt.db.execute('INSERT INTO "item" (name, unit, sys_search, sys_version, sys_created_at) '
                                "VALUES ({}, {}, {}, 1, {})", name, unit, fold(name),
                                dt.datetime.now(dt.UTC))
        # search only the note from now on: a new index (another name), the old one dropped, the text recomputed
        root2 = write_config(tmp_path / "config2", **{"search: {index: trigram}":
                                                      "search: {index: trigram, fields: [note]}",
                                                      "sortable: [day, name, score]": "sortable: [day, score]"})
        rt2 = Runtime.create(load_config(root2), db=rt.db)
        plan2 = await make_plan(rt2.db, rt2.config, rt2.registry)
        (new_name,) = search_index(rt2.config.entity("item"))
        text2 = plan2.render()
        assert new_name != search_name
        assert f"drop search index (trigram: name, note) {search_name}" in text2
        assert f"search index (trigram: note) {new_name} on (sys_search) [2 rows]" in text2
        assert "drop list index ix_item_list_scope_name_id" in text2
        await apply_plan(rt2.db, rt2.config, rt2.registry, plan2, applied_by="test")
        have = await rt.db.index_names("item")
        assert "ix_item_list_scope_name_id" not in have and search_name not in have
        if rt.db.is_sqlite:
            tables = await rt.db.table_names()
            assert search_table(new_name) in tables and search_table(search_name) not in tables
        # the rows inserted before the index are in it (SQLite: the FTS table was filled from the table)
        svc = rt2.records()
        root_ctx = RecordContext.system(rt2.config)
        assert (await svc.list_page("item", root_ctx, search="nguyen")).total == 1, "old text until reindexed"
        await svc.reindex_search("item", root_ctx)
        assert (await svc.list_page("item", root_ctx, search="nguyen")).total == 0, "the name is no longer searched"
        assert (await make_plan(rt2.db, rt2.config, rt2.registry)).has_changes is False
    finally:
        await rt.db.close()


def test_migrate_cli_recomputes_the_search_text_for_a_new_search_index(tmp_path, database_url):
    from click.testing import CliRunner

    from hoso.cli import main

    root = write_config(tmp_path / "config", **{"search: {index: trigram}\n": ""})
    runner = CliRunner()
    result = runner.invoke(main, ["migrate", "--config", str(root), "--database", database_url, "--yes"])
    assert result.exit_code == 0, result.output

    async def load():
        rt = Runtime.create(load_config(root), database_url)
        await rt.db.start()
        try:
            unit = int(await rt.db.fetchval("SELECT id FROM hoso_unit WHERE code = 'TT'"))
            await rt.db.execute('INSERT INTO "item" (name, unit, sys_version, sys_created_at) VALUES ({}, {}, 1, {})',
                                "Nguyễn Ánh", unit, dt.datetime.now(dt.UTC))  # loaded without its search text
        finally:
            await rt.db.close()

    async def found() -> int | None:
        rt = Runtime.create(load_config(root), database_url)
        await rt.db.start()
        try:
            page = await rt.records().list_page("item", RecordContext.system(rt.config), search="nguyen anh")
            return page.total
        finally:
            await rt.db.close()

    asyncio.run(load())
    assert asyncio.run(found()) == 0
    root = write_config(tmp_path / "config")
    result = runner.invoke(main, ["migrate", "--config", str(root), "--database", database_url, "--yes"])
    assert result.exit_code == 0, result.output
    assert "Indexed 1 item record(s) for search." in result.output
    assert asyncio.run(found()) == 1


async def test_a_scoped_sorted_first_page_is_an_index_range_scan(world):
    """PostgreSQL's EXPLAIN (after ANALYZE) and SQLite's EXPLAIN QUERY PLAN: the page is read from the list index
    in its order, never sorted."""
    w = world
    sqlite = w.rt.db.is_sqlite
    await w.load(_rows(4000, seed=7))
    await w.rt.db.execute("ANALYZE" if sqlite else 'ANALYZE "item"')
    seen: list[tuple[str, tuple]] = []
    fetch = w.rt.db.fetch

    async def spy(sql, *args):
        seen.append((sql, args))
        return await fetch(sql, *args)

    async def plans(*calls) -> list[str]:
        seen.clear()
        w.rt.db.fetch = spy  # type: ignore[method-assign]
        try:
            for ctx, kw in calls:
                page = await w.svc.list_page("item", ctx, sort="-day", page_size=50, **kw)
                assert page.items
        finally:
            w.rt.db.fetch = fetch  # type: ignore[method-assign]
        out = []
        for sql, args in [(s, a) for s, a in seen if "ORDER BY" in s]:
            rows = await w.rt.db.fetch(("EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN ") + sql, *args)
            out.append("\n".join(str(r["detail"] if sqlite else r["QUERY PLAN"]) for r in rows))
        return out

    def read_in_order(plan: str, index: str) -> None:
        if sqlite:
            lines = [line.split(" (")[0] for line in plan.splitlines()]
            assert any(line.endswith(f" t USING INDEX {index}") for line in lines), plan
            assert "TEMP B-TREE" not in plan, "the page is read in index order, not sorted"
        else:
            assert f"Index Scan Backward using {index} on item t " in plan, plan
            assert "Sort" not in plan, "the page is read in index order, not sorted"

    # a centre user's page: the unit's range of the index that starts with the unit
    (plan,) = await plans((w.ctx("staff"), {}))
    read_in_order(plan, "ix_item_list_scope_day_id")
    # a user who sees every unit reads the index without the unit, also from a cursor on
    first = await w.svc.list_page("item", w.ctx(), sort="-day", page_size=50)
    for plan in await plans((w.ctx(), {}), (w.ctx(), {"cursor": first.next_cursor, "count": "none"})):
        read_in_order(plan, "ix_item_list_day_id")


async def test_a_count_filtered_on_a_sortable_column_reads_the_list_index_alone(world):
    """The list indexes hold live rows only: a national user's count of ``score = 2`` is read from the index of
    that column, without visiting the table to skip deleted rows (1M cases, ``status=accepted``: 20 ms -> 2.4 ms)."""
    w = world
    sqlite = w.rt.db.is_sqlite
    await w.load(_rows(4000, seed=5))
    await w.rt.db.execute("ANALYZE" if sqlite else 'VACUUM ANALYZE "item"')  # VACUUM: PostgreSQL's visibility map
    seen: list[tuple[str, tuple]] = []
    fetch = w.rt.db.fetch

    async def spy(sql, *args):
        seen.append((sql, args))
        return await fetch(sql, *args)

    w.rt.db.fetch = spy  # type: ignore[method-assign]
    try:
        page = await w.svc.list_page("item", w.ctx(), filters={"score": 2}, page_size=10)
    finally:
        w.rt.db.fetch = fetch  # type: ignore[method-assign]
    assert page.total and page.total > 10
    [(sql, args)] = [(s, a) for s, a in seen if "COUNT(*)" in s]
    if sqlite:
        rows = await w.rt.db.fetch("EXPLAIN QUERY PLAN " + sql, *args)
        plan = "\n".join(str(r["detail"]) for r in rows)
        assert "USING COVERING INDEX ix_item_list_score_id (score=?)" in plan, plan
    else:
        async with w.rt.db.transaction():
            for kind in ("seqscan", "bitmapscan"):  # a table this small would be read whole
                await w.rt.db.execute(f"SET LOCAL enable_{kind} = off")
            rows = await w.rt.db.fetch("EXPLAIN " + sql, *args)
        plan = "\n".join(str(r["QUERY PLAN"]) for r in rows)
        assert "Index Only Scan using ix_item_list_score_id on item t" in plan, plan


# -- scope: several roles at several units --------------------------------------------------------------------------


async def test_several_roles_at_several_units_see_exactly_the_union(world):
    w = world
    ids = await w.load(_rows(30, seed=3))
    by_unit: dict[int, set[int]] = {}
    for r in await w.rt.db.fetch('SELECT id, unit FROM "item"'):
        by_unit.setdefault(r["unit"], set()).add(r["id"])

    async def seen(user: str) -> set[int]:
        page = await w.svc.list_page("item", w.ctx(user), page_size=7, count="exact")
        out = [r["id"] for r in page.items]
        cursor = page.next_cursor
        while cursor:
            more = await w.svc.list_page("item", w.ctx(user), page_size=7, cursor=cursor, count="none")
            out += [r["id"] for r in more.items]
            cursor = more.next_cursor
        assert len(out) == len(set(out)) == page.total
        return set(out)

    staff, desk3, both = await seen("staff"), await seen("desk3"), await seen("both")
    assert staff == by_unit.get(w.units["TT"], set()) and desk3 == by_unit.get(w.units["TT3"], set())
    assert both == staff | desk3 and staff and desk3
    assert await seen("province") == by_unit.get(w.units["TT"], set()) | by_unit.get(w.units["TT2"], set())
    assert len(ids) == 30
