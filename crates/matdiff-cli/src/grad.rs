//! `matdiff grad EXPR --wrt NAME`: the gradient, and with `--steps` the derivation.

use matdiff_expr::{ExprPool, Style};
use matdiff_rewrite::{derive, Derivation, DeriveOptions};
use serde_json::{json, Value};

use crate::common::{Common, Failed, Format, Outcome, Target};

/// Arguments of `matdiff grad`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {
    #[command(flatten)]
    target: Target,
    /// Show the derivation step by step, with the rule applied at each step.
    #[arg(long)]
    steps: bool,
    /// Differentiate the matrix-valued EXPR through tr(G'*EXPR), G the upstream gradient.
    #[arg(long, value_name = "G")]
    upstream: Option<String>,
    /// Evaluate the function and the gradient at these values (a JSON object).
    #[arg(long, value_name = "VALUES.json")]
    at: Option<std::path::PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Parses EXPR and derives its gradient, with errors worded for the user.
pub(crate) fn derive_cli(
    pool: &mut ExprPool,
    common: &Common,
    expr: &str,
    wrt: &str,
    upstream: Option<&str>,
    extra: &[matdiff_expr::Decl],
    steps: bool,
) -> Result<Derivation, Failed> {
    let e = common.parse(pool, expr, extra)?;
    derive_parsed(pool, &e, common, wrt, upstream, steps)
}

/// Derives the gradient of a parsed expression, with errors worded for the user; the steps
/// are recorded only when `steps` (the gradient is the same either way).
pub(crate) fn derive_parsed(
    pool: &mut ExprPool,
    e: &matdiff_expr::Expr,
    common: &Common,
    wrt: &str,
    upstream: Option<&str>,
    steps: bool,
) -> Result<Derivation, Failed> {
    let options = DeriveOptions {
        upstream: upstream.map(str::to_string),
        gradient_only: !steps,
        ..DeriveOptions::default()
    };
    let fail =
        |err: matdiff_rewrite::DeriveError| Failed::new(format!("error: {err}"), common.json());
    let d = derive(pool, e, wrt, &options).map_err(fail)?;
    // A gradient whose text could not name a size is refused, not printed unevaluable.
    d.complete_gradient_text(pool).map_err(fail)?;
    Ok(d)
}

pub(crate) fn run(args: Args) -> Outcome {
    let json = args.common.json();
    let mut pool = crate::common::pool();
    let extra = match &args.at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), matdiff_faer::Values::new()),
    };
    let d = derive_cli(
        &mut pool,
        &args.common,
        &args.target.expr,
        &args.target.wrt,
        args.upstream.as_deref(),
        &extra.0,
        // JSON and Markdown show the steps too.
        args.steps || matches!(args.common.format, Format::Json | Format::Markdown),
    )?;
    let at = match &args.at {
        Some(_) => Some(crate::values::eval_pair(
            &pool, d.function, d.gradient, &extra.1, json,
        )?),
        None => None,
    };
    let note = if d.absent {
        Some(absent_note(&args.target.wrt))
    } else if d.diagonal {
        Some(format!(
            "{} is declared diagonal: this is the diagonal part I .* G of the gradient",
            args.target.wrt
        ))
    } else if let Some(t) = d.triangle {
        let (word, f) = match t {
            matdiff_expr::Triangle::Lower => ("lower", "tril"),
            matdiff_expr::Triangle::Upper => ("upper", "triu"),
        };
        Some(format!(
            "{} is declared {word} triangular: this is the {word} triangle {f}(G) of the gradient",
            args.target.wrt
        ))
    } else {
        d.symmetric.then(|| {
            let spd = pool
                .find_symbol(&args.target.wrt)
                .and_then(|s| pool.var_info(s))
                .is_some_and(|i| i.structure == matdiff_expr::Structure::Spd);
            format!(
                "{} is declared {}: this is the symmetric gradient (G + G')/2",
                args.target.wrt,
                if spd {
                    "spd (symmetric positive definite)"
                } else {
                    "symmetric"
                }
            )
        })
    };
    let out = match args.common.format {
        Format::Json => {
            let steps: Vec<Value> = d
                .steps
                .iter()
                .map(|s| {
                    json!({
                        "lhs": s.lhs.to_string(),
                        "expr": d.printer(&pool, Style::Plain).print_body(s.expr),
                        "latex": d.printer(&pool, Style::Latex).print_body(s.expr),
                        "continues": s.continues,
                        "rules": s.rules.iter().map(|id| json!({ "id": id.as_str(), "name": id.rule().name })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut v = json!({
                "wrt": args.target.wrt,
                "function": d.printer(&pool, Style::Plain).print(d.function),
                "gradient": d.gradient_text(&pool, Style::Plain),
                "unicode": d.gradient_text(&pool, Style::Unicode),
                "latex": d.gradient_text(&pool, Style::Latex),
                "symmetric": d.symmetric,
                "steps": steps,
            });
            if let Some(note) = &note {
                v["note"] = json!(note);
            }
            if let Some((value, gradient)) = at {
                v["value"] = value;
                v["gradient_value"] = gradient;
            }
            format!("{v:#}\n")
        }
        format => {
            let style = match format {
                Format::Unicode => Style::Unicode,
                Format::Latex | Format::Markdown => Style::Latex,
                _ => Style::Plain,
            };
            let mut out = String::new();
            match format {
                Format::Markdown => {
                    out.push_str(&format!(
                        "Gradient of $f = {}$ with respect to ${}$:\n\n",
                        d.printer(&pool, Style::Latex).print(d.function),
                        args.target.wrt
                    ));
                    out.push_str(&d.markdown(&pool));
                    out.push_str(&format!(
                        "\n$$\\frac{{\\partial f}}{{\\partial {}}} = {}$$\n",
                        args.target.wrt,
                        d.gradient_text(&pool, Style::Latex)
                    ));
                }
                Format::Latex if args.steps => {
                    out.push_str(&d.markdown(&pool).replace("$$\n", ""));
                }
                _ if args.steps => out.push_str(&d.display(&pool, style)),
                _ => {
                    out.push_str(&d.gradient_text(&pool, style));
                    out.push('\n');
                }
            }
            if let Some(note) = &note {
                out.push_str(&format!("note: {note}\n"));
            }
            if let Some((value, gradient)) = at {
                out.push_str(&format!(
                    "value: {}\ngradient value: {}\n",
                    crate::values::show(&value),
                    crate::values::show(&gradient)
                ));
            }
            out
        }
    };
    Ok(out)
}

/// The note for a variable that does not occur in the expression.
pub(crate) fn absent_note(wrt: &str) -> String {
    format!("'{wrt}' does not occur in the expression: its gradient is zero")
}
