"""The terminal fleet on the alerts side: the watch's beat, command timeouts, "it works again".

The watch itself (`care_api.usecases.fleet.watch`) opens device cases; their alerts then
follow the `device` ladder like any case (first contact by SMS, the technicians' console).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from alerts.escalation import case_facts, notice_addresses
from alerts.sender import OutboxWriter
from alerts.timers import Dispatch, TimerContext
from care_api.domain.model import CaseKind, CaseState
from care_api.domain.texts import Msg
from care_api.services import Services
from care_api.store.tables import Case, Elder, Timer
from care_api.usecases.cases.ladders import CONSOLE, Audience
from care_api.usecases.fleet.commands import expire_command
from care_api.usecases.fleet.device_cases import settle_if_steady
from care_api.usecases.fleet.positions import prune_positions
from care_api.usecases.fleet.storms import follow_up, release_held, sweep_incidents
from care_api.usecases.fleet.watch import WatchReport, watch_fleet
from care_api.usecases.people.languages import worded_for

log = logging.getLogger(__name__)

# 3 × 300 s is the usual silence before an alarm; a check every 10 s adds little to it.
FLEET_WATCH_INTERVAL_S = 10.0
# 0: the broker's last will opens the case at the next check. The check itself is the
# only grace: a connection that drops and comes back between two checks raises nothing.
LWT_GRACE_S = 0.0
FLEET_JOB_ID = "alerts-fleet-watch"
PRUNE_EVERY = timedelta(hours=1)  # old positions go in one sweep an hour
TECHNICIAN = Audience.TECHNICIAN.value


def works_again_text(elder_name: str, case_id: str) -> str:
    """What the people alerted for a terminal problem hear once it cleared by itself."""
    return Msg(
        "{elder}'s help terminal works again (case {case}). No need to act.",
        elder=elder_name,
        case=case_id,
    )


class FleetAlerts:
    """Runs the fleet watch on a beat and answers the fleet's timers and resolutions."""

    def __init__(
        self,
        services: Services,
        dispatch: Dispatch,
        *,
        interval_s: float = FLEET_WATCH_INTERVAL_S,
        lwt_grace_s: float = LWT_GRACE_S,
    ) -> None:
        self._services = services
        self._dispatch = dispatch
        self._interval_s = interval_s
        self._lwt_grace_s = lwt_grace_s
        self.last_report: WatchReport | None = None
        self._pruned_at: datetime | None = None

    def watch(self, now: datetime | None = None) -> WatchReport:
        """One run of the watch: flush the heartbeats, open and end outages."""
        services = self._services
        report = watch_fleet(
            services.uow,
            now or services.clock.now(),
            services.tz,
            book=services.heartbeats,
            lwt_grace_s=self._lwt_grace_s,
        )
        self.last_report = report
        try:
            sweep_incidents(services.uow, now or services.clock.now())
        except Exception:
            log.exception("incident sweep failed")  # the next beat looks again
        self.prune(now or services.clock.now())
        return report

    def prune(self, now: datetime) -> int:
        """Delete positions past their retention, at most once an hour; how many went."""
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return 0
        days = self._services.settings.position_retention_days
        try:
            gone = prune_positions(self._services.uow, now - timedelta(days=days))
        except Exception:
            log.exception("position retention failed")  # the next hour tries again
            return 0
        self._pruned_at = now
        if gone:
            log.info("deleted %d positions older than %d days", gone, days)
        return gone

    def schedule(self, scheduler: BackgroundScheduler) -> None:
        """Run the watch every `interval_s` on the alerts scheduler's thread."""
        scheduler.add_job(
            self._beat,
            "interval",
            seconds=self._interval_s,
            id=FLEET_JOB_ID,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )

    def _beat(self) -> None:
        try:
            self.watch()
        except Exception:
            # The database may be away for a moment; the next beat looks again.
            log.exception("fleet watch failed")

    def expire_command(self, ctx: TimerContext, timer: Timer) -> None:
        """The `device_command` timer: a command still unanswered times out."""
        expire_command(ctx.uow.session, timer.step, ctx.now)

    def settle(self, ctx: TimerContext, timer: Timer) -> None:
        """The `device_settle` timer: a terminal that stayed fine resolves its case."""
        if timer.case_id is not None:
            settle_if_steady(ctx.uow, timer.case_id, now=ctx.now)

    def follow_up(self, ctx: TimerContext, timer: Timer) -> None:
        """The `incident_followup` timer: terminals still down after an incident, a case each."""
        follow_up(ctx.uow, timer.step, now=ctx.now, tz=self._services.tz)

    def release_held(self, ctx: TimerContext, timer: Timer) -> None:
        """The `storm_hold` timer: no storm came, the held terminal gets its case now."""
        release_held(ctx.uow, timer.step, now=ctx.now, tz=self._services.tz)

    def notify_back(self, case_id: str, by: str) -> None:
        """A device case the terminal's return resolved: those alerted hear it works again.

        Cases resolved by a person (or of another kind) are left alone.
        """
        if not by.startswith(("system:", "device:")):
            return
        with self._services.uow() as uow:
            case = uow.session.get(Case, case_id)
            if case is None or case.kind != CaseKind.DEVICE or case.state != CaseState.RESOLVED:
                return
            facts = case_facts(case, uow.session.get(Elder, case.elder_id))
            writer = OutboxWriter(uow.session, self._services.clock.now())
            text = works_again_text(facts.elder_name, case.id)
            centre = self._services.settings.language
            for who, where in notice_addresses(uow.session, case.id).items():
                body, lang = worded_for(uow.session, who, text, centre=centre)
                writer.add(
                    case_id=case.id,
                    channel=where.channel,
                    to=where.to,
                    recipient=who,
                    body=body,
                    key=f"back:{case.id}:{who}",
                    language=lang,
                )
            writer.add(
                case_id=case.id,
                channel=CONSOLE,
                to=TECHNICIAN,
                recipient=TECHNICIAN,
                body=Msg(
                    "{case} resolved by itself: {elder}'s terminal works again",
                    case=case.id,
                    elder=facts.elder_name,
                ),
                key=f"back:{case.id}:{TECHNICIAN}",
            )
            uow.commit()
        if writer.to_send:
            self._dispatch(writer.to_send)
