//! `matdiff hessian EXPR --wrt x [--hvp V]` and `matdiff jacobian EXPR --wrt x`: second-order
//! results with their derivations, values at `--at`, and `matdiff check --hessian | --hvp V |
//! --jacobian` against the complex step of the derived gradient (of F for a Jacobian) and
//! central differences.

use matdiff_expr::{ExprPool, Style};
use matdiff_faer::{
    complex_step_directional, complex_step_jacobian, dense_linear_map,
    finite_difference_directional, finite_difference_jacobian, random_values, relative_errors,
    Complex, Mat, Options, Plan, Sizes, Values,
};
use matdiff_rewrite::{
    hessian, hvp, jacobian, DeriveOptions, SecondKind, SecondOrder, SecondOrderError,
};
use serde_json::{json, Value};

use crate::common::{Common, Failed, Format, Outcome, Target};

/// Largest accepted relative error against the complex step (exact to rounding).
pub(crate) const TOLERANCE: f64 = 1e-8;
/// Largest accepted relative error against central differences of the derived gradient.
pub(crate) const FD_TOLERANCE: f64 = 1e-5;

/// Arguments of `matdiff hessian`.
#[derive(clap::Args, Debug)]
pub(crate) struct HessianArgs {
    #[command(flatten)]
    target: Target,
    /// The Hessian-vector product in the direction V (a new variable of the variable's shape)
    /// instead of the Hessian; it never forms a Kronecker product.
    #[arg(long, value_name = "V")]
    hvp: Option<String>,
    /// Show the derivations step by step, with the rules applied.
    #[arg(long)]
    steps: bool,
    /// Evaluate at these values (a JSON object; with --hvp it gives V too).
    #[arg(long, value_name = "VALUES.json")]
    at: Option<std::path::PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// Arguments of `matdiff jacobian`.
#[derive(clap::Args, Debug)]
pub(crate) struct JacobianArgs {
    #[command(flatten)]
    target: Target,
    /// Show the derivation step by step, with the rules applied.
    #[arg(long)]
    steps: bool,
    /// Evaluate at these values (a JSON object).
    #[arg(long, value_name = "VALUES.json")]
    at: Option<std::path::PathBuf>,
    #[command(flatten)]
    common: Common,
}

/// What `matdiff check` checks besides the gradient.
#[derive(Clone, Debug)]
pub(crate) enum SecondCheck {
    Hessian,
    Hvp(String),
    Jacobian,
}

fn second_of(
    pool: &mut ExprPool,
    e: &matdiff_expr::Expr,
    target: &Target,
    what: &SecondCheck,
) -> Result<SecondOrder, SecondOrderError> {
    let options = DeriveOptions::default();
    match what {
        SecondCheck::Hessian => hessian(pool, e, &target.wrt, &options),
        SecondCheck::Hvp(v) => hvp(pool, e, &target.wrt, v, &options),
        SecondCheck::Jacobian => jacobian(pool, e, &target.wrt, &options),
    }
}

/// The dense Hessian with respect to a matrix at the values, from the derived HVP (one plan run
/// per entry, vec layout), when its Kronecker form cannot be written.
fn dense_matrix_hessian(
    pool: &mut ExprPool,
    e: &matdiff_expr::Expr,
    target: &Target,
    common: &Common,
    given: &Values<f64>,
) -> Outcome {
    let json = common.json();
    let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
    let direction = (0..)
        .map(|i| format!("V_{i}"))
        .find(|n| pool.find_symbol(n).is_none())
        .expect("endless names");
    let h = hvp(pool, e, &target.wrt, &direction, &DeriveOptions::default())
        .map_err(|err| Failed::new(format!("error: {err}"), json))?;
    let x = given.get(&target.wrt).ok_or_else(|| {
        Failed::new(
            format!("error: no value for the variable '{}'", target.wrt),
            json,
        )
    })?;
    let mut values = given.clone();
    values.insert(direction.clone(), Mat::zeros(x.nrows(), x.ncols()));
    let dense =
        dense_linear_map(pool, h.result, &direction, &values, &Options::new()).map_err(fail)?;
    let note = format!(
        "the Hessian with respect to the matrix {} is a Kronecker form (without --at, matdiff \
         prints it); this is its value from the derived Hessian-vector product {}",
        target.wrt,
        h.result_text(pool, Style::Plain)
    );
    Ok(match common.format {
        Format::Json => format!(
            "{:#}\n",
            json!({
                "wrt": target.wrt,
                "hvp": h.result_text(pool, Style::Plain),
                "direction": direction,
                "hessian_value": rows(&dense),
                "layout": layout(SecondKind::Hessian),
                "note": note,
            })
        ),
        _ => format!("note: {note}\nhessian value: {}\n", rows(&dense)),
    })
}

pub(crate) fn run_hessian(args: HessianArgs) -> Outcome {
    let what = match args.hvp {
        Some(v) => SecondCheck::Hvp(v),
        None => SecondCheck::Hessian,
    };
    run(
        &args.target,
        &args.common,
        &what,
        args.steps,
        args.at.as_deref(),
    )
}

pub(crate) fn run_jacobian(args: JacobianArgs) -> Outcome {
    run(
        &args.target,
        &args.common,
        &SecondCheck::Jacobian,
        args.steps,
        args.at.as_deref(),
    )
}

/// The JSON key of the result.
fn key(kind: SecondKind) -> &'static str {
    match kind {
        SecondKind::Hessian => "hessian",
        SecondKind::Hvp => "hvp",
        SecondKind::Jacobian => "jacobian",
    }
}

