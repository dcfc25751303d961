"""The Python package against NumPy and scikit-learn, measured in one run.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 crates/matdiff-py/bench/bench.py

(unset both so that NumPy's OpenBLAS picks its best kernel for this processor; the kernel is
printed). Three measurements, each the median of repeated runs:

1. the Python call overhead on the seed's example: deriving the gradient with ``grad``, and
   evaluating it at the seed's tiny sizes (W 2x3, X 3x2), against the same formula in NumPy;
2. evaluating the seed's gradient at n = 1000 (W, X, M all 1000 x 1000) against the same
   written in NumPy;
3. ``LinearRegression.fit`` at (1e6, 50) against scikit-learn's ``LinearRegression``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
import sklearn.linear_model
from threadpoolctl import threadpool_info

import matdiff

SEED = "tr(Y'*M*Y) where Y = sigmoid(W*X)"


def median_seconds(f: Callable[[], object], repeat: int, number: int = 1) -> float:
    """Median over `repeat` runs of the time of one call, each run timing `number` calls."""
    f()  # warm up: plans compiled, pages touched
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            f()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times)


def numpy_gradient(W: np.ndarray, X: np.ndarray, M: np.ndarray) -> np.ndarray:
    """The seed's gradient 2 W'((M Y) .* Y .* (1 - Y)), Y = sigmoid(W X), in NumPy."""
    Y = 1.0 / (1.0 + np.exp(-(W @ X)))
    return 2.0 * W.T @ ((M @ Y) * Y * (1.0 - Y))


def values(rng: np.random.Generator, m: int, n: int, p: int):
    W = rng.standard_normal((m, n)) / np.sqrt(n)
    X = rng.standard_normal((n, p))
    A = rng.standard_normal((m, m))
    return W, X, (A + A.T) / 2


def row(name: str, ours: float, theirs: float, unit: str = "s") -> str:
    scale = {"s": 1.0, "ms": 1e3, "us": 1e6}[unit]
    return (
        f"{name:<44} {ours * scale:>10.3f} {theirs * scale:>12.3f} {unit:<3}"
        f" {theirs / ours:>8.2f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller fit (1e5, 50), fewer runs")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
    print(f"numpy {np.__version__}, BLAS {blas}, {os.cpu_count()} cores, load {os.getloadavg()}")
    print(f"{'':<44} {'matdiff':>10} {'baseline':>12} {'':<3} {'speed-up':>9}")

    derive_time = median_seconds(
        lambda: matdiff.grad(SEED, "X", let="M: symmetric"), repeat=7, number=50
    )
    print(f"{'grad(...) derivation (parse + derive)':<44} {derive_time * 1e6:>10.1f} us")

    d = matdiff.grad(SEED, "X", let="M: symmetric")
    W, X, M = values(rng, 2, 3, 2)
    np.testing.assert_allclose(d(W=W, X=X, M=M), numpy_gradient(W, X, M), rtol=1e-12)
    ours = median_seconds(lambda: d(W=W, X=X, M=M), repeat=7, number=2000)
    theirs = median_seconds(lambda: numpy_gradient(W, X, M), repeat=7, number=2000)
    print(row("gradient call at W 2x3, X 3x2 (overhead)", ours, theirs, "us"))

    W, X, M = values(rng, 1000, 1000, 1000)
    np.testing.assert_allclose(d(W=W, X=X, M=M), numpy_gradient(W, X, M), rtol=1e-9, atol=1e-12)
    repeat = 3 if args.quick else 9
    ours = median_seconds(lambda: d(W=W, X=X, M=M), repeat=repeat)
    theirs = median_seconds(lambda: numpy_gradient(W, X, M), repeat=repeat)
    print(row("gradient at n = 1000 vs NumPy", ours, theirs, "ms"))

    n, p = (100_000 if args.quick else 1_000_000), 50
    X = rng.standard_normal((n, p))
    y = X @ rng.standard_normal(p) + 1.0 + rng.standard_normal(n)
    model = matdiff.LinearRegression()
    reference = sklearn.linear_model.LinearRegression()
    ours = median_seconds(lambda: model.fit(X, y), repeat=repeat)
    theirs = median_seconds(lambda: reference.fit(X, y), repeat=3)
    np.testing.assert_allclose(model.coef_, reference.coef_, rtol=1e-8)
    print(row(f"LinearRegression.fit at ({n:.0e}, {p}) vs scikit-learn", ours, theirs, "s"))


if __name__ == "__main__":
    main()
