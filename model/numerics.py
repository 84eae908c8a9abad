"""Numerics that make a fit the same every run: one BLAS thread, strict IEEE arithmetic.

Context managers around model compilation and sampling (:func:`model.inference.sampling.fit`, the
fit stage's prior check, :func:`model.inference.clash_model.centred_regions`' prior median). The
same seed then gives the same draws whatever the core count and whether PyTensor compiles the model
afresh or loads it from its Numba cache.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytensor
import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, the one Numba's dot calls, before limiting it)
from threadpoolctl import threadpool_limits

#: Environment variables that fix a BLAS's thread count in processes started while sampling.
_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


@contextmanager
def single_threaded_blas() -> Iterator[None]:
    """Run the block with one BLAS thread, here and in processes it starts.

    Each NUTS chain already has a core of its own; a BLAS that also spreads each gradient's
    matrix product over the cores makes the chains fight for them (4x simulated panel, two
    chains on two cores: 290 s against 133 s with one BLAS thread). One thread also keeps the
    draws the same on machines with other core counts: the thread count changes the order of
    the product's sums, hence the last bits of every gradient, hence the chains.
    """
    saved = {k: os.environ.get(k) for k in _BLAS_THREAD_VARS}
    os.environ.update(dict.fromkeys(_BLAS_THREAD_VARS, "1"))
    try:
        with threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextmanager
def strict_float_math() -> Iterator[None]:
    """Compile the block's Numba code with IEEE arithmetic, not PyTensor's default fast-math.

    Fast-math lets LLVM reorder sums and fuse multiply-adds, and the machine code it makes for
    the model then depends on more than the model: a backtest fold compiled afresh gave other
    draws than the same fold, same seed, loaded from PyTensor's Numba cache (the first fold of
    the shipped backtest, 2 x 300 draws: the posteriors differed, cold cache against warm). So
    the first run after a change to the model or the data differed from every later one.
    Without fast-math the compiled code must give the bits the graph specifies, cold or warm.
    """
    with pytensor.config.change_flags(numba__fastmath=False):
        yield


@contextmanager
def reproducible_numerics() -> Iterator[None]:
    """:func:`single_threaded_blas` and :func:`strict_float_math`: the same draws every run."""
    with single_threaded_blas(), strict_float_math():
        yield