fn run(
    target: &Target,
    common: &Common,
    what: &SecondCheck,
    steps: bool,
    at: Option<&std::path::Path>,
) -> Outcome {
    let json = common.json();
    let mut pool = crate::common::pool();
    let (decls, given) = match at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), Values::new()),
    };
    let e = common.parse(&mut pool, &target.expr, &decls)?;
    let s = match second_of(&mut pool, &e, target, what) {
        Err(SecondOrderError::NeedsKronecker { .. })
            if matches!(what, SecondCheck::Hessian) && at.is_some() =>
        {
            return dense_matrix_hessian(&mut pool, &e, target, common, &given);
        }
        Err(SecondOrderError::NeedsKronecker { .. }) if !matches!(what, SecondCheck::Hvp(_)) => {
            let hessian = matches!(what, SecondCheck::Hessian);
            let given = at.map(|_| &given);
            return crate::kronecker::print_form(
                &mut pool, &e, target, common, hessian, steps, given,
            );
        }
        other => other.map_err(|err| Failed::new(format!("error: {err}"), json))?,
    };
    // A result or gradient whose text could not name a size is refused, not printed.
    s.complete_result_text(&pool)
        .map_err(|err| Failed::new(format!("error: {err}"), json))?;
    s.first
        .complete_gradient_text(&pool)
        .map_err(|err| Failed::new(format!("error: {err}"), json))?;
    let value = match at {
        Some(_) => {
            let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
            let sizes = Sizes::from_values(&pool, &given).map_err(fail)?;
            let mut plan = Plan::<f64>::compile(&pool, &[s.result], &sizes).map_err(fail)?;
            Some(plan.run(&given).map_err(fail)?.remove(0))
        }
        None => None,
    };
    let name = key(s.kind);
    let note = s.first.absent.then(|| {
        let what = if s.kind == SecondKind::Jacobian {
            "Jacobian"
        } else {
            "Hessian"
        };
        format!(
            "'{}' does not occur in the expression: its {what} is zero",
            target.wrt
        )
    });
    let out = match common.format {
        Format::Json => {
            let step_json = |d: &matdiff_rewrite::Derivation, st: &matdiff_rewrite::Step| {
                json!({
                    "lhs": st.lhs.to_string(),
                    "expr": d.printer(&pool, Style::Plain).print_body(st.expr),
                    "latex": d.printer(&pool, Style::Latex).print_body(st.expr),
                    "continues": st.continues,
                    "rules": st.rules.iter().map(|id| json!({ "id": id.as_str(), "name": id.rule().name })).collect::<Vec<_>>(),
                })
            };
            let mut all: Vec<Value> = s
                .first
                .steps
                .iter()
                .map(|st| step_json(&s.first, st))
                .collect();
            if let Some(second) = &s.second {
                all.extend(second.steps.iter().map(|st| step_json(second, st)));
            }
            if let Some(st) = &s.readoff {
                all.push(step_json(&s.first, st));
            }
            let mut v = json!({
                "wrt": target.wrt,
                "function": s.first.printer(&pool, Style::Plain).print(s.function),
                "gradient": s.first.gradient_text(&pool, Style::Plain),
                "steps": all,
                "layout": layout(s.kind),
            });
            v[name] = json!(s.result_text(&pool, Style::Plain));
            v["latex"] = json!(s.result_text(&pool, Style::Latex));
            v["unicode"] = json!(s.result_text(&pool, Style::Unicode));
            if s.kind == SecondKind::Hvp {
                v["direction"] = json!(s.direction);
            }
            if let Some(note) = &note {
                v["note"] = json!(note);
            }
            if let Some(m) = &value {
                v[format!("{name}_value")] = rows(m);
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
            if format == Format::Markdown {
                out.push_str(&s.markdown(&pool));
                out.push('\n');
            } else if steps {
                out.push_str(&s.display(&pool, style));
                out.push('\n');
            }
            if format == Format::Markdown {
                out.push_str(&format!("$$\n{}\n$$\n", s.result_text(&pool, style)));
            } else {
                out.push_str(&s.result_text(&pool, style));
                out.push('\n');
            }
            if let Some(note) = &note {
                out.push_str(&format!("note: {note}\n"));
            }
            if let Some(m) = &value {
                out.push_str(&format!("{name} value: {}\n", rows(m)));
            }
            out
        }
    };
    Ok(out)
}

