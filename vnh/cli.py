"""The `vnh` command line, and the composition root: the one module that sees every package."""

from __future__ import annotations

import logging
import multiprocessing
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
import uvicorn

from care_api.domain.model import Role
from care_api.http.case_stream import CaseStream
from care_api.http.console_server import GRACEFUL_SHUTDOWN_S, ConsoleAwareServer
from care_api.i18n import language_of, t
from care_api.log_privacy import install_phone_mask
from care_api.services import Services, build_services
from care_api.settings import Settings
from care_api.usecases.people.tokens import mint_token
from firmware_sim.cli import sim
from vnh.bench import bench
from vnh.bench_heartbeats import bench_heartbeats
from vnh.bench_scale import bench_scale
from vnh.bench_storm import bench_storm
from vnh.bench_watch import bench_watch
from vnh.broker_config import broker_config
from vnh.onboarding import bench_import, import_file, user_app

if TYPE_CHECKING:
    from fastapi import FastAPI

    from vnh.simulate import Figures, Scenario

app = typer.Typer(
    help="Virtual nursing home backend: one-button terminals, care cases, alerts.",
    no_args_is_help=True,
    add_completion=False,
)
token_app = typer.Typer(help="Bearer tokens for people.", no_args_is_help=True)
app.add_typer(token_app, name="token")
app.command("sim", help="Run simulated terminals against a running service.")(sim)
app.command("broker-config")(broker_config)
bench_app = typer.Typer(
    help="Measure presses: burst rate and latency against a bare MQTT echo.",
    add_completion=False,
)
bench_app.callback(invoke_without_command=True)(bench)
bench_app.command("storm", help="A district blackout while elders press for help.")(bench_storm)
bench_app.command("scale", help="One and two gateway processes; what a terminal and a press cost.")(
    bench_scale
)
app.add_typer(bench_app, name="bench")
app.command("bench-heartbeats", help="Measure heartbeat intake of many terminals.")(
    bench_heartbeats
)
app.command("bench-watch", help="Measure the 4G watch receiver with many connected watches.")(
    bench_watch
)
app.command("import")(import_file)
app.command("bench-import", help="Time the import of a generated register of elders.")(bench_import)
app.add_typer(user_app, name="user")


def _side_by_side(
    run: Callable[..., Figures], scenarios: list[Scenario], *, seed: int, days: int
) -> list[Figures]:
    """Each scenario's run, in order; with --compare each in a process of its own.

    A run is one thread of Python, so three scenarios on two cores took three runs' time.
    The runs share nothing (each its own throwaway database and random streams): the
    figures are the same as one after the other.
    """
    if len(scenarios) == 1:
        return [run(scenarios[0], seed=seed, days=days)]
    workers = min(len(scenarios), os.cpu_count() or 1)
    # Spawned, not forked: a fork copies whatever threads and connections the parent holds.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(run, s, seed=seed, days=days) for s in scenarios]
        return [future.result() for future in futures]


@app.command()
def simulate(
    scenario: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, help="A scenario TOML file."),
    ] = None,
    days: Annotated[int, typer.Option(min=1, max=31, help="Days to simulate.")] = 7,
    seed: Annotated[int, typer.Option(help="The same seed gives the same figures.")] = 1,
    compare: Annotated[
        list[Path] | None,
        typer.Option(
            exists=True, dir_okay=False, help="Another scenario, shown side by side (repeatable)."
        ),
    ] = None,
    plot: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="Draw the answer-time distribution into this PNG."),
    ] = None,
    from_db: Annotated[
        str | None,
        typer.Option(help="Make a scenario from this database URL instead of running one."),
    ] = None,
    history_days: Annotated[
        int, typer.Option(min=1, max=366, help="With --from-db: press rates of the last days.")
    ] = 30,
    out: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="With --from-db: write the scenario here."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(help="The report's language: zh-CN or en (default: the centre's)."),
    ] = None,
) -> None:
    """Run a district on a virtual clock through the service's own code; print its figures."""
    # Imported here: it builds the alerts engine, which `vnh token` never needs.
    from rich.console import Console

    from care_api.domain.errors import InvalidInput
    from vnh.simulate import Scenario, rich_table
    from vnh.simulate import simulate as run

    if from_db is not None:
        if scenario is not None or compare or plot is not None:
            raise typer.BadParameter("--from-db makes a scenario: give no scenario to run")
        _scenario_from_db(from_db, history_days, out)
        return
    if scenario is None:
        raise typer.BadParameter("give a scenario TOML file, or --from-db URL to make one")
    if plot is not None:
        from vnh.simulate_plot import PlotUnavailable, need_matplotlib, plot_answer_times

        try:
            need_matplotlib()  # before a run of minutes, not after it
        except PlotUnavailable as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(1) from None
    try:
        scenarios = [Scenario.load(p) for p in (scenario, *(compare or []))]
    except InvalidInput as exc:
        raise typer.BadParameter(str(exc)) from None
    runs = _side_by_side(run, scenarios, seed=seed, days=days)
    said = language_of(language or Settings().language)
    Console(width=100).print(rich_table(runs, said))
    if plot is not None:
        plot_answer_times(runs, plot)
        typer.echo(t(said, "answer times drawn into {path}", path=str(plot)))


