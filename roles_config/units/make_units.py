#!/usr/bin/env python3
"""Generate roles_config/units/units.csv: the initial (pre-2025-merger) unit tree of the legal-aid deployment.

Usage:
    python roles_config/units/make_units.py PROVINCES_CSV [OUTPUT_CSV]

PROVINCES_CSV is the 63 -> 34 province mapping (columns old_code,old_name,new_code,new_name), e.g.
/work/shared/data/provinces_2025.csv or the copy kept next to this script (provinces_2025.csv). Only the
63 pre-merger provinces (old_code, old_name) are used: the 2025 merger is applied later, as a dated change
set. OUTPUT_CSV defaults to units.csv next to this script. Standard library only; the output is
deterministic, so re-running it on the same input gives the same file.

The tree:
    CUC                       ministry_department  Cục Phổ biến, giáo dục pháp luật và Trợ giúp pháp lý
      STP-<old_code>          provincial_department  Sở Tư pháp <province>
        TT-<old_code>         legal_aid_centre       Trung tâm Trợ giúp pháp lý nhà nước <province>
          CN<n>-<old_code>    centre_branch          Chi nhánh số <n> (for the provinces in BRANCHES)
"""

from __future__ import annotations

import csv
import sys
import unicodedata
from pathlib import Path

VALID_FROM = "2019-01-01"
MINISTRY_CODE = "CUC"
MINISTRY_VI = "Cục Phổ biến, giáo dục pháp luật và Trợ giúp pháp lý"
MINISTRY_EN = "Department of Legal Dissemination, Education and Legal Aid"

# Number of branches ("chi nhánh") created for some centres, by old province code. Illustrative only: the
# real branch list is maintained by each centre.
BRANCHES = {
    "01": 2,  # Hà Nội
    "02": 2,  # Hà Giang
    "10": 2,  # Lào Cai
    "11": 2,  # Điện Biên
    "12": 1,  # Lai Châu
    "14": 2,  # Sơn La
    "38": 2,  # Thanh Hóa
    "40": 2,  # Nghệ An
    "64": 1,  # Gia Lai
    "66": 1,  # Đắk Lắk
    "79": 1,  # Hồ Chí Minh
    "94": 1,  # Sóc Trăng
}

HEADER = ["code", "name_vi", "name_en", "type", "parent_code", "valid_from", "short_code"]
PREFIXES = ("Thành phố ", "Tỉnh ")


def short_name(official: str) -> str:
    """'Tỉnh Điện Biên' -> 'Điện Biên', 'Thành phố Hà Nội' -> 'Hà Nội'."""
    for p in PREFIXES:
        if official.startswith(p):
            return official[len(p):].strip()
    return official.strip()


def ascii_name(name: str) -> str:
    """Vietnamese name without diacritics, for English labels: 'Điện Biên' -> 'Dien Bien'."""
    name = name.replace("Đ", "D").replace("đ", "d")
    decomposed = unicodedata.normalize("NFD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def read_provinces(path: Path) -> list[tuple[str, str]]:
    """The distinct pre-merger provinces (old_code, old_name), in file order."""
    seen: dict[str, str] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"old_code", "old_name"} - set(reader.fieldnames or ())
        if missing:
            raise SystemExit(f"{path}: missing column(s) {', '.join(sorted(missing))}")
        for row in reader:
            code = row["old_code"].strip()
            name = row["old_name"].strip()
            if not code:
                continue
            if code in seen and seen[code] != name:
                raise SystemExit(f"{path}: province code {code} has two names: {seen[code]!r}, {name!r}")
            seen[code] = name
    return list(seen.items())


def build_rows(provinces: list[tuple[str, str]]) -> list[list[str]]:
    # short_code is what a unit writes inside its own codes: case TT.TV.01.2018 of a centre, CN1.TGTT.01.2018
    # of its first branch.
    rows = [[MINISTRY_CODE, MINISTRY_VI, MINISTRY_EN, "ministry_department", "", VALID_FROM, "CUC"]]
    for code, official in provinces:
        name = short_name(official)
        en = ascii_name(name)
        stp = f"STP-{code}"
        tt = f"TT-{code}"
        rows.append([stp, f"Sở Tư pháp {name}", f"{en} Department of Justice", "provincial_department",
                     MINISTRY_CODE, VALID_FROM, "STP"])
        rows.append([tt, f"Trung tâm Trợ giúp pháp lý nhà nước {name}", f"{en} State Legal Aid Centre",
                     "legal_aid_centre", stp, VALID_FROM, "TT"])
        for n in range(1, BRANCHES.get(code, 0) + 1):
            rows.append([f"CN{n}-{code}", f"Chi nhánh số {n} - Trung tâm Trợ giúp pháp lý nhà nước {name}",
                         f"Branch {n} of the {en} State Legal Aid Centre", "centre_branch", tt, VALID_FROM, f"CN{n}"])
    return rows


def write_csv(rows: list[list[str]], out: Path) -> None:
    with out.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(HEADER)
        writer.writerows(rows)


def main(argv: list[str]) -> int:
    if len(argv) not in (2, 3) or argv[1] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    src = Path(argv[1])
    out = Path(argv[2]) if len(argv) == 3 else Path(__file__).resolve().parent / "units.csv"
    provinces = read_provinces(src)
    rows = build_rows(provinces)
    write_csv(rows, out)
    print(f"{out}: {len(rows)} units from {len(provinces)} provinces")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
