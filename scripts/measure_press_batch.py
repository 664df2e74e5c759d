"""Wall and CPU of one press batch, this tree's `record_presses` against a git ref's, paired.

The ref's `batch.py` runs with the ref's `batch_pg.py`; everything else is this tree's.

Run from the repository root: `PYTHONPATH=. .venv/bin/python scripts/measure_press_batch.py
postgres 20 200 [main] [--open]` (KIND: sqlite or postgres, the latter on
$VNH_TEST_PG_DSN). Batches of N presses from 100 terminals alternate between the two versions
in one process on one database; `--open` closes every case after each batch, so that each
batch opens its cases instead of joining them.
"""

from __future__ import annotations

import importlib.util
import itertools
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import ModuleType

from care_api.services import Services, build_services
from care_api.usecases.intake import batch
from tests.conftest import make_settings
from tests.databases import database_url
from tests.fakes import FakeClock
from tests.helpers import press, seed_elder

TERMINALS = 100
WARM_UP = 40


def load_ref(ref: str, workdir: Path) -> ModuleType:
    """`care_api/usecases/intake/batch.py` as it is at `ref`, with the `batch_pg` of `ref`."""
    module = _load_module(ref, "batch", workdir)
    module.batch_pg = _load_module(ref, "batch_pg", workdir)  # looked up at each call
    return module


def _load_module(ref: str, name: str, workdir: Path) -> ModuleType:
    """`care_api/usecases/intake/NAME.py` as it is at `ref`, as a module of its own."""
    source = subprocess.run(  # noqa: S603 - git, our own repository
        ["git", "show", f"{ref}:care_api/usecases/intake/{name}.py"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = workdir / f"{name}_ref.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(f"{name}_ref", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[f"{name}_ref"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def measure(
    services: Services, versions: dict[str, ModuleType], size: int, batches: int, opening: bool
) -> dict[str, tuple[list[float], list[float]]]:
    """Per-batch (wall ms, CPU ms) of each version, batches alternating between them."""
    seq: Counter[str] = Counter()
    names = itertools.cycle(f"B{n:03d}" for n in range(TERMINALS))
    found: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in versions}
    order = itertools.cycle(versions.items())
    for n in range(len(versions) * batches + WARM_UP):
        reports = []
        for _ in range(size):
            name = next(names)
            seq[name] += 1
            reports.append(press(name, boot=1, seq=seq[name], pattern="long"))
        label, module = next(order)
        wall, cpu = time.perf_counter(), time.thread_time()
        module.record_presses(services.uow, reports, now=services.clock.now(), tz=services.tz)
        wall, cpu = time.perf_counter() - wall, time.thread_time() - cpu
        if opening:
            with services.engine.begin() as conn:
                conn.exec_driver_sql("UPDATE care_case SET state = 'closed'")
        if n >= WARM_UP:
            found[label][0].append(wall * 1000)
            found[label][1].append(cpu * 1000)
    return found


def main(kind: str, size: int, batches: int, ref: str, opening: bool) -> None:
    """Print p50/p90 wall and p50 CPU of each version."""
    with tempfile.TemporaryDirectory() as tmp, database_url(kind, Path(tmp)) as url:
        versions = {ref: load_ref(ref, Path(tmp)), "tree": batch}
        services = build_services(make_settings(url), clock=FakeClock())
        try:
            for n in range(TERMINALS):
                seed_elder(services, f"B{n:03d}", contacts=1)
            found = measure(services, versions, size, batches, opening)
        finally:
            services.close()
    for label, (walls, cpus) in found.items():
        walls.sort()
        cpus.sort()
        sys.stdout.write(
            f"{kind} {size} presses/batch {label:>8}: wall p50 {walls[len(walls) // 2]:6.2f} "
            f"p90 {walls[len(walls) * 9 // 10]:6.2f} ms, CPU p50 {cpus[len(cpus) // 2]:5.2f} ms\n"
        )


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--open"]
    main(
        args[0],
        int(args[1]),
        int(args[2]),
        args[3] if len(args) > 3 else "main",
        "--open" in sys.argv,
    )
