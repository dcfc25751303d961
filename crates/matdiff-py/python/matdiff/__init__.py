"""Matrix calculus by the differential method, from Python.

Take the total differential of a scalar function of matrices, bring it into the form
``df = tr(G' dX)`` with the trace tricks, and read off the gradient ``G``: every step shown,
the gradient evaluated on NumPy arrays (read in place, with the GIL released) and checked
numerically.

>>> import numpy as np, matdiff
>>> d = matdiff.grad("tr(Y'*M*Y) where Y = sigmoid(W*X)", "X", let="M: symmetric")
>>> d.text
"2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)"
>>> W, X = np.ones((2, 3)), np.zeros((3, 4))
>>> d(W=W, X=X, M=np.eye(2)).shape
(3, 4)

``d.numpy_source()`` gives the derivation as NumPy code (matdiff's code generator). Hessians
and Jacobians are not available yet.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from ._matdiff import (
    Check,
    Derivation,
    DerivationError,
    EvaluationError,
    FitError,
    GramAccumulator,
    LeastSquaresFit,
    MatdiffError,
    ParseError,
    ShapeError,
    Solution,
    Step,
    lstsq,
)
from . import _matdiff

if TYPE_CHECKING:
    from ._estimators import LinearRegression, Ridge

__all__ = [
    "grad",
    "evaluate",
    "solve",
    "lstsq",
    "Derivation",
    "Step",
    "Check",
    "Solution",
    "GramAccumulator",
    "LeastSquaresFit",
    "LinearRegression",
    "Ridge",
    "MatdiffError",
    "ParseError",
    "ShapeError",
    "DerivationError",
    "EvaluationError",
    "FitError",
]

Let = str | Iterable[str] | Mapping[str, str] | None


def _lets(let: Let) -> list[str]:
    """Declarations as a list of texts: ``"M: symmetric"``, ``["A: 3x4", "c: scalar"]`` or
    ``{"M": "symmetric", "A": "3x4"}``."""
    if let is None:
        return []
    if isinstance(let, str):
        return [let]
    if isinstance(let, Mapping):
        return [f"{name}: {shape}" for name, shape in let.items()]
    return [str(text) for text in let]


def grad(expr: str, wrt: str, *, let: Let = None, upstream: str | None = None) -> Derivation:
    """The gradient of the scalar ``expr`` with respect to the variable ``wrt``, with its
    derivation.

    ``let`` declares shapes and assumptions (``"M: symmetric"``, ``"X: 3x4"``, ``"c: scalar"``);
    ``upstream`` names the gradient ``G`` of a loss with respect to a matrix-valued ``expr``,
    which is then differentiated through ``tr(G'*expr)``.

    >>> d = grad("a'*X*b", "X")
    >>> d.text, [s.lhs for s in d.steps][:2]
    ("a*b'", ['f', 'df'])

    Raises ``ParseError`` or ``ShapeError`` (with a caret under the place) for bad text, and
    ``DerivationError`` when the engine cannot derive it, or when the gradient's text would
    need a size that no variable names (``alpha*sum(ones)``: write ``ones(3)`` or declare it).
    """
    return _matdiff.grad(expr, wrt, _lets(let), upstream)


def evaluate(expr: str, /, *, let: Let = None, **arrays: Any) -> Any:
    """The value of ``expr`` at the arrays given by name: a float for a scalar, a 1-d array for
    a column vector, a 2-d array otherwise.

    >>> import numpy as np
    >>> evaluate("a'*exp(X*b)", a=np.array([1.0, 2.0]), X=np.array([[0.5, -1], [0.25, 2]]),
    ...          b=np.array([1.0, 0.5]))
    7.980685914923683
    """
    return _matdiff.evaluate(expr, _lets(let), arrays)


def solve(expr: str, wrt: str, *, let: Let = None) -> Solution:
    """The stationary point of ``expr`` in ``wrt`` when the gradient is affine in it.

    >>> s = solve("norm2(X*w - y)^2", "w")
    >>> s.equation, s.text
    ("X'*X*w = X'*y", "inv(X'*X)*X'*y")
    """
    return _matdiff.solve(expr, wrt, _lets(let))


def __getattr__(name: str) -> Any:
    # The estimators need scikit-learn, imported only when they are asked for.
    if name in ("LinearRegression", "Ridge"):
        from . import _estimators

        return getattr(_estimators, name)
    raise AttributeError(f"module 'matdiff' has no attribute {name!r}")
