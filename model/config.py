"""Settings: ``params.yaml`` validated as a whole, one frozen section per stage.

Every setting lives in ``params.yaml``. The whole file is validated at once, so that a
misspelt key, a wrong type or an impossible value anywhere is reported together with every
other problem, and cross-section rules (a clash definition naming a side that no actor map
defines, say) are checked before any stage runs. Stages call :func:`load_params` and take
their own section; library functions take explicit arguments and never read this file.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from model.data import feature_names as fn
from model.data.feature_names import memory_of
from model.side_grammar import entry_text, parse_entry

DEFAULT_PARAMS = Path("params.yaml")

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]
PositiveFloat = Annotated[float, Field(gt=0)]
Probability = Annotated[float, Field(gt=0, lt=1)]


class ParamsError(ValueError):
    """Raised when params.yaml is invalid; the message lists every problem."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- ingest


class Window(_Section):
    """The study window, inclusive of both days."""

    start: dt.date
    end: dt.date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end <= self.start:
            raise ValueError(f"window end {self.end} is not after start {self.start}")
        return self


class BoundarySpec(_Section):
    """One admin-1 boundary file (GeoJSON) and the properties that hold names and ids."""

    path: Path
    country: str = Field(min_length=1)
    name_property: str
    id_property: str


class RegionsSpec(_Section):
    boundaries: list[BoundarySpec] = Field(min_length=1)
    aliases: Path | None = None
    # A point outside every polygon but within this distance of one is placed in the nearest
    # (simplified polygons cut off river banks and border posts); farther ones are quarantined.
    snap_km: Annotated[float, Field(ge=0)] = 5.0
    # The units of space the panel, the model and the forecasts use: the admin-1 regions of the
    # boundaries, or the PRIO-GRID 0.5-degree cells that overlap them (model.data.cells), each
    # with its gid, its governorate (most of its area), its country and a display name.
    unit: Literal["admin1", "grid"] = "admin1"


Format = Literal["canonical", "ucdp_ged", "acled", "points"]


