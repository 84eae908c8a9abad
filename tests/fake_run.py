"""A fake tiny pipeline run for the report, plot, artefact and notebook tests.

Writes, under a root directory, every artefact ``docs/interfaces.md`` names (panel, posterior,
forecast, scenarios, diagnostics, backtest, predictions, ingest metrics, events, PROVENANCE.md,
boundaries and a params file), shaped exactly as the interfaces say but built directly with
NumPy/xarray: no sampling. Two countries, four regions, 30 weekly periods, horizon 3.

Text that a report shows from the data carries HTML payloads (``<script>`` and ``onerror=``)
so that tests can prove it is escaped.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd
import xarray as xr

from model.config import read_params
from model.data.panel_facts import PanelFacts
from model.data.schema import empty_positions
from model.inference.diagnostics import pointwise_loo
from model.inference.forecast_context import forecast_context
from model.inference.posterior import expected_attrs

SCRIPT = "<script>alert(1)</script>"
ONERROR = "<img src=x onerror=alert(1)>"
REGIONS = ["North", "South", f"East {SCRIPT}", "West"]
COUNTRIES = ["Alpha", "Alpha", "Beta", "Beta"]
REGION_IDS = ["AL-N", "AL-S", "BE-E", "BE-W"]
FEATURES = [
    "clash_decay_hl1",
    "clash_decay_hl4",
    "since_clash",
    "nbr_clash_decay_hl4",
    "prox_government__armed_group_near",
]
HORIZON = 3
N_PERIODS = 30
CHAINS, DRAWS = 2, 40

# An unbroken 90-character name: the side tables must wrap it, on A4 and on a phone.
LONG_ACTOR = "Militia(Pro-Government)" + "-LocalDefenceForcesOfTheGovernorate" * 2
SIDE_COVERAGE = {
    "sides": {
        "government": {"events": 40, "actors": 1, "top_actors": [["Government of Alpha", 40]]},
        "armed_group": {
            "events": 40,
            "actors": 3,
            "top_actors": [["IS", 15], [ONERROR, 13], ["Armed group " + SCRIPT, 12]],
        },
        "other": {"events": 9, "actors": 2, "top_actors": [[LONG_ACTOR, 6], ["Unknown", 3]]},
    },
    "unknown_side": "other",
    "unknown_side_top": [[LONG_ACTOR, 6], ["Unknown " + SCRIPT, 3]],
}

PARAMS_YAML = """\
ingest:
  window: {start: 2020-01-06, end: 2020-08-02}
  regions:
    boundaries:
      - {path: data/raw/boundaries/alpha.geojson, country: Alpha,
         name_property: shapeName, id_property: shapeISO}
      - {path: data/raw/boundaries/beta.geojson, country: Beta,
         name_property: shapeName, id_property: shapeISO}
  sources:
    - {name: tiny_ged, path: data/raw/tiny_ged.csv, format: ucdp_ged, licence: CC BY 4.0}
  sides:
    government: [Government of Alpha]
    armed_group: ["re:.*"]
  categories:
    ucdp_ged: {"1": state_based}
panel:
  freq: W-MON
  clash: {categories: [state_based], sides: [government, armed_group]}
  half_lives: [1, 4]
  proximity:
    - {a: government, b: armed_group}
  level_long_half_life: 4
model:
  horizon: 3
  burn_in: 8
  offset: clash_level_hl4
  features: [clash_decay_hl1, clash_decay_hl4, since_clash, nbr_clash_decay_hl4,
             prox_government__armed_group_near]
  proximity_block: [prox_government__armed_group_near]
  priors:
    intercept: {dist: Normal, mu: -2.0, sigma: 1.5}
    beta: {dist: Normal, mu: 0.0, sigma: 1.0}
    sigma_block: {dist: HalfNormal, sigma: 1.0}
scenarios:
  - name: closer
    description: "Forces within 10 km <script>alert(1)</script>"
    regions: [North]
    changes:
      - {feature: prox_government__armed_group_km, set: 10}
