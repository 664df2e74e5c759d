"""`vnh import`, `vnh user` and `vnh bench-import`: onboarding a centre from the shell."""

from __future__ import annotations

import csv
import getpass
import io
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from care_api.domain.errors import DomainError
from care_api.domain.model import Role
from care_api.domain.texts import N_, Msg
from care_api.i18n import language_of, render, t
from care_api.services import build_services
from care_api.settings import Settings
from care_api.usecases.onboarding.imports import ImportKind, ImportReport, run_import
from care_api.usecases.onboarding.sheets import read_sheet
from care_api.usecases.people.staff import add_user, find_user, reset_password

user_app = typer.Typer(help="Named staff logins for the console.", no_args_is_help=True)
PASSWORD_ENV = "VNH_NEW_PASSWORD"  # noqa: S105  (the variable's name, not a password)
KIND_WORDS = {
    ImportKind.ELDERS: N_("elders"),
    ImportKind.VOLUNTEERS: N_("volunteers"),
    ImportKind.MERCHANTS: N_("merchants"),
}


def _language() -> str:
    """The language of what the shell prints: the centre's (VNH_LANGUAGE), Chinese unless set."""
    return language_of(Settings().language)  # the settings read VNH_LANGUAGE themselves


def _say(language: str, exc: DomainError) -> str:
    """A refusal in `language` (its `Msg`, when it has one)."""
    return render(language, exc.args[0]) if exc.args else str(exc)


def print_report(report: ImportReport, language: str) -> None:
    """The import's report as an operator reads it: totals, then every bad row."""
    echo = typer.echo
    fields = {
        "rows": report.rows,
        "kind": Msg(KIND_WORDS[report.kind]),
        "new": report.new,
        "unchanged": report.unchanged,
    }
    if report.committed:
        line = t(
            language, "{rows} rows of {kind}: added {new} new, {unchanged} already there", **fields
        )
    else:
        line = t(
            language,
            "{rows} rows of {kind}: would add {new} new, {unchanged} already there",
            **fields,
        )
    if report.kind is ImportKind.ELDERS:
        line += t(
            language,
            "; {contacts} contacts, {terminals} terminals",
            contacts=report.new_contacts,
            terminals=report.new_terminals,
        )
    echo(line)
    for problem in report.problems:
        column = f" [{problem.column}]" if problem.column else ""
        echo(
            "  "
            + t(
                language,
                "row {row}{column}: {reason}",
                row=problem.row,
                column=column,
                reason=problem.reason,
            )
        )
    if report.problems:
        echo(
            t(
                language,
                "{n} problem(s): nothing written; fix the rows and run again.",
                n=len(report.problems),
            )
        )