fn layout(kind: SecondKind) -> &'static str {
    match kind {
        SecondKind::Hessian => "d2f/dvec(X)dvec(X)', symmetric",
        SecondKind::Hvp => "H[V], of the shape of the variable",
        SecondKind::Jacobian => "dvec(F)/dvec(X)', one row per entry of F",
    }
}

/// A matrix as rows (every result of the stated layout keeps its rows, also a column).
fn rows(m: &Mat<f64>) -> Value {
    if m.ncols() == 1 && m.nrows() > 1 {
        return crate::values::encode(m);
    }
    Value::from(
        (0..m.nrows())
            .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    )
}

/// `matdiff check --hessian | --hvp V | --jacobian`: the derived result against the complex step
/// of the derived gradient (of F for a Jacobian) and against central differences of it.
pub(crate) fn check(
    target: &Target,
    common: &Common,
    what: &SecondCheck,
    at: Option<&std::path::Path>,
    seed: u64,
) -> Outcome {
    let json = common.json();
    let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
    let mut pool = crate::common::pool();
    let (decls, given) = match at {
        Some(path) => crate::values::read_decls(path, json)?,
        None => (Vec::new(), Values::new()),
    };
    let e = common.parse(&mut pool, &target.expr, &decls)?;
    let s = match second_of(&mut pool, &e, target, what) {
        Err(SecondOrderError::NeedsKronecker { .. }) if !matches!(what, SecondCheck::Hvp(_)) => {
            let source = match at {
                Some(path) => format!("at {}", path.display()),
                None => format!("at random values (seed {seed})"),
            };
            let values = match at {
                Some(_) => given,
                None => random_values(&pool, e.root, seed),
            };
            let hessian = matches!(what, SecondCheck::Hessian);
            return crate::kronecker::check_form(
                &mut pool, &e, target, common, hessian, &values, &source,
            );
        }
        other => other.map_err(|err| Failed::new(format!("error: {err}"), json))?,
    };
    let mut values = match at {
        Some(_) => given,
        None => random_values(&pool, s.function, seed),
    };
    if s.kind == SecondKind::Hvp && values.get(&s.direction).is_none() {
        let x = values.get(&target.wrt).ok_or_else(|| {
            Failed::new(
                format!("error: no value for the variable '{}'", target.wrt),
                json,
            )
        })?;
        let mut state = seed ^ 0x5eed_5eed;
        let mut v = Mat::from_fn(x.nrows(), x.ncols(), |_, _| uniform(&mut state));
        // A direction that keeps the variable's structure.
        match pool
            .find_symbol(&target.wrt)
            .and_then(|sym| pool.var_info(sym))
        {
            Some(info) if info.structure == matdiff_expr::Structure::Diagonal => {
                v = Mat::from_fn(
                    v.nrows(),
                    v.ncols(),
                    |i, j| if i == j { v[(i, j)] } else { 0.0 },
                );
            }
            Some(info) if info.symmetric => {
                v = Mat::from_fn(v.nrows(), v.ncols(), |i, j| (v[(i, j)] + v[(j, i)]) / 2.0);
            }
            _ => {}
        }
        values.insert(s.direction.clone(), v);
    }
    // The function whose derivative the result is: the gradient, or F itself.
    let differentiated = match s.kind {
        SecondKind::Jacobian => s.function,
        _ => s.first.gradient,
    };
    let options = Options::<f64>::new();
    let coptions = Options::<Complex<f64>>::new();
    let sizes = Sizes::from_values(&pool, &values).map_err(fail)?;
    let mut plan = Plan::<f64>::compile(&pool, &[s.result], &sizes).map_err(fail)?;
    let derived = plan.run(&values).map_err(fail)?.remove(0);
    let (cs, fd) = match s.kind {
        SecondKind::Hvp => {
            let v = values.get(&s.direction).expect("inserted").clone();
            let cs = complex_step_directional(
                &pool,
                differentiated,
                &target.wrt,
                &v,
                &values,
                &coptions,
            )
            .map_err(fail)?;
            let fd = finite_difference_directional(
                &pool,
                differentiated,
                &target.wrt,
                &v,
                &values,
                &options,
            )
            .map_err(fail)?;
            (cs, fd)
        }
        _ => (
            complex_step_jacobian(&pool, differentiated, &target.wrt, &values, &coptions)
                .map_err(fail)?,
            finite_difference_jacobian(&pool, differentiated, &target.wrt, &values, &options)
                .map_err(fail)?,
        ),
    };
    let name = key(s.kind);
    let result = s
        .complete_result_text(&pool)
        .map_err(|e| Failed::new(format!("error: {e}"), json))?;
    let source = match at {
        Some(path) => format!("at {}", path.display()),
        None => format!("at random values (seed {seed})"),
    };
    let reference = match s.kind {
        SecondKind::Jacobian => "of F",
        _ => "of the derived gradient",
    };
    let checked = Checked {
        name,
        result: &result,
        reference,
        derived: &derived,
        complex_step: &cs,
        finite_differences: &fd,
    };
    checked.report(common, &target.wrt, &source)
}

