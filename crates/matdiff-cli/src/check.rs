//! `matdiff check EXPR --wrt NAME`: the derived gradient against the complex step and central
//! differences, at given or random values.

use matdiff_expr::{ExprPool, Node, Style};
use matdiff_faer::{check_gradient, random_values, CheckOptions, Mat};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome};

/// Largest accepted relative error of the derived gradient against the complex step (which is
/// exact to rounding).
const TOLERANCE: f64 = 1e-8;
/// Largest accepted relative error against central differences, whose truncation and rounding
/// errors are about 1e-10 to 1e-8 of the gradient's scale.
const FD_TOLERANCE: f64 = 1e-6;

/// Arguments of `matdiff check`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    /// The scalar expression (it may begin with '-').
    #[arg(allow_hyphen_values = true)]
    expr: String,
    /// The variable.
    #[arg(long, value_name = "NAME")]
    wrt: String,
    /// Values of the variables (a JSON object); random values respecting domains otherwise.
    #[arg(long, value_name = "VALUES.json")]
    at: Option<std::path::PathBuf>,
    /// Seed of the random values.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Check the gradient of tr(G'*EXPR) for a matrix-valued EXPR.
    #[arg(long, value_name = "G")]
    upstream: Option<String>,
    #[command(flatten)]
    common: Common,
}

fn max_entry(m: &Mat<f64>) -> f64 {
    (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| m[(i, j)])
        .fold(0.0, f64::max)
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
    let mut pool = ExprPool::new();
    let (decls, given) = match &args.at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), matdiff_faer::Values::new()),
    };
    let d = crate::grad::derive_cli(
        &mut pool,
        &args.common,
        &args.expr,
        &args.wrt,
        args.upstream.as_deref(),
        &decls,
    )?;
    let values = match &args.at {
        Some(_) => given,
        None => random_values(&pool, d.function, args.seed),
    };
    let options = CheckOptions::default();
    let report = if d.symmetric {
        // A symmetric variable cannot be perturbed one entry at a time. Its gradient (G + G')/2
        // is the plain gradient of f((S + S')/2) in an unconstrained S, at S = X.
        let x = pool
            .var(&args.wrt)
            .map_err(|e| Failed::new(format!("error: {e}"), json))?;
        let shape = pool.shape(x);
        let free = format!("{}__free", args.wrt);
        let built = (|| {
            pool.declare_var(&free, shape, false)?;
            let s = pool.var(&free)?;
            let st = pool.intern(Node::Transpose(s))?;
            let sum = pool.intern(Node::Add(vec![s, st].into()))?;
            let half = pool.num(2.0);
            let sym = pool.intern(Node::Div([sum, half]))?;
            let mut map = std::collections::HashMap::new();
            map.insert(x, sym);
            matdiff_rewrite::substitute(&mut pool, d.function, &map)
        })()
        .map_err(|e| Failed::new(format!("error: {e}"), json))?;
        let mut at = values.clone();
        at.insert(
            free.clone(),
            values
                .get(&args.wrt)
                .expect("a value for the variable")
                .clone(),
        );
        let mut r = check_gradient(&pool, built, &free, None, &at, &options).map_err(fail)?;
        let sizes = matdiff_faer::Sizes::from_values(&pool, &values).map_err(fail)?;
        let mut plan =
            matdiff_faer::Plan::<f64>::compile(&pool, &[d.gradient], &sizes).map_err(fail)?;
        r.symbolic = Some(plan.run(&values).map_err(fail)?.remove(0));
        r
    } else {
        check_gradient(
            &pool,
            d.function,
            &args.wrt,
            Some(d.gradient),
            &values,
            &options,
        )
        .map_err(fail)?
    };
    let (cs, fd) = (
        report.complex_step.clone(),
        report.finite_difference.clone(),
    );
    let symbolic = report.symbolic.clone().expect("a symbolic gradient");
    let vs_cs = max_entry(&matdiff_faer::relative_errors(&symbolic, &cs));
    let vs_fd = max_entry(&matdiff_faer::relative_errors(&symbolic, &fd));
    let fd_vs_cs = max_entry(&matdiff_faer::relative_errors(&fd, &cs));
    let ok = vs_cs <= TOLERANCE && vs_fd <= FD_TOLERANCE;
    let gradient = d.gradient_text(&pool, Style::Plain);
    let source = match &args.at {
        Some(path) => format!("at {}", path.display()),
        None => format!("at random values (seed {})", args.seed),
    };
    let out = match args.common.format {
        Format::Json => {
            let v = json!({
                "wrt": args.wrt,
                "gradient": gradient,
                "values": source,
                "max_relative_error_complex_step": vs_cs,
                "max_relative_error_finite_difference": vs_fd,
                "finite_difference_vs_complex_step": fd_vs_cs,
                "tolerance": TOLERANCE,
                "ok": ok,
            });
            format!("{v:#}\n")
        }
        _ => format!(
            "gradient: {gradient}\n{source}\n  derived vs complex step:            max relative error {vs_cs:.1e} (tolerance {TOLERANCE:.0e})\n  derived vs central differences:     max relative error {vs_fd:.1e} (tolerance {FD_TOLERANCE:.0e})\n  central differences vs complex step: max relative error {fd_vs_cs:.1e}\n{}\n",
            if ok { "ok: the derived gradient agrees" } else { "MISMATCH: the derived gradient disagrees" }
        ),
    };
    if ok {
        Ok(out)
    } else {
        Err(Failed::report(out))
    }
}
