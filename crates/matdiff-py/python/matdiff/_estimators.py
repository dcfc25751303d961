"""scikit-learn estimators on matdiff's least squares (crate ``matdiff-linreg``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from ._matdiff import lstsq

_METHODS = ("auto", "normal", "qr", "svd")


class _LeastSquares(RegressorMixin, BaseEstimator):
    """Shared fit and predict; the subclasses fix the ridge penalty."""

    def _alpha(self) -> float:
        raise NotImplementedError

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _LeastSquares:
        """Fits the coefficients and the intercept; the GIL is released and Ctrl-C interrupts."""
        if self.method not in _METHODS:
            raise ValueError(f"method must be one of {_METHODS}, got {self.method!r}")
        alpha = self._alpha()
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=True)
        weights = None
        if sample_weight is not None:
            weights = _check_sample_weight(sample_weight, X, dtype=np.float64)
        n_samples, n_features = X.shape
        unknowns = n_features + int(self.fit_intercept)
        method = self.method
        if alpha == 0.0 and n_samples < unknowns:
            if method != "auto" and method != "svd":
                raise ValueError(
                    f"n_samples = {n_samples} is fewer than the {unknowns} unknowns: method "
                    f"{method!r} needs at least as many; use 'svd' or 'auto' for the "
                    "minimum-norm solution"
                )
            # The minimum-norm solution (as scikit-learn's): the SVD of the same problem with
            # rows of weight zero added, which change neither the sums nor the means.
            pad = unknowns - n_samples
            X = np.vstack([X, np.zeros((pad, n_features))])
            y = np.concatenate([y, np.zeros(pad)])
            weights = np.concatenate(
                [np.ones(n_samples) if weights is None else weights, np.zeros(pad)]
            )
            method = "svd"
        fit = lstsq(X, y, weights, alpha=alpha, fit_intercept=self.fit_intercept, method=method)
        self.coef_ = fit.coef
        self.intercept_ = fit.intercept
        self.method_ = fit.method
        self.rank_ = fit.rank
        self.condition_ = fit.condition
        return self

    def predict(self, X: Any) -> np.ndarray:
        """``X @ coef_ + intercept_``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_ + self.intercept_


class LinearRegression(_LeastSquares):
    """Ordinary least squares, scikit-learn's estimator API.

    ``method``: ``"auto"`` (the normal equation, falling back to QR or the SVD when the data is
    ill-conditioned), ``"normal"``, ``"qr"`` or ``"svd"`` (minimum-norm solution). After
    ``fit``: ``coef_``, ``intercept_``, ``method_`` (the method that ran), ``rank_``,
    ``condition_``, ``n_features_in_``.

    >>> import numpy as np
    >>> X = np.array([[1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
    >>> model = LinearRegression().fit(X, 1 + X @ [2.0, 1.0])
    >>> np.round(model.coef_, 12), round(model.intercept_, 12)
    (array([2., 1.]), 1.0)
    """

    def __init__(self, *, fit_intercept: bool = True, method: str = "auto") -> None:
        self.fit_intercept = fit_intercept
        self.method = method

    def _alpha(self) -> float:
        return 0.0


class Ridge(_LeastSquares):
    """Least squares with the penalty ``alpha * |coef|^2`` (not on the intercept), as
    scikit-learn's ``Ridge``. Parameters and fitted attributes as ``LinearRegression``."""

    def __init__(
        self, alpha: float = 1.0, *, fit_intercept: bool = True, method: str = "auto"
    ) -> None:
        self.alpha = alpha
        self.fit_intercept = fit_intercept
        self.method = method

    def _alpha(self) -> float:
        alpha = float(self.alpha)
        if not (np.isfinite(alpha) and alpha >= 0.0):
            raise ValueError(f"alpha must be finite and >= 0, got {self.alpha!r}")
        return alpha
