#!/usr/bin/env python3
"""JAX side of `benches/second_order.rs`: the dense Hessian (`jax.hessian`) and the
Hessian-vector product (`jax.jvp(jax.grad(f))`) of the same four functions at the same sizes,
float64, jit, 2 threads. Run it right after `cargo bench -p matdiff-benches --bench
second_order` (same session, same machine) and divide: it prints one median time per id, in the
ids criterion uses (`second_order/<problem>/<hessian|hvp>/<n>`).

Run: python3 benches/second_order_jax.py
"""
from __future__ import annotations

import os
import statistics
import time

THREADS = 2
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "")
    + f" --xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={THREADS}"
).strip()
os.environ.setdefault("OMP_NUM_THREADS", str(THREADS))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

jax.config.update("jax_enable_x64", True)

SIZES = (64, 256, 1024)


def problems(n: int, rng: np.random.Generator):
    """Each problem: name, f(variable, *data), variable, data (as the Rust bench draws them)."""
    u = lambda *shape: rng.uniform(-1.0, 1.0, shape)  # noqa: E731
    a, x = u(n, n), u(n)
    yield "quadratic", lambda x, a: x @ a @ x, x, (a,)
    yield "logsumexp", lambda x: jax.scipy.special.logsumexp(x), u(n), ()
    xs, ys = u(4 * n, n), rng.choice([-1.0, 1.0], 4 * n)
    yield (
        "logistic",
        lambda w, xs, ys: jnp.sum(jnp.log1p(jnp.exp(-ys * (xs @ w)))),
        0.1 * u(n),
        (xs, ys),
    )
    xs, w2, y = u(4 * n, n), u(2), u(4 * n)
    yield (
        "tanh_network",
        lambda w1, xs, w2, y: 0.5 * jnp.sum((jnp.tanh(xs @ w1) @ w2 - y) ** 2),
        0.1 * u(n, 2),
        (xs, w2, y),
    )


def median_time(fn, *args, budget=2.0, min_reps=5) -> float:
    jax.block_until_ready(fn(*args))  # compile and warm up
    times = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < budget:
        t = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - t)
        if len(times) >= 200:
            break
    return statistics.median(times)


def main() -> None:
    print(f"jax {jax.__version__}, float64, {THREADS} threads, jit")
    for n in SIZES:
        rng = np.random.default_rng(n)
        for name, f, x0, data in problems(n, rng):
            x0 = jnp.asarray(x0)
            data = tuple(jnp.asarray(d) for d in data)
            v = jnp.asarray(rng.uniform(-1.0, 1.0, x0.shape))
            hess = jax.jit(jax.hessian(f))
            hvp = jax.jit(lambda x, v, *d: jax.jvp(lambda y: jax.grad(f)(y, *d), (x,), (v,))[1])
            t_h = median_time(hess, x0, *data)
            t_v = median_time(hvp, x0, v, *data)
            print(f"second_order/{name}/hessian/{n}  {t_h * 1e6:12.1f} us")
            print(f"second_order/{name}/hvp/{n}  {t_v * 1e6:12.1f} us")


if __name__ == "__main__":
    main()
