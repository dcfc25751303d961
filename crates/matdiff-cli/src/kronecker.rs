//! `matdiff hessian --wrt X` for a matrix X and `matdiff jacobian F --wrt X` for a matrix-valued
//! F: the Kronecker form, printed (its value at given values comes from the derived HVP).

use matdiff_expr::{Expr, ExprPool, Style};
use matdiff_rewrite::{hessian_kronecker, jacobian_kronecker, DeriveOptions, KroneckerForm};
use serde_json::json;

use crate::common::{Common, Failed, Format, Outcome, Target};

/// The Kronecker form of the Hessian (`hessian` true) or of the Jacobian, with `--steps` the
/// derivation it is read off.
pub(crate) fn print_form(
    pool: &mut ExprPool,
    e: &Expr,
    target: &Target,
    common: &Common,
    hessian: bool,
    steps: bool,
) -> Outcome {
    let json = common.json();
    let options = DeriveOptions::default();
    let form: KroneckerForm = if hessian {
        hessian_kronecker(pool, e, &target.wrt, &options)
    } else {
        jacobian_kronecker(pool, e, &target.wrt, &options)
    }
    .map_err(|err| Failed::new(format!("error: {err}"), json))?;
    let name = if hessian { "hessian" } else { "jacobian" };
    let layout = if hessian {
        "∂²f/∂vec(X)∂vec(X)', vec stacking columns"
    } else {
        "∂vec(F)/∂vec(X)' (rows the entries of vec(F)), vec stacking columns"
    };
    Ok(match common.format {
        Format::Json => {
            let mut v = json!({
                "wrt": target.wrt,
                "rules": form.rules,
                "layout": layout,
                "note": "a Kronecker form: printed in the literature's notation, not re-parseable",
            });
            v[name] = json!(form.text(pool, Style::Plain));
            format!("{v:#}\n")
        }
        _ if steps => form.display(pool, Style::Plain),
        _ => format!("{}\n", form.text(pool, Style::Plain)),
    })
}
