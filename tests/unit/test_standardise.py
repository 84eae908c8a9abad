"""One standardisation rule, with the options the model and the logistic baseline use."""

import numpy as np
import pandas as pd
import pytest

from model.inference.standardise import fit_scaling, standardise, standardised


def test_columns_are_centred_and_scaled_by_their_sd() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, (200, 3))
    z, mean, scale = standardise(x)
    np.testing.assert_allclose(z.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(z.std(axis=0), 1.0)
    np.testing.assert_allclose(mean, x.mean(axis=0))
    np.testing.assert_allclose(scale, x.std(axis=0))  # ddof 0


def test_a_constant_column_gets_scale_one() -> None:
    x = np.column_stack([np.full(5, 0.7), np.arange(5.0)])
    z, _, scale = standardise(x)
    assert scale[0] == 1.0 and np.all(z[:, 0] == 0.0)
    # the logistic baseline keeps any positive scale (min_scale 0), the model floors at 1e-12
    tiny = np.column_stack([np.r_[0.0, 0.0, 0.0, 1e-14], np.arange(4.0)])
    assert fit_scaling(tiny)[1][0] == 1.0
    assert fit_scaling(tiny, min_scale=0.0)[1][0] == pytest.approx(np.std(tiny[:, 0]))


def test_missing_values_are_ignored_then_read_as_the_mean_and_clipped() -> None:
    x = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan], [100.0, np.nan]])
    mean, scale = fit_scaling(x, ignore_nan=True, min_scale=0.0)
    assert mean[0] == pytest.approx(np.mean([1.0, 3.0, 100.0])) and (mean[1], scale[1]) == (0, 1)
    z = standardised(x, mean, scale, missing_as_mean=True, clip=1.0)
    assert z[2, 0] == 0.0 and np.all(z[:, 1] == 0.0)
    assert z.min() >= -1.0 and z.max() == 1.0
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(standardised(x, mean, scale), z)  # no options: NaN stays


def test_pandas_objects_keep_their_labels() -> None:
    x = pd.DataFrame({"a": [1.0, np.nan], "b": [2.0, 4.0]}, index=["r1", "r2"])
    z = standardised(
        x, pd.Series({"a": 1.0, "b": 3.0}), pd.Series({"a": 1.0, "b": 1.0}), missing_as_mean=True
    )
    assert isinstance(z, pd.DataFrame) and list(z.index) == ["r1", "r2"]
    assert z.loc["r2", "a"] == 0.0 and z.loc["r1", "b"] == -1.0
