"""The directory's kept answers: retired by any audited write of what it shows, in any process (issue 12, item 4).

``answers_follow_every_write`` runs inside the directory's own test (tests/legal_aid/test_directory.py), on the
database and app it already built, on both engines."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from hoso.audit import AuditEvent, write_audit
from hoso.records.context import RecordContext
from hoso_legal_aid.directory_cache import (
    CHANGE_TABLE,
    VERSION_TABLE,
    Answer,
    AnswerCache,
    directory_changes,
    directory_version,
)

TODAY = dt.date(2026, 3, 4)
PLUGIN_ROOT = Path(__file__).resolve().parents[2] / "plugins" / "legal_aid"


def maker(body: bytes, calls: list[int], pause: float = 0.0, keep: bool = True):
    async def make():
        calls.append(1)
        await asyncio.sleep(pause)
        return (Answer(body, "text/plain"), None) if keep else (None, "refused")
    return make


async def test_one_reading_serves_every_request_of_a_version_and_a_new_version_retires_it():
    cache, calls = AnswerCache(owner=None), []
    # requests missing the same answer at once wait for one reading
    got = await asyncio.gather(*(cache.get(1, TODAY, ("/d", ()), maker(b"v1", calls, 0.01)) for _ in range(5)))
    assert [a.body for a, _ in got] == [b"v1"] * 5 and len(calls) == 1
    assert (await cache.get(1, TODAY, ("/d", ()), maker(b"other", calls)))[0].body == b"v1" and len(calls) == 1
    # another request, another day, another version: read again
    assert (await cache.get(1, TODAY, ("/d", (("q", "a"),)), maker(b"q", calls)))[0].body == b"q"
    assert (await cache.get(1, TODAY + dt.timedelta(1), ("/d", ()), maker(b"tomorrow", calls)))[0].body == b"tomorrow"
    assert (await cache.get(2, TODAY, ("/d", ()), maker(b"v2", calls)))[0].body == b"v2" and len(calls) == 4
    assert len(cache) == 1  # the copies of version 1 are gone
    # a request still reading at an older version answers, but keeps nothing
    assert (await cache.get(1, TODAY, ("/old", ()), maker(b"late", calls)))[0].body == b"late" and len(cache) == 1


def showing(body: bytes, calls: list[int], shows):
    async def make():
        calls.append(1)
        return Answer(body, "text/plain", None if shows is None else (shows[0], frozenset(shows[1]))), None
    return make


async def test_a_change_of_a_record_retires_only_the_answers_that_show_it():
    cache, calls = AnswerCache(owner=None), []
    answers = {"a": ("organisation", {1, 2}), "b": ("organisation", {3}), "c": ("performer", {1}), "d": None}
    for name, shows in answers.items():
        await cache.get(1, TODAY, (name, ()), showing(name.encode(), calls, shows))
    asked = []

    async def changes(since, upto):
        asked.append((since, upto))
        return [("performer", 9), ("organisation", 1)]

    await cache.get(3, TODAY, ("b", ()), showing(b"new", calls, None), changes)
    assert asked == [(1, 3)] and len(calls) == 4  # "b" shows organisation 3 only: kept
    await cache.get(3, TODAY, ("c", ()), showing(b"new", calls, None), changes)
    assert len(calls) == 4  # another list: kept
    for name in ("a", "d"):  # organisation 1 in it, or an answer every change retires
        assert (await cache.get(3, TODAY, (name, ()), showing(b"new", calls, None), changes))[0].body == b"new"
    assert len(calls) == 6 and asked == [(1, 3)]

    async def unknown(since, upto):
        return None

    await cache.get(4, TODAY, ("b", ()), showing(b"newer", calls, None), unknown)
    assert len(cache) == 1 and len(calls) == 7  # all retired


class _Oracle:
    """What a cache must answer: an answer kept at version v is still good at version V when no change after v up
    to V touched it (a change of records: the answers of that list showing one of them; an unknown change: all; an
    answer of no list: any change)."""

    def __init__(self):
        self.kept: dict[str, tuple[int, tuple | None, bytes]] = {}
        self.changes: dict[int, list[tuple[str, int]] | None] = {}

    def touched(self, since: int, upto: int):
        out: list[tuple[str, int]] = []
        for v in range(since + 1, upto + 1):
            found = self.changes.get(v, [])
            if found is None:
                return None
            out += found
        return out

    def still_good(self, name: str, version: int) -> bool:
        if name not in self.kept:
            return False
        made, shows, _body = self.kept[name]
        if shows is None:  # an answer of no list: any newer version retires it
            return made == version
        touched = self.touched(made, version)
        return touched is not None and not any(e == shows[0] and r in shows[1] for e, r in touched)


_SHOWS = st.one_of(st.none(), st.tuples(st.sampled_from(["organisation", "performer"]),
                                        st.frozensets(st.integers(1, 3), max_size=3)))
_STEPS = st.lists(st.one_of(
    st.tuples(st.just("ask"), st.sampled_from("abc"), _SHOWS),
    st.tuples(st.just("change"), st.one_of(st.none(), st.lists(
        st.tuples(st.sampled_from(["organisation", "performer"]), st.integers(1, 3)), max_size=2)))),
    max_size=25)


@settings(max_examples=300, deadline=None)
@given(_STEPS)
def test_the_cache_answers_what_a_reading_would_after_any_changes(steps):
    """Against a plain-Python oracle: a request is answered from a kept copy exactly when no change since it was
    made touched it; otherwise it is read again (and then kept)."""

    async def run():
        cache, oracle, version, made = AnswerCache(owner=None), _Oracle(), 1, 0

        async def changes(since, upto):
            return oracle.touched(since, upto)

        for step in steps:
            if step[0] == "change":
                version += 1
                oracle.changes[version] = step[1]
                continue
            _ask, name, shows = step
            good = oracle.still_good(name, version)
            body = f"{name}@{version}#{made}".encode()
            answer, _ = await cache.get(version, TODAY, (name, ()), showing(body, [], shows), changes)
            if good:
                assert answer.body == oracle.kept[name][2], (name, version)
            else:
                assert answer.body == body, (name, version)
                oracle.kept[name] = (version, shows, body)
                made += 1

    asyncio.run(run())


async def test_a_refusal_is_never_kept_and_the_oldest_answers_go_first():
    cache, calls = AnswerCache(owner=None, max_bytes=10), []
    for _ in range(2):
        assert await cache.get(1, TODAY, ("/bad", ()), maker(b"", calls, keep=False)) == (None, "refused")
    assert len(calls) == 2 and len(cache) == 0
    for name in ("a", "b", "c"):
        await cache.get(1, TODAY, (name, ()), maker(b"1234", calls))
    await cache.get(1, TODAY, ("a", ()), maker(b"1234", calls))  # "a" is read again: "b" is now the oldest
    assert len(calls) == 6 and len(cache) == 2
    await cache.get(1, TODAY, ("c", ()), maker(b"1234", calls))
    await cache.get(1, TODAY, ("a", ()), maker(b"1234", calls))
    assert len(calls) == 6  # "a" and "c" kept, "b" dropped
    await cache.get(1, TODAY, ("big", ()), maker(b"x" * 11, calls))
    assert len(cache) == 2  # larger than the whole cache: not kept, nothing dropped for it


async def test_a_failed_reading_lets_the_waiting_requests_read_for_themselves():
    cache, calls = AnswerCache(owner=None), []

    async def failing():
        await asyncio.sleep(0.01)
        raise RuntimeError("the database went away")

    first = asyncio.ensure_future(cache.get(1, TODAY, ("/d", ()), failing))
    await asyncio.sleep(0)
    second = await cache.get(1, TODAY, ("/d", ()), maker(b"ok", calls))
    assert second[0].body == b"ok" and len(calls) == 1
    try:
        await first
    except RuntimeError:
        pass
    else:
        raise AssertionError("the failure reaches the request that met it")


async def _names(client, entity: str) -> list[str]:
    r = await client.get(f"/api/directory/{entity}")
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


def _write_in_another_process(root: Path, url: str, entity: str, record_id: int, values: dict) -> None:
    """Update a record through the record service of a new process (its own configuration and runtime)."""
    script = textwrap.dedent(f"""
        import asyncio
        import hoso_legal_aid
        from hoso.records.context import RecordContext
        from hoso.runtime import Runtime

        async def main():
            rt = Runtime.create({str(root)!r}, {url!r}, plugins=[hoso_legal_aid])
            try:
                svc, ctx = rt.records(), RecordContext.system(rt.config)
                row = await svc.get({entity!r}, {record_id}, ctx)
                await svc.update({entity!r}, {record_id}, {values!r}, row["sys_version"], ctx)
            finally:
                await rt.db.close()

        asyncio.run(main())
    """)
    env = {**os.environ, "HOSO_DISABLE_ENTRYPOINTS": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN_ROOT), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


async def answers_follow_every_write(rt, client, root: Path, url: str) -> None:
    """The app keeps its answers (a change made behind the record service's back is not seen), and any audited
    write of a directory entity or of the units, from this process or another, shows on the next request."""
    svc, ctx = rt.records(), RecordContext.system(rt.config)
    listed = (await client.get("/api/directory/organisation")).json()["items"][0]
    org = await svc.get("organisation", listed["id"], ctx)
    before = await _names(client, "organisation")
    await rt.db.execute("UPDATE organisation SET name = {} WHERE id = {}", "Đổi Ngoài Dịch Vụ", org["id"])
    assert await _names(client, "organisation") == before  # answered from the copy

    # a write through the record service of another runtime (another app's, a command's) retires the copy
    version = await directory_version(rt.db)
    other = await svc.get("performer", (await client.get("/api/directory/performer")).json()["items"][0]["id"], ctx)
    await svc.update("performer", other["id"], {"name": "Lê Thị Cúc"}, other["sys_version"], ctx)
    assert await directory_version(rt.db) == version + 1
    assert "Lê Thị Cúc" in await _names(client, "performer")
    assert "Đổi Ngoài Dịch Vụ" in await _names(client, "organisation")  # every list, not only the one written

    # a change of fields no answer reads (a note, a contract number) keeps the answers; one of a field only shown
    # (a phone) retires the answers showing the record, and only them; one of a field searched (a name), every one
    org = await svc.get("organisation", org["id"], ctx)
    org = await svc.update("organisation", org["id"], {"note": "Gia hạn hợp đồng", "contract_number": "HĐ-77"},
                           org["sys_version"], ctx)
    assert await directory_version(rt.db) == version + 1
    rows = (await client.get("/api/directory/organisation", params={"page_size": "100"})).json()["items"]
    other = next(i for i in rows if i["id"] != org["id"] and org["name"].split()[-1] not in i["name"])
    search = {"q": other["name"]}
    found = (await client.get("/api/directory/organisation", params=search)).json()["items"]
    assert other["id"] in [i["id"] for i in found] and org["id"] not in [i["id"] for i in found]
    await rt.db.execute("UPDATE organisation SET phone = {} WHERE id = {}", "0999999999", other["id"])
    org = await svc.update("organisation", org["id"], {"phone": "0281234567", "note": "Đổi số"}, org["sys_version"],
                           ctx)
    assert await directory_version(rt.db) == version + 2
    shown = [i for i in (await client.get("/api/directory/organisation", params={"page_size": "100"})).json()["items"]
             if i["id"] in (org["id"], other["id"])]
    assert {i["id"]: i["phone"] for i in shown} == {org["id"]: "0281234567", other["id"]: "0999999999"}
    kept = [i for i in (await client.get("/api/directory/organisation", params=search)).json()["items"]
            if i["id"] == other["id"]]
    assert [i["phone"] for i in kept] == [other["phone"]]  # not showing the record changed: kept as it was
    org = await svc.update("organisation", org["id"], {"name": f"{org['name']} Mới"}, org["sys_version"], ctx)
    assert await directory_version(rt.db) == version + 3
    again = [i for i in (await client.get("/api/directory/organisation", params=search)).json()["items"]
             if i["id"] == other["id"]]
    assert [i["phone"] for i in again] == ["0999999999"]  # a name changed: every answer read again
    # what the processes read: the record of a phone changed; nothing for a name (every answer); nothing for a
    # version whose changes are no longer recorded
    assert await directory_changes(rt.db, version + 1, version + 2) == [("organisation", org["id"])]
    assert await directory_changes(rt.db, version + 1, version + 3) is None
    await rt.db.execute(f"DELETE FROM {CHANGE_TABLE} WHERE version = {{}}", version + 2)
    assert await directory_changes(rt.db, version + 1, version + 2) is None
    version += 2

    # an import of many records bumps the version once; a write of an entity the directory does not show never
    made = await svc.create_many("performer", [{"name": f"Đỗ Văn {i}", "kind": "assistant",
                                                "unit": org["unit"]} for i in range(3)], ctx)
    assert await directory_version(rt.db) == version + 2 and len(made) == 3
    recorded = await rt.db.fetch(f"SELECT record_id FROM {CHANGE_TABLE} WHERE version = {{}}", version + 2)
    assert [r["record_id"] for r in recorded] == [None]  # new records: every answer, said once
    async with rt.db.transaction():
        await write_audit(rt.pm, rt.db, AuditEvent("create", "case", 1, None, "test", "test"))
    assert await directory_version(rt.db) == version + 2
    assert await rt.db.fetchval(f"SELECT COUNT(*) FROM {VERSION_TABLE}") == 1

    # a change of the units (a restructuring audits itself as `hoso_unit`, in its transaction)
    unit = await rt.db.fetchval("SELECT unit FROM organisation WHERE id = {}", org["id"])
    async with rt.db.transaction():
        await rt.db.execute("UPDATE hoso_unit SET name_vi = {} WHERE id = {}", "Trung tâm Đổi Tên", unit)
        await write_audit(rt.pm, rt.db, AuditEvent("restructure", "hoso_unit", None, None, "test", "cli"))
    units = [i["unit"]["name"] for i in (await client.get("/api/directory/organisation")).json()["items"]
             if i["id"] == org["id"]]
    assert units == ["Trung tâm Đổi Tên"]

    # a write made by another process, with its own configuration loaded
    _write_in_another_process(root, url, "organisation", org["id"], {"name": "Công ty Luật Từ Nơi Khác"})
    assert "Công ty Luật Từ Nơi Khác" in await _names(client, "organisation")
    page = await client.get("/directory")
    assert "Công ty Luật Từ Nơi Khác" in page.text and page.headers["cache-control"] == "no-store"