class SourceSpec(_Section):
    """One input file and how to read it."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    path: Path
    format: Format
    # points only: which side the stream belongs to, and its type column's values -> category.
    side: str | None = None
    licence: str | None = None

    @model_validator(mode="after")
    def _points_need_side(self) -> SourceSpec:
        if self.format == "points" and not self.side:
            raise ValueError(f"source {self.name!r}: a points source needs `side`")
        return self


class IngestParams(_Section):
    window: Window
    regions: RegionsSpec
    positions: Path | None = None
    sources: list[SourceSpec] = Field(min_length=1)
    # side -> actor entries: an exact name, "contains:TEXT" or "re:REGEX" (whole name); all
    # compared without case. The pattern language is documented in model.side_grammar.
    sides: dict[str, list[str]] = Field(min_length=1)
    # format -> source event type -> coded category. For ucdp_ged the type is
    # type_of_violence ("1", "2", "3"); for acled "event_type" or "event_type/sub_event_type"
    # (the more specific wins); for points the stream's type column; for canonical the
    # category column must already hold a coded category.
    categories: dict[Format, dict[str, str]] = Field(default_factory=dict)
    # Sides given to actors that match no pattern. None quarantines such rows.
    unknown_side: str | None = "other"
    # Sides that appear only in the positions table (no actor map needed for them).
    position_sides: list[str] = Field(default_factory=list)
    max_field_bytes: PositiveInt = 65_536

    @field_validator("sides", mode="before")
    @classmethod
    def _valid_entries(cls, v: Any) -> Any:
        """Mappings to their string form, then every entry parsed; all problems at once."""
        if not isinstance(v, dict):
            return v
        out, problems = {}, []
        for side, entries in v.items():
            if not isinstance(entries, list):
                out[side] = entries  # the type check reports it
                continue
            if not entries:
                problems.append(f"side {side!r} has no actor entries")
            out[side] = []
            for entry in entries:
                try:
                    text = entry_text(entry)
                    if isinstance(text, str):
                        parse_entry(text)
                except ValueError as e:
                    problems.append(f"side {side!r}: {e}")
                    continue
                out[side].append(text)
        if problems:
            raise ValueError("; ".join(problems))
        return out

    @model_validator(mode="after")
    def _unique_sources(self) -> IngestParams:
        names = [s.name for s in self.sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names repeat: {dupes}")
        return self

    def all_categories(self) -> set[str]:
        return {c for m in self.categories.values() for c in m.values()}


# --------------------------------------------------------------------------- panel


class ClashSpec(_Section):
    """What counts as a clash: events of these categories between these two sides."""

    categories: list[str] = Field(min_length=1)
    sides: tuple[str, str]


class ProximityPair(_Section):
    """Distance from side ``a``'s locations (positions and events) to side ``b``'s events."""

    a: str
    b: str
    window: PositiveInt = 4  # trailing periods of events counted, the current one included
    radius_km: PositiveFloat = 50.0  # count b events within this distance of a
    near_km: PositiveFloat = 100.0  # a region considers locations within this distance of it
    use_positions: bool = True
    # Precursors (model.data.features.precursors): closing compares the nearness now with the
    # nearness trend_window periods before; first contact is b within radius_km of a after
    # contact_memory periods without.
    trend_window: PositiveInt = 4
    contact_memory: PositiveInt = 26
    # Position kinds (positions.csv `kind`) that get their own exposure count: b events within
    # radius_km of a's active positions of that kind.
    exposure_kinds: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9]+$")]] = Field(
        default_factory=list
    )

    @field_validator("exposure_kinds")
    @classmethod
    def _unique_kinds(cls, v: list[str]) -> list[str]:
        if len(set(v)) != len(v):
            raise ValueError(f"exposure_kinds repeat: {v}")
        return v


class PanelParams(_Section):
    freq: Literal["W-MON", "MS"] = "W-MON"
    clash: ClashSpec
    half_lives: list[PositiveFloat] = Field(default_factory=lambda: [1.0, 4.0, 13.0], min_length=1)
    proximity: list[ProximityPair] = Field(default_factory=list)
    # clash_level_hl{h} (one per half-life): the recent share of periods with a clash, shrunk by
    # level_prior pseudo-periods toward the region's own long-run share (half-life
    # level_long_half_life), itself shrunk toward the theatre's share.
    level_long_half_life: PositiveFloat = 52.0
    level_prior: PositiveFloat = 4.0
    # Distances enter features through exp(-d / scale): 1 at 0 km, 0 when absent.
    proximity_scale_km: PositiveFloat = 50.0
    # Non-violent contact categories (coded by ingest.categories, e.g. ACLED's strategic
    # developments: deployment, show of force) counted on their own as contact_{c}_hl{h}.
    contact_categories: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_]+$")]] = Field(
        default_factory=list
    )
    contact_half_life: PositiveFloat = 4.0
    # Which events the panel counts, by how precisely they are located (events.parquet
    # `located`): both by default; [point] leaves out the events located only to a region, as
    # the cells must (a governorate panel of the same data as a cell panel, for comparing them).
    located: list[Literal["point", "region"]] = Field(
        default_factory=lambda: ["point", "region"], min_length=1
    )

    def feature_names(self, unit: str = "admin1") -> list[str]:
        """The panel's feature variables, in the order the panel writes them (``unit``:
        ``ingest.regions.unit``; cells have features of their own)."""
        return fn.feature_names(
            self.half_lives,
            [(p.a, p.b) for p in self.proximity],
            exposure_kinds=[p.exposure_kinds for p in self.proximity],
            contact_categories=self.contact_categories,
            contact_half_life=self.contact_half_life,
            unit=unit,
        )


# --------------------------------------------------------------------------- model / fit


class PriorSpec(_Section):
    """A prior as data: distribution name and its parameters."""

    dist: Literal["Normal", "HalfNormal", "StudentT", "HalfStudentT", "Exponential"]
    mu: float | None = None
    sigma: PositiveFloat | None = None
    nu: PositiveFloat | None = None
    lam: PositiveFloat | None = None

    _needs = {
        "Normal": {"mu", "sigma"},
        "HalfNormal": {"sigma"},
        "StudentT": {"nu", "mu", "sigma"},
        "HalfStudentT": {"nu", "sigma"},
        "Exponential": {"lam"},
    }

    @model_validator(mode="after")
    def _has_params(self) -> PriorSpec:
        given = {k for k in ("mu", "sigma", "nu", "lam") if getattr(self, k) is not None}
        need = self._needs[self.dist]
        if given != need:
            raise ValueError(f"{self.dist} takes exactly {sorted(need)}, got {sorted(given)}")
        return self

    def kwargs(self) -> dict[str, float]:
        return {k: getattr(self, k) for k in self._needs[self.dist]}


class ModelParams(_Section):
    horizon: PositiveInt = 4
    features: list[str] = Field(default_factory=list)
    # A panel variable on the log-odds scale entered with coefficient 1 (e.g. the region's
    # exponentially weighted clash log-odds, clash_share_hl13): the forecast starts from it.
    offset: str | None = None
    # Share a block effect between the steps after an origin (P(any within H) then does not
    # assume independent steps).
    dependence: bool = True
    # Who shares one block effect: each region alone (its H steps after an origin), or on a cell
    # panel every cell of a governorate and their H steps (the cells of a governorate move
    # together; the roll-up to governorates then integrates the shared effect). Needs
    # dependence: true and ingest.regions.unit: grid (the panel's governorate coordinate).
    dependence_group: Literal["region", "governorate"] = "region"
    # Intercept, country and region effects (partially pooled); with an offset they may be off.
    region_effects: bool = True
    # Slopes that differ by step, partially pooled across steps (sigma_beta_horizon); false:
    # one slope per feature for every step (the cells' example: thousands of blocks pin the
    # slopes and the steps agree).
    horizon_varying: bool = True
    # Features whose coefficient varies by country (partially pooled); subset of features.
    country_varying: list[str] = Field(default_factory=list)
    # Training origins: how many periods of history before the first origin are skipped so
    # that decayed lags have warmed up (at least twice the longest half-life in use).
    burn_in: NonNegInt = 8
    # How NUTS sees the region effects (model.inference.clash_model.build_clash_model): auto
    # centres the regions whose data pin their effect; the model is the same either way.
    parameterisation: Literal["auto", "non_centred", "centred"] = "auto"
    # Training blocks with identical inputs and outcomes (quiet cells: the same offset and
    # covariates, no clash) enter the likelihood once with their count: the same posterior at
    # the cost of the distinct blocks. false: one term per block (for comparison).
    aggregate_blocks: bool = True
    priors: dict[str, PriorSpec]
    # The proximity block whose worth is measured (PSIS-LOO in the fit stage, skill in the
    # backtest): the model with it (features + block) against the model without it (features
    # - block). The shipped model is one of the two, so the block lies wholly inside
    # `features` or wholly outside. Empty: no measurement.
    proximity_block: list[str] = Field(default_factory=list)

    @field_validator("proximity_block")
    @classmethod
    def _block_names(cls, v: list[str]) -> list[str]:
        problems = []
        for name in v:
            f = fn.parse(name)
            if f.family not in fn.PROXIMITY_FAMILIES:
                problems.append(f"{name!r} is not a proximity or contact feature")
            elif f.part in ("km", "closing_km"):
                problems.append(f"{name!r} is a raw distance with gaps (use its _near part)")
        if len(set(v)) != len(v):
            problems.append("names repeat")
        if problems:
            raise ValueError("proximity_block: " + "; ".join(problems))
        return v

    @model_validator(mode="after")
    def _subset(self) -> ModelParams:
        extra = sorted(set(self.country_varying) - set(self.features))
        if extra:
            raise ValueError(f"country_varying names features not in features: {extra}")
        if len(set(self.features)) != len(self.features):
            raise ValueError("features repeat")
        if self.offset is not None and self.offset in self.features:
            raise ValueError(f"offset {self.offset!r} is also a feature")
        if not self.region_effects and self.offset is None:
            raise ValueError("region_effects: false needs an offset to carry each region's level")
        if self.dependence_group != "region" and not self.dependence:
            raise ValueError(
                f"dependence_group: {self.dependence_group} shares the block effect, which needs "
                "dependence: true"
            )
        if not (self.region_effects or self.dependence or self.features):
            raise ValueError(
                "the model has nothing to fit: no region effects, no dependence, no features"
            )
        inside = [f for f in self.proximity_block if f in self.features]
        if inside and len(inside) != len(self.proximity_block):
            outside = sorted(set(self.proximity_block) - set(inside))
            raise ValueError(
                f"proximity_block must lie wholly inside model.features or wholly outside; "
                f"{outside} are not features, {sorted(inside)} are"
            )
        return self

    @property
    def ships_proximity(self) -> bool:
        """Whether the shipped model is the one with the proximity block."""
        return bool(self.proximity_block) and self.proximity_block[0] in self.features

    def proximity_variant(self, with_block: bool) -> ModelParams:
        """This model with (features + block) or without (features - block) the proximity block;
        country-varying slopes of features it lacks are dropped."""
        base = [f for f in self.features if f not in self.proximity_block]
        features = [*base, *self.proximity_block] if with_block else base
        cv = [f for f in self.country_varying if f in features]
        return self.model_copy(update={"features": features, "country_varying": cv})

    def inputs(self) -> list[str]:
        """The panel variables the model reads: features and the offset."""
        return [*self.features, *([self.offset] if self.offset else [])]


class FitParams(_Section):
    sampler: Literal["nutpie", "pymc", "numpyro"] = "nutpie"
    draws: PositiveInt = 1000
    tune: PositiveInt = 1000
    chains: PositiveInt = 4
    target_accept: Probability = 0.9
    seed: NonNegInt = Field(20170518, description="seed of the chains and the prior draws")
    prior_samples: PositiveInt = Field(500, description="draws of the prior predictive check")
    low_rank_mass_matrix: bool = Field(
        True,
        description="nutpie: a low-rank-modified mass matrix (about 4x the smallest bulk ESS "
        "of the diagonal one on the shipped model)",
    )


class DiagnosticsParams(_Section):
    """The diagnostics gate (DESIGN §4): a fit passes when every check holds."""

    r_hat_max: PositiveFloat = Field(1.01, description="largest R-hat of any stored variable")
    ess_bulk_min: PositiveFloat = Field(400, description="smallest bulk effective sample size")
    ess_tail_min: PositiveFloat = Field(400, description="smallest tail effective sample size")
    divergences_max: NonNegInt = Field(0, description="divergent transitions allowed")
    bfmi_min: PositiveFloat = Field(0.3, description="smallest E-BFMI of any chain")
    pareto_k_bad: PositiveFloat = Field(0.7, description="Pareto k above this counts as bad")
    fail_on_gate: bool = Field(True, description="a failed gate fails the fit stage")
    # Simpler (or richer) variants compared with the model by PSIS-LOO
    # (model.inference.diagnostics).
    loo_variants: list[
        Literal["no_features", "no_proximity", "no_spatial", "no_dependence", "region_effects"]
    ] = Field(default_factory=lambda: ["region_effects"])


class ForecastParams(_Section):
    # None: the last period of the panel.
    origin: dt.date | None = None
    interval: tuple[Probability, Probability] = (0.05, 0.95)

    @model_validator(mode="after")
    def _ordered(self) -> ForecastParams:
        if not self.interval[0] < self.interval[1]:
            raise ValueError(f"interval {self.interval} is not increasing")
        return self


class ScenarioChange(_Section):
    """Set a feature to a value or shift it; distances are in km (``*_km`` raw features)."""

    feature: str
    set: float | None = None
    shift: float | None = None

    @model_validator(mode="after")
    def _one(self) -> ScenarioChange:
        if (self.set is None) == (self.shift is None):
            raise ValueError(f"change of {self.feature!r}: give exactly one of set, shift")
        return self


class Scenario(_Section):
    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$")
    description: str
    # Region names, or ["*"] for all; on a cell panel also governorates (their cells) and gids.
    regions: list[str] = Field(min_length=1)
    changes: list[ScenarioChange] = Field(min_length=1)


class BacktestParams(_Section):
    # First origin; None: burn_in plus a year of training blocks after the panel's start.
    start: dt.date | None = None
    # First origin of the test window (origins before it are the dev window, where every
    # modelling choice is made); None: the last third of the origins.
    test_start: dt.date | None = None
    # Last origin; None: the last period with `horizon` observed periods after it.
    end: dt.date | None = None
    stride: PositiveInt = 1
    # Origins served by one fit (fitted on data up to the first of them).
    refit_every: PositiveInt = 13
    # Sampling for the refits (a backtest needs calibrated means more than deep tails).
    draws: PositiveInt = 300
    tune: PositiveInt = 300
    chains: PositiveInt = 2
    climatology_window: PositiveInt = 52
    ewma_half_life: PositiveFloat = 13.0
    # Pseudo-periods of the pooled rate added to each region's rate (climatology and EWMA).
    prior_strength: PositiveFloat = 2.0
    # Bins of ECE, Murphy's decomposition and the reliability diagrams: quantile (edges at the
    # forecasts' quantiles, about equal counts, resolving the low probabilities of a rare
    # dyad), events (about equal expected clashes per bin, resolving the few percent where a
    # cell panel's clashes fall) or uniform (equal widths on [0, 1]; a rare dyad's forecasts
    # then share the first).
    calibration_bins: PositiveInt = 10
    calibration_binning: Literal["quantile", "events", "uniform"] = "quantile"
    bootstrap: PositiveInt = 1000
    # Consecutive origins per bootstrap block (at least the horizon).
    block_origins: PositiveInt = 8
    # Score the model with and without its proximity block (model.proximity_block) on every
    # origin: comparison folds refit both variants every proximity_refit_every origins (same
    # seed and budget), sparser than refit_every because the variant with the block is the
    # slow one to compile and sample.
    proximity_worth: bool = True
    proximity_refit_every: PositiveInt = 52

    @model_validator(mode="after")
    def _ordered(self) -> BacktestParams:
        # end before test_start is allowed: a dev-only run, for choosing the model.
        for later in (self.test_start, self.end):
            if self.start is not None and later is not None and later <= self.start:
                raise ValueError("backtest.start must come before test_start and end")
        return self


class MemoryParams(_Section):
    """How much of its past the forecast remembers, chosen on the dev window.

    With ``auto`` the panel writes one level offset per candidate of the grid
    (``clash_level_hl{h}_p{k}_l{L}``: each recent half-life, pooling and long-run half-life), the
    backtest scores them on the dev window by reusing each fold's posterior with the candidate's
    offset, and chooses the best dev Brier score among the candidates whose dev ECE is at most
    ``ece_max`` (the lowest ECE when none is), which replaces ``model.offset`` only when its dev
    Brier score is lower by ``min_gain`` of the reference's and its Diebold-Mariano statistic
    against it is below ``-dm_min``.
    The test window and the final fit use the choice. The EWMA baseline's half-life is the one
    of ``ewma_half_lives`` with the lowest dev Brier score (a baseline as strong as the dev
    window allows). Without ``auto``, ``model.offset`` and ``backtest.ewma_half_life`` are used
    as they are.
    """

    auto: bool = True
    level_half_lives: list[PositiveFloat] = Field(
        default_factory=lambda: [4.0, 8.0, 13.0, 26.0, 52.0], min_length=1
    )
    level_priors: list[PositiveFloat] = Field(
        default_factory=lambda: [2.0, 8.0, 32.0], min_length=1
    )
    long_half_lives: list[PositiveFloat] = Field(
        default_factory=lambda: [52.0, 104.0], min_length=1
    )
    ewma_half_lives: list[PositiveFloat] = Field(
        default_factory=lambda: [4.0, 8.0, 13.0, 26.0, 52.0], min_length=1
    )
    ece_max: PositiveFloat = 0.02
    # model.offset is replaced only by a candidate whose dev Brier score is lower by at least
    # min_gain of its own and whose Diebold-Mariano statistic against it is below -dm_min
    # (2: about 5%, two-sided): a memory change must matter and be more than the noise of a
    # short dev window (near-identical memories differ consistently by a hair; on a rare dyad
    # thirty candidates scored on a hundred clash weeks differ by chance).
    min_gain: float = Field(0.01, ge=0.0, lt=1.0)
    dm_min: float = Field(2.0, ge=0.0)


class ReportParams(_Section):
    title: str = "clashcast forecast"
    top_n: PositiveInt = 10
    history_periods: PositiveInt = 52
    regions_over_time: PositiveInt = 6


# --------------------------------------------------------------------------- runtime


class DaskParams(_Section):
    """Where the backtest's folds run."""

    # None: a local cluster; otherwise a scheduler address. DASK_SCHEDULER_ADDRESS overrides.
    address: str | None = None
    workers: PositiveInt = 2
    threads_per_worker: PositiveInt = 1
    memory_limit: str = "6GiB"


