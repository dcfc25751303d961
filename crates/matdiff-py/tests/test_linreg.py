"""LinearRegression, Ridge and GramAccumulator: scikit-learn's checks, agreement with
scikit-learn's own estimators, pickling, Ctrl-C."""

import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sklearn.linear_model
from sklearn.datasets import load_diabetes
from sklearn.utils.estimator_checks import check_estimator

import matdiff


@pytest.fixture
def rng():
    return np.random.default_rng(1205)


def problem(rng, n=500, d=6, offset=0.0):
    X = offset + rng.standard_normal((n, d)) * rng.uniform(0.5, 3.0, d)
    y = X @ rng.standard_normal(d) + 3.0 + 0.1 * rng.standard_normal(n)
    return X, y


@pytest.mark.parametrize(
    "estimator",
    [
        matdiff.LinearRegression(),
        matdiff.LinearRegression(method="svd", fit_intercept=False),
        matdiff.Ridge(),
        matdiff.Ridge(alpha=0.3, method="qr"),
    ],
    ids=repr,
)
def test_scikit_learn_check_estimator(estimator):
    check_estimator(estimator)


def test_linear_regression_equals_scikit_learn_on_diabetes():
    X, y = load_diabetes(return_X_y=True)
    ours = matdiff.LinearRegression().fit(X, y)
    theirs = sklearn.linear_model.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-10)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-12)
    assert ours.method_ == "normal" and ours.rank_ == 10 and ours.n_features_in_ == 10


@pytest.mark.parametrize("method", ["auto", "normal", "qr", "svd"])
def test_every_method_equals_scikit_learn_with_weights(rng, method):
    X, y = problem(rng, offset=50.0)
    w = rng.uniform(0.1, 2.0, len(y))
    for ours, theirs in [
        (matdiff.LinearRegression(method=method), sklearn.linear_model.LinearRegression()),
        (matdiff.Ridge(alpha=2.5, method=method), sklearn.linear_model.Ridge(alpha=2.5)),
        (
            matdiff.Ridge(alpha=0.5, fit_intercept=False, method=method),
            sklearn.linear_model.Ridge(alpha=0.5, fit_intercept=False),
        ),
    ]:
        ours.fit(X, y, sample_weight=w)
        theirs.fit(X, y, sample_weight=w)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8, err_msg=repr(ours))
        assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-8, abs=1e-10)
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-9)


def test_fewer_samples_than_unknowns_gives_the_minimum_norm_solution(rng):
    X, y = problem(rng, n=4, d=9)
    ours = matdiff.LinearRegression().fit(X, y)
    theirs = sklearn.linear_model.LinearRegression().fit(X, y)
    assert ours.method_ == "svd" and ours.rank_ == 3
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9)
    with pytest.raises(ValueError, match="n_samples = 4 is fewer than the 10 unknowns"):
        matdiff.LinearRegression(method="normal").fit(X, y)


def test_parameters_and_errors():
    model = matdiff.Ridge(alpha=0.7, method="qr")
    assert model.get_params() == {"alpha": 0.7, "fit_intercept": True, "method": "qr"}
    assert model.set_params(alpha=2.0).alpha == 2.0
    X = np.eye(3)
    with pytest.raises(ValueError, match="method must be one of"):
        matdiff.LinearRegression(method="cholesky").fit(X, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="alpha must be finite"):
        matdiff.Ridge(alpha=-1.0).fit(X, [1.0, 2.0, 3.0])
    with pytest.raises(matdiff.FitError, match="invalid sample weight -1"):
        matdiff.lstsq(np.ones((3, 1)) * [[1.0], [2.0], [3.0]], np.ones(3), np.array([1.0, -1.0, 1.0]))
    with pytest.raises(matdiff.ShapeError, match="'X' must be 2-dimensional"):
        matdiff.lstsq(np.ones(3), np.ones(3))


def test_gram_accumulator_partitions_merge_and_pickle(rng):
    X, y = problem(rng, n=2000, d=5, offset=1e4)
    w = rng.uniform(0.0, 3.0, len(y))
    parts = np.array_split(np.arange(len(y)), 7)
    accumulators = [
        matdiff.GramAccumulator(5).update(X[i], y[i], sample_weight=w[i]) for i in parts
    ]
    # Through pickle, as between processes.
    accumulators = [pickle.loads(pickle.dumps(a)) for a in accumulators]
    total = accumulators[0]
    for a in accumulators[1:]:
        total.merge(a)
    assert total.n_rows == 2000 and total.n_features == 5
    restored = matdiff.GramAccumulator.from_bytes(total.to_bytes())
    assert restored.to_bytes() == total.to_bytes()
    for alpha in (0.0, 1.5):
        fit = total.solve(alpha=alpha)
        model = matdiff.Ridge(alpha=alpha).fit(X, y, sample_weight=w)
        np.testing.assert_allclose(fit.coef, model.coef_, rtol=1e-10)
        assert fit.intercept == pytest.approx(model.intercept_, rel=1e-10)
        assert fit.n_rows == 2000
    with pytest.raises(matdiff.FitError, match="3 features"):
        total.merge(matdiff.GramAccumulator(3))
    with pytest.raises(matdiff.FitError, match="needs the rows themselves"):
        total.solve(method="qr")
    with pytest.raises(matdiff.FitError, match="not a serialized Gram accumulator"):
        matdiff.GramAccumulator.from_bytes(b"not an accumulator")


def test_ctrl_c_interrupts_a_long_fit():
    """A signal during a fit raises KeyboardInterrupt while the fit is still running: at that
    moment the fit's worker thread is still alive (one more thread than before the call). A
    fit that ignored signals would return first, its thread gone."""
    script = textwrap.dedent(
        """
        import os, signal
        import numpy as np
        import matdiff

        def interrupt(signum, frame):
            raise KeyboardInterrupt

        threads = lambda: len(os.listdir("/proc/self/task"))
        rng = np.random.default_rng(0)
        X = rng.standard_normal((1_500_000, 60))
        y = rng.standard_normal(1_500_000)
        matdiff.lstsq(X[:1000], y[:1000], method="svd")  # starts the thread pools
        before = threads()
        signal.signal(signal.SIGALRM, interrupt)
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        try:
            matdiff.lstsq(X, y, method="svd")
            print("finished")
        except KeyboardInterrupt:
            print("interrupted while running:", threads() > before)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "interrupted while running: True"
