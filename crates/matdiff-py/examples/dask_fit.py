"""A least-squares fit as a reduction on Dask: each partition's rows become a GramAccumulator on
the worker that holds them, accumulators are merged in a tree, and the small result is solved.

    python3 crates/matdiff-py/examples/dask_fit.py

Only the accumulators, O(d^2) numbers each, travel between processes.
"""

import dask
import dask.array as da
import numpy as np
from distributed import Client, LocalCluster

import matdiff


def fit_on_dask(X: da.Array, y: da.Array, **solve_options) -> matdiff.LeastSquaresFit:
    """Fits y ≈ X b + c on a Dask array split by rows (one chunk of columns)."""
    if X.numblocks[1] != 1:
        raise ValueError("split X by rows only: rechunk it to one block of columns")
    y = y.rechunk((X.chunks[0],))
    parts = [
        dask.delayed(matdiff.GramAccumulator.from_rows)(xb, yb)
        for xb, yb in zip(X.to_delayed().ravel(), y.to_delayed().ravel())
    ]
    while len(parts) > 1:  # a tree of pairwise merges
        merged = [dask.delayed(matdiff.GramAccumulator.merge)(a, b) for a, b in zip(parts[::2], parts[1::2])]
        parts = merged + parts[len(merged) * 2 :]
    return parts[0].compute().solve(**solve_options)


def main() -> None:
    rng = np.random.default_rng(0)
    n, d = 200_000, 20
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 1.0 + 0.1 * rng.standard_normal(n)
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster, Client(cluster):
        fit = fit_on_dask(da.from_array(X, chunks=(n // 8, d)), da.from_array(y, chunks=n // 8))
    local = matdiff.LinearRegression().fit(X, y)
    print(f"{fit.n_rows} rows in 8 partitions on 2 worker processes, method {fit.method}")
    print("largest difference from the in-memory fit:", np.max(np.abs(fit.coef - local.coef_)))


if __name__ == "__main__":
    main()
