"""grad, evaluate and solve from Python: derivations, values on NumPy arrays, errors."""

import threading

import numpy as np
import pytest

import matdiff

SEED = "tr(Y'*M*Y) where Y = sigmoid(W*X)"


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def seed_values(rng, m=3, n=5, p=4):
    """Random, non-square, non-symmetric W and X; a symmetric M as declared."""
    W = rng.standard_normal((m, n))
    X = rng.standard_normal((n, p))
    A = rng.standard_normal((m, m))
    return W, X, A + A.T


def seed_loss(W, X, M):
    Y = sigmoid(W @ X)
    return np.trace(Y.T @ M @ Y)


def central_differences(f, X, h=1e-6):
    """The gradient of f at X by central differences, in NumPy alone."""
    G = np.zeros_like(X)
    for index in np.ndindex(X.shape):
        step = np.zeros_like(X)
        step[index] = h
        G[index] = (f(X + step) - f(X - step)) / (2 * h)
    return G


@pytest.fixture
def rng():
    return np.random.default_rng(20261205)


def test_seed_gradient_text_and_steps():
    d = matdiff.grad(SEED, "X", let="M: symmetric")
    assert d.text == "2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)"
    assert d.unicode == "2·Wᵀ·((M·Y) ⊙ σ′(W·X)) where Y = σ(W·X)"
    assert "\\sigma" in d.latex
    assert d.wrt == "X" and d.expr == SEED and not d.symmetric
    lhs = [s.lhs for s in d.steps]
    assert lhs[0] == "f" and "∂f/∂Y" in lhs and lhs[-1] == "∂f/∂X"
    cyclic = d.steps[3]
    assert cyclic.text == "tr(M*Y*dY') + tr(Y'*M*dY)"
    assert cyclic.rules == [("T4", "cyclic property")] and cyclic.continues
    # Every line after the first names its rules, with their catalog names.
    for step in d.steps[1:]:
        assert step.rules and all(rid and name for rid, name in step.rules)
    assert str(d).splitlines()[0].strip() == "f = " + SEED
    md = d._repr_markdown_()
    assert md.startswith("Gradient of $f = ") and "\\frac{\\partial f}{\\partial X}" in md


def test_steps_end_with_the_gradient():
    # `grad` derives the gradient alone; the steps are derived again when first read, to the
    # same end, and kept for the other readers (`steps`, `str`, the notebook's LaTeX).
    for expr, wrt in [("a'*exp(X*b)", "X"), ("tr((W*X)'*M*(W*X))", "X"), ("log(det(X))", "X")]:
        d = matdiff.grad(expr, wrt)
        first = d.steps
        assert first[-1].lhs == "∂f/∂" + wrt
        assert first[-1].text == d.text
        assert [(s.lhs, s.text, s.rules) for s in d.steps] == [(s.lhs, s.text, s.rules) for s in first]
        assert d.text in str(d)
        assert d.latex in d._repr_markdown_()


def test_seed_gradient_values_match_numpy(rng):
    d = matdiff.grad(SEED, "X", let="M: symmetric")
    W, X, M = seed_values(rng)
    G = d(W=W, X=X, M=M)
    Y = sigmoid(W @ X)
    expected = 2 * W.T @ ((M @ Y) * Y * (1 - Y))
    assert G.shape == X.shape
    np.testing.assert_allclose(G, expected, rtol=1e-12, atol=1e-14)
    numeric = central_differences(lambda X: seed_loss(W, X, M), X)
    np.testing.assert_allclose(G, numeric, rtol=1e-6, atol=1e-8)
    assert d.value(W=W, X=X, M=M) == pytest.approx(seed_loss(W, X, M), rel=1e-13)


def test_any_memory_layout_gives_the_same_gradient(rng):
    d = matdiff.grad(SEED, "X", let="M: symmetric")
    W, X, M = seed_values(rng, m=4, n=6, p=5)
    expected = d(W=W, X=X, M=M)
    big = rng.standard_normal((12, 15))
    big[::2, ::3] = X  # a strided view of X: every other row, every third column
    layouts = {
        "fortran": dict(W=np.asfortranarray(W), X=np.asfortranarray(X)),
        "strided": dict(W=W, X=big[::2, ::3]),
        "reversed": dict(W=W[::-1][::-1], X=X[:, ::-1].copy()[:, ::-1]),
        "transposed": dict(W=np.ascontiguousarray(W.T).T, X=np.ascontiguousarray(X.T).T),
        "lists": dict(W=W.tolist(), X=X.tolist()),
    }
    for name, arrays in layouts.items():
        np.testing.assert_array_equal(d(M=M, **arrays), expected, err_msg=name)


