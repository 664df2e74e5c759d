"""Reading an uploaded spreadsheet (CSV or XLSX) into numbered rows of text cells."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime

from openpyxl import load_workbook

from care_api.domain.errors import InvalidInput
from care_api.domain.texts import Msg

# A centre's whole register in one go is a few ten thousand rows; far more is a mistake.
MAX_ROWS = 50_000
MAX_CELL_CHARS = 4000
XLSX_MAGIC = b"PK\x03\x04"


@dataclass(frozen=True, slots=True)
class Sheet:
    """The header (normalised column names) and the data rows with their row numbers.

    Row numbers are the ones a spreadsheet program shows: the header is row 1.
    """

    columns: tuple[str, ...]
    rows: tuple[tuple[int, dict[str, str]], ...]


def normalise_column(raw: object) -> str:
    """`" Contact 1 Phone "` → `contact1_phone`: the column names the import knows."""
    text = str(raw or "").strip().lower().replace("-", "_")
    words = [w for w in text.replace("_", " ").split() if w]
    joined = "_".join(words)
    # "contact_1_phone" and "contact 1 phone" are contact1_phone.
    for n in "123456789":
        joined = joined.replace(f"contact_{n}_", f"contact{n}_")
    return joined


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer() and abs(value) >= 1e6:
        return str(int(value))  # a phone number a spreadsheet turned into a number
    if isinstance(value, datetime | date):
        return value.isoformat()
    # PostgreSQL text cannot hold NUL; no register needs one.
    return str(value).replace("\x00", "").strip()


def _decode(data: bytes) -> str:
    # Excel saves "CSV UTF-8" with a BOM; a Chinese Excel's plain "CSV" is GB18030 (GBK).
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput(Msg("the file is neither UTF-8 nor GB18030 text"))


def _build(table: list[list[object]]) -> Sheet:
    if not table:
        raise InvalidInput(Msg("the file is empty: it needs a header row and one row per person"))
    columns = tuple(normalise_column(c) for c in table[0])
    rows: list[tuple[int, dict[str, str]]] = []
    for number, raw in enumerate(table[1:], start=2):
        cells = [_cell_text(v)[:MAX_CELL_CHARS] for v in raw]
        if not any(cells):
            continue  # blank lines between blocks are common in hand-kept sheets
        rows.append((number, {c: v for c, v in zip(columns, cells, strict=False) if c}))
        if len(rows) > MAX_ROWS:
            raise InvalidInput(Msg("the file has more than {most} rows; split it", most=MAX_ROWS))
    return Sheet(columns=tuple(c for c in columns if c), rows=tuple(rows))


def read_csv(data: bytes) -> Sheet:
    """A CSV file (comma, semicolon or tab separated, guessed from the header)."""
    text = _decode(data)
    header = text.split("\n", 1)[0]
    delimiter = max((",", ";", "\t"), key=header.count)
    # newline="": the reader itself takes CR, LF and CRLF as line ends, as the csv docs ask.
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        table: list[list[object]] = [list(r) for r in rows]
    except csv.Error as exc:
        raise InvalidInput(
            Msg("the file is not a readable CSV table ({exc})", exc=str(exc))
        ) from None
    return _build(table)


def read_xlsx(data: bytes) -> Sheet:
    """The first worksheet of an XLSX workbook (values, not formulas)."""
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, TypeError) as exc:
        raise InvalidInput(
            Msg("the file is not a readable XLSX workbook ({exc})", exc=str(exc))
        ) from None
    try:
        sheet = book.worksheets[0]
        table: list[list[object]] = [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        book.close()
    return _build(table)


def read_sheet(data: bytes, filename: str = "") -> Sheet:
    """A CSV or XLSX upload, told apart by its content (an XLSX is a zip), not its name."""
    if data.startswith(XLSX_MAGIC) or filename.lower().endswith((".xlsx", ".xlsm")):
        return read_xlsx(data)
    return read_csv(data)
