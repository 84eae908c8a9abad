"""Reproducible numerics: fast-math and BLAS threads off inside the block, restored after."""

import os

import pytensor
from threadpoolctl import threadpool_info

from model.numerics import reproducible_numerics


def test_reproducible_numerics_turns_fast_math_and_blas_threads_off_then_restores():
    before = pytensor.config.numba__fastmath
    blas_env = os.environ.get("OPENBLAS_NUM_THREADS")
    with reproducible_numerics():
        assert pytensor.config.numba__fastmath is False
        assert os.environ["OPENBLAS_NUM_THREADS"] == "1"
        assert all(p["num_threads"] == 1 for p in threadpool_info() if p["user_api"] == "blas")
    assert pytensor.config.numba__fastmath == before
    assert os.environ.get("OPENBLAS_NUM_THREADS") == blas_env
