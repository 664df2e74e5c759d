"""Properties of the spreadsheet reader: any upload is read or refused, never a crash."""

from __future__ import annotations

import csv
import io

from hypothesis import example, given, settings
from hypothesis import strategies as st

from care_api.domain.errors import InvalidInput
from care_api.usecases.onboarding.imports import parse_hours
from care_api.usecases.onboarding.sheets import read_sheet

# What people type in cells: any text but NUL (which the reader drops) and surrounding blanks.
cell = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\n"),
    max_size=20,
).map(str.strip)


@settings(max_examples=200)
@given(st.binary(max_size=400))
@example(b"name,phone\r0\r\n1,2\n")  # a lone CR in an old Mac file: once a csv.Error
@example(b'name,phone\n"a\x00b",1\n')
def test_any_bytes_are_read_or_refused_cleanly(data: bytes) -> None:
    try:
        sheet = read_sheet(data)
    except InvalidInput:
        return
    assert all(number >= 2 for number, _ in sheet.rows)
    assert all("\x00" not in value for _, cells in sheet.rows for value in cells.values())


@settings(max_examples=200)
@given(st.lists(st.lists(cell, min_size=3, max_size=3), min_size=1, max_size=8))
def test_a_written_csv_reads_back_cell_for_cell(rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["name", "phone", "address"])
    writer.writerows(rows)
    sheet = read_sheet(buffer.getvalue().encode("utf-8"))
    kept = [r for r in rows if any(r)]  # wholly blank lines are skipped
    assert [list(cells.values()) for _, cells in sheet.rows] == kept
    assert [n for n, _ in sheet.rows] == [i + 2 for i, r in enumerate(rows) if any(r)]


@given(
    st.dictionaries(
        st.sampled_from(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]),
        st.lists(
            st.tuples(st.integers(0, 22), st.integers(1, 23)).filter(lambda s: s[0] < s[1]),
            min_size=1,
            max_size=3,
        ),
        min_size=1,
    )
)
def test_hours_written_as_text_parse_back(table: dict[str, list[tuple[int, int]]]) -> None:
    text = "; ".join(
        f"{day} " + " ".join(f"{a:02d}:00-{b:02d}:00" for a, b in spans)
        for day, spans in table.items()
    )
    parsed = parse_hours(text)
    assert parsed == {
        day: [f"{a:02d}:00-{b:02d}:00" for a, b in spans] for day, spans in table.items()
    }