def import_file(
    path: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A .csv or .xlsx file.")
    ],
    kind: Annotated[ImportKind, typer.Option(help="What the file holds.")],
    commit: Annotated[
        bool, typer.Option("--commit", help="Write it (only if no row is bad); else only check.")
    ] = False,
    secrets_out: Annotated[
        Path | None,
        typer.Option(help="Where to write the secrets of new terminals (CSV: device_id,secret)."),
    ] = None,
) -> None:
    """Check a spreadsheet of elders, volunteers or merchants; with --commit, add what is new."""
    settings = Settings()
    language = language_of(settings.language)
    services = build_services(settings)
    started = time.perf_counter()
    try:
        sheet = read_sheet(path.read_bytes(), path.name)
        with services.uow() as uow:
            report = run_import(
                uow.session,
                sheet,
                kind,
                now=datetime.now(UTC),
                commit=commit,
                lang=language,
                region=settings.phone_region,
                by="admin:vnh-import",
                service_accounts=(settings.mqtt_username,),
            )
            if report.committed:
                uow.commit()
    except DomainError as exc:
        typer.echo(f"vnh import: {_say(language, exc)}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        services.close()
    elapsed = time.perf_counter() - started
    print_report(report, language)
    rate = f"{report.rows / elapsed:,.0f}"
    typer.echo(t(language, "took {s} s ({rate} rows/s)", s=f"{elapsed:.2f}", rate=rate))
    if report.secrets:
        if secrets_out is None:
            secrets_out = path.with_name(f"{path.stem}-terminal-secrets.csv")
        _write_secrets(secrets_out, report.secrets)
        typer.echo(
            t(
                language,
                "secrets of {n} new terminals written to {path}",
                n=len(report.secrets),
                path=str(secrets_out),
            )
        )
    if report.problems:
        raise typer.Exit(code=1)
    if not commit:
        typer.echo(t(language, "Nothing written: run again with --commit to add it."))


def _write_secrets(path: Path, secrets: list[tuple[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["device_id", "secret"])
    writer.writerows(secrets)
    # Only the owner may read a file of terminal passwords.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(buffer.getvalue())


def _new_password() -> str:
    # From the environment for scripts; else asked twice, never on the command line (ps shows it).
    given = os.environ.get(PASSWORD_ENV)
    if given:
        return given
    language = _language()
    first = getpass.getpass(t(language, "Password: "))
    if getpass.getpass(t(language, "Again: ")) != first:
        typer.echo(t(language, "the two passwords differ"), err=True)
        raise typer.Exit(code=2)
    return first


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="The login name, e.g. li.na")],
    role: Annotated[Role, typer.Option(help="admin or operator.")] = Role.OPERATOR,
    name: Annotated[str, typer.Option(help="The person's full name.")] = "",
) -> None:
    """Create a staff login (the first admin, or anyone later); asks for the password."""
    password = _new_password()
    services = build_services(Settings())
    try:
        with services.uow() as uow:
            user = add_user(
                uow.session,
                username=username,
                role=role,
                password=password,
                name=name,
                now=datetime.now(UTC),
            )
            uow.commit()
    except DomainError as exc:
        typer.echo(f"vnh user add: {_say(_language(), exc)}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        services.close()
    typer.echo(
        t(
            _language(),
            "user {username} ({role}) created; they sign in at the console",
            username=user.username,
            role=str(user.role),
        )
    )


@user_app.command("reset")
def user_reset(username: Annotated[str, typer.Argument(help="The login name.")]) -> None:
    """Set a new password (ends the user's sessions, lifts a lockout); asks for it."""
    password = _new_password()
    services = build_services(Settings())
    try:
        with services.uow() as uow:
            user = find_user(uow.session, username)
            reset_password(uow.session, user.id or 0, password, datetime.now(UTC))
            uow.commit()
    except DomainError as exc:
        typer.echo(f"vnh user reset: {_say(_language(), exc)}", err=True)
        raise typer.Exit(code=2) from None
    finally:
        services.close()
    typer.echo(t(_language(), "password of {username} reset", username=username))


def write_elders_csv(path: Path, count: int) -> None:
    """A made-up register of `count` elders, each with two contacts and a terminal."""
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(
            [
                "name", "phone", "address", "district", "language", "lat", "lon",
                "contact1_name", "contact1_phone", "contact1_relation",
                "contact2_name", "contact2_phone", "contact2_relation",
                "terminal", "terminal_model",
            ]
        )  # fmt: skip
        for i in range(count):
            writer.writerow(
                [
                    f"Elder {i:05d}",
                    f"+86138{i:08d}",
                    f"{i} Garden Road",
                    f"district-{i % 12}",
                    "zh-CN",
                    f"{31.2 + (i % 100) / 1000:.4f}",
                    f"{121.4 + (i // 100) / 1000:.4f}",
                    f"Child {i:05d}",
                    f"+86139{i:08d}",
                    "child",
                    f"Neighbour {i:05d}",
                    f"+86137{i:08d}",
                    "neighbour",
                    f"T{i:06d}",
                    "",
                ]
            )


def bench_import(
    elders: Annotated[int, typer.Option(help="How many elders the generated file holds.")] = 10_000,
    database_url: Annotated[
        str | None, typer.Option(help="Database to import into (default: a fresh SQLite file).")
    ] = None,
    workdir: Annotated[Path, typer.Option(help="Where the file and database go.")] = Path(
        "vnh-bench-import"
    ),
) -> None:
    """Generate a register of elders and time `vnh import --commit` of it, then a second run."""
    from care_api.store.db import upgrade_schema

    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"elders-{elders}.csv"
    write_elders_csv(path, elders)
    url = database_url or f"sqlite:///{(workdir / 'bench.db').resolve()}"
    if database_url is None:
        (workdir / "bench.db").unlink(missing_ok=True)
        upgrade_schema(url)
    settings = Settings(database_url=url)
    services = build_services(settings)
    try:
        for label, commit in (("check", False), ("commit", True), ("second run", True)):
            started = time.perf_counter()
            sheet = read_sheet(path.read_bytes(), path.name)
            with services.uow() as uow:
                report = run_import(
                    uow.session,
                    sheet,
                    ImportKind.ELDERS,
                    now=datetime.now(UTC),
                    commit=commit,
                    lang="en",
                    region=settings.phone_region,
                )
                if report.committed:
                    uow.commit()
            elapsed = time.perf_counter() - started
            typer.echo(
                f"{label:>10}: {report.rows} rows in {elapsed:.2f} s "
                f"({report.rows / elapsed:,.0f} rows/s): {report.new} new elders, "
                f"{report.new_contacts} contacts, {report.new_terminals} terminals, "
                f"{len(report.problems)} problems"
            )
    finally:
        services.close()