report:
  title: "tiny clashcast run"
  top_n: 3
  history_periods: 20
  regions_over_time: 2
"""

PROVENANCE_MD = f"""\
# Provenance of the raw data

## tiny_ged — `data/raw/tiny_ged.csv`

- **Source:** a made-up extract for tests
- **Licence:** CC BY 4.0
- **Attribution:** Made-up Conflict Data Program, tiny edition.
- **Changes:** notes with a payload {ONERROR} and {SCRIPT}

## Boundaries — `data/raw/boundaries/*.geojson`

- **Source:** squares drawn by hand
- **Licence:** CC0
"""


def _square(x0: float, y0: float) -> dict:
    ring = [[x0, y0], [x0 + 1, y0], [x0 + 1, y0 + 1], [x0, y0 + 1], [x0, y0]]
    return {"type": "Polygon", "coordinates": [ring]}


def _geojson(names: list[str], ids: list[str], corners: list[tuple[float, float]]) -> str:
    feats = [
        {
            "type": "Feature",
            "properties": {"shapeName": n, "shapeISO": i},
            "geometry": _square(*c),
        }
        for n, i, c in zip(names, ids, corners, strict=True)
    ]
    return json.dumps({"type": "FeatureCollection", "features": feats})


def _panel(rng: np.random.Generator) -> xr.Dataset:
    periods = pd.date_range("2020-01-06", periods=N_PERIODS, freq="W-MON")
    rate = np.array([0.5, 0.2, 0.35, 0.05])[:, None]
    clash = rng.poisson(rate * np.ones((1, N_PERIODS))).astype("int64")
    events = clash + rng.poisson(1.0, clash.shape)
    ds = xr.Dataset(
        {
            "count_state_based": (("region", "period"), clash),
            "events": (("region", "period"), events.astype("int64")),
            "fatalities": (("region", "period"), (3 * clash).astype("int64")),
            "clash": (("region", "period"), clash),
            "clash_any": (("region", "period"), (clash > 0).astype("int8")),
        },
        coords={
            "region": REGIONS,
            "period": periods,
            "period_end": ("period", periods + pd.Timedelta(days=6)),
            "country": ("region", COUNTRIES),
            "region_id": ("region", REGION_IDS),
        },
    )
    for f in FEATURES:
        ds[f] = (("region", "period"), rng.normal(0.5, 0.3, clash.shape).clip(0))
    ds["prox_government__armed_group_km"] = (("region", "period"), rng.uniform(5, 90, clash.shape))
    ds["clash_level_hl4"] = (("region", "period"), rng.normal(-1.0, 0.8, clash.shape))
    facts = PanelFacts(
        freq="W-MON",
        half_lives=(1.0, 4.0),
        level_long_half_life=4.0,
        level_prior=4.0,
        clash_sides=("government", "armed_group"),
        feature_names=tuple(FEATURES),
    )
    ds.attrs = {
        **facts.to_attrs(),
        "window_start": "2020-01-06",
        "window_end": "2020-08-02",
        "clash_categories": json.dumps(["state_based"]),
        "proximity_scale_km": 50.0,
        "input_sha256_tiny_ged.csv": "ab" * 32,
    }
    return ds


def _group(vars_: dict[str, tuple[tuple[str, ...], np.ndarray]], coords: dict) -> xr.Dataset:
    ds = xr.Dataset({k: (("chain", "draw", *d), v) for k, (d, v) in vars_.items()})
    return ds.assign_coords({k: v for k, v in coords.items() if k in ds.dims})


def _idata(rng: np.random.Generator, panel: xr.Dataset) -> xr.DataTree:
    nf, nr = len(FEATURES), len(REGIONS)
    sh = (CHAINS, DRAWS)
    n_obs = 24
    coords = {
        "chain": np.arange(CHAINS),
        "draw": np.arange(DRAWS),
        "region": REGIONS,
        "country": ["Alpha", "Beta"],
        "feature": FEATURES,
        "horizon": np.arange(1, HORIZON + 1),
        "obs_id": np.arange(n_obs),
        "offset_feature": ["clash_level_hl4"],
    }

    def draws(size: tuple[int, ...] = (), loc: float = 0.0, scale: float = 1.0) -> np.ndarray:
        return rng.normal(loc, scale, sh + size)

    beta_mu = draws((nf,), 0.3, 0.2)
    beta = beta_mu[:, :, None, :] + draws((HORIZON, nf), 0, 0.1)
    p = 1 / (1 + np.exp(-draws((n_obs,), -1, 1)))
    intercept, sigma_region = draws((), -1.5, 0.3), np.abs(draws((), 0.6, 0.1))
    region_offset = draws((nr,))
    post_vars = {
        "intercept": ((), intercept),
        "sigma_country": ((), np.abs(draws((), 0.4, 0.1))),
        "country_offset": (("country",), draws((2,))),
        "sigma_region": ((), sigma_region),
        "region_offset": (("region",), region_offset),
        "region_eff": (
            ("region",),
            intercept[..., None] + sigma_region[..., None] * region_offset,
        ),
        "sigma_block": ((), np.abs(draws((), 0.7, 0.1))),
        "beta_mu": (("feature",), beta_mu),
        "sigma_beta_horizon": ((), np.abs(draws((), 0.1, 0.05))),
        "beta_offset": (("horizon", "feature"), draws((HORIZON, nf))),
        "beta": (("horizon", "feature"), beta),
    }
    prior_vars = {k: (d, rng.normal(0, 1, v.shape)) for k, (d, v) in post_vars.items()}
    for k in ("sigma_country", "sigma_region", "sigma_beta_horizon", "sigma_block"):
        prior_vars[k] = ((), np.abs(prior_vars[k][1]))
    y = rng.binomial(1, 0.3, (n_obs, HORIZON))
    loglik = np.where(y == 1, np.log(p)[..., None], np.log1p(-p)[..., None]).sum(axis=-1)
    tree = xr.DataTree.from_dict(
        {
            "posterior": _group(post_vars, coords),
            "prior": _group(prior_vars, coords),
            # as the fit stage stores it: PSIS-LOO per block, not the log-likelihood per draw
            "loo": _pointwise_loo(
                _group(post_vars, coords), _group({"clash_any": (("obs_id",), loglik)}, coords)
            ),
            "sample_stats": _group(
                {
                    "diverging": ((), np.zeros(sh, bool)),
                    "energy": ((), draws((), 50, 3)),
                    "lp": ((), draws((), -50, 3)),
                },
                coords,
            ),
            # as PyMC keeps an observed 0/1 outcome: floats
            "observed_data": xr.Dataset(
                {"clash_any": (("obs_id", "horizon"), y.astype("float64"))},
                coords={"obs_id": coords["obs_id"], "horizon": coords["horizon"]},
            ),
            "constant_data": xr.Dataset(
                {
                    "X": (("obs_id", "feature"), rng.normal(0, 1, (n_obs, nf))),
                    "x_mean": ("feature", rng.normal(0.5, 0.1, nf)),
                    "x_scale": ("feature", rng.uniform(0.2, 0.4, nf)),
                    "region_idx": ("obs_id", rng.integers(0, nr, n_obs)),
                    "region_country_idx": ("region", np.array([0, 0, 1, 1])),
                    "offset": (("obs_id", "offset_feature"), rng.normal(-1, 0.5, (n_obs, 1))),
                },
                coords={
                    "feature": FEATURES,
                    "obs_id": coords["obs_id"],
                    "region": REGIONS,
                    "offset_feature": coords["offset_feature"],
                },
            ),
        }
    )
    tree.attrs = {"code_sha256": "0123456789abcdef" * 4, "params_hash_model": "feedbeef"}
    return tree


def _pointwise_loo(posterior: xr.Dataset, log_likelihood: xr.Dataset) -> xr.Dataset:
    """What the fit stage keeps of PSIS-LOO (``diagnostics.pointwise_loo``), computed for real."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Estimated shape parameter of Pareto", UserWarning)
        res = az.loo(
            xr.DataTree.from_dict({"posterior": posterior, "log_likelihood": log_likelihood}),
            pointwise=True,
        )
    return pointwise_loo(res)


