//! `matdiff minimize EXPR --wrt w,b --at DATA.json`: Newton's method on the derived gradient.

use std::path::PathBuf;

use matdiff_faer::Values;
use matdiff_optim::{minimize, Derived, HvpRoute, Options, SecondOrder};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome};

/// Arguments of `matdiff minimize`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The scalar objective (it may begin with '-'); '-' reads it from standard input, '@path'
    /// from a file.
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// The variables to minimise over, separated by commas (stacked in this order).
    #[arg(long, value_name = "NAMES", value_delimiter = ',', required = true)]
    wrt: Vec<String>,
    /// DATA.json: the values of the other variables, and starting values of those in --wrt
    /// (zeros otherwise). Same encoding as VALUES.json.
    #[arg(long, value_name = "DATA.json")]
    at: Option<PathBuf>,
    /// The most Newton iterations.
    #[arg(long, value_name = "N", default_value_t = 100)]
    max_iter: usize,
    /// Converged when the Euclidean norm of the gradient is at most this.
    #[arg(long, value_name = "T", default_value_t = 1e-8)]
    tol: f64,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let fail = |e: matdiff_optim::OptimError| Failed::new(format!("error: {e}"), json);
    if !(args.tol.is_finite() && args.tol > 0.0) {
        return Err(Failed::new(
            format!("error: --tol must be a positive number, got {}", args.tol),
            json,
        ));
    }
    if let Some(k) = args.wrt.iter().position(|n| n.trim().is_empty()) {
        return Err(Failed::new(
            format!(
                "error: --wrt {}: name {} is empty",
                args.wrt.join(","),
                k + 1
            ),
            json,
        ));
    }
    let (decls, values) = match &args.at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), Values::new()),
    };
    let mut pool = crate::common::pool();
    let e = args.common.parse(&mut pool, &args.expr, &decls)?;
    let wrt: Vec<&str> = args.wrt.iter().map(|n| n.trim()).collect();
    let mut f = Derived::new(&mut pool, &e, &wrt, &values).map_err(fail)?;
    let options = Options {
        max_iterations: args.max_iter,
        tolerance: args.tol,
        ..Options::default()
    };
    let n = f.dimension();
    let method = if n <= options.dense_limit {
        "newton"
    } else {
        "newton-cg"
    };
    let hvp = match f.route() {
        HvpRoute::Derived => "derived",
        HvpRoute::ComplexStep => "complex-step",
    };
    let x0 = f.start();
    let solution = minimize(&mut f, x0, &options).map_err(fail)?;
    let solved = f.unstack(&solution.x);
    Ok(match args.common.format {
        Format::Json => {
            let mut values = serde_json::Map::new();
            for (name, m) in &solved {
                values.insert(name.clone(), crate::values::encode(m));
            }
            let history: Vec<_> = solution
                .history
                .iter()
                .map(|it| {
                    json!({
                        "objective": it.value,
                        "gradient_norm": it.gradient_norm,
                        "step": it.step,
                        "direction": it.direction.name(),
                    })
                })
                .collect();
            let v = json!({
                "iterations": solution.iterations(),
                "values": values,
                "gradient_norm": solution.gradient_norm,
                "objective": solution.value,
                "method": method,
                "hessian_vector_product": hvp,
                "history": history,
            });
            format!("{v:#}\n")
        }
        _ => {
            let shapes: Vec<String> = f
                .blocks()
                .iter()
                .map(|b| match (b.rows, b.cols) {
                    (1, 1) => format!("{} (scalar)", b.name),
                    (r, c) => format!("{} ({r}x{c})", b.name),
                })
                .collect();
            let mut out = format!(
                "minimize over {}: {n} unknowns, {}\nHessian-vector products: {}\n",
                shapes.join(", "),
                if method == "newton" {
                    format!(
                        "Newton with the dense Hessian (up to {} unknowns)",
                        options.dense_limit
                    )
                } else {
                    format!(
                        "Newton-CG on Hessian-vector products (more than {} unknowns)",
                        options.dense_limit
                    )
                },
                match f.route() {
                    HvpRoute::Derived =>
                        "derived, the gradient of tr(G'*V) for the derived gradient G",
                    HvpRoute::ComplexStep => {
                        "the complex step of the derived gradient (the gradient could not be \
                         differentiated again)"
                    }
                }
            );
            out.push_str("iteration  objective               gradient norm  step      direction\n");
            for (k, it) in solution.history.iter().enumerate() {
                out.push_str(&format!(
                    "{k:>9}  {:<22}  {:<13.3e}  {:<8}  {}\n",
                    it.value,
                    it.gradient_norm,
                    if k == 0 {
                        String::new()
                    } else {
                        format!("{:.3}", it.step)
                    },
                    it.direction.name()
                ));
            }
            out.push_str(&format!(
                "converged after {} iterations: gradient norm {:.3e} <= {:e}\nobjective: {}\n",
                solution.iterations(),
                solution.gradient_norm,
                args.tol,
                solution.value
            ));
            for (name, m) in &solved {
                out.push_str(&format!(
                    "{name} = {}\n",
                    crate::values::show(&crate::values::encode(m))
                ));
            }
            out
        }
    })
}
