//! `matdiff check EXPR --wrt NAME`: the derived gradient against the complex step and central
//! differences, at given or random values.

use matdiff_expr::{Node, Style};
use matdiff_faer::{
    check_gradient, random_values_where, CheckOptions, EvalError, GradientCheck, Plan, Sizes,
    Values,
};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome, Target};

/// Largest accepted relative error of the derived gradient against the complex step (which is
/// exact to rounding).
const TOLERANCE: f64 = 1e-8;
/// Largest accepted relative error against central differences, whose truncation and rounding
/// errors are about 1e-10 to 1e-8 of the gradient's scale.
const FD_TOLERANCE: f64 = 1e-6;

/// Arguments of `matdiff check`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Values of the variables (a JSON object); random values respecting domains otherwise.
    #[arg(long, value_name = "VALUES.json")]
    at: Option<std::path::PathBuf>,
    /// Seed of the random values.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Check the gradient of tr(G'*EXPR) for a matrix-valued EXPR.
    #[arg(long, value_name = "G")]
    upstream: Option<String>,
    /// Check the derived Hessian instead of the gradient.
    #[arg(long, conflicts_with_all = ["hvp", "jacobian", "upstream"])]
    hessian: bool,
    /// Check the derived Hessian-vector product in the direction V (given in VALUES.json, or
    /// random).
    #[arg(long, value_name = "V", conflicts_with_all = ["jacobian", "upstream"])]
    hvp: Option<String>,
    /// Check the derived Jacobian of a vector-valued EXPR.
    #[arg(long, conflicts_with = "upstream")]
    jacobian: bool,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    use crate::hessian::SecondCheck;
    let second = match (&args.hvp, args.hessian, args.jacobian) {
        (Some(v), _, _) => Some(SecondCheck::Hvp(v.clone())),
        (None, true, _) => Some(SecondCheck::Hessian),
        (None, false, true) => Some(SecondCheck::Jacobian),
        _ => None,
    };
    if let Some(what) = second {
        let at = args.at.as_deref();
        return crate::hessian::check(&args.target, &args.common, &what, at, args.seed);
    }
    let json = args.common.json();
    let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
    let mut pool = crate::common::pool();
    let (decls, given) = match &args.at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), matdiff_faer::Values::new()),
    };
    let d = crate::grad::derive_cli(
        &mut pool,
        &args.common,
        &args.target.expr,
        &args.target.wrt,
        args.upstream.as_deref(),
        &decls,
    )?;
    if d.absent {
        // Nothing depends on the variable: the zero gradient is exact, there is nothing to compare.
        let note = crate::grad::absent_note(&args.target.wrt);
        return Ok(if json {
            format!(
                "{:#}\n",
                serde_json::json!({ "wrt": args.target.wrt, "gradient": d.gradient_text(&pool, matdiff_expr::Style::Plain), "note": note })
            )
        } else {
            format!("note: {note}; nothing to check\n")
        });
    }
    let options = CheckOptions::default();
    // A symmetric variable cannot be perturbed one entry at a time. Its gradient (G + G')/2 is
    // the plain gradient of f((S + S')/2) in an unconstrained S, at S = X.
    let free = format!("{}__free", args.target.wrt);
    // A diagonal one likewise: its gradient I .* G is the plain gradient of f(I .* S); a
    // triangular one's tril(G) that of f(tril(S)).
    let symmetric = if d.symmetric || d.diagonal || d.triangle.is_some() {
        let x = pool
            .var(&args.target.wrt)
            .map_err(|e| Failed::new(format!("error: {e}"), json))?;
        let shape = pool.shape(x);
        let built = (|| {
            pool.declare_var(&free, shape, false)?;
            let s = pool.var(&free)?;
            let sym = if d.diagonal {
                let eye = pool.intern(Node::Identity(shape.rows))?;
                pool.intern(Node::Hadamard(vec![eye, s].into()))?
            } else if let Some(t) = d.triangle {
                pool.intern(Node::Tri(t, s))?
            } else {
                let st = pool.intern(Node::Transpose(s))?;
                let sum = pool.intern(Node::Add(vec![s, st].into()))?;
                let half = pool.num(2.0);
                pool.intern(Node::Div([sum, half]))?
            };
            let mut map = std::collections::HashMap::new();
            map.insert(x, sym);
            matdiff_rewrite::substitute(&mut pool, d.function, &map)
        })()
        .map_err(|e| Failed::new(format!("error: {e}"), json))?;
        Some(built)
    } else {
        None
    };
    let check_at = |values: &Values<f64>| -> Result<GradientCheck, EvalError> {
        let Some(built) = symmetric else {
            return check_gradient(
                &pool,
                d.function,
                &args.target.wrt,
                Some(d.gradient),
                values,
                &options,
            );
        };
        let mut at = values.clone();
        at.insert(
            free.clone(),
            values
                .get(&args.target.wrt)
                .expect("a value for the variable")
                .clone(),
        );
        let r = check_gradient(&pool, built, &free, None, &at, &options)?;
        let sizes = Sizes::from_values(&pool, values)?;
        let mut plan = Plan::<f64>::compile(&pool, &[d.gradient], &sizes)?;
        Ok(r.with_symbolic(plan.run(values)?.remove(0)))
    };
    // Random draws tried, and the one used: the first that the references agree on, else the
    // first.
    let (mut draws, mut used) = (0, 1);
    let report = match &args.at {
        Some(_) => check_at(&given).map_err(fail)?,
        None => {
            // Random values where the two numeric references agree: elsewhere (X'*X singular
            // for a wide X, say) the point itself is ill-conditioned, so another draw is taken.
            let mut accepted = None;
            let values = random_values_where(&pool, d.function, args.seed, |v| {
                draws += 1;
                match check_at(v) {
                    Ok(r) if r.max_error_references() <= FD_TOLERANCE => {
                        accepted = Some(r);
                        used = draws;
                        true
                    }
                    _ => false,
                }
            });
            match accepted {
                Some(r) => r,
                None => check_at(&values).map_err(fail)?,
            }
        }
    };
    let (vs_cs, vs_fd) = (
        report.max_error_complex_step,
        report.max_error_finite_difference,
    );
    let fd_vs_cs = report.max_error_references();
    // Where the two references disagree (central differences across a saturated tanh, or at a
    // point the values given with --at fix), the complex step, exact to rounding, decides.
    let references_agree = fd_vs_cs <= FD_TOLERANCE;
    let ok = vs_cs <= TOLERANCE && (vs_fd <= FD_TOLERANCE || !references_agree);
    let gradient = d.gradient_text(&pool, Style::Plain);
    let source = match &args.at {
        Some(path) => format!("at {}", path.display()),
        None if used > 1 => format!(
            "at random values (seed {}, draw {used}: sizes or values redrawn where the numeric references disagreed)",
            args.seed
        ),
        None => format!("at random values (seed {})", args.seed),
    };
    // Without a finite reference there is nothing to compare with: say why rather than
    // reporting a mismatch.
    let finite = |m: &matdiff_faer::Mat<f64>| m.col_iter().all(|c| c.iter().all(|v| v.is_finite()));
    if !report.scale.is_finite() || !finite(&report.complex_step) {
        let what = if report.scale.is_finite() {
            "its complex-step gradient"
        } else {
            "the function"
        };
        let tried = if args.at.is_some() || draws <= 1 {
            String::new()
        } else {
            " (and at every redraw)".to_string()
        };
        return Err(Failed::new(
            format!(
                "error: {what} is not finite {source}{tried}: it overflows there, or a function \
                 is evaluated outside its domain; give values with --at"
            ),
            json,
        ));
    }
    let out = match args.common.format {
        Format::Json => {
            let v = json!({
                "wrt": args.target.wrt,
                "gradient": gradient,
                "values": source,
                "max_relative_error_complex_step": vs_cs,
                "max_relative_error_finite_difference": vs_fd,
                "finite_difference_vs_complex_step": fd_vs_cs,
                "tolerance": TOLERANCE,
                "references_agree": references_agree,
                "ok": ok,
            });
            format!("{v:#}\n")
        }
        _ => format!(
            "gradient: {gradient}\n{source}\n  derived vs complex step:            max relative error {vs_cs:.1e} (tolerance {TOLERANCE:.0e})\n  derived vs central differences:     max relative error {vs_fd:.1e} (tolerance {FD_TOLERANCE:.0e})\n  central differences vs complex step: max relative error {fd_vs_cs:.1e}\n{}{}\n",
            if references_agree { "" } else { "note: central differences disagree with the complex step at these values (saturation or strong curvature); the complex step decides\n" },
            if ok { "ok: the derived gradient agrees" } else { "MISMATCH: the derived gradient disagrees" }
        ),
    };
    if ok {
        Ok(out)
    } else {
        Err(Failed::report(out))
    }
}
