"""NumPy and JAX beside `cargo bench --bench products`: the 784-512-10 network's two large products
(minibatch 128) in GFLOP/s, f32 and f64, two threads as the Rust side.

NumPy's arrays are row-major, so the same products are written transposed: `forward` is
`X @ W` (128x784 by 784x512), `weights` is `X.T @ dZ` (784x128 by 128x512), as in
`shared/baselines/mlp.py`. Prints medians; compare ratios measured in the same session only.

Run: python3 benches/products.py [--reps N]
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

REPS = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 200
FLOP = 2 * 512 * 784 * 128


def median_s(f):
    for _ in range(10):
        f()
    times = []
    for _ in range(REPS):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    rng = np.random.default_rng(16)
    print(f"{'dtype':5} {'product':8} {'NumPy GFLOP/s':>14} {'JAX GFLOP/s':>12}")
    for dtype in (np.float32, np.float64):
        x = (rng.random((128, 784)) - 0.5).astype(dtype)
        w = (rng.random((784, 512)) - 0.5).astype(dtype)
        dz = (rng.random((128, 512)) - 0.5).astype(dtype)
        out_f = np.empty((128, 512), dtype)
        out_w = np.empty((784, 512), dtype)
        jx, jw, jdz = (jax.device_put(a) for a in (x, w, dz))
        j_forward = jax.jit(lambda a, b: a @ b)
        j_weights = jax.jit(lambda a, b: a.T @ b)
        cases = [
            ("forward", lambda: np.matmul(x, w, out=out_f),
             lambda: j_forward(jx, jw).block_until_ready()),
            ("weights", lambda: np.matmul(x.T, dz, out=out_w),
             lambda: j_weights(jx, jdz).block_until_ready()),
        ]
        for name, numpy_f, jax_f in cases:
            n, j = median_s(numpy_f), median_s(jax_f)
            print(f"{np.dtype(dtype).name:5} {name:8} {FLOP / n / 1e9:14.1f} {FLOP / j / 1e9:12.1f}")


if __name__ == "__main__":
    main()