def _forecast(
    rng: np.random.Generator, panel: xr.Dataset, idata: xr.DataTree
) -> tuple[xr.Dataset, pd.DataFrame]:
    origin = pd.Timestamp(panel.period.values[-1])
    nr = len(REGIONS)
    base = np.array([0.45, 0.15, 0.30, 0.03])
    logit = np.log(base / (1 - base))[:, None, None] + rng.normal(0, 0.4, (nr, HORIZON, 200))
    p = 1 / (1 + np.exp(-logit))
    da = xr.DataArray(
        p,
        dims=("region", "horizon", "draw"),
        coords={
            "region": REGIONS,
            "horizon": np.arange(1, HORIZON + 1),
            "country": ("region", COUNTRIES),
        },
    )
    cum = 1 - np.cumprod(1 - p, axis=1)
    # the previous origin and the level breakdown as the forecast stage computes them
    context = forecast_context(idata, panel, origin, REGIONS)
    ds = xr.Dataset({"p": da, "p_any_within": da.copy(data=cum)}).merge(context)
    ds.attrs = {"origin": origin.date().isoformat(), **context.attrs}
    p_any = cum[:, -1]
    rank = pd.Series(p_any.mean(1)).rank(ascending=False, method="first").astype(int).to_numpy()
    rows = []
    for i, r in enumerate(REGIONS):
        for h in range(HORIZON):
            q = p[i, h]
            rows.append(
                {
                    "origin": origin.date().isoformat(),
                    "region": r,
                    "country": COUNTRIES[i],
                    "horizon": h + 1,
                    "period_start": (origin + pd.Timedelta(weeks=h + 1)).date().isoformat(),
                    "p_mean": q.mean(),
                    "p_median": np.median(q),
                    "p_q05": np.quantile(q, 0.05),
                    "p_q95": np.quantile(q, 0.95),
                    "p_any_within_horizon": p_any[i].mean(),
                    "p_any_q05": np.quantile(p_any[i], 0.05),
                    "p_any_q95": np.quantile(p_any[i], 0.95),
                    "rank": rank[i],
                }
            )
    return ds, pd.DataFrame(rows)


