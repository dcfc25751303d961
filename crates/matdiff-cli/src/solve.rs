//! `matdiff solve EXPR --wrt NAME`: the stationary point where the gradient is affine in NAME.

use matdiff_expr::Style;
use matdiff_rewrite::stationary;
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome, Target};

/// Arguments of `matdiff solve`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Show the derivation of the gradient step by step.
    #[arg(long)]
    steps: bool,
    #[command(flatten)]
    common: Common,
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let mut pool = crate::common::pool();
    let e = args.common.parse(&mut pool, &args.target.expr, &[])?;
    let d = crate::grad::derive_parsed(
        &mut pool,
        &e,
        &args.common,
        &args.target.wrt,
        None,
        args.steps,
    )?;
    if d.absent {
        return Err(Failed::new(
            format!(
                "error: nothing to solve: {}, for every value",
                crate::grad::absent_note(&args.target.wrt)
            ),
            json,
        ));
    }
    let s =
        stationary(&mut pool, &e, &d).map_err(|err| Failed::new(format!("error: {err}"), json))?;
    let wrt = &args.target.wrt;
    let text = |style| {
        let p = pool.printer(style).with_bindings(&e.bindings);
        (
            p.print_body(s.lhs),
            p.print_body(s.rhs),
            p.print_body(s.solution),
        )
    };
    let plain = text(Style::Plain);
    let latex = text(Style::Latex);
    Ok(match args.common.format {
        Format::Json => {
            let v = json!({
                "wrt": wrt,
                "gradient": d.gradient_text(&pool, Style::Plain),
                "equation": format!("{} = {}", plain.0, plain.1),
                "lhs": plain.0,
                "rhs": plain.1,
                "solution": plain.2,
                "latex": format!("{} = {}", latex.0, latex.1),
                "solution_latex": latex.2,
            });
            format!("{v:#}\n")
        }
        format => {
            let (style, (lhs, rhs, sol)) = match format {
                Format::Unicode => (Style::Unicode, text(Style::Unicode)),
                Format::Latex | Format::Markdown => (Style::Latex, latex.clone()),
                _ => (Style::Plain, plain.clone()),
            };
            let mut out = String::new();
            if args.steps {
                out.push_str(&d.display(
                    &pool,
                    if style == Style::Latex {
                        Style::Plain
                    } else {
                        style
                    },
                ));
                out.push_str(&format!("set ∂f/∂{wrt} = 0:\n"));
            } else {
                out.push_str(&format!(
                    "gradient: ∂f/∂{wrt} = {}\n",
                    d.gradient_text(&pool, style)
                ));
            }
            out.push_str(&format!("stationary equation: {lhs} = {rhs}\n"));
            out.push_str(&format!("solution: {wrt} = {sol}\n"));
            out
        }
    })
}