class RuntimeParams(_Section):
    """How a run uses the machine, never what it computes: no stage lists this section in
    ``dvc.yaml``, so changing it re-runs nothing (the chains are seeded one by one and the
    backtest's folds by their cutoff, so the outputs are byte-identical across both counts)."""

    cores: PositiveInt = Field(2, description="chains sampled at once by the fit stage")
    progressbar: bool = Field(True, description="the fit stage shows the sampler's progress")
    dask: DaskParams = DaskParams()
    fold_cache: str | None = Field(
        ".cache/folds",
        description="folder (relative to the project root) keeping each backtest fold's result "
        "under a hash of what it is a function of, so a re-run computes only the folds whose "
        "data, settings or code changed; null: every fold is computed",
    )


#: Keys that moved to the runtime section, and where (an old params file is told, not refused
#: with a bare "unknown key").
MOVED = {
    ("fit", "cores"): "runtime.cores",
    ("fit", "progressbar"): "runtime.progressbar",
    ("backtest", "dask"): "runtime.dask",
}


# --------------------------------------------------------------------------- the whole file


class Params(_Section):
    ingest: IngestParams
    panel: PanelParams
    model: ModelParams
    fit: FitParams = FitParams()
    diagnostics: DiagnosticsParams = DiagnosticsParams()
    forecast: ForecastParams = ForecastParams()
    scenarios: list[Scenario] = Field(default_factory=list)
    backtest: BacktestParams = BacktestParams()
    memory: MemoryParams = MemoryParams()
    report: ReportParams = ReportParams()
    runtime: RuntimeParams = RuntimeParams()

    @model_validator(mode="after")
    def _cross_checks(self) -> Params:
        problems = cross_problems(self.model_dump(mode="json"))
        problems += self._unknown_features()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _unknown_features(self) -> list[str]:
        """Model features the panel will not write (a half-life not in panel.half_lives, a
        cell feature on an admin-1 panel), said before any stage runs."""
        known = set(self.panel.feature_names(self.ingest.regions.unit))
        named = [*self.model.features, *self.model.proximity_block]
        unknown = [f for f in dict.fromkeys(named) if f not in known]
        if not unknown:
            return []
        return [
            f"model.features/proximity_block name {unknown}, which the panel does not write "
            f"(unit {self.ingest.regions.unit}, panel.half_lives {self.panel.half_lives})"
        ]