def fake_diagnostics(gate: str) -> dict:
    """diagnostics.json of a fit whose gate passed or failed, every key of docs/interfaces.md."""
    failed = ["r_hat_max 1.04 > 1.01 <script>alert(1)</script>"] if gate == "fail" else []
    elpd = {"elpd": -120.5, "se": 8.2, "p_loo": 12.1, "pareto_k_bad": 0}
    return {
        "r_hat_max": 1.04 if gate == "fail" else 1.004,
        "ess_bulk_min": 812.0,
        "ess_tail_min": 655.0,
        "divergences": 0,
        "bfmi_min": 0.81,
        "sampler": "nutpie",
        "chains": 4,
        "draws": 1000,
        "gate": gate,
        "failed_checks": failed,
        "thresholds": {
            "r_hat_max": 1.01,
            "ess_bulk_min": 400,
            "ess_tail_min": 400,
            "divergences_max": 0,
            "bfmi_min": 0.3,
            "pareto_k_bad": 0.7,
        },
        "pareto_k": {"good": 20, "ok": 4, "bad": 0, "very_bad": 0},
        "prior_predictive": {"clash_rate_mean": 0.2, "observed_rate": 0.25},
        "loo": {
            "model": elpd,
            "region_effects": {"elpd": -131.0, "se": 8.9, "p_loo": 4.0, "pareto_k_bad": 0},
            "no_proximity": {"elpd": -123.9, "se": 8.4, "p_loo": 10.0, "pareto_k_bad": 1},
            "best": "model",
            "variant_draws": 250,
        },
        "proximity": {
            "loo_diff": 3.4,
            "loo_se": 2.9,
            "clear": False,
            "elpd_with": -120.5,
            "elpd_without": -123.9,
            "block": ["prox_government__armed_group_near"],
            "shipped": "with",
            "variant_draws": 500,
        },
        "design": {
            "blocks": 24,
            "outcomes": 96,
            "regions": 4,
            "countries": 2,
            "clash_rate": 0.25,
            "cutoff": "2020-06-29",
        },
    }


