"""Report results built by hand, shaped as the engine returns them, for the output tests."""

from __future__ import annotations

import datetime as dt

from hoso.config import ReportDef
from hoso.config.types import Label, ReportColumnDef, ReportDimensionDef
from hoso.reports.model import Column, Dimension, Period, ReportRequest, ReportResult, ResultRow

AT = dt.datetime(2025, 7, 3, 2, 30, tzinfo=dt.UTC)  # 09:30 in Hà Nội


def bieu24(lang: str = "vi", *, unit: dict | None = None, period: bool = True) -> ReportResult:
    """Rows: field of law x form of aid, with a subtotal per field; columns: total, then men and women under
    "Giới tính", then two beneficiary groups under "Diện người được trợ giúp"."""
    gender = Label("Giới tính", "Gender")
    groups = Label("Diện người được trợ giúp", "Beneficiary groups")
    columns = [
        Column("total", Label("Tổng số", "Total")),
        Column("gender:male", Label("Nam", "Men"), (gender,)),
        Column("gender:female", Label("Nữ", "Women"), (gender,)),
        Column("beneficiary_groups:poor_household", Label("Người thuộc hộ nghèo", "Poor household"), (groups,)),
        Column("beneficiary_groups:child", Label("Trẻ em", "Child"), (groups,)),
    ]
    report = ReportDef(name="people_assisted", entity="case",
                       label=Label("Số người được trợ giúp pháp lý", "People assisted"),
                       rows=(ReportDimensionDef("field", "field_of_law"), ReportDimensionDef("field", "form_of_aid")),
                       columns=tuple(ReportColumnDef(c.key, "count", c.label, groups=c.groups) for c in columns),
                       date_field="received_on", subtotals=True)
    leaf = [
        (("civil", "advice"), ("Dân sự", "Tư vấn"), [5, 3, 2, 1, 0]),
        (("civil", "litigation"), ("Dân sự", "Tham gia tố tụng"), [4, 1, 3, 2, 1]),
        (("criminal", "advice"), ("Hình sự", "Tư vấn"), [7, 7, 0, 0, 4]),
    ]
    rows: list[ResultRow] = []
    for field in ("civil", "criminal"):
        mine = [r for r in leaf if r[0][0] == field]
        rows += [ResultRow(k, lab, vals) for k, lab, vals in mine]
        sums = [sum(v) for v in zip(*[m[2] for m in mine], strict=True)]
        rows.append(ResultRow((field, None), (mine[0][1][0], ""), sums, kind="subtotal", depth=1))
    total = ResultRow((None, None), ("", ""), [sum(v) for v in zip(*[r[2] for r in leaf], strict=True)], kind="total")
    request = ReportRequest("people_assisted", period="2025-H1" if period else None,
                            unit=unit["code"] if unit else None, lang=lang)
    return ReportResult(
        report=report, request=request,
        dimensions=[Dimension("field_of_law", Label("Lĩnh vực", "Field of law")),
                    Dimension("form_of_aid", Label("Hình thức", "Form of aid"))],
        columns=columns, rows=rows, total=total, generated_at=AT,
        period=Period("2025-H1", dt.date(2025, 1, 1), dt.date(2025, 5, 31),
                      Label("6 tháng đầu năm 2025", "First half of 2025"), cutoff=dt.date(2025, 5, 31))
        if period else None,
        unit=unit)
