//! The diabetes data set against scikit-learn's `LinearRegression` (reference computed once by
//! `data/diabetes_reference.py`, committed as `data/diabetes_reference.json`).

use matdiff_linreg::{fit, fit_stream, CsvReader, Method, Options, Table};

const CSV: &str = include_str!("../data/diabetes.csv");
const REFERENCE: &str = include_str!("../data/diabetes_reference.json");

fn table() -> Table {
    CsvReader::new(CSV.as_bytes(), "target")
        .unwrap()
        .read_all()
        .unwrap()
}

fn reference() -> serde_json::Value {
    serde_json::from_str(REFERENCE).unwrap()
}

fn number(v: &serde_json::Value) -> f64 {
    v.as_f64().expect("a number")
}

fn assert_close(got: f64, want: f64, tolerance: f64, what: &str) {
    let rel = (got - want).abs() / want.abs();
    assert!(
        rel <= tolerance,
        "{what}: {got} vs scikit-learn {want} (relative {rel:e})"
    );
}

#[test]
fn every_method_matches_scikit_learn() {
    let t = table();
    let r = reference();
    assert_eq!(r["csv_equals_sklearn_bundled_data"], true);
    let names: Vec<&str> = r["feature_names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(t.features, names);
    assert_eq!(t.x.nrows(), 442);
    let coef: Vec<f64> = r["coef"].as_array().unwrap().iter().map(number).collect();
    for method in [Method::Auto, Method::Normal, Method::Qr, Method::Svd] {
        let f = fit(
            t.x.as_ref(),
            t.y.as_ref(),
            &Options::default().with_method(method),
        )
        .unwrap();
        for (k, (got, want)) in f.coefficients.iter().zip(&coef).enumerate() {
            assert_close(
                *got,
                *want,
                1e-10,
                &format!("{method}: coefficient {}", names[k]),
            );
        }
        assert_close(
            f.intercept,
            number(&r["intercept"]),
            1e-10,
            &format!("{method}: intercept"),
        );
        assert_close(f.r2, number(&r["r2"]), 1e-10, &format!("{method}: R^2"));
        assert_close(
            f.rss,
            number(&r["residual_sum_of_squares"]),
            1e-10,
            &format!("{method}: RSS"),
        );
        assert_eq!(f.rank, 10);
        if method == Method::Auto {
            // Well conditioned: auto keeps the normal equation.
            assert_eq!(f.method, Method::Normal);
            assert!(f.condition < 1e2, "condition {}", f.condition);
        }
    }
}

#[test]
fn streaming_matches_scikit_learn() {
    let r = reference();
    let coef: Vec<f64> = r["coef"].as_array().unwrap().iter().map(number).collect();
    let mut csv = CsvReader::new(CSV.as_bytes(), "target")
        .unwrap()
        .with_chunk_rows(50);
    let (f, gram) = fit_stream(
        &mut csv,
        &Options {
            threads: 2,
            ..Options::default()
        },
    )
    .unwrap();
    assert_eq!(gram.rows(), 442);
    for (got, want) in f.coefficients.iter().zip(&coef) {
        assert_close(*got, *want, 1e-10, "streamed coefficient");
    }
    assert_close(
        f.intercept,
        number(&r["intercept"]),
        1e-10,
        "streamed intercept",
    );
}