def test_vectors_scalars_and_types(rng):
    # A vector variable gives a 1-d gradient; integers are converted.
    d = matdiff.grad("sum(log(1 + exp(-y .* (X*w))))", "w")
    X = rng.standard_normal((7, 3))
    y = np.sign(rng.standard_normal(7))
    w = rng.standard_normal(3)
    g = d(X=X, y=y, w=w)
    assert g.shape == (3,)
    expected = -X.T @ (y * sigmoid(-y * (X @ w)))
    np.testing.assert_allclose(g, expected, rtol=1e-12)
    # A scalar variable gives a float.
    s = matdiff.grad("alpha*tr(A'*A)", "alpha")
    A = np.arange(6, dtype=np.int64).reshape(2, 3)
    assert s(alpha=2.0, A=A) == pytest.approx(float(np.sum(A * A)), rel=1e-15)


def test_upstream_gradient(rng):
    d = matdiff.grad("g(W*a + b)", "W", upstream="G")
    assert d.text == "(G .* g'(W*a + b))*a'"
    t = matdiff.grad("tanh(W*a + b)", "W", upstream="G")
    W, a, b, G = (rng.standard_normal(s) for s in [(3, 4), 4, 3, 3])
    np.testing.assert_allclose(
        t(W=W, a=a, b=b, G=G), np.outer(G * (1 - np.tanh(W @ a + b) ** 2), a), rtol=1e-12
    )


def test_check_at_given_and_random_values(rng):
    d = matdiff.grad("logdet(X'*A*X)", "X", let={"A": "symmetric"})
    A = rng.standard_normal((5, 5))
    A = A @ A.T + 5 * np.eye(5)
    X = rng.standard_normal((5, 3))
    check = d.check(A=A, X=X)
    assert check.ok and bool(check) and not check.random
    assert check.max_error_complex_step < 1e-8 and check.max_error_finite_difference < 1e-6
    random = d.check()
    assert random.ok and random.random


def test_symmetric_variable_gradient_and_check(rng):
    d = matdiff.grad("tr(S*A) + a'*S*S*a", "S", let="S: symmetric")
    assert d.symmetric
    A = rng.standard_normal((4, 4))
    a = rng.standard_normal(4)
    B = rng.standard_normal((4, 4))
    S = B + B.T
    G = A.T + np.outer(S @ a, a) + np.outer(a, S @ a)
    np.testing.assert_allclose(d(S=S, A=A, a=a), (G + G.T) / 2, rtol=1e-12, atol=1e-14)
    assert d.check(S=S, A=A, a=a).ok
    assert d.check().ok
    with pytest.raises(matdiff.EvaluationError, match="declared symmetric"):
        d.check(S=B, A=A, a=a)


def test_evaluate_returns_floats_vectors_and_matrices():
    a = np.array([1.0, 2.0])
    X = np.array([[0.5, -1], [0.25, 2]])
    b = np.array([1.0, 0.5])
    value = matdiff.evaluate("a'*exp(X*b)", a=a, X=X, b=b)
    assert isinstance(value, float)
    assert value == pytest.approx(a @ np.exp(X @ b), rel=1e-15)
    v = matdiff.evaluate("X*b", X=X, b=b)
    assert v.shape == (2,)
    np.testing.assert_allclose(v, X @ b, rtol=1e-15)
    M = matdiff.evaluate("inv(X)*X'", X=X)
    np.testing.assert_allclose(M, np.linalg.solve(X, X.T), rtol=1e-13)