def _scenario_from_db(url: str, history_days: int, out: Path | None) -> None:
    """`vnh simulate --from-db`: print the scenario made from the database, or write it."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from vnh.simulate_from_db import scenario_from_db

    settings = Settings()
    try:
        text = scenario_from_db(
            url,
            now=datetime.now(UTC),
            history_days=history_days,
            timezone=settings.timezone,
            centre_language=settings.language,
        )
    except (ArgumentError, SQLAlchemyError) as exc:
        raise typer.BadParameter(f"--from-db: {exc.__class__.__name__}: {exc}") from None
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(t(settings.language, "scenario written to {path}", path=str(out)))


LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def build_app(
    settings: Settings, services: Services, *, freeze_heap: bool = False
) -> tuple[FastAPI, CaseStream]:
    """Wire the API, console, device gateway and alerts engine into one ASGI app.

    Returns the app and the console's event stream, which the server must close on shutdown.
    `freeze_heap`: the process lives as long as the gateway (`vnh serve`, `vnh demo`), so
    what it holds at start may leave the garbage collector's walks; never in a test process,
    where sockets left to the collector would then be closed in some later test.
    """
    # Imported here, not at the top: the composition root is the only place allowed to see
    # the gateway and alerts (import-linter contract), and `vnh token` needs neither.
    from alerts.runtime import WEBHOOK_ROUTERS, AlertsComponent
    from care_api.http.app import create_app
    from device_gateway.runtime import GatewayComponent

    gateway = GatewayComponent(settings, services, freeze_heap=freeze_heap)
    alerts = AlertsComponent(settings, services)
    stream = CaseStream(services.bus)
    api = create_app(
        services,
        routers=WEBHOOK_ROUTERS,
        components=[gateway, alerts],
        health_checks={"gateway": gateway.health, "alerts": alerts.health},
        stream=stream,
        state=alerts.app_state(),
    )
    return api, stream


def http_server(settings: Settings, api: FastAPI, stream: CaseStream) -> uvicorn.Server:
    """The uvicorn server for `api`, closing open console streams when it stops."""
    config = uvicorn.Config(
        api,
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        log_config=None,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
        ssl_certfile=settings.http_ssl_certfile,
        ssl_keyfile=settings.http_ssl_keyfile,
    )
    return ConsoleAwareServer(config, streams=[stream])


def channel_error() -> str | None:
    """Why the alerts cannot start: a declared channel without a notifier adapter."""
    from alerts.notify.registry import adapter_config_error

    return adapter_config_error()


@app.command()
def serve() -> None:
    """Run API, gateway and timers in one process (and a broker when VNH_MQTT_URL is unset)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    install_phone_mask()  # whatever a log site or a library forgot to mask
    settings = Settings()
    problem = settings.webhook_config_error() or settings.wechat_config_error() or channel_error()
    if problem is not None:
        typer.echo(f"vnh serve: {problem}", err=True)
        raise typer.Exit(code=2)
    if settings.admin_token is None:
        logging.getLogger(__name__).warning(
            "VNH_ADMIN_TOKEN is not set: staff sign in with their logins "
            "(`vnh user add NAME --role admin` creates the first) or minted tokens"
        )
    services = build_services(settings)
    try:
        http_server(settings, *build_app(settings, services, freeze_heap=True)).run()
    finally:
        services.close()


@app.command()
def demo(
    elders: Annotated[int, typer.Option(help="How many simulated elders and terminals.")] = 6,
    rate: Annotated[float, typer.Option(help="Button presses per second across the street.")] = 0.3,
    database_url: Annotated[
        str, typer.Option(envvar="VNH_DATABASE_URL", help="Database for the demo.")
    ] = "sqlite:///vnh-demo.db",
) -> None:
    """Run the whole service plus a street of simulated elders pressing buttons; Ctrl-C stops."""
    from vnh.demo import run_demo

    # The demo's street has made-up phone numbers and no public URL: its messages go to the
    # outbox even where a Twilio account is configured, so it needs no webhooks.
    overrides: dict[str, object] = {
        "database_url": database_url,
        "twilio_account_sid": None,
        "twilio_auth_token": None,
        "twilio_from": None,
        # Callbacks by machine run in the demo too: their messages land in the outbox.
        "auto_callbacks": True,
    }
    if not Settings().admin_token:
        overrides["admin_token"] = secrets.token_urlsafe(24)
    settings = Settings(**overrides)  # type: ignore[arg-type]
    services = build_services(settings)
    try:
        server = http_server(settings, *build_app(settings, services, freeze_heap=True))
        run_demo(settings, services, server, elders=elders, rate=rate)
    finally:
        services.close()


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="The person's role.")],
    name: Annotated[str, typer.Option(help="Who the token is for.")],
    days: Annotated[int, typer.Option(help="Days until it expires (0: never).")] = 90,
    subject_id: Annotated[
        int | None, typer.Option(help="The volunteer, merchant or contact id this person is.")
    ] = None,
    elder: Annotated[
        list[int] | None, typer.Option(help="An elder a caregiver cares for (repeatable).")
    ] = None,
) -> None:
    """Mint a bearer token straight in the database (first set-up, or recovery)."""
    services = build_services(Settings())
    now = datetime.now(UTC)
    try:
        with services.uow() as uow:
            row, token = mint_token(
                uow.session,
                role=role,
                name=name,
                now=now,
                subject_id=subject_id,
                elder_ids=elder or (),
                expires_at=now + timedelta(days=days) if days else None,
            )
            uow.commit()
    finally:
        services.close()
    language = Settings().language
    typer.echo(
        t(
            language,
            "token id {id} for {name} ({role}): {token}",
            id=row.id,
            name=name,
            role=str(role),
            token=token,
        )
    )
    typer.echo(t(language, "It is shown only now; keep it somewhere safe."))


def main() -> None:
    """Entry point of the `vnh` script."""
    app()
