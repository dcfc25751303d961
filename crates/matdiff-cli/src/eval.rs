//! `matdiff eval EXPR --at VALUES.json`: the value of an expression at given values.

use std::path::PathBuf;

use matdiff_faer::{EvalError, Mat, Options, Plan, Sizes};

use crate::common::{Common, Failed, Format, Outcome};

/// Arguments of `matdiff eval`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The expression (it may begin with '-'); '-' reads it from standard input, '@path'
    /// from a file.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// VALUES.json: one object mapping each variable to a number, a flat array (column vector)
    /// or an array of equal-length arrays (a matrix, row by row). The values fix the shapes.
    #[arg(long, value_name = "VALUES.json")]
    at: PathBuf,
    /// Threads for matrix products (0: all cores).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let (decls, values) = crate::values::read_decls(&args.at, json)?;
    let mut pool = crate::common::pool();
    let e = args.common.parse(&mut pool, &args.expr, &decls)?;
    let fail = |e: EvalError| Failed::new(format!("error: {e}"), json);
    let sizes = Sizes::from_values(&pool, &values).map_err(fail)?;
    let options = Options::new().threads(args.threads);
    let mut plan = Plan::<f64>::compile_with(&pool, &[e.root], &sizes, &options).map_err(fail)?;
    let value = plan.run(&values).map_err(fail)?.remove(0);
    Ok(match args.common.format {
        Format::Json => format!(
            "{}\n",
            serde_json::json!({ "value": crate::values::encode(&value) })
        ),
        _ => text(&value),
    })
}

/// A number alone, or the rows of a matrix with right-aligned columns.
fn text(m: &Mat<f64>) -> String {
    if m.nrows() == 1 && m.ncols() == 1 {
        return format!("{}\n", m[(0, 0)]);
    }
    let cells: Vec<Vec<String>> = (0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)].to_string()).collect())
        .collect();
    let widths: Vec<usize> = (0..m.ncols())
        .map(|j| cells.iter().map(|r| r[j].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &cells {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}