#: An actor name long enough to overflow a phone's width unless the table wraps it.
LONG_ACTOR = "Military Forces of the Republic of Alpha (2000-) 17th Mechanised Division " * 2


def _evidence() -> pd.DataFrame:
    """reports/evidence.csv of the top regions, with a payload and a very long actor name."""
    rows = []
    for region in REGIONS:
        for k in range(3):
            rows.append(
                {
                    "region": region,
                    "pair": "government__armed_group",
                    "kind": "event",
                    "date": f"2020-07-0{k + 1}",
                    "name": "",
                    "actor1": "Armed group " + SCRIPT if k == 0 else "IS",
                    "actor2": LONG_ACTOR if k == 1 else "Civilians",
                    "category": "state_based",
                    "side": "armed_group",
                    "distance_km": 12.5 * (k + 1),
                    "nearest": "Base " + ONERROR + " (base)",
                    "source_row": f"data/raw/tiny_ged.csv:{k + 2}",
                }
            )
        rows.append(
            {
                "region": region,
                "pair": "government__armed_group",
                "kind": "position",
                "date": "2016-03-03",
                "name": "Base " + ONERROR,
                "actor1": "",
                "actor2": "",
                "category": "base",
                "side": "government",
                "distance_km": 12.5,
                "nearest": "IS – Civilians, 2020-07-01",
                "source_row": "",
            }
        )
    return pd.DataFrame(rows)


#: data/backtest/memory.json: the fitted offset, as the backtest chose it.
MEMORY = {
    "offset": "clash_level_hl4",
    "level_half_life": 4.0,
    "level_prior": 4.0,
    "level_long_half_life": 52.0,
    "ewma_half_life": 13.0,
}