def _get(raw: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(raw, dict):
            return None
        raw = raw.get(k)
    return raw


def cross_problems(raw: dict[str, Any]) -> list[str]:
    """Rules that span sections, checked on plain data so they can run even when some fields
    are invalid (every problem is then reported at once)."""
    problems: list[str] = []
    sides_map = _get(raw, "ingest", "sides")
    sides = set(sides_map) if isinstance(sides_map, dict) else set()
    for src in _get(raw, "ingest", "sources") or []:
        if isinstance(src, dict) and src.get("side"):
            sides.add(src["side"])
    sides |= set(_get(raw, "ingest", "position_sides") or [])
    unknown = _get(raw, "ingest", "unknown_side")
    if unknown:
        sides.add(unknown)
    clash_sides = _get(raw, "panel", "clash", "sides") or []
    if isinstance(clash_sides, list | tuple):
        for s in clash_sides:
            if sides and s not in sides:
                problems.append(f"panel.clash.sides names side {s!r}, not defined in ingest.sides")
        if len(clash_sides) == 2 and clash_sides[0] == clash_sides[1]:
            problems.append("panel.clash.sides: a clash needs two different sides")
    cat_maps = _get(raw, "ingest", "categories") or {}
    cats = {c for m in cat_maps.values() if isinstance(m, dict) for c in m.values()}
    for c in _get(raw, "panel", "clash", "categories") or []:
        if cats and c not in cats:
            problems.append(
                f"panel.clash.categories names {c!r}, not produced by ingest.categories"
            )
    for c in _get(raw, "panel", "contact_categories") or []:
        if cats and c not in cats:
            problems.append(
                f"panel.contact_categories names {c!r}, not produced by ingest.categories"
            )
    for p in _get(raw, "panel", "proximity") or []:
        for key in ("a", "b"):
            s = p.get(key) if isinstance(p, dict) else None
            if s is not None and sides and s not in sides:
                problems.append(f"panel.proximity.{key} names side {s!r}, not defined in sides")
    problems += _warm_up_problems(raw)
    group = _get(raw, "model", "dependence_group")
    if group == "governorate" and (_get(raw, "ingest", "regions", "unit") or "admin1") != "grid":
        problems.append(
            "model.dependence_group: governorate needs ingest.regions.unit: grid (a cell panel, "
            "whose cells carry their governorate)"
        )
    horizon = _get(raw, "model", "horizon") or 4
    block = _get(raw, "backtest", "block_origins")
    if isinstance(block, int) and isinstance(horizon, int) and block < horizon:
        problems.append(f"backtest.block_origins {block} is less than model.horizon {horizon}")
    names = [s.get("name") for s in raw.get("scenarios") or [] if isinstance(s, dict)]
    if len(set(names)) != len(names):
        problems.append("scenario names repeat")
    return problems


def _warm_up_problems(raw: dict[str, Any]) -> list[str]:
    """The model's burn-in must cover twice the longest memory of its inputs (DESIGN §5),
    the proximity block's included (the fit and the backtest also fit the model with it)."""
    features = list(_get(raw, "model", "features") or [])
    features += list(_get(raw, "model", "proximity_block") or [])
    offset = _get(raw, "model", "offset")
    burn_in = _get(raw, "model", "burn_in")
    default = PanelParams.model_fields["level_long_half_life"].get_default()
    long = _get(raw, "panel", "level_long_half_life") or default
    if not isinstance(burn_in, int) or not isinstance(long, int | float):
        return []
    names = [f for f in [*features, offset] if isinstance(f, str)]
    longest = max((memory_of(f, float(long)) for f in names), default=0.0)
    if burn_in < 2 * longest:
        return [
            f"model.burn_in {burn_in} is less than twice the longest half-life the model's "
            f"inputs remember ({longest:g}): decayed features would not have warmed up"
        ]
    return []


def _format_errors(err: ValidationError, path: Path, extra: list[str]) -> str:
    lines = []
    for e in err.errors():
        where = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            moved = MOVED.get(tuple(map(str, e["loc"])))
            msg = f"moved to {moved} (run-only, no stage tracks it)" if moved else "unknown key"
        got = "" if not e["loc"] else f" (got {e.get('input')!r:.80})"
        lines.append(f"  - {where}: {msg}{got}")
    lines += [f"  - {p}" for p in extra if not any(p in line for line in lines)]
    return "\n".join([f"{path}: {len(lines)} problem(s):", *lines])


def parse_params(raw: dict[str, Any], path: Path = DEFAULT_PARAMS) -> Params:
    """Validate a params mapping; raise :class:`ParamsError` listing every problem."""
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Params.model_validate(raw)
    except ValidationError as e:
        raise ParamsError(_format_errors(e, path, cross_problems(raw))) from None


def read_params(path: Path | str = DEFAULT_PARAMS) -> Params:
    """Read and validate a params file."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: no such params file") from None
    except yaml.YAMLError as e:
        raise ParamsError(f"{path}: not valid YAML: {e}") from None
    return parse_params(raw, path)


def load_params(section: str | None = None, path: Path | str = DEFAULT_PARAMS) -> Any:
    """Validate the whole params file and return one section (or all of it)."""
    params = read_params(path)
    return params if section is None else getattr(params, section)
