"""The proximity block's worth is found when the data have it and only then (real NUTS).

Two simulated panels (clashcast_testing.simulate_blocks.simulate_proximity_panel): one whose
clashes follow +1 logit per SD of the nearness of the two sides, one where nearness carries
nothing. On each the model with the block and the model without it are fitted, as the fit stage
does, and compared by PSIS-LOO (model.inference.diagnostics.block_worth). Four fits: 124 s of CPU
(9 min of wall time on a busy 2-core machine), so the module is marked slow.
"""

import numpy as np
import pytest
from conftest import PRIORS as TEST_PRIORS

from clashcast_testing.simulate_blocks import OFFSET, PROXIMITY, simulate_proximity_panel
from model.config import PriorSpec
from model.inference.clash_model import build_clash_model, make_design
from model.inference.diagnostics import block_worth
from model.inference.sampling import fit

pytestmark = pytest.mark.slow

PRIORS = {k: PriorSpec(**v) for k, v in TEST_PRIORS.items()} | {
    "sigma_block": PriorSpec(dist="HalfNormal", sigma=1.0)
}


def _fit(panel, features):
    design = make_design(panel, features, horizon=4, offset=OFFSET)
    pm_model = build_clash_model(design, PRIORS, region_effects=False)
    settings = {"sampler": "nutpie", "chains": 2, "progressbar": False, "target_accept": 0.9}
    return fit(pm_model, draws=300, tune=300, cores=1, seed=11, **settings)


@pytest.fixture(scope="module", params=[1.0, 0.0], ids=["effect", "no_effect"])
def worth(request):
    panel = simulate_proximity_panel(request.param, n_regions=12, n_periods=240, seed=5)
    with_block, without = _fit(panel, [PROXIMITY]), _fit(panel, [])
    return request.param, with_block, block_worth(with_block, without)


def test_the_effect_per_sd_is_recovered_or_its_absence_reported(worth):
    effect, idata, _ = worth
    assert int(idata["sample_stats"]["diverging"].sum()) == 0
    beta = idata["posterior"]["beta_mu"].sel(feature=PROXIMITY).values.ravel()
    lo, hi = np.quantile(beta, [0.05, 0.95])
    assert lo <= effect <= hi, (lo, effect, hi)
    if effect:
        assert lo > 0, (lo, hi)  # the 90% interval excludes 0: the effect is found
    else:
        assert lo < 0 < hi


def test_psis_loo_tells_the_block_apart_only_when_it_carries_something(worth):
    effect, _, result = worth
    assert result["loo_se"] > 0
    if effect:
        assert result["clear"] and result["loo_diff"] > 2 * result["loo_se"], result
    else:
        assert not result["clear"], result  # within 2 SE: the data cannot tell them apart