def _backtest(
    rng: np.random.Generator, panel: xr.Dataset
) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    """Prediction rows (per step and within H) and the backtest.json the stage would score."""
    from model.backtesting.evaluation import summarise_backtest

    periods = pd.DatetimeIndex(panel.period.values)
    origins = periods[-14:-HORIZON]
    rows, within = [], []
    for o in origins:
        for i, r in enumerate(REGIONS):
            ys = []
            for h in range(1, HORIZON + 1):
                tgt = o + pd.Timedelta(weeks=h)
                y = int(panel.clash_any.sel(region=r, period=tgt))
                ys.append(y)
                pm = float(np.clip(0.6 * y + rng.uniform(0, 0.4), 0.01, 0.99))
                rows.append(
                    {
                        "origin": o,
                        "fit_cutoff": o,
                        "region": r,
                        "country": COUNTRIES[i],
                        "horizon": h,
                        "target_period": tgt,
                        "y": y,
                        "model": pm,
                        "climatology": 0.3,
                        "ewma": float(np.clip(0.3 + 0.2 * y + rng.normal(0, 0.1), 0.01, 0.99)),
                        "markov": 0.2 + 0.3 * y * rng.uniform(),
                        "logistic": float(np.clip(pm + rng.normal(0, 0.1), 0.01, 0.99)),
                        "global_rate": 0.28,
                        "with_proximity": pm,
                        "without_proximity": float(np.clip(pm + rng.normal(0, 0.1), 0.01, 0.99)),
                    }
                )
            z = max(ys)
            within.append(
                {
                    "origin": o,
                    "fit_cutoff": o,
                    "region": r,
                    "country": COUNTRIES[i],
                    "window_end": o + pd.Timedelta(weeks=HORIZON),
                    "y": z,
                    "model": float(np.clip(0.5 * z + rng.uniform(0.1, 0.5), 0.01, 0.99)),
                    "independent": float(np.clip(0.5 * z + rng.uniform(0.2, 0.5), 0.01, 0.99)),
                    "climatology": 0.5,
                    "ewma": float(np.clip(0.3 + 0.3 * z + rng.normal(0, 0.1), 0.01, 0.99)),
                }
            )
    pred, wpred = pd.DataFrame(rows), pd.DataFrame(within)
    for df in (pred, wpred):
        df["y"] = df["y"].astype("int8")
    windows = {"dev": list(origins[:5]), "test": list(origins[5:])}
    bj = summarise_backtest(pred, wpred, windows, bins=5, n_boot=50, block=3, seed=1)
    # an interval the bootstrap could not give: drawn as a gap, listed without a number
    bj["windows"]["test"]["skill"]["global_rate"]["log_score"] = {
        "mean": None,
        "ci_low": None,
        "ci_high": None,
        "dm_pvalue": None,
    }
    bj["ewma_half_life"] = 13
    bj["model_selection"] = {
        "auto": True,
        "criterion": "lowest dev Brier score among the candidates whose dev ECE is at most 0.02 "
        "(the lowest ECE when none is)",
        "ece_max": 0.02,
        "min_gain": 0.01,
        "dm_min": 2.0,
        "candidates": [
            {
                "settings": {k: v for k, v in MEMORY.items() if k != "ewma_half_life"},
                "dev": {"brier": 0.1512, "log_score": 0.4711, "ece": 0.0123},
            },
            {
                "settings": {
                    "offset": "clash_level_hl13_p8_l52",
                    "level_half_life": 13.0,
                    "level_prior": 8.0,
                    "level_long_half_life": 52.0,
                },
                "dev": {"brier": 0.1544, "log_score": 0.4802, "ece": 0.0181},
            },
        ],
        "chosen": MEMORY,
        "reference": {k: v for k, v in MEMORY.items() if k != "ewma_half_life"},
        "ewma": {
            "candidates": [
                {
                    "settings": {"ewma_half_life": 13.0},
                    "dev": {"brier": 0.16, "log_score": 0.49, "ece": 0.01},
                },
            ],
            "chosen": 13.0,
        },
    }
    bj["folds"] = [{"fit_cutoff": origins[0].date().isoformat(), "origins": 7, "divergences": 0}]
    bj["failed_origins"] = []
    return bj, pred, wpred


