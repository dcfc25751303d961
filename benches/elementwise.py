"""NumPy and JAX beside `cargo bench --bench elementwise` and `eval/layer` (benches/eval.rs).

Element-wise throughput per function on 10^6 entries (f64 and f32), and the seed's example 2.5.4,
tr(Y'MY) with Y = sigmoid(WX), its gradient W'((2MY) .* Y .* (1 - Y)) at n = 1000 and 2000 (f64).
Two threads, as the Rust side. Prints medians; run it in the same session as the Rust benches and
compare ratios, never figures from another run.

Run: python3 benches/elementwise.py [--reps N] [--only elementwise|layer]
"""
import os
import statistics
import sys
import time

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "2"
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads=2"
)

import numpy as np  # noqa: E402

REPS = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 15
N = 1_000_000


def median_s(f, reps=REPS):
    f()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def numpy_functions(np_):
    def expit(x, out):
        np_.negative(x, out=out)
        np_.exp(out, out=out)
        out += 1.0
        np_.reciprocal(out, out=out)

    try:
        from scipy.special import expit as scipy_expit

        def sigmoid(x, out):
            scipy_expit(x, out=out)
    except ImportError:
        sigmoid = expit

    def sigmoid_prime(x, out):
        sigmoid(x, out)
        out *= 1.0 - out

    return {
        "exp": (lambda x, out: np_.exp(x, out=out), -5, 5),
        "expm1": (lambda x, out: np_.expm1(x, out=out), -5, 5),
        "log": (lambda x, out: np_.log(x, out=out), 0.01, 10),
        "log1p": (lambda x, out: np_.log1p(x, out=out), -0.5, 10),
        "tanh": (lambda x, out: np_.tanh(x, out=out), -5, 5),
        "sigmoid": (sigmoid, -5, 5),
        "sigmoid'": (sigmoid_prime, -5, 5),
        "softplus": (lambda x, out: np_.logaddexp(0.0, x, out=out), -5, 5),
        "sqrt": (lambda x, out: np_.sqrt(x, out=out), 0.01, 10),
        "sin": (lambda x, out: np_.sin(x, out=out), -5, 5),
        "cos": (lambda x, out: np_.cos(x, out=out), -5, 5),
        "pow": (lambda x, out: np_.power(x, x.dtype.type(1.5), out=out), 0.01, 10),
    }


def jax_functions():
    try:
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
    except ImportError:
        return None
    fs = {
        "exp": jnp.exp,
        "expm1": jnp.expm1,
        "log": jnp.log,
        "log1p": jnp.log1p,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "sigmoid'": lambda x: jax.nn.sigmoid(x) * (1 - jax.nn.sigmoid(x)),
        "softplus": jax.nn.softplus,
        "sqrt": jnp.sqrt,
        "sin": jnp.sin,
        "cos": jnp.cos,
        "pow": lambda x: x**1.5,
    }
    return jax, {k: jax.jit(f) for k, f in fs.items()}


def elementwise():
    rng = np.random.default_rng(16)
    jx = jax_functions()
    print(f"element-wise, {N} entries, median of {REPS}: Melem/s")
    print(f"{'function':10} {'type':4} {'numpy':>8} {'jax':>8}")
    for dtype in ("float64", "float32"):
        for name, (f, lo, hi) in numpy_functions(np).items():
            x = rng.uniform(lo, hi, N).astype(dtype)
            out = np.empty_like(x)
            t_np = median_s(lambda: f(x, out))
            t_jax = float("nan")
            if jx is not None:
                jax, fs = jx
                xj = jax.device_put(x)
                t_jax = median_s(lambda: fs[name](xj).block_until_ready())
            print(f"{name:10} {dtype[5:]:4} {N / t_np / 1e6:8.0f} {N / t_jax / 1e6:8.0f}")


def layer():
    print(f"\nseed 2.5.4, f64, median of {REPS} (ms)")
    print(f"{'n':>5} {'what':8} {'numpy':>8} {'jax':>8}")
    jx = jax_functions()
    for n in (1000, 2000):
        rng = np.random.default_rng(n)
        W, X = rng.uniform(-1, 1, (n, n)), rng.uniform(-1, 1, (n, n))
        M0 = rng.uniform(-1, 1, (n, n))
        M = M0 + M0.T

        def loss():
            Y = 1.0 / (1.0 + np.exp(-(W @ X)))
            return float(np.sum(Y * (M @ Y)))

        def grad():
            Y = 1.0 / (1.0 + np.exp(-(W @ X)))
            return W.T @ ((2.0 * (M @ Y)) * Y * (1.0 - Y))

        times = {"loss": [median_s(loss)], "gradient": [median_s(grad)]}
        if jx is not None:
            jax, _ = jx
            import jax.numpy as jnp

            def f(X, W, M):
                Y = jax.nn.sigmoid(W @ X)
                return jnp.sum(Y * (M @ Y))

            fj, gj = jax.jit(f), jax.jit(jax.grad(f))
            args = [jax.device_put(a) for a in (X, W, M)]
            times["loss"].append(median_s(lambda: fj(*args).block_until_ready()))
            times["gradient"].append(median_s(lambda: gj(*args).block_until_ready()))
        for what, ts in times.items():
            ts = ts + [float("nan")] * (2 - len(ts))
            print(f"{n:5} {what:8} {ts[0] * 1e3:8.1f} {ts[1] * 1e3:8.1f}")


if __name__ == "__main__":
    ONLY = sys.argv[sys.argv.index("--only") + 1] if "--only" in sys.argv else None
    if ONLY in (None, "elementwise"):
        elementwise()
    if ONLY in (None, "layer"):
        layer()
