//! `matdiff fit DATA.csv --target COLUMN`: least squares on a CSV table (matdiff-linreg).

use std::io::BufReader;
use std::path::PathBuf;

use clap::ValueEnum;
use matdiff_linreg::{CsvReader, Fit, FitError, Method, Options};

use crate::common::{Failed, Outcome};

/// Arguments of `matdiff fit`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// CSV file with a header row; every column but the target is a feature.
    data: PathBuf,
    /// The column to predict.
    #[arg(long, value_name = "COLUMN")]
    target: String,
    /// auto: the normal equation, or QR/SVD when the data is ill-conditioned or rank-deficient.
    #[arg(long, value_enum, default_value_t = MethodArg::Auto)]
    method: MethodArg,
    /// Ridge penalty ALPHA on the squared norm of the coefficients (not on the intercept).
    #[arg(
        long,
        value_name = "ALPHA",
        default_value_t = 0.0,
        allow_hyphen_values = true
    )]
    ridge: f64,
    /// Fit without an intercept.
    #[arg(long)]
    no_intercept: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FitFormat::Text)]
    format: FitFormat,
}

/// `--method` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum MethodArg {
    Auto,
    Normal,
    Qr,
    Svd,
}

/// `--format` values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
enum FitFormat {
    /// A table of coefficients and the fit statistics.
    Text,
    /// One JSON object.
    Json,
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.format == FitFormat::Json;
    let shown = args.data.display();
    let fail = |message: String| Failed::new(format!("error: {shown}: {message}"), json);
    let file = std::fs::File::open(&args.data).map_err(|e| fail(format!("cannot read: {e}")))?;
    let table = CsvReader::new(BufReader::new(file), &args.target)
        .and_then(|csv| csv.read_all())
        .map_err(|e| fail(e.to_string()))?;
    let method = match args.method {
        MethodArg::Auto => Method::Auto,
        MethodArg::Normal => Method::Normal,
        MethodArg::Qr => Method::Qr,
        MethodArg::Svd => Method::Svd,
    };
    let options = Options {
        method,
        ridge: args.ridge,
        intercept: !args.no_intercept,
        ..Options::default()
    };
    let fit =
        matdiff_linreg::fit(table.x.as_ref(), table.y.as_ref(), &options).map_err(|e| match e {
            FitError::BadRidge(_) => Failed::new(format!("error: --ridge: {e}"), json),
            e => fail(e.to_string()),
        })?;
    Ok(if json {
        to_json(&fit, &table.features, &table.target, &options)
    } else {
        to_text(&fit, &table.features, &table.target, &options)
    })
}

fn to_json(fit: &Fit, features: &[String], target: &str, options: &Options) -> String {
    let coefficients: serde_json::Map<String, serde_json::Value> = features
        .iter()
        .zip(&fit.coefficients)
        .map(|(name, c)| (name.clone(), (*c).into()))
        .collect();
    let mut v = serde_json::json!({
        "target": target,
        "rows": fit.rows,
        "features": features.len(),
        "method": fit.method.name(),
        "requested_method": options.method.name(),
        "ridge": options.ridge,
        "rank": fit.rank,
        "condition": fit.condition,
        "r2": fit.r2,
        "rss": fit.rss,
    });
    if options.intercept {
        v["intercept"] = fit.intercept.into();
    }
    v["coefficients"] = coefficients.into();
    format!("{v:#}\n")
}

fn to_text(fit: &Fit, features: &[String], target: &str, options: &Options) -> String {
    let mut out = format!(
        "least squares fit of '{target}' on {} features, {} rows\n\n",
        features.len(),
        fit.rows
    );
    let method = if options.method == Method::Auto {
        format!("{} (chosen by auto)", fit.method)
    } else {
        fit.method.to_string()
    };
    let mut facts = vec![("method", method)];
    if options.ridge > 0.0 {
        facts.push(("ridge", number(options.ridge)));
    }
    facts.extend([
        ("rank", format!("{} of {}", fit.rank, features.len())),
        ("condition", format!("{:.3e}", fit.condition)),
        ("R^2", format!("{:.6}", fit.r2)),
        ("RSS", number(fit.rss)),
    ]);
    for (name, value) in facts {
        out.push_str(&format!("{name:<10} {value}\n"));
    }
    let mut rows: Vec<(String, f64)> = Vec::new();
    if options.intercept {
        rows.push(("(intercept)".to_string(), fit.intercept));
    }
    rows.extend(
        features
            .iter()
            .cloned()
            .zip(fit.coefficients.iter().copied()),
    );
    let width = rows.iter().map(|(n, _)| n.len()).max().unwrap_or(0).max(4);
    out.push_str(&format!("\n{:<width$}  {:>16}\n", "term", "coefficient"));
    for (name, value) in rows {
        out.push_str(&format!("{name:<width$}  {:>16}\n", number(value)));
    }
    out
}

/// Nine significant digits without trailing zeros: fixed point for ordinary magnitudes, else
/// scientific.
fn number(v: f64) -> String {
    let magnitude = v.abs();
    if v == 0.0 {
        "0".to_string()
    } else if (1e-3..1e9).contains(&magnitude) {
        let digits = 8 - magnitude.log10().floor() as i32;
        let fixed = format!("{:.*}", digits.clamp(0, 11) as usize, v);
        if fixed.contains('.') {
            fixed
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        } else {
            fixed
        }
    } else {
        let sci = format!("{v:.8e}");
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        format!("{mantissa}e{exponent}")
    }
}
