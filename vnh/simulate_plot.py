"""`vnh simulate --plot out.png`: the time to a person's answer against the 60 s / 180 s targets.

matplotlib is an optional extra (`pip install -e ".[plot]"`): the simulation needs none of
it, and a missing install is told with the command that fixes it. Labels are Chinese first,
English second, in a CJK font when the machine has one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from care_api.domain.answer_times import ANSWER_LIMITS_S, ANSWER_TARGETS

if TYPE_CHECKING:
    from vnh.simulate import Figures

INSTALL_HINT = (
    "--plot needs matplotlib, an optional extra: "
    'pip install -e ".[plot]" (or pip install "matplotlib>=3.8")'
)
WIDTH_IN, HEIGHT_IN, DPI = 10.0, 5.0, 100  # 1000 x 500 pixels
# Fonts that have Chinese glyphs, tried in order; DejaVu (matplotlib's own) for the rest.
CJK_FONTS = ["WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "SimHei"]
CJK_FILE_HINT = re.compile(r"wqy|cjk|sourcehansans|simhei", re.IGNORECASE)


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed; the message says how to install it."""


def need_matplotlib() -> None:
    """PlotUnavailable, saying how to install it, when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401 - only whether it is there
    except ImportError:
        raise PlotUnavailable(INSTALL_HINT) from None


def answer_curve(answers: Sequence[float], unanswered: int) -> tuple[list[float], list[float]]:
    """The share of emergencies answered by each time: x in s, y in 0..1 (never answered: miss)."""
    total = len(answers) + unanswered
    xs = sorted(answers)
    return xs, [(i + 1) / total for i in range(len(xs))]


def _cjk_families(font_manager: Any) -> list[str]:  # noqa: ANN401 - matplotlib's module
    """The CJK fonts matplotlib can use, found again when installed after its font cache.

    matplotlib lists the system's fonts once and keeps the list: a font installed later (as
    `make test` installs one) stays unseen, and the Chinese labels would be empty boxes.
    """
    manager = font_manager.fontManager
    have = {f.name for f in manager.ttflist}
    if not any(f in have for f in CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if CJK_FILE_HINT.search(Path(path).name):
                manager.addfont(path)
        have = {f.name for f in manager.ttflist}
    return [f for f in CJK_FONTS if f in have]


def plot_answer_times(runs: Sequence[Figures], out: Path) -> Path:
    """Draw each run's answer-time distribution with the targets into `out` (PNG)."""
    need_matplotlib()
    import matplotlib as mpl

    mpl.use("Agg")  # no display: files only
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    families = [*_cjk_families(font_manager), "DejaVu Sans"]
    with mpl.rc_context({"font.family": families, "axes.unicode_minus": False}):
        fig, (cdf, hist) = plt.subplots(1, 2, figsize=(WIDTH_IN, HEIGHT_IN), dpi=DPI)
        longest = max([600.0, *(max(f.answer_s, default=0.0) for f in runs)])
        for f in runs:
            xs, ys = answer_curve(f.answer_s, f.unanswered)
            cdf.step(
                [0.0, *xs, longest],
                [0.0, *ys, ys[-1] if ys else 0.0],
                where="post",
                label=f"{f.scenario} ({len(xs) + f.unanswered})",
            )
            hist.hist(f.answer_s, bins=range(0, int(longest) + 30, 30), alpha=0.5, label=f.scenario)
        for limit in ANSWER_LIMITS_S:
            target = ANSWER_TARGETS[limit]
            for ax in (cdf, hist):
                ax.axvline(limit, color="grey", linestyle="--", linewidth=1)
            cdf.plot([limit], [target], marker="o", color="red")
            cdf.annotate(
                f"{limit} s: 目标 target {target:.1%}",
                (limit, target),
                textcoords="offset points",
                xytext=(8, -16 - 14 * ANSWER_LIMITS_S.index(limit)),
                fontsize=8,
                color="red",
                # Readable over the curve it sits on.
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.85, "pad": 1},
            )
        cdf.set_xlim(0, longest)
        cdf.set_ylim(0, 1.02)
        cdf.set_xlabel("到有人应答的时间 time to a person's answer (s)")
        cdf.set_ylabel("已应答的紧急呼叫 share of emergencies answered")
        cdf.set_title("紧急呼叫应答 Emergencies answered by")
        cdf.legend(loc="lower right", fontsize=8)
        hist.set_xlabel("到有人应答的时间 time to a person's answer (s)")
        hist.set_ylabel("紧急呼叫数 emergencies (30 s bins)")
        hist.set_title(f"分布 Distribution, {runs[0].days} 天 days")
        hist.legend(fontsize=8)
        fig.tight_layout()
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out, format="png", dpi=DPI)
        plt.close(fig)
    return out
