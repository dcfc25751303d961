"""Writes crates/matdiff-faer/src/simd/pow64_tables.rs, the tables of the f64 `pow`
(simd/pow64.rs), as ARM's optimized-routines (and musl's pow.c) define them:

log: x = 2^k z, z in [0x1.69555p-1, 0x1.69555p0) split into N = 128 subintervals of equal
width in the bits; for each, 1/c near 1/center with few bits (so that r = z/c - 1 is exact
with one FMA), logc = log(c) rounded to a multiple of 2^-43 (so that k ln2_hi + logc is exact)
and logc_tail = log(c) - logc. exp: 2^(i/N) = asdouble(bits[i] + (i << 45)) * (1 + tail[i]).

Usage: python3 crates/matdiff-faer/tools/pow64_tables.py > crates/matdiff-faer/src/simd/pow64_tables.rs
(needs mpmath).
"""
import struct

import mpmath

mpmath.mp.prec = 200
N = 128
OFF = 0x3FE6955500000000


def as_double(bits):
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def as_bits(x):
    return struct.unpack("<Q", struct.pack("<d", x))[0]


invc, logc, logc_tail = [], [], []
for i in range(N):
    center = as_double(OFF + (i << 45) + (1 << 44))
    ic = round(N / center) / N if center < 1 else round(2 * N / center) / N / 2
    lo, hi = as_double(OFF + (i << 45)), as_double(OFF + ((i + 1) << 45))
    assert abs(lo * ic - 1) < 1 / N and abs(hi * ic - 1) <= 1 / N
    log_c = mpmath.log(1 / mpmath.mpf(ic))
    rounded = float(mpmath.nint(log_c * 2**43) / 2**43)
    invc.append(ic)
    logc.append(rounded)
    logc_tail.append(float(log_c - rounded))

exp2_tail, exp2_bits = [], []
for i in range(N):
    s = mpmath.power(2, mpmath.mpf(i) / N)
    h = float(s)
    exp2_tail.append(float((s - h) / h))
    exp2_bits.append(as_bits(h) - (i << 45))

ln2 = mpmath.log(2)
ln2_hi = float(mpmath.nint(ln2 * 2**42) / 2**42)
ln2_n_hi = float(mpmath.nint(ln2 * 2**36) / 2**36 / N)


def number(x):
    return repr(x) if x != 0 else "0.0"


def table(name, ty, xs, fmt):
    rows = "".join(f"    {fmt(x)},\n" for x in xs)
    return f"pub(super) static {name}: [{ty}; {N}] = [\n{rows}];\n"


print("//! The tables of the `f64` `pow` (`pow64.rs`), written by `tools/pow64_tables.py`.")
print()
print("#![allow(clippy::excessive_precision, clippy::unreadable_literal)]")
print()
print("/// `ln 2` in 42 bits (`k LN2_HI` is exact for `|k| < 2^11`) and the rest.")
print(f"pub(super) const LN2_HI: f64 = {number(ln2_hi)};")
print(f"pub(super) const LN2_LO: f64 = {number(float(ln2 - ln2_hi))};")
print("/// `ln 2 / 128` in 36 bits (`k LN2_N_HI` is exact for `|k| < 2^17`) and the rest.")
print(f"pub(super) const LN2_N_HI: f64 = {number(ln2_n_hi)};")
print(f"pub(super) const LN2_N_LO: f64 = {number(float(ln2 / N - ln2_n_hi))};")
print("/// `1/c` of each subinterval.")
print(table("INVC", "f64", invc, number), end="")
print("/// `ln c` rounded to a multiple of `2^-43`.")
print(table("LOGC", "f64", logc, number), end="")
print("/// `ln c - LOGC`.")
print(table("LOGC_TAIL", "f64", logc_tail, number), end="")
print("/// `2^(i/128) / asdouble(EXP2_BITS[i] + (i << 45)) - 1`.")
print(table("EXP2_TAIL", "f64", exp2_tail, number), end="")
print("/// The bits of `2^(i/128)` rounded, less `i << 45`.")
print(table("EXP2_BITS", "u64", exp2_bits, lambda b: f"0x{b:016x}"), end="")
