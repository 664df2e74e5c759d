"""`vnh import` and `vnh user`: the same import core and logins from the shell."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, select
from typer.testing import CliRunner

from care_api.store.db import make_engine
from care_api.store.staff_tables import StaffUser
from care_api.store.tables import Device, Elder
from care_api.usecases.people.credentials import secret_matches
from tests.onboarding.sheets import BAD, GOOD, as_csv, as_xlsx
from vnh.cli import app as vnh
from vnh.onboarding import write_elders_csv


@pytest.fixture
def shell(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("VNH_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("VNH_LANGUAGE", "en")
    return sqlite_url


def _elders(url: str) -> int:

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(Elder)).one())
    finally:
        engine.dispose()


def test_import_reports_bad_rows_and_writes_nothing(shell: str, tmp_path: Path) -> None:
    path = tmp_path / "register.xlsx"
    path.write_bytes(as_xlsx(GOOD + BAD))
    result = CliRunner().invoke(vnh, ["import", str(path), "--kind", "elders", "--commit"])
    assert result.exit_code == 1, result.output
    assert "row 5 [phone]: phone is required" in result.output
    assert "row 7 [terminal]: the same terminal as row 2" in result.output
    assert "nothing written" in result.output
    assert _elders(shell) == 0


def test_import_checks_then_commits_then_adds_nothing(shell: str, tmp_path: Path) -> None:
    path = tmp_path / "register.csv"
    path.write_bytes(as_csv(GOOD))
    runner = CliRunner()
    check = runner.invoke(vnh, ["import", str(path), "--kind", "elders"])
    assert check.exit_code == 0 and "would add 3 new" in check.output
    assert _elders(shell) == 0
    secrets = tmp_path / "secrets.csv"
    argv = ["import", str(path), "--kind", "elders", "--commit", "--secrets-out", str(secrets)]
    done = runner.invoke(vnh, argv)
    assert done.exit_code == 0 and "added 3 new" in done.output, done.output
    assert _elders(shell) == 3
    assert oct(secrets.stat().st_mode & 0o777) == "0o600"
    rows = list(csv.DictReader(secrets.read_text().splitlines()))

    engine = make_engine(shell)
    with Session(engine) as session:
        for row in rows:
            device = session.get(Device, row["device_id"])
            assert device is not None and secret_matches(row["secret"], device.secret_hash)
    engine.dispose()
    again = runner.invoke(vnh, ["import", str(path), "--kind", "elders", "--commit"])
    assert "added 0 new, 3 already there" in again.output
    assert _elders(shell) == 3


def test_user_add_makes_an_admin_with_a_hashed_password(
    shell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VNH_NEW_PASSWORD", "first admin password")
    result = CliRunner().invoke(vnh, ["user", "add", "Wang.Admin", "--role", "admin"])
    assert result.exit_code == 0, result.output

    engine = make_engine(shell)
    with Session(engine) as session:
        user = session.exec(select(StaffUser)).one()
        assert (user.username, user.role) == ("wang.admin", "admin")
        assert user.password_hash.startswith("$argon2id$")
    engine.dispose()
    again = CliRunner().invoke(vnh, ["user", "add", "wang.admin", "--role", "admin"])
    assert again.exit_code == 2 and "taken" in again.output


def test_the_generated_register_imports_cleanly(shell: str, tmp_path: Path) -> None:
    path = tmp_path / "elders.csv"
    write_elders_csv(path, 50)
    result = CliRunner().invoke(vnh, ["import", str(path), "--kind", "elders", "--commit"])
    assert "added 50 new" in result.output and "100 contacts, 50 terminals" in result.output


def test_import_speaks_the_centres_chinese_by_default(
    shell: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("VNH_LANGUAGE")  # the centre's own default: Chinese
    path = tmp_path / "register.xlsx"
    path.write_bytes(as_xlsx(GOOD + BAD))
    result = CliRunner().invoke(vnh, ["import", str(path), "--kind", "elders"])
    assert result.exit_code == 1, result.output
    assert "老人共" in result.output and "条已存在" in result.output
    assert "第5行 [phone]：" in result.output and "处问题：未写入任何内容" in result.output
    assert "rows of" not in result.output and "nothing written" not in result.output
    assert _elders(shell) == 0