def build_fake_run(root: Path, *, gate: str = "pass", backtest: bool = True, seed: int = 5) -> Path:
    """Write a complete tiny run under ``root`` and return ``root``."""
    rng = np.random.default_rng(seed)
    root = Path(root)
    for d in (
        "data/raw/boundaries",
        "data/interim",
        "data/processed",
        "data/fitted",
        "data/forecast",
        "data/backtest",
        "reports/metrics",
        "reports/plots",
    ):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(PARAMS_YAML, encoding="utf-8")
    # the memory the backtest chose (memory.auto), which the fit used
    (root / "data/backtest/memory.json").write_text(
        json.dumps(MEMORY | {"auto": True}), encoding="utf-8"
    )
    (root / "data/raw/PROVENANCE.md").write_text(PROVENANCE_MD, encoding="utf-8")
    (root / "data/raw/boundaries/alpha.geojson").write_text(
        _geojson(REGIONS[:2], REGION_IDS[:2], [(40, 35), (40, 34)]), encoding="utf-8"
    )
    (root / "data/raw/boundaries/beta.geojson").write_text(
        _geojson(REGIONS[2:], REGION_IDS[2:], [(42, 34.5), (41, 34.5)]), encoding="utf-8"
    )
    panel = _panel(rng)
    panel.to_netcdf(root / "data/processed/panel.nc", engine="netcdf4")
    idata = _idata(rng, panel)
    # stamped as the fit stage stamps it: fitted with these model params to this panel
    idata.attrs |= expected_attrs(read_params(root / "params.yaml"), root)
    idata.to_netcdf(root / "data/fitted/idata.nc", engine="h5netcdf")  # as the fit stage
    fds, fcsv = _forecast(rng, panel, idata)
    fds.to_netcdf(root / "data/forecast/forecast.nc", engine="netcdf4")
    fcsv.to_csv(root / "reports/forecast.csv", index=False)
    sc = fcsv[fcsv.region == "North"][["region", "country", "horizon", "p_mean"]].copy()
    sc = sc.rename(columns={"p_mean": "p_baseline_mean"})
    sc.insert(0, "description", "Forces within 10 km " + SCRIPT)
    sc.insert(0, "scenario", "closer")
    sc["p_scenario_mean"] = sc.p_baseline_mean + 0.1
    sc["diff_mean"], sc["diff_q05"], sc["diff_q95"] = 0.1, 0.02, 0.2
    sc["p_scenario_gt_baseline"] = 0.97
    sc.to_csv(root / "reports/scenarios.csv", index=False)
    (root / "reports/metrics/diagnostics.json").write_text(json.dumps(fake_diagnostics(gate)))
    n_ev = 40
    events = pd.DataFrame(
        {
            "event_id": [f"tiny_ged:{i}" for i in range(n_ev)],
            "date": pd.to_datetime("2020-01-06") + pd.to_timedelta(rng.integers(0, 200, n_ev), "D"),
            "country": rng.choice(COUNTRIES, n_ev),
            "region": rng.choice(REGIONS, n_ev),
            "region_id": "AL-N",
            "latitude": rng.uniform(34, 36, n_ev),
            "longitude": rng.uniform(40, 43, n_ev),
            "actor1": "Government of Alpha",
            "actor2": rng.choice([ONERROR, "Armed group " + SCRIPT, "IS"], n_ev),
            "side1": "government",
            "side2": "armed_group",
            "category": "state_based",
            "fatalities": rng.integers(0, 5, n_ev).astype("int64"),
            "source_dataset": "tiny_ged",
            "source_row": [f"data/raw/tiny_ged.csv:{i + 2}" for i in range(n_ev)],
            "placed_by": "polygon",
            "located": "point",
            "place": "",
        }
    )
    events.to_parquet(root / "data/interim/events.parquet", index=False)
    empty_positions().to_parquet(root / "data/interim/positions.parquet", index=False)
    _evidence().to_csv(root / "reports/evidence.csv", index=False)
    ingest = {
        "sources": {
            "tiny_ged": {
                "rows_read": 42,
                "rows_kept": 40,
                "rows_rejected": 2,
                "reasons": {"date out of window " + ONERROR: 2},
                "duplicates": 0,
                "region_disagreements": 1,
                "path": "data/raw/tiny_ged.csv",
            }
        },
        "events": n_ev,
        "located": {"point": n_ev, "region": 0},
        "positions": 0,
        **SIDE_COVERAGE,
    }
    (root / "reports/metrics/ingest.json").write_text(json.dumps(ingest))
    if backtest:
        bj, pred, wpred = _backtest(rng, panel)
        (root / "reports/metrics/backtest.json").write_text(json.dumps(bj))
        pred.to_parquet(root / "data/backtest/predictions.parquet", index=False)
        wpred.to_parquet(root / "data/backtest/within.parquet", index=False)
        edges = np.linspace(0, 1, 6)
        mids = (edges[:-1] + edges[1:]) / 2
        pd.DataFrame(
            {
                "bin": range(5),
                "forecast_mean": mids,
                "observed_rate": mids * 0.9,
                "count": [30, 20, 10, 8, 4],
            }
        ).to_csv(root / "reports/plots/reliability.csv", index=False)
        pd.DataFrame(
            {
                "origin": sorted({o.date().isoformat() for o in pred["origin"]}),
                "brier": 0.15,
                "log_score": 0.45,
                "climatology_brier": 0.2,
            }
        ).to_csv(root / "reports/plots/backtest_scores.csv", index=False)
    return root
