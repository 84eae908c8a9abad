"""params.yaml is validated whole: unknown keys, wrong types and impossible values are refused
with every problem listed at once."""

import copy

import pytest
import yaml
from conftest import GOVERNORATES, ROOT

from model.config import ParamsError, parse_params, read_params


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((ROOT / "params.yaml").read_text())


def _problems(raw: dict) -> str:
    with pytest.raises(ParamsError) as info:
        parse_params(raw)
    return str(info.value)


def test_shipped_params_are_valid() -> None:
    params = read_params(ROOT / "params.yaml")
    assert params.model.horizon >= 1
    assert set(params.panel.clash.sides) <= set(params.ingest.sides)


def test_the_burn_in_must_warm_up_the_longest_memory(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["model"]["burn_in"] = 60  # the offset clash_level_hl8 pools toward a 52-week level
    assert "twice the longest half-life" in _problems(bad)
    bad["panel"]["level_long_half_life"] = 26
    parse_params(bad)  # 2 x 26 <= 60


def test_backtest_dates_and_blocks(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["backtest"]["test_start"] = "2014-01-06"
    assert "must come before" in _problems(bad)
    bad = copy.deepcopy(raw)
    bad["backtest"]["block_origins"] = 2
    assert "block_origins 2 is less than model.horizon 4" in _problems(bad)
    dev_only = copy.deepcopy(raw)
    dev_only["backtest"]["end"] = "2016-12-26"  # before test_start: a dev-only run
    parse_params(dev_only)
    no_offset = copy.deepcopy(raw)
    no_offset["model"]["offset"] = None
    assert "needs an offset" in _problems(no_offset)
    empty = copy.deepcopy(raw)
    empty["model"]["dependence"] = False
    assert "nothing to fit" in _problems(empty)


def test_every_problem_is_listed_at_once(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["model"]["horizon"] = -1
    bad["unexpected"] = 1
    bad["ingest"]["regions"]["boundaries"] = []
    bad["panel"]["clash"]["sides"] = ["government", "martians"]
    bad["fit"]["draws"] = "many"
    message = _problems(bad)
    assert "5 problem(s)" in message
    for fragment in (
        "model.horizon",
        "unexpected: unknown key",
        "ingest.regions.boundaries",
        "'martians'",
        "fit.draws",
    ):
        assert fragment in message, fragment


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        (("ingest", "window", "end"), "2007-01-01", "not after start"),
        (("panel", "clash", "sides"), ["government", "government"], "two different sides"),
        (("panel", "clash", "categories"), ["picnic"], "'picnic'"),
        (("model", "country_varying"), ["not_a_feature"], "not_a_feature"),
        (("diagnostics", "r_hat_max"), 0, "diagnostics.r_hat_max"),
        (("forecast", "interval"), [0.9, 0.1], "not increasing"),
        (("ingest", "sides", "government"), ["re:(unclosed"], "bad regex"),
        (("backtest", "calibration_binning"), "log", "backtest.calibration_binning"),
    ],
)
def test_impossible_values_are_refused(
    raw: dict, path: tuple, value: object, fragment: str
) -> None:
    bad = copy.deepcopy(raw)
    node = bad
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert fragment in _problems(bad)


def test_the_calibration_binnings_are_those_scoring_draws() -> None:
    from typing import get_args

    from model.backtesting.scoring import BINNINGS
    from model.config import BacktestParams

    field = BacktestParams.model_fields["calibration_binning"]
    assert get_args(field.annotation) == BINNINGS and field.default == BINNINGS[0]


def test_prior_needs_its_parameters(raw: dict) -> None:
    bad = copy.deepcopy(raw)
    bad["model"]["priors"]["intercept"] = {"dist": "Normal", "sigma": 1.0}
    assert "Normal takes exactly ['mu', 'sigma']" in _problems(bad)


def test_missing_and_broken_files_are_clear(tmp_path) -> None:
    with pytest.raises(ParamsError, match="no such params file"):
        read_params(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("ingest: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        read_params(broken)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ParamsError, match="mapping at the top level"):
        read_params(listy)


def _plain(node: object, where: str) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _plain(v, f"{where}.{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _plain(v, f"{where}[{i}]")
    else:
        import datetime as dt

        assert not isinstance(node, dt.date), f"{where}: quote dates (DVC refuses YAML dates)"


PARAMS_FILES = [ROOT / "params.yaml", *sorted((ROOT / "params" / "examples").glob("*.yaml"))]


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_params_files_hold_only_values_dvc_accepts(path) -> None:
    _plain(yaml.safe_load(path.read_text()), path.name)
    read_params(path)


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_every_param_dvc_tracks_is_written_in_each_params_file(path) -> None:
    """DVC reads the params file itself: a key that exists only as a code default stops the
    stage ("Parameters 'diagnostics' are missing"), so every example must be a whole file."""
    raw = yaml.safe_load(path.read_text())
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    tracked = [(name, str(key)) for name, stage in stages.items() for key in stage["params"]]
    assert len(tracked) > 10
    for name, key in tracked:
        node = raw
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{name}: {key} not in {path.name}"
            node = node[part]


@pytest.mark.parametrize("path", PARAMS_FILES[1:], ids=lambda p: p.name)
def test_every_example_has_every_section_of_params_yaml(path, raw: dict) -> None:
    assert set(raw) - set(yaml.safe_load(path.read_text())) == set()


def test_the_examples_are_found() -> None:
    assert [p.name for p in PARAMS_FILES[1:]] == [
        "acled_us_iran.yaml",
        "acled_us_iran_cells.yaml",
        "ged_iraq_governorates.yaml",
        "ged_turkey_pkk.yaml",
    ]


def test_the_proximity_block_is_checked_and_gives_both_variants(raw: dict) -> None:
    raw = copy.deepcopy(raw)
    raw["model"]["features"] = ["clash_decay_hl4", "prox_us_coalition__armed_group_near"]
    raw["model"]["proximity_block"] = ["clash_decay_hl4", "prox_us_coalition__armed_group_km"]
    text = _problems(raw)
    assert "'clash_decay_hl4' is not a proximity or contact feature" in text
    assert "raw distance" in text
    raw["model"]["proximity_block"] = [
        "prox_us_coalition__armed_group_near",
        "prox_us_coalition__armed_group_copresent",
    ]
    assert "wholly inside model.features or wholly outside" in _problems(raw)
    raw["model"]["proximity_block"] = ["prox_us_coalition__armed_group_copresent"]
    mp = parse_params(raw).model
    assert not mp.ships_proximity
    with_block = mp.proximity_variant(True).features
    assert with_block == [*raw["model"]["features"], "prox_us_coalition__armed_group_copresent"]
    assert mp.proximity_variant(False).features == raw["model"]["features"]
    raw["model"]["features"].append("prox_us_coalition__armed_group_copresent")
    assert parse_params(raw).model.ships_proximity


def test_contact_categories_must_be_coded_by_ingest(raw: dict) -> None:
    raw = copy.deepcopy(raw)
    raw["panel"]["contact_categories"] = ["deployment"]
    assert "panel.contact_categories names 'deployment'" in _problems(raw)


def test_the_settings_import_no_source_adapter() -> None:
    """The side grammar sits below the adapters (model.side_grammar): an edit to how a source is
    read must not make every stage that loads params depend on model/data/sources."""
    import subprocess
    import sys

    code = (
        "import sys, model.config; "
        "print(sorted(m for m in sys.modules if 'model.data.sources' in m))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("section", "key", "value", "moved"),
    [
        ("fit", "cores", 2, "runtime.cores"),
        ("fit", "progressbar", False, "runtime.progressbar"),
        ("backtest", "dask", {"workers": 2}, "runtime.dask"),
    ],
)
def test_an_old_run_only_key_says_where_it_moved(raw: dict, section, key, value, moved) -> None:
    raw = copy.deepcopy(raw)
    raw[section][key] = value
    assert f"{section}.{key}: moved to {moved} (run-only, no stage tracks it)" in _problems(raw)


def test_runtime_is_validated_like_the_other_sections(raw: dict) -> None:
    raw = copy.deepcopy(raw)
    raw["runtime"]["dask"]["workers"] = 0
    raw["runtime"]["threads"] = 4
    problems = _problems(raw)
    assert "runtime.dask.workers: Input should be greater than 0" in problems
    assert "runtime.threads: unknown key" in problems


@pytest.mark.parametrize("path", PARAMS_FILES, ids=lambda p: p.name)
def test_each_params_file_validates_and_its_clash_names_mapped_sides(path) -> None:
    params = read_params(path)
    assert set(params.panel.clash.sides) <= set(params.ingest.sides)


def test_a_feature_the_panel_does_not_write_is_refused_before_any_stage() -> None:
    raw = yaml.safe_load(GOVERNORATES.read_text(encoding="utf-8"))
    raw["model"]["features"] = ["pool_gov_hl52"]  # a cell feature on the governorates
    with pytest.raises(ParamsError, match=r"pool_gov_hl52.*unit admin1"):
        parse_params(raw)
    raw["ingest"]["regions"]["unit"] = "grid"
    raw["model"]["horizon_varying"] = False
    assert parse_params(raw).model.features == ["pool_gov_hl52"]
