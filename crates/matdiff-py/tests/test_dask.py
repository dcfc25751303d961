"""A fit as a reduction over a Dask LocalCluster of two worker processes equals the in-memory
fit."""

import os
import sys
from pathlib import Path

import dask.array as da
import numpy as np
import pytest
from distributed import Client, LocalCluster

import matdiff

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from dask_fit import fit_on_dask  # noqa: E402


@pytest.fixture(scope="module")
def client():
    with LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, Client(cluster) as client:
        yield client


def test_two_worker_processes(client):
    pids = client.run(os.getpid)
    assert len(set(pids.values())) == 2 and os.getpid() not in pids.values()


@pytest.mark.parametrize("partitions", [8, 13])
def test_dask_fit_equals_in_memory_fit(client, partitions):
    rng = np.random.default_rng(partitions)
    n, d = 60_000, 12
    # Features off the origin, with spreads of different sizes.
    X = 100.0 + rng.standard_normal((n, d)) * rng.uniform(0.1, 10.0, d)
    y = X @ rng.standard_normal(d) - 7.0 + rng.standard_normal(n)
    rows = -(-n // partitions)
    Xd = da.from_array(X, chunks=(rows, d))
    yd = da.from_array(y, chunks=rows)
    assert Xd.numblocks == (partitions, 1)
    for alpha, local in [(0.0, matdiff.LinearRegression()), (3.0, matdiff.Ridge(alpha=3.0))]:
        fit = fit_on_dask(Xd, yd, alpha=alpha)
        local.fit(X, y)
        assert fit.n_rows == n
        np.testing.assert_allclose(fit.coef, local.coef_, rtol=1e-10)
        assert fit.intercept == pytest.approx(local.intercept_, rel=1e-10)
