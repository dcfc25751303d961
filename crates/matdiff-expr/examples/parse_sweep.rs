//! Time and memory per term of parsing a long sum of distinct terms (`a0'*x + a1'*x + ...`),
//! from 3,000 to 3,000,000 terms: where the time per term bends (the caches) and whether it is
//! flat once out of them. Run in release: `cargo run --release -p matdiff-expr --example
//! parse_sweep [TERMS...]`.
//!
//! Each size is parsed five times and the fastest is kept (the machine may be shared); the
//! bytes are counted by a global allocator: the peak allocated during a parse (the input not
//! included), the pool's bytes left after it, and the number of allocations. The page faults
//! (the kernel's first touch of a page, on Linux) are the mean over the five parses: the
//! system allocator returns blocks of more than 32 MiB to the kernel when they are freed, so
//! past about 40,000 terms every parse touches its memory afresh.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use matdiff_expr::{ExprPool, Limits};

/// The system allocator, counting bytes now allocated, their peak and the allocations.
struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static CALLS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        let now = NOW.fetch_add(layout.size(), Relaxed) + layout.size();
        PEAK.fetch_max(now, Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        NOW.fetch_sub(layout.size(), Relaxed);
        // SAFETY: `ptr` was allocated by `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        CALLS.fetch_add(1, Relaxed);
        if new_size >= layout.size() {
            let now = NOW.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
            PEAK.fetch_max(now, Relaxed);
        } else {
            NOW.fetch_sub(layout.size() - new_size, Relaxed);
        }
        // SAFETY: as for `alloc` and `dealloc`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The limits of the command line (64 MiB of input), with room for 3,000,000 terms' nodes.
fn limits() -> Limits {
    Limits {
        max_input_bytes: 64 << 20,
        max_nesting: 2048,
        max_height: 8192,
        max_nodes: 20_000_000,
    }
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a number of terms"))
        .collect();
    let sizes = if args.is_empty() {
        vec![
            3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000, 3_000_000,
        ]
    } else {
        args
    };
    println!("terms      bytes/term  ns/term  peak B/term  pool B/term  allocs/term  faults/term");
    for n in sizes {
        let src = (0..n)
            .map(|k| format!("a{k}'*x"))
            .collect::<Vec<_>>()
            .join(" + ");
        let mut best = f64::INFINITY;
        let (mut peak, mut kept, mut calls) = (0, 0, 0);
        let faults_before = minor_faults();
        for _ in 0..5 {
            let base = NOW.load(Relaxed);
            PEAK.store(base, Relaxed);
            let calls_before = CALLS.load(Relaxed);
            let start = Instant::now();
            let mut pool = ExprPool::with_limits(limits());
            let e = pool.parse(&src).expect("the sum parses");
            let seconds = start.elapsed().as_secs_f64();
            std::hint::black_box(e.root);
            (peak, kept) = (PEAK.load(Relaxed) - base, NOW.load(Relaxed) - base);
            calls = CALLS.load(Relaxed) - calls_before;
            best = best.min(seconds);
            drop(pool);
        }
        let faults = match (faults_before, minor_faults()) {
            (Some(a), Some(b)) => format!("{:.3}", (b - a) as f64 / 5.0 / n as f64),
            _ => "-".into(),
        };
        let per = |x: usize| x as f64 / n as f64;
        println!(
            "{n:<10} {:>10.1} {:>8.1} {:>12.0} {:>12.0} {:>12.3} {faults:>12}",
            per(src.len()),
            best * 1e9 / n as f64,
            per(peak),
            per(kept),
            per(calls),
        );
    }
}

/// The minor page faults of this process so far (Linux), field 10 of `/proc/self/stat`.
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name, in parentheses, may hold spaces: count the fields after it.
    let after = &stat[stat.rfind(')')? + 2..];
    after.split(' ').nth(7)?.parse().ok()
}