/// A derived second-order result against its two numeric references, as `matdiff check` prints it.
pub(crate) struct Checked<'a> {
    /// `hessian`, `hvp` or `jacobian`: the JSON key and the word of the verdict.
    pub(crate) name: &'a str,
    /// The derived result as text.
    pub(crate) result: &'a str,
    /// What the references differentiate (`of the derived gradient`, `of F`).
    pub(crate) reference: &'a str,
    pub(crate) derived: &'a Mat<f64>,
    pub(crate) complex_step: &'a Mat<f64>,
    pub(crate) finite_differences: &'a Mat<f64>,
}

impl Checked<'_> {
    /// The verdict (an error exit when a reference disagrees), at the values described by `source`.
    pub(crate) fn report(&self, common: &Common, wrt: &str, source: &str) -> Outcome {
        // The largest error, NaN if any is (a NaN must not pass).
        let max = |m: Mat<f64>| {
            m.col_iter()
                .flat_map(|c| c.iter().copied().collect::<Vec<_>>())
                .fold(0.0f64, |acc, e| if e.is_nan() || e > acc { e } else { acc })
        };
        let vs_cs = max(relative_errors(self.derived, self.complex_step));
        let vs_fd = max(relative_errors(self.derived, self.finite_differences));
        let ok = vs_cs <= TOLERANCE && vs_fd <= FD_TOLERANCE;
        let (name, result, reference) = (self.name, self.result, self.reference);
        let out = match common.format {
            Format::Json => format!(
                "{:#}\n",
                json!({
                    "wrt": wrt,
                    name: result,
                    "values": source,
                    "max_relative_error_complex_step": vs_cs,
                    "max_relative_error_finite_difference": vs_fd,
                    "tolerance": TOLERANCE,
                    "ok": ok,
                })
            ),
            _ => format!(
                "{name}: {result}\n{source}\n  derived vs complex step {reference}:        max relative error {vs_cs:.1e} (tolerance {TOLERANCE:.0e})\n  derived vs central differences {reference}: max relative error {vs_fd:.1e} (tolerance {FD_TOLERANCE:.0e})\n{}\n",
                if ok { format!("ok: the derived {name} agrees") } else { format!("MISMATCH: the derived {name} disagrees") }
            ),
        };
        if ok {
            Ok(out)
        } else {
            Err(Failed::report(out))
        }
    }
}

fn uniform(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9e3779b97f4a7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 52) as f64 - 1.0
}
