"""Figures: each plot_* returns (fig, ax) built from plain data, and never saves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_run import REGIONS, build_fake_run
from matplotlib.figure import Figure
from shapely.geometry import box

from model.reporting import plots
from model.reporting.artefacts import Run, contributions, load_run


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    return load_run(build_fake_run(tmp_path_factory.mktemp("run")))


@pytest.fixture(autouse=True)
def _no_savefig(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("plot functions must not save")

    monkeypatch.setattr(Figure, "savefig", refuse)


def test_risk_map_draws_every_region_on_both_panels(run: Run) -> None:
    fig, axs = plots.plot_risk_map(run.geometry, run.forecast)
    assert isinstance(fig, Figure) and len(axs) == 2
    assert all(len(ax.patches) == len(REGIONS) for ax in axs)


def test_risk_map_marks_regions_without_boundary_or_forecast(run: Run) -> None:
    geometry = dict(run.geometry, Elsewhere=box(50, 30, 51, 31))
    geometry.pop("West")
    fig, axs = plots.plot_risk_map(geometry, run.forecast)
    assert any(p.get_hatch() == "//" for p in axs[0].patches)
    assert any("West" in t.get_text() for t in fig.texts)


def test_risk_over_time_one_panel_per_region(run: Run) -> None:
    _fig, axs = plots.plot_risk_over_time(
        run.panel, run.forecast, REGIONS[:3], history_periods=10, predictions=run.predictions
    )
    visible = [ax for ax in axs if ax.get_visible()]
    assert len(visible) == 3
    assert REGIONS[2].replace("$", r"\$") in visible[2].get_title(loc="left")


def test_coefficients_and_contributions(run: Run) -> None:
    _fig, ax = plots.plot_coefficients(run.idata)
    assert len(ax.get_yticklabels()) == 5
    contrib, _ = contributions(run, REGIONS[:2])
    _fig, ax = plots.plot_contributions(contrib)
    assert len(ax.texts) == contrib.size


def test_reliability_panels_and_skill(run: Run) -> None:
    panels = {"each step": run.predictions, "within H": run.within}
    _fig, axs = plots.plot_reliability(panels, columns=["model", "climatology", "nope"])
    assert len(axs) == 2
    assert all(len(ax.lines) == 3 for ax in axs)  # diagonal + two curves (no "nope" column)
    assert axs[1].get_title() == "within H"
    skill = run.backtest["windows"]["test"]["skill"]
    _fig, ax = plots.plot_skill(skill)  # one interval is null: drawn as a gap
    assert len(ax.patches) == 5 * 2


def test_reliability_of_a_rare_dyad_zooms_to_its_bins() -> None:
    """Forecasts of 0.2-3% on 10 quantile bins: ten points, axes ending near 5%, not 100%."""
    rng = np.random.default_rng(0)
    p = rng.uniform(0.002, 0.03, 2000)
    rows = pd.DataFrame({"model": p, "y": (rng.random(2000) < p).astype(int)})
    _fig, axs = plots.plot_reliability({"each step": rows}, bins=10)
    curve = axs[0].lines[1]
    assert len(curve.get_xdata()) == 10
    assert axs[0].get_xlim() == axs[0].get_ylim() and 4 < axs[0].get_xlim()[1] < 10


def test_dollar_in_names_is_not_mathtext() -> None:
    df = pd.DataFrame(np.ones((1, 2)), index=["A $x$ place"], columns=["f$", "g"])
    _fig, ax = plots.plot_contributions(df)
    assert ax.get_yticklabels()[0].get_text() == r"A \$x\$ place"
