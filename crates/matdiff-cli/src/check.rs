//! `matdiff check EXPR --wrt NAME`: the derived gradient against the complex step and central
//! differences, at given or random values.

use matdiff_expr::Style;
use matdiff_faer::{verify_gradient, Tolerances, VerifyOptions};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome, Target};

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
        false,
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
    let options = VerifyOptions {
        seed: args.seed,
        ..VerifyOptions::default()
    };
    let verdict = verify_gradient(
        &pool,
        d.function,
        &args.target.wrt,
        d.gradient,
        args.at.as_ref().map(|_| &given),
        &options,
    )
    .map_err(fail)?;
    let report = &verdict.check;
    let (vs_cs, vs_fd) = (
        report.max_error_complex_step,
        report.max_error_finite_difference,
    );
    let fd_vs_cs = report.max_error_references();
    let (references_agree, ok) = (verdict.references_agree, verdict.ok);
    let Tolerances {
        complex_step: tolerance,
        finite_difference: fd_tolerance,
    } = options.tolerances;
    let gradient = d.gradient_text(&pool, Style::Plain);
    let source = match &args.at {
        Some(path) => format!("at {}", path.display()),
        None if verdict.draw > 1 => format!(
            "at random values (seed {}, draw {}: sizes or values redrawn where the numeric references disagreed)",
            args.seed, verdict.draw
        ),
        None => format!("at random values (seed {})", args.seed),
    };
    // Without a finite reference there is nothing to compare with: say why rather than
    // reporting a mismatch.
    if !verdict.finite() {
        let what = if verdict.function_finite() {
            "its complex-step gradient"
        } else {
            "the function"
        };
        let tried = if args.at.is_none() && !references_agree {
            " (and at every redraw)"
        } else {
            ""
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
                "tolerance": tolerance,
                "references_agree": references_agree,
                "ok": ok,
            });
            format!("{v:#}\n")
        }
        _ => format!(
            "gradient: {gradient}\n{source}\n  derived vs complex step:            max relative error {vs_cs:.1e} (tolerance {tolerance:.0e})\n  derived vs central differences:     max relative error {vs_fd:.1e} (tolerance {fd_tolerance:.0e})\n  central differences vs complex step: max relative error {fd_vs_cs:.1e}\n{}{}\n",
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
