//! `matdiff hessian --wrt X` for a matrix X and `matdiff jacobian F --wrt X` for a matrix-valued
//! F: the Kronecker form, printed; with `--at` its dense value; and `matdiff check` of it
//! against the complex step and central differences.

use matdiff_expr::{Expr, ExprPool, Style};
use matdiff_faer::{
    complex_step_jacobian, evaluate_vec_form, finite_difference_jacobian, Complex, Mat, Options,
    Values,
};
use matdiff_rewrite::{
    hessian_kronecker, jacobian_kronecker, DeriveOptions, KroneckerForm, SecondKind,
};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome, Target};

/// The Kronecker form of the Hessian (`hessian` true) or of the Jacobian.
fn form_of(
    pool: &mut ExprPool,
    e: &Expr,
    target: &Target,
    hessian: bool,
    json: bool,
) -> Result<KroneckerForm, Failed> {
    let options = DeriveOptions::default();
    if hessian {
        hessian_kronecker(pool, e, &target.wrt, &options)
    } else {
        jacobian_kronecker(pool, e, &target.wrt, &options)
    }
    .map_err(|err| Failed::new(format!("error: {err}"), json))
}

/// The dense value of a form at the values.
fn form_value(
    pool: &ExprPool,
    form: &KroneckerForm,
    values: &Values<f64>,
) -> Result<Mat<f64>, String> {
    evaluate_vec_form(pool, &form.terms, form.dense_shape(pool), values)
        .map(|v| v.total)
        .map_err(|e| e.to_string())
}

fn rows(m: &Mat<f64>) -> serde_json::Value {
    json!((0..m.nrows())
        .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Vec<_>>())
        .collect::<Vec<_>>())
}

fn layout(kind: SecondKind) -> &'static str {
    match kind {
        SecondKind::Jacobian => {
            "∂vec(F)/∂vec(X)' (rows the entries of vec(F)), vec stacking columns"
        }
        _ => "∂²f/∂vec(X)∂vec(X)', vec stacking columns",
    }
}

/// The Kronecker form, with `--steps` the derivation it is read off, with `given` values its
/// dense value (`hessian_value`, `jacobian_value`).
pub(crate) fn print_form(
    pool: &mut ExprPool,
    e: &Expr,
    target: &Target,
    common: &Common,
    hessian: bool,
    steps: bool,
    given: Option<&Values<f64>>,
) -> Outcome {
    let json = common.json();
    let form = form_of(pool, e, target, hessian, json)?;
    let name = if hessian { "hessian" } else { "jacobian" };
    let value = match given {
        Some(values) => Some(
            form_value(pool, &form, values)
                .map_err(|e| Failed::new(format!("error: {e}"), json))?,
        ),
        None => None,
    };
    // A form whose text could not name a size is refused, not printed unevaluable.
    let text = form
        .complete_text(pool)
        .map_err(|e| Failed::new(format!("error: {e}"), json))?;
    Ok(match common.format {
        Format::Json => {
            let mut v = json!({
                "wrt": target.wrt,
                "rules": form.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
                "layout": layout(form.kind),
                "note": "a Kronecker form in the literature's notation, an expression of the language (⊗ is infix kron): matdiff eval evaluates it",
            });
            v[name] = json!(text);
            v["latex"] = json!(form.text(pool, Style::Latex));
            v["unicode"] = json!(form.text(pool, Style::Unicode));
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
            let body = form.text(pool, style);
            let mut out = match (format, steps) {
                (Format::Markdown, true) => form.markdown(pool),
                (_, true) => form.display(pool, Style::Plain),
                (Format::Markdown, false) => format!("$$\n{body}\n$$\n"),
                _ => format!("{body}\n"),
            };
            if form.derivation.first.absent {
                let what = if hessian { "Hessian" } else { "Jacobian" };
                out.push_str(&format!(
                    "note: '{}' does not occur in the expression: its {what} is zero\n",
                    target.wrt
                ));
            }
            if let Some(m) = &value {
                out.push_str(&format!("{name} value: {}\n", rows(m)));
            }
            out
        }
    })
}

/// `matdiff check --hessian | --jacobian` of a Kronecker form: its dense value against the
/// complex step and central differences of the derived gradient (of F for a Jacobian).
pub(crate) fn check_form(
    pool: &mut ExprPool,
    e: &Expr,
    target: &Target,
    common: &Common,
    hessian: bool,
    values: &Values<f64>,
    source: &str,
) -> Outcome {
    let json = common.json();
    let fail = |e: String| Failed::new(format!("error: {e}"), json);
    let form = form_of(pool, e, target, hessian, json)?;
    let differentiated = match form.kind {
        SecondKind::Jacobian => form.derivation.function,
        _ => form.derivation.first.gradient,
    };
    let derived = form_value(pool, &form, values).map_err(fail)?;
    let cs = complex_step_jacobian(
        pool,
        differentiated,
        &target.wrt,
        values,
        &Options::<Complex<f64>>::new(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let fd = finite_difference_jacobian(pool, differentiated, &target.wrt, values, &Options::new())
        .map_err(|e| fail(e.to_string()))?;
    let result = form.complete_text(pool).map_err(|e| fail(e.to_string()))?;
    let checked = crate::hessian::Checked {
        name: if hessian { "hessian" } else { "jacobian" },
        result: &result,
        reference: if hessian {
            "of the derived gradient"
        } else {
            "of F"
        },
        derived: &derived,
        complex_step: &cs,
        finite_differences: &fd,
    };
    checked.report(common, &target.wrt, source)
}
