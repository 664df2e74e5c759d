"""Time the case page's reads with a city's volunteers: the elder's map and the case detail.

Run from the repository: `PYTHONPATH=. .venv/bin/python scripts/measure_desk.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient
from pydantic import SecretStr

from care_api.http.app import create_app
from care_api.services import build_services
from care_api.settings import Settings
from care_api.store.tables import Volunteer
from care_api.usecases.intake.reports import record_device_report
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

VOLUNTEERS = 10_000
ROUNDS = 50
HOME = (29.08, 119.65)


def main() -> None:
    """Seed, then read each page ROUNDS times and report median and p90."""
    db = Path(tempfile.mkdtemp()) / "desk.db"
    clock = FakeClock()
    settings = Settings(
        database_url=f"sqlite:///{db}",
        admin_token=SecretStr("admin"),
        _env_file=None,  # type: ignore[call-arg]
    )
    svc = build_services(settings, clock=clock)
    elder_id, _ = seed_elder(svc, "T1001", lat=HOME[0], lon=HOME[1])
    rnd = random.Random(1)
    with svc.uow() as uow:  # about a 60 km square around the home
        for i in range(VOLUNTEERS):
            lat = HOME[0] + rnd.uniform(-0.27, 0.27)
            lon = HOME[1] + rnd.uniform(-0.31, 0.31)
            phone = f"+86137{i:08d}"
            uow.session.add(
                Volunteer(name=f"V{i}", phone=phone, lat=lat, lon=lon, created_at=clock.now())
            )
        uow.commit()
    case_id = record_device_report(svc.uow, press("T1001", seq=1), now=clock.now(), tz=svc.tz)
    headers = {"Authorization": "Bearer admin"}
    with TestClient(create_app(svc)) as client:
        for name, path in (
            ("map", f"/api/v1/elders/{elder_id}/map"),
            ("case", f"/api/v1/cases/{case_id.case_id}"),
        ):
            times = []
            for _ in range(ROUNDS):
                start = time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append((time.perf_counter() - start) * 1000)
                answer.raise_for_status()
            times.sort()
            p90 = times[int(len(times) * 0.9) - 1]
            median = statistics.median(times)
            sys.stdout.write(f"{name}: median {median:.1f} ms, p90 {p90:.1f} ms\n")
    svc.close()


if __name__ == "__main__":
    main()
