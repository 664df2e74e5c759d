"""Bulk import: the whole file checked first, bad rows reported, nothing written unconfirmed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func
from sqlmodel import select

from care_api.domain.errors import InvalidInput
from care_api.services import Services
from care_api.store.tables import Contact, Device, DeviceHistory, Elder, Merchant, Volunteer
from care_api.usecases.onboarding.imports import ImportKind, ImportReport, parse_hours, run_import
from care_api.usecases.onboarding.sheets import read_sheet
from care_api.usecases.people.credentials import secret_matches
from tests.onboarding.sheets import BAD, GOOD, as_csv, as_xlsx

Writer = Callable[[list[list[str]]], bytes]
FORMATS = [pytest.param(as_csv, id="csv"), pytest.param(as_xlsx, id="xlsx")]


def _import(
    services: Services, data: bytes, kind: ImportKind = ImportKind.ELDERS, *, commit: bool
) -> ImportReport:
    with services.uow() as uow:
        report = run_import(
            uow.session,
            read_sheet(data),
            kind,
            now=services.clock.now(),
            commit=commit,
            lang="en",
        )
        if report.committed:
            uow.commit()
    return report


def _counts(services: Services) -> dict[str, int]:
    with services.uow() as uow:
        return {
            table.__name__: uow.session.exec(select(func.count()).select_from(table)).one()
            for table in (Elder, Contact, Device, DeviceHistory, Volunteer, Merchant)
        }


@pytest.mark.parametrize("write", FORMATS)
def test_three_bad_rows_are_reported_and_nothing_is_written(
    services: Services, write: Writer
) -> None:
    before = _counts(services)
    report = _import(services, write(GOOD + BAD), commit=True)  # even when asked to commit
    assert not report.committed
    assert [(p.row, p.column) for p in report.problems] == [
        (5, "phone"),
        (6, "contact1_phone"),
        (6, "lat"),
        (7, "terminal"),
    ]
    reasons = {p.row: p.reason for p in report.problems}
    assert reasons[5] == "phone is required"
    assert reasons[7] == "the same terminal as row 2"
    assert _counts(services) == before


@pytest.mark.parametrize("write", FORMATS)
def test_confirm_writes_and_a_second_run_changes_nothing(services: Services, write: Writer) -> None:
    data = write(GOOD)
    preview = _import(services, data, commit=False)
    assert (preview.new, preview.new_contacts, preview.new_terminals) == (3, 3, 2)
    assert not preview.committed and _counts(services)["Elder"] == 0

    done = _import(services, data, commit=True)
    assert done.committed and done.problems == []
    assert {d for d, _ in done.secrets} == {"T-0001", "T-0002"}
    with services.uow() as uow:
        li = uow.session.exec(select(Elder).where(Elder.name == "Li Na")).one()
        assert (li.phone, li.language, li.district) == ("+8613800000002", "en", "west")
        device = uow.session.get(Device, "T-0002")
        assert device is not None and device.elder_id == li.id
        secret = dict(done.secrets)["T-0002"]
        assert secret_matches(secret, device.secret_hash)
        sons = uow.session.exec(select(Contact).where(Contact.relation == "son")).all()
        assert [(c.name, c.phone, c.priority) for c in sons] == [("Wang Jun", "+8613900000001", 1)]
    after = _counts(services)
    assert after["DeviceHistory"] == 2

    again = _import(services, data, commit=True)
    assert (again.new, again.unchanged, again.new_contacts, again.new_terminals) == (0, 3, 0, 0)
    assert again.secrets == []
    assert _counts(services) == after


def test_a_second_file_adds_only_the_missing_contact_and_terminal(services: Services) -> None:
    _import(services, as_csv(GOOD), commit=True)
    more = [row[:] for row in GOOD[2:]]
    more[0][9:12] = ["Zhao Wei", "13600000003", "T-0003"]
    report = _import(services, as_csv(more), commit=True)
    assert (report.new, report.unchanged, report.new_contacts, report.new_terminals) == (0, 1, 1, 1)


def test_a_terminal_of_another_elder_is_refused(services: Services) -> None:
    _import(services, as_csv(GOOD), commit=True)
    other = [["Chen Jie", "13800000009", "", "", "", "", "", "", "", "", "", "T-0001"]]
    report = _import(services, as_csv(other), commit=True)
    assert [p.reason for p in report.problems] == [
        "terminal T-0001 is already registered for another elder"
    ]


def test_header_problems_name_the_column(services: Services) -> None:
    report = _import(services, as_csv([["x", "1"]], header=["name", "phnoe"]), commit=True)
    assert [(p.row, p.column, p.reason.split(" (")[0]) for p in report.problems] == [
        (1, "phone", "this column is missing"),
        (1, "phnoe", "unknown column"),
    ]


def test_reasons_in_chinese(services: Services) -> None:
    with services.uow() as uow:
        report = run_import(
            uow.session,
            read_sheet(as_csv(BAD[:1])),
            ImportKind.ELDERS,
            now=services.clock.now(),
            commit=False,
            lang="zh-CN",
        )
    assert report.problems[0].reason == "必须填写 phone"


def test_chinese_headers_and_a_gbk_csv_from_a_chinese_excel(services: Services) -> None:
    data = "姓名,电话,街道\n王芳,13800000001,东区\n".encode("gb18030")
    report = _import(services, data, commit=True)
    assert report.committed and report.new == 1
    with services.uow() as uow:
        assert uow.session.exec(select(Elder.name, Elder.district)).one() == ("王芳", "东区")


def test_volunteers_and_merchants(services: Services) -> None:
    volunteers = as_csv(
        [
            ["Ann", "13100000001", "31.2", "121.4", "driving; shopping", "mon-fri 08:00-12:00"],
            ["Bo", "13100000002", "31.3", "121.5", "", ""],
        ],
        header=["name", "phone", "lat", "lon", "skills", "hours"],
    )
    report = _import(services, volunteers, ImportKind.VOLUNTEERS, commit=True)
    assert report.committed and report.new == 2
    with services.uow() as uow:
        ann = uow.session.exec(select(Volunteer).where(Volunteer.name == "Ann")).one()
        assert ann.skills == ["driving", "shopping"]
        assert set(ann.availability) == {"mon", "tue", "wed", "thu", "fri"}
    assert _import(services, volunteers, ImportKind.VOLUNTEERS, commit=True).unchanged == 2

    merchants = as_csv(
        [["Meals Co", "13200000001", "meals, cleaning", "4.5"], ["Fix", "13200000002", "", ""]],
        header=["name", "phone", "categories", "rating"],
    )
    report = _import(services, merchants, ImportKind.MERCHANTS, commit=True)
    assert [(p.row, p.column) for p in report.problems] == [(3, "categories")]
    assert _counts(services)["Merchant"] == 0


def test_a_phone_taken_by_someone_else_is_refused(services: Services) -> None:
    header = ["name", "phone", "lat", "lon"]
    _import(
        services,
        as_csv([["Ann", "13100000001", "1", "1"]], header),
        ImportKind.VOLUNTEERS,
        commit=True,
    )
    report = _import(
        services,
        as_csv([["Eve", "13100000001", "1", "1"]], header),
        ImportKind.VOLUNTEERS,
        commit=True,
    )
    assert [p.reason for p in report.problems] == ["this phone already belongs to Ann"]


def test_hours_text() -> None:
    assert parse_hours("mon-wed 08:00-12:00 14:00-18:00; sun 09:00-10:00") == {
        "mon": ["08:00-12:00", "14:00-18:00"],
        "tue": ["08:00-12:00", "14:00-18:00"],
        "wed": ["08:00-12:00", "14:00-18:00"],
        "sun": ["09:00-10:00"],
    }
    for bad in ("someday 08:00-12:00", "fri-mon 08:00-12:00", "mon", "mon 8-12"):
        with pytest.raises(InvalidInput):
            parse_hours(bad)


def test_an_empty_or_broken_file_is_refused() -> None:
    with pytest.raises(InvalidInput):
        read_sheet(b"")
    with pytest.raises(InvalidInput):
        read_sheet(b"PK\x03\x04 not really a workbook")
