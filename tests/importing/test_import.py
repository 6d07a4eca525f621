"""Importing CSV and XLSX files: matching, preview, all-or-nothing, re-import, scope, audit."""

from __future__ import annotations

import datetime as dt
import io
import json
import unicodedata

import openpyxl
import pytest

from hoso.hookspecs import hookimpl
from hoso.importing import FileProblem, ImportOptions, import_file, preview, read_table
from hoso.records.service import Forbidden

HEADER = "Ngày tiếp nhận,Form of aid,requester,Tuổi,Đơn vị,Diện"


def _csv(*lines: str, header: str = HEADER, encoding: str = "utf-8-sig") -> bytes:
    return ("\r\n".join([header, *lines]) + "\r\n").encode(encoding)


GOOD = ["03/03/2025,Tư vấn pháp luật,Nguyễn Văn An,40,TT,Trẻ em",
        "45720,TV,Trần Thị Bình,1.0,Trung tâm Một,Trẻ em; Người nghèo",
        "2025-03-05,Legal advice,Lê Văn Cường,,tt2,"]


async def _import(world, data: bytes, user: str = "director", name: str = "cases.csv", **options):
    table = read_table(name, data, "en")
    return await import_file(world.rt, world.ctx(user), "case", table, ImportOptions(**options))


async def test_a_file_is_matched_read_and_written_through_the_record_service(world):
    result = await _import(world, _csv(*GOOD))
    assert result.problems == []
    assert (result.created, result.duplicates, result.skipped) == (3, 0, 0)
    rows = await world.rt.db.fetch('SELECT code, received_on, form_of_aid, requester, age, unit, beneficiary_groups, '
                                   'status, sys_created_by FROM "case" ORDER BY id')
    got = [(str(r["received_on"]), r["form_of_aid"], r["requester"], r["age"], r["unit"],
            json.loads(r["beneficiary_groups"]) if r["beneficiary_groups"] else None, r["status"]) for r in rows]
    assert got == [("2025-03-03", "TV", "Nguyễn Văn An", 40, world.units["TT"], ["TE"], "received"),
                   ("2025-03-04", "TV", "Trần Thị Bình", 1, world.units["TT"], ["TE", "NN"], "received"),
                   ("2025-03-05", "TV", "Lê Văn Cường", None, world.units["TT2"], None, "received")]
    assert [r["code"] for r in rows] == ["TT.TV.01.2025", "TT.TV.02.2025", "TT2.TV.01.2025"]
    assert {r["sys_created_by"] for r in rows} == {world.users["director"]}
    audit = await world.rt.db.fetch("SELECT action, record_id, changes FROM hoso_audit WHERE entity = 'case' "
                                    "ORDER BY id")
    assert [a["action"] for a in audit] == ["create"] * 3 + ["import"]
    detail = json.loads(audit[-1]["changes"])
    assert detail["@file"] == "cases.csv" and detail["@created"] == 3 and detail["@rows"] == 3
    assert detail["@sha256"] == result.sha256
    assert await world.count("hoso_h_case") == 3


async def test_reimporting_the_same_file_creates_nothing_again(world):
    first = await _import(world, _csv(*GOOD))
    again = await _import(world, _csv(*GOOD, GOOD[0]))  # one more line, a repeat of the first
    assert (first.created, again.created, again.duplicates) == (3, 0, 4)
    assert await world.count() == 3
    imports = await world.rt.db.fetch("SELECT created, duplicates, status FROM hoso_import ORDER BY id")
    assert [(r["created"], r["duplicates"], r["status"]) for r in imports] == [(3, 0, "done"), (0, 4, "done")]


async def test_a_key_column_finds_records_entered_before(world):
    await world.svc.create("case", world.case(requester="Nguyễn Văn An"), world.ctx("director"))
    result = await _import(world, _csv(*GOOD), key="requester")
    assert (result.created, result.duplicates) == (2, 1)


