//! Fits the diabetes data set (442 patients, 10 features) with every method and prints the
//! coefficients side by side: `cargo run --release -p matdiff-linreg --example diabetes`.

use matdiff_linreg::{fit, fit_stream, CsvReader, FitError, Method, Options};

const CSV: &str = include_str!("../data/diabetes.csv");

fn main() -> Result<(), FitError> {
    let table = CsvReader::new(CSV.as_bytes(), "target")?.read_all()?;
    let methods = [Method::Auto, Method::Normal, Method::Qr, Method::Svd];
    let fits = methods
        .iter()
        .map(|&m| {
            fit(
                table.x.as_ref(),
                table.y.as_ref(),
                &Options::default().with_method(m),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The same data streamed in chunks of 100 rows, summed on two threads.
    let mut csv = CsvReader::new(CSV.as_bytes(), "target")?.with_chunk_rows(100);
    let (streamed, _) = fit_stream(
        &mut csv,
        &Options {
            threads: 2,
            ..Options::default()
        },
    )?;

    println!(
        "diabetes: {} rows, target '{}'\n",
        table.x.nrows(),
        table.target
    );
    print!("{:<12}", "");
    for m in methods {
        print!("{:>20}", m.name());
    }
    println!("{:>20}", "streamed");
    let row = |name: &str, values: Vec<f64>| {
        print!("{name:<12}");
        for v in values {
            print!("{v:>20.12}");
        }
        println!();
    };
    let all = || fits.iter().chain(std::iter::once(&streamed));
    row("(intercept)", all().map(|f| f.intercept).collect());
    for (k, name) in table.features.iter().enumerate() {
        row(name, all().map(|f| f.coefficients[k]).collect());
    }
    row("R^2", all().map(|f| f.r2).collect());
    row("condition", all().map(|f| f.condition).collect());
    print!("{:<12}", "used");
    for f in all() {
        print!("{:>20}", format!("{} (rank {})", f.method, f.rank));
    }
    println!();
    Ok(())
}
