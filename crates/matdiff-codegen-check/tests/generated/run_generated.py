"""Runs the generated NumPy and JAX code of the test cases in the JSON file given as argument and
prints the results as JSON: for each case and target given (numpy, jax) the value and the gradient's entries
(column by column), or the error. JAX runs under jax.jit with float64 enabled."""
import inspect
import json
import keyword
import math
import sys

import jax
import jax.numpy as jnp
import numpy as np

jax.config.update("jax_enable_x64", True)


def stand_ins(names, xp):
    """The catalog's stand-ins for abstract functions: g(x) = tanh(a x) + x^2 / 10."""
    funcs = {}
    for k, name in enumerate(names):
        a = 0.5 + 0.25 * k
        funcs[name] = lambda x, a=a: xp.tanh(a * x) + x * x / 10
        funcs[name + "_prime"] = lambda x, a=a: a * (1 - xp.tanh(a * x) ** 2) + x / 5
        funcs[name + "_prime2"] = (
            lambda x, a=a: -(2 * a * a * xp.tanh(a * x) * (1 - xp.tanh(a * x) ** 2)) + 1 / 5
        )
    return funcs


def finite(x):
    """A number for JSON: NaN and infinities as null (which the Rust side reads as NaN)."""
    return x if math.isfinite(x) else None


def entries(x):
    a = np.asarray(x, dtype=float)
    if a.ndim < 2:
        a = a.reshape(-1, 1)
    return [finite(v) for v in a.flatten(order="F").tolist()]


def ident(name):
    return name + "_" if keyword.iskeyword(name) else name


def run(source, inputs, functions, xp, jit):
    ns = {}
    exec(source, ns)
    f = ns["f_and_grad"]
    params = inspect.signature(f).parameters
    funcs = {k: v for k, v in stand_ins(functions, xp).items() if k in params}
    args = {ident(k): xp.asarray(np.array(v, dtype=float)) for k, v in inputs.items()}
    if jit:
        value, grad = jax.jit(lambda kw: f(**kw, **funcs))(args)
    else:
        value, grad = f(**args, **funcs)
    out = {"value": finite(float(value)), "gradient": entries(grad)}
    if "check_gradient" in ns:
        errors = ns["check_gradient"](**args, **funcs)
        out["check"] = finite(max(errors.values()))
    return out


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    results = {}
    for case in cases:
        result = {}
        for target, xp, jit in [("numpy", np, False), ("jax", jnp, True)]:
            if target not in case:  # a case may give the code of one target only
                continue
            try:
                result[target] = run(case[target], case["inputs"], case["functions"], xp, jit)
            except Exception as e:  # reported per case, the Rust test fails on it
                result[target] = {"error": f"{type(e).__name__}: {e}"}
        results[case["name"]] = result
    json.dump(results, sys.stdout)


main()