async def test_bad_rows_write_nothing_and_are_named_by_row_and_column(world):
    data = _csv(GOOD[0], "31/02/2025,Tư vấn,Trần Thị Bình,abc,TT9,Ai đó", GOOD[2], ",TV,,200,TT,")
    result = await _import(world, data)
    assert result.created == 0 and not result.written
    assert await world.count() == 0 and await world.count("hoso_import") == 0
    got = {(p.row, p.column) for p in result.problems}
    assert {(3, "Ngày tiếp nhận"), (3, "Form of aid"), (3, "Tuổi"), (3, "Đơn vị"), (3, "Diện"),
            (5, "Ngày tiếp nhận"), (5, "requester"), (5, "Tuổi")} <= got
    assert result.bad_rows == [3, 5]
    skipped = await _import(world, data, skip_bad=True)
    assert (skipped.created, skipped.skipped) == (2, 2)
    assert await world.count() == 2


async def test_unknown_columns_stop_the_import_until_the_user_leaves_them_out(world):
    data = _csv("03/03/2025,TV,Nguyễn Văn An,40,TT,,x,TT.TV.09.2025",
                header=HEADER + ",Ghi chú riêng,Mã")
    result = await _import(world, data)
    assert result.blocking and result.created == 0
    assert {p.column for p in result.problems} == {"Ghi chú riêng", "Mã"}
    assert result.unknown == ["Ghi chú riêng", "Mã"]
    result = await _import(world, data, ignore=frozenset({"Ghi chú riêng", "Mã"}))
    assert result.created == 1
    assert await world.rt.db.fetchval('SELECT code FROM "case"') == "TT.TV.01.2025"  # the series', not the file's


async def test_repeated_and_empty_headers_are_problems_of_the_header(world):
    data = _csv("03/03/2025,TV,An,40,TT,,", header="Ngày tiếp nhận,Hình thức,requester,Tuổi,Đơn vị,Tuổi,")
    result = await _import(world, data)
    assert result.blocking
    messages = {(p.row, p.column) for p in result.problems}
    assert (1, "Tuổi") in messages
    assert await world.count() == 0


async def test_a_user_imports_only_into_units_where_they_may_create(world):
    data = _csv(GOOD[0], "03/03/2025,TV,Người tỉnh khác,40,TT3,")
    result = await _import(world, data, user="staff")
    assert result.created == 0 and await world.count() == 0
    assert [(p.row, p.column) for p in result.problems] == [(3, "Đơn vị")]
    with pytest.raises(Forbidden):
        await _import(world, _csv(GOOD[0]), user="nobody")


async def test_preview_writes_nothing(world):
    table = read_table("cases.csv", _csv(*GOOD), "vi")
    before = {t: await world.count(t) for t in ("case", "hoso_audit", "hoso_series", "hoso_h_case")}
    result = await preview(world.rt, world.ctx("director"), "case", table)
    assert result.would_create == 3 and result.problems == []
    assert {t: await world.count(t) for t in before} == before


TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below


def _cp1258(text: str) -> bytes:
    """Text as Windows-1258 writes it: a letter it has (â, ê, ơ, ư ...) followed by a combining tone mark."""
    out = b""
    for c in text:
        try:
            out += c.encode("cp1258")
        except UnicodeEncodeError:
            bare = unicodedata.normalize("NFD", c)
            tones = "".join(m for m in bare if m in TONES)
            letter = unicodedata.normalize("NFC", "".join(m for m in bare if m not in TONES))
            out += (letter + tones).encode("cp1258")
    return out


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1258"])
async def test_encodings_read_the_same_text(world, encoding):
    line = "03/03/2025,Tư vấn pháp luật,Nguyễn Văn An,40,TT,Trẻ em"
    if encoding == "cp1258":
        data = _cp1258(f"{HEADER}\r\n{line}\r\n")
        assert "Nguyễn".encode() not in data and len(data) > 0
    else:
        data = _csv(line, encoding=encoding)
    table = read_table("cases.csv", data, "vi")
    result = await import_file(world.rt, world.ctx("director"), "case", table)
    assert result.problems == [] and result.created == 1
    assert await world.rt.db.fetchval('SELECT requester FROM "case"') == "Nguyễn Văn An"
    assert await world.rt.db.fetchval('SELECT beneficiary_groups FROM "case"') == '["TE"]'