def test_solve_gives_the_least_squares_solution(rng):
    s = matdiff.solve("norm2(X*w - y)^2", "w")
    assert s.equation == "X'*X*w = X'*y"
    assert s.text == "inv(X'*X)*X'*y"
    assert s.gradient == "2*X'*(X*w - y)"
    X = rng.standard_normal((20, 4))
    y = rng.standard_normal(20)
    w = s(X=X, y=y)
    np.testing.assert_allclose(w, np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
    assert "w = " in s._repr_markdown_()


def test_errors_are_value_errors_with_carets():
    with pytest.raises(matdiff.ParseError) as e:
        matdiff.grad("tr(A*X*B", "X")
    assert str(e.value) == (
        "'(' is never closed: expected ')' before the end of input\n  tr(A*X*B\n    ^"
    )
    with pytest.raises(matdiff.ShapeError) as e:
        matdiff.grad("tr(A*B)", "A", let=["A: 2x3", "B: 4x5"])
    assert str(e.value) == (
        "cannot multiply 2x3 by 4x5: inner dimensions 3 and 4 differ\n  tr(A*B)\n      ^"
    )
    with pytest.raises(matdiff.ParseError) as e:
        matdiff.grad("tr(A)", "A", let="A: 3y4")
    assert str(e.value) == "in let: the declaration gives two shapes\n  A: 3y4\n      ^^"
    with pytest.raises(matdiff.DerivationError, match="'sign' is not a variable"):
        matdiff.grad("tr(A)", "sign")
    # A variable that does not occur has a zero gradient, as in SymPy and the command line.
    assert matdiff.grad("tr(A)", "Z").text == "0*ones(rows(Z))*ones(cols(Z))'"
    for error in (matdiff.ParseError, matdiff.ShapeError, matdiff.DerivationError,
                  matdiff.EvaluationError, matdiff.FitError):
        assert issubclass(error, matdiff.MatdiffError) and issubclass(error, ValueError)


def test_a_gradient_that_cannot_name_a_size_is_refused(rng):
    # The size of `ones` is named by no variable: the text would not evaluate on its own.
    unnamed = "has a size that no variable of the expression names"
    with pytest.raises(matdiff.DerivationError, match=unnamed):
        matdiff.grad("alpha*sum(ones)", "alpha")
    with pytest.raises(matdiff.DerivationError, match=unnamed):
        matdiff.solve("sum((w - alpha*tr(I)).^2)", "w")
    # Written or declared, the size is in the text, and the text evaluates to the gradient.
    d = matdiff.grad("alpha*sum(ones(3))", "alpha")
    assert d.text == "3"
    d = matdiff.grad("sum(unvec(y.^2, 2))", "y")
    assert d.text == "2*(y .* vec(ones(2)*ones(rows(y)/2)'))"
    y = rng.standard_normal(6)
    np.testing.assert_allclose(d(y=y), 2 * y, rtol=1e-14)
    np.testing.assert_allclose(matdiff.evaluate(d.text, y=y), 2 * y, rtol=1e-14)


def test_evaluation_errors():
    d = matdiff.grad("tr(W*X)", "X")
    with pytest.raises(matdiff.ShapeError, match="'X'"):
        d(W=np.ones((2, 3)), X=np.ones((4, 2)))
    with pytest.raises(matdiff.EvaluationError, match="no value for the variable 'W'"):
        d(X=np.ones((3, 2)))
    with pytest.raises(matdiff.ShapeError, match="3 dimensions"):
        d(W=np.ones((2, 3)), X=np.ones((3, 2, 1)))
    with pytest.raises(TypeError, match="real numbers"):
        d(W=np.ones((2, 3)) * 1j, X=np.ones((3, 2)))
    W = np.ones((2, 3))
    W[1, 2] = np.nan
    with pytest.raises(
        matdiff.EvaluationError, match="'W' has a non-finite entry at row 2, column 3"
    ):
        d(W=W, X=np.ones((3, 2)))
    # Overflow from finite inputs is a value, as in NumPy.
    assert matdiff.evaluate("exp(x)", x=np.array([1e3]))[0] == np.inf
    with pytest.raises(matdiff.EvaluationError, match="singular"):
        matdiff.evaluate("inv(A)", A=np.zeros((2, 2)))


def test_threads_share_a_derivation(rng):
    """The GIL is released during evaluation; calls from several threads stay correct."""
    d = matdiff.grad(SEED, "X", let="M: symmetric")
    cases = [seed_values(rng, m=3 + k % 2, n=40, p=30 + k) for k in range(8)]
    expected = [2 * W.T @ ((M @ sigmoid(W @ X)) * sigmoid(W @ X) * (1 - sigmoid(W @ X)))
                for W, X, M in cases]
    results = [None] * len(cases)

    def work(k):
        for _ in range(20):
            W, X, M = cases[k]
            results[k] = d(W=W, X=X, M=M)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(cases))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got, want in zip(results, expected):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_numpy_source_runs_and_agrees(rng):
    """The generated NumPy of the seed's example, executed, equals the derivation's own value
    and gradient, and its check_gradient() agrees with central differences."""
    d = matdiff.grad(SEED, "X", let="M: symmetric")
    source = d.numpy_source(name="loss_and_grad", check_gradient=True)
    assert "def loss_and_grad(" in source and "np.matrix" not in source
    namespace = {}
    exec(compile(source, "<generated>", "exec"), namespace)
    W, X, M = seed_values(rng)
    value, gradient = namespace["loss_and_grad"](M=M, W=W, X=X)
    assert abs(value - seed_loss(W, X, M)) <= 1e-12 * abs(value)
    expected = d(W=W, X=X, M=M)
    assert np.max(np.abs(gradient - expected)) <= 1e-10 * np.max(np.abs(expected))
    errors = namespace["check_gradient"](M=M, W=W, X=X)
    assert errors["X"] < 1e-6
