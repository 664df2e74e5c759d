"""Spreadsheets the onboarding tests import: a register with three bad rows, as CSV and XLSX."""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

HEADER = [
    "name", "phone", "district", "language", "lat", "lon",
    "contact1_name", "contact1_phone", "contact1_relation", "contact2_name", "contact2_phone",
    "terminal",
]  # fmt: skip
GOOD = [
    ["Wang Fang", "13800000001", "east", "zh-CN", "31.2", "121.4", "Wang Jun", "13900000001",
     "son", "Li Mei", "13700000001", "T-0001"],
    ["Li Na", "+86 138 0000 0002", "west", "en", "", "", "Li Lei", "13900000002", "daughter",
     "", "", "T-0002"],
    ["Zhao Min", "13800000003", "east", "", "", "", "", "", "", "", "", ""],
]  # fmt: skip
BAD = [
    # row 5: no phone; row 6: a bad contact phone and a latitude off the globe; row 7: the
    # terminal of row 2 again.
    ["Sun Li", "", "east", "", "", "", "", "", "", "", "", ""],
    ["Qian Yu", "13800000006", "east", "", "95", "121", "Qian Bo", "12345", "", "", "", ""],
    ["Zhou Xin", "13800000007", "east", "", "", "", "", "", "", "", "", "T-0001"],
]  # fmt: skip


def as_csv(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")  # as Excel's "CSV UTF-8" saves it


def as_xlsx(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(header)
    for row in rows:
        # Excel keeps digits as numbers: the phone column arrives as an int.
        sheet.append([int(c) if c.isdigit() and len(c) == 11 else c for c in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