def test_files_that_cannot_be_read_are_refused_with_a_message(monkeypatch):
    with pytest.raises(FileProblem, match="empty"):
        read_table("a.csv", b"", "en")
    with pytest.raises(FileProblem, match="empty"):
        read_table("a.csv", b"\xef\xbb\xbf\r\n", "en")
    with pytest.raises(FileProblem, match="encoding"):
        read_table("a.csv", b"a,b\r\n\x00\xff\x00", "en")
    with pytest.raises(FileProblem, match="cannot be read"):
        read_table("a.xlsx", b"PK\x03\x04garbage", "en")
    with pytest.raises(FileProblem, match="cannot be read"):
        read_table("a.xlsx", b"not a workbook", "en")
    monkeypatch.setenv("HOSO_IMPORT_MAX_BYTES", "100")
    with pytest.raises(FileProblem, match="HOSO_IMPORT_MAX_BYTES"):
        read_table("a.csv", b"a\r\n" + b"x\r\n" * 100, "en")
    monkeypatch.setenv("HOSO_IMPORT_MAX_BYTES", "100000")
    monkeypatch.setenv("HOSO_IMPORT_MAX_ROWS", "3")
    with pytest.raises(FileProblem, match="HOSO_IMPORT_MAX_ROWS"):
        read_table("a.csv", b"a\r\n" + b"x\r\n" * 4, "en")
    with pytest.raises(FileProblem, match="row 2"):
        read_table("a.csv", b"a,b\r\n1,2,3\r\n", "en")


def test_an_xlsx_bomb_is_refused_by_its_unpacked_size(monkeypatch):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["requester"])
    for _ in range(2000):
        sheet.append(["x" * 200])
    buf = io.BytesIO()
    book.save(buf)
    data = buf.getvalue()
    monkeypatch.setenv("HOSO_IMPORT_MAX_BYTES", str(len(data) + 10))
    with pytest.raises(FileProblem, match="HOSO_IMPORT_MAX_BYTES"):
        read_table("a.xlsx", data, "en")


async def test_xlsx_dates_serials_numbers_and_formulas(world):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Ngày tiếp nhận", "Hình thức", "Người yêu cầu", "Tuổi", "Đơn vị", "Ghi chú"])
    sheet.append([dt.datetime(2025, 3, 3), "TV", "=HYPERLINK(\"http://x\")", 40.0, "TT", "@SUM(A1)"])
    sheet.append([45720, "TV", "Trần Thị Bình", "1.0", "TT", "-1+1"])
    sheet.append([None, None, None, None, None, None])
    sheet["C2"].data_type = "s"  # text that starts with "=" (typed after an apostrophe), not a formula
    buf = io.BytesIO()
    book.save(buf)
    table = read_table("cases.xlsx", buf.getvalue(), "vi")
    result = await import_file(world.rt, world.ctx("director"), "case", table)
    assert result.problems == [] and result.created == 2 and result.empty == 0
    rows = await world.rt.db.fetch('SELECT received_on, requester, age, note FROM "case" ORDER BY id')
    assert [(str(r["received_on"]), r["requester"], r["age"], r["note"]) for r in rows] == [
        ("2025-03-03", '=HYPERLINK("http://x")', 40, "@SUM(A1)"), ("2025-03-04", "Trần Thị Bình", 1, "-1+1")]


def test_formula_cells_are_defused_when_exported_again_as_csv():
    import csv

    from hoso.reports.render import rows_csv

    values = ['=HYPERLINK("http://x")', "@SUM(A1)", "+1", "-1", "\tx", "an", 5, -5]
    out = "".join(rows_csv([("a", "A")], [{"a": v} for v in values]))
    cells = [row[0] for row in csv.reader(io.StringIO(out.lstrip("\ufeff")))][1:]
    assert cells == ["'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'+1", "'-1", "'\tx", "an", "5", "-5"]


class _LateGuard:
    """A write guard that starts refusing after the preview (a period locked, a value taken by another writer)."""

    def __init__(self, refuse: set[str]):
        self.refuse = refuse

    @hookimpl
    def hoso_write_guard(self, entity, action, before, after, context, db):
        return [("requester", "refused now")] if after and after.get("requester") in self.refuse else None


