//! Streaming Gram accumulation equals the in-memory fit: CSV and .npy chunks on two threads,
//! partial accumulators merged, data far from the origin (where raw sums would cancel).

use faer::{Col, Mat};
use matdiff_linreg::{
    fit, fit_stream, fit_weighted, ChunkSource, CsvReader, Fit, FitError, GramAccumulator, Method,
    NpyReader, Options,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Rows with means `offset * (j - 1)` and unit spread, and a noisy linear target.
fn data(n: usize, d: usize, offset: f64, seed: u64) -> (Mat<f64>, Col<f64>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Mat::from_fn(n, d, |_, j| {
        offset * (j as f64 - 1.0) + rng.random_range(-1.0..1.0)
    });
    let y = Col::from_fn(n, |i| {
        7.0 + (0..d).map(|j| (j as f64 + 1.0) * x[(i, j)]).sum::<f64>()
            + rng.random_range(-2.0..2.0)
    });
    (x, y)
}

fn csv(x: &Mat<f64>, y: &Col<f64>) -> String {
    let d = x.ncols();
    let mut s: String = (0..d).map(|j| format!("x{j},")).collect::<String>() + "y\n";
    for i in 0..x.nrows() {
        for j in 0..d {
            s += &format!("{:?},", x[(i, j)]);
        }
        s += &format!("{:?}\n", y[i]);
    }
    s
}

fn npy(x: &Mat<f64>, y: &Col<f64>) -> Vec<u8> {
    let (n, d) = x.shape();
    let header = format!(
        "{{'descr': '<f8', 'fortran_order': False, 'shape': ({n}, {}), }}",
        d + 1
    );
    let padded = format!("{header:<width$}\n", width = 128 - 10 - 1);
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend((padded.len() as u16).to_le_bytes());
    bytes.extend(padded.bytes());
    for i in 0..n {
        for j in 0..d {
            bytes.extend(x[(i, j)].to_le_bytes());
        }
        bytes.extend(y[i].to_le_bytes());
    }
    bytes
}

/// Equal to 1e-12 relative. The intercept `mean(y) - mean(x)'b` is compared relative to
/// `mean(|y|)`: far from the origin it is a small difference of large terms, so its own relative
/// error is larger by `mean(|y|) / |c|` whatever the method.
fn assert_same(a: &Fit, b: &Fit, y: &Col<f64>, what: &str) {
    let norm = b.coefficients.iter().map(|v| v * v).sum::<f64>().sqrt();
    for (p, q) in a.coefficients.iter().zip(&b.coefficients) {
        assert!(
            (p - q).abs() <= 1e-12 * q.abs().max(norm * 1e-3),
            "{what}: coefficient {p} vs {q}"
        );
    }
    let scale = y.iter().map(|v| v.abs()).sum::<f64>() / y.nrows() as f64;
    assert!(
        (a.intercept - b.intercept).abs() <= 1e-12 * b.intercept.abs().max(scale),
        "{what}: intercept {} vs {}",
        a.intercept,
        b.intercept
    );
    assert!(
        (a.rss - b.rss).abs() <= 1e-12 * b.rss,
        "{what}: rss {} vs {}",
        a.rss,
        b.rss
    );
    assert!((a.r2 - b.r2).abs() <= 1e-12, "{what}: r2");
}

#[test]
fn streamed_csv_and_npy_equal_the_in_memory_fit() {
    let (x, y) = data(2000, 5, 100.0, 1);
    let two = Options {
        threads: 2,
        ..Options::default()
    };
    let memory = fit(x.as_ref(), y.as_ref(), &two).unwrap();
    let qr = fit(x.as_ref(), y.as_ref(), &two.clone().with_method(Method::Qr)).unwrap();
    assert_same(&memory, &qr, &y, "in-memory normal vs qr");
    for rows in [1, 97, 5000] {
        let text = csv(&x, &y);
        let mut source = CsvReader::new(text.as_bytes(), "y")
            .unwrap()
            .with_chunk_rows(rows);
        let (streamed, gram) = fit_stream(&mut source, &two).unwrap();
        assert_eq!(gram.rows(), 2000);
        assert_same(
            &streamed,
            &memory,
            &y,
            &format!("csv, {rows} rows per chunk"),
        );
        assert_same(
            &streamed,
            &qr,
            &y,
            &format!("csv vs qr, {rows} rows per chunk"),
        );

        let bytes = npy(&x, &y);
        let mut source = NpyReader::new(&bytes[..], 5).unwrap().with_chunk_rows(rows);
        let (streamed, _) = fit_stream(
            &mut source,
            &Options {
                threads: 3,
                ..two.clone()
            },
        )
        .unwrap();
        assert_same(
            &streamed,
            &memory,
            &y,
            &format!("npy, {rows} rows per chunk"),
        );
    }
}

/// Partial sums from "several machines" merge into the sum of the whole. Without an intercept
/// the data stays near the origin: far from it, `X'X` itself would be ill-conditioned.
#[test]
fn merged_accumulators_equal_one_pass() {
    let w = Col::from_fn(900, |i| 0.5 + (i % 7) as f64);
    for ridge in [0.0, 3.0] {
        for intercept in [true, false] {
            let (x, y) = data(900, 4, if intercept { 100.0 } else { 0.0 }, 2);
            let options = Options {
                ridge,
                intercept,
                threads: 2,
                ..Options::default()
            };
            let mut parts: Vec<GramAccumulator> = Vec::new();
            for (start, len) in [(0, 1), (1, 400), (401, 0), (401, 499)] {
                let mut acc = GramAccumulator::new(4);
                acc.add_weighted(
                    x.as_ref().subrows(start, len),
                    y.as_ref().subrows(start, len),
                    w.as_ref().subrows(start, len),
                )
                .unwrap();
                parts.push(acc);
            }
            let mut total = GramAccumulator::new(4);
            for p in parts.iter().rev() {
                total.merge(p).unwrap();
            }
            let merged = total.fit(&options).unwrap();
            let memory = fit_weighted(
                x.as_ref(),
                y.as_ref(),
                w.as_ref(),
                &options.clone().with_method(Method::Qr),
            )
            .unwrap();
            assert_same(
                &merged,
                &memory,
                &y,
                &format!("ridge {ridge} intercept {intercept}"),
            );
        }
    }
}

#[test]
fn streaming_errors_name_the_row() {
    let (x, mut y) = data(50, 2, 1.0, 3);
    y[37] = f64::NAN;
    let bytes = npy(&x, &y);
    let mut source = NpyReader::new(&bytes[..], 2).unwrap().with_chunk_rows(8);
    let e = fit_stream(
        &mut source,
        &Options {
            threads: 2,
            ..Options::default()
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, FitError::NonFinite { row: 38, column, .. } if column == "target"),
        "{e}"
    );

    let truncated = &bytes[..bytes.len() - 100];
    let mut source = NpyReader::new(truncated, 2).unwrap();
    assert!(matches!(source.next_chunk(), Err(FitError::Npy(_))));

    let gram = GramAccumulator::new(2);
    assert_eq!(
        gram.fit(&Options::default().with_method(Method::Qr))
            .unwrap_err(),
        FitError::NeedsRows(Method::Qr)
    );
    let text = "a,y\n1,2\n2,x\n";
    let mut source = CsvReader::new(text.as_bytes(), "y").unwrap();
    let e = fit_stream(&mut source, &Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "line 3, column 'y': 'x' is not a finite number"
    );
}

/// `auto` on a Gram matrix alone cannot fall back to QR: it says so.
#[test]
fn ill_conditioned_stream_is_refused_by_auto() {
    let n = 50;
    let x = Mat::from_fn(n, 10, |i, j| (i as f64 / n as f64).powi(j as i32 + 1));
    let y = Col::from_fn(n, |i| x[(i, 3)]);
    let mut acc = GramAccumulator::new(10);
    acc.add(x.as_ref(), y.as_ref()).unwrap();
    let e = acc.fit(&Options::default()).unwrap_err();
    assert!(
        matches!(
            e,
            FitError::IllConditioned { .. } | FitError::NotPositiveDefinite { .. }
        ),
        "{e}"
    );
}

/// Data at 1e7 with unit spread. Raw sums `X'X - n m m'` lose all 14 digits of the spread;
/// shifted blocks, means kept as offsets from a fixed origin, and Chan merges keep the
/// in-memory QR solution of the same stored numbers to 1e-12, streamed in 10 chunks.
#[test]
fn far_from_the_origin_keeps_its_digits() {
    let (x, y) = data(3000, 3, 1e7, 4);
    let options = Options {
        threads: 2,
        ..Options::default()
    };
    let qr = fit(
        x.as_ref(),
        y.as_ref(),
        &options.clone().with_method(Method::Qr),
    )
    .unwrap();
    let text = csv(&x, &y);
    let mut source = CsvReader::new(text.as_bytes(), "y")
        .unwrap()
        .with_chunk_rows(333);
    let (streamed, _) = fit_stream(&mut source, &options).unwrap();
    let error = |f: &matdiff_linreg::Fit| -> f64 {
        f.coefficients
            .iter()
            .zip(&qr.coefficients)
            .map(|(a, b)| ((a - b) / b).abs())
            .map(|e| if e.is_nan() { f64::INFINITY } else { e })
            .fold(0.0, f64::max)
    };
    assert!(error(&streamed) < 1e-12, "streamed: {:e}", error(&streamed));

    // The same normal equation from raw sums: sum x x' - n m m'.
    let (n, d) = (x.nrows(), x.ncols());
    let column = |j: usize| -> Vec<f64> {
        (0..n)
            .map(|i| if j < d { x[(i, j)] } else { y[i] })
            .collect()
    };
    let columns: Vec<Vec<f64>> = (0..=d).map(column).collect();
    let mean: Vec<f64> = columns
        .iter()
        .map(|c| c.iter().sum::<f64>() / n as f64)
        .collect();
    let raw = Mat::from_fn(d + 1, d + 1, |i, j| {
        let dot: f64 = columns[i].iter().zip(&columns[j]).map(|(a, b)| a * b).sum();
        dot - n as f64 * mean[i] * mean[j]
    });
    let gram = Mat::from_fn(d, d, |i, j| raw[(i, j)]);
    let rhs = Mat::from_fn(d, 1, |i, _| raw[(i, d)]);
    use faer::linalg::solvers::Solve;
    let coefficients: Vec<f64> = match gram.llt(faer::Side::Lower) {
        Ok(llt) => llt.solve(&rhs).col(0).iter().copied().collect(),
        Err(_) => vec![f64::NAN; d],
    };
    let raw_fit = matdiff_linreg::Fit {
        coefficients,
        ..streamed.clone()
    };
    assert!(
        error(&raw_fit) > 1e-3,
        "raw sums unexpectedly accurate: {:e}",
        error(&raw_fit)
    );
}