async def test_a_batch_refused_while_writing_stops_the_import_and_a_rerun_completes_it(world, monkeypatch):
    from hoso.importing.run import _Import

    late = _LateGuard({"Trần Thị Bình"})
    checked = _Import.check

    async def check_then_change(self, progress):
        await checked(self, progress)
        if not world.rt.pm.is_registered(late):
            world.rt.pm.register(late)

    monkeypatch.setattr(_Import, "check", check_then_change)
    try:
        result = await _import(world, _csv(*GOOD), batch=1)
        assert result.stopped and result.created == 1
        assert [(p.row, p.column, p.message) for p in result.problems] == [(3, "requester", "refused now")]
        assert await world.rt.db.fetchval("SELECT status FROM hoso_import") == "stopped"
        late.refuse.clear()
        again = await _import(world, _csv(*GOOD), batch=1)
        assert (again.created, again.duplicates, again.stopped) == (2, 1, False)
        assert await world.count() == 3
    finally:
        if world.rt.pm.is_registered(late):
            world.rt.pm.unregister(late)


async def test_a_module_entity_goes_only_to_units_where_the_module_is_on(records_config, database_url):
    from hoso.records.context import RecordContext
    from tests.helpers import migrated_runtime
    from tests.test_modules import CALL, MODULES

    records_config.write("forms_config/entities/call.yaml", CALL)
    records_config.write("roles_config/modules.yaml", MODULES)
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        table = read_table("calls.csv", "Người gọi,Đơn vị\nAn,TT\nBình,TT2\n".encode(), "en")
        ctx = RecordContext.system(rt.config)
        result = await import_file(rt, ctx, "call", table)
        assert [(p.row, p.column) for p in result.problems] == [(3, "Đơn vị")]
        assert "test.hotline" in result.problems[0].message
        assert result.created == 0 and await rt.db.fetchval('SELECT COUNT(*) AS n FROM "call"') == 0
    finally:
        await rt.db.close()


REGISTER = """
entity: register_entry
label: {vi: Sổ đăng ký, en: Register}
unit_field: unit
fields:
  name: {type: text, required: true, label: {vi: Họ tên, en: Name}}
  citizen: {type: text, unique: true, label: {vi: Số định danh, en: Citizen ID}}
  unit: {type: org_unit, required: true, label: {vi: Đơn vị, en: Unit}}
"""


@pytest.mark.parametrize("batch", [1, 2, 500])
async def test_a_unique_value_repeated_in_the_file_is_a_problem_of_the_preview_whatever_the_batches(
        records_config, database_url, batch):
    """Two rows holding one unique value: the preview names the later one (the first batch's check cannot see
    the later batch), so nothing is written; skipping the bad rows writes the first."""
    from hoso.records.context import RecordContext
    from tests.helpers import migrated_runtime

    records_config.write("forms_config/entities/register.yaml", REGISTER)
    rt = await migrated_runtime(records_config.load(), database_url)
    try:
        ctx = RecordContext.system(rt.config)
        await rt.records().create("register_entry", {"name": "Có sẵn", "citizen": "009",
                                                     "unit": await rt.db.fetchval(
                                                         "SELECT id FROM hoso_unit WHERE code = 'TT'")}, ctx)
        data = ("Họ tên,Số định danh,Đơn vị\nAn,001,TT\nBình,002,TT\nCường,001,TT2\nDung,009,TT\nGiang,,TT\n"
                "Hà,,TT\n").encode()
        table = read_table("register.csv", data, "vi")
        result = await import_file(rt, ctx, "register_entry", table, ImportOptions(batch=batch))
        assert [(p.row, p.column) for p in result.problems] == [(4, "Số định danh"), (5, "Số định danh")]
        assert "dòng 2" in result.problems[0].message
        assert result.created == 0 and not result.stopped
        assert await rt.db.fetchval('SELECT COUNT(*) AS n FROM "register_entry"') == 1
        result = await import_file(rt, ctx, "register_entry", table, ImportOptions(batch=batch, skip_bad=True))
        assert (result.created, result.skipped, result.stopped) == (4, 2, False)
        names = [r["name"] for r in await rt.db.fetch('SELECT name FROM "register_entry" ORDER BY id')]
        assert names == ["Có sẵn", "An", "Bình", "Giang", "Hà"]
    finally:
        await rt.db.close()
