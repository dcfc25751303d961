//! The matdiff engine for the browser playground (`web/`): parse, derive and check in the page.
//!
//! Each function takes the playground's state as text (the expression, the variable, the
//! declarations separated by `;` as in the URL hash `let=`) and returns one JSON object as a
//! string, `{"ok": true, ...}` or `{"ok": false, "error": {"message", "start", "end", "decl"}}`,
//! with spans in UTF-16 code units so the page can underline them. No mathematics lives here:
//! it calls `matdiff-expr`, `matdiff-rewrite` and `matdiff-faer`.
//!
//! ```
//! let out: serde_json::Value =
//!     serde_json::from_str(&matdiff_web::derivation("a'*X*b", "X", "")).unwrap();
//! assert_eq!(out["gradient"]["plain"], "a*b'");
//! let bad: serde_json::Value = serde_json::from_str(&matdiff_web::analyze("a'*X*", "")).unwrap();
//! assert_eq!(bad["ok"], false);
//! assert_eq!(bad["error"]["start"], 5);
//! ```

use std::collections::HashMap;

use matdiff_expr::{Decl, Expr, ExprPool, Node, ParseError, Style};
use matdiff_faer::{
    check_gradient, random_values_where, CheckOptions, EvalError, GradientCheck, Plan, Sizes,
    Values,
};
use matdiff_rewrite::{derive, Derivation, DeriveOptions, StepKind, RULES};
use serde_json::{json, Value};
use wasm_bindgen::prelude::wasm_bindgen;

/// Largest accepted relative error of the derived gradient against the complex step (exact to
/// rounding); the command line's `matdiff check` uses the same.
const TOLERANCE: f64 = 1e-8;
/// Largest accepted relative error against central differences.
const FD_TOLERANCE: f64 = 1e-6;
/// Longest expression a derivation shows, in bytes of the plain form: a printed tree can grow
/// far faster than its DAG (a hundred nested layers print in gigabytes), more than a page holds.
const MAX_SHOWN: usize = 200_000;

/// The variables of an expression with their inferred shapes, or the parse or shape error.
///
/// `{"ok": true, "variables": [{"name": "X", "shape": "m x n", "symmetric": false}, ...]}`.
#[wasm_bindgen]
pub fn analyze(expr: &str, lets: &str) -> String {
    let mut pool = ExprPool::new();
    let out = match parse(&mut pool, expr, lets) {
        Ok(_) => {
            let variables: Vec<Value> = pool
                .vars()
                .into_iter()
                .map(|(s, info)| {
                    json!({
                        "name": pool.name(s),
                        "shape": pool.shape_str(info.shape),
                        "symmetric": info.symmetric,
                    })
                })
                .collect();
            json!({ "ok": true, "variables": variables })
        }
        Err(e) => e,
    };
    out.to_string()
}

/// The gradient of `expr` with respect to `wrt` and every step of its derivation.
///
/// `{"ok": true, "gradient": {"plain", "unicode", "latex"}, "symmetric": bool,
/// "steps": [{"lhs", "latex", "plain", "continues", "rules": ["D2", ...]}]}`; `lhs` and `latex`
/// are LaTeX, `plain` the right-hand side in the input syntax.
#[wasm_bindgen]
pub fn derivation(expr: &str, wrt: &str, lets: &str) -> String {
    let mut pool = ExprPool::new();
    let d = match derive_in(&mut pool, expr, wrt, lets) {
        Ok(d) => d,
        Err(e) => return e.to_string(),
    };
    if let Some(len) = too_long_to_show(&pool, &d) {
        return error(
            format!(
                "the derivation is too large to show: it prints expressions of more than \
                 {len} characters"
            ),
            None,
        )
        .to_string();
    }
    let latex = d.printer(&pool, Style::Latex);
    let plain = d.printer(&pool, Style::Plain);
    let steps: Vec<Value> = d
        .steps
        .iter()
        .map(|s| {
            let (tex, text) = if s.kind == StepKind::Function {
                (latex.print(s.expr), plain.print(s.expr))
            } else {
                (latex.print_body(s.expr), plain.print_body(s.expr))
            };
            json!({
                "lhs": if s.continues { String::new() } else { s.lhs_latex() },
                "latex": tex,
                "plain": text,
                "continues": s.continues,
                "rules": s.rules,
            })
        })
        .collect();
    json!({
        "ok": true,
        "wrt": d.wrt,
        "gradient": {
            "plain": d.gradient_text(&pool, Style::Plain),
            "unicode": d.gradient_text(&pool, Style::Unicode),
            "latex": d.gradient_text(&pool, Style::Latex),
        },
        "symmetric": d.symmetric,
        "steps": steps,
    })
    .to_string()
}

/// `Some(MAX_SHOWN)` when the plain form of a step, of the gradient or of a binding is longer,
/// found in time bounded by `MAX_SHOWN` per expression.
fn too_long_to_show(pool: &ExprPool, d: &Derivation) -> Option<usize> {
    let steps = d.steps.iter().map(|s| s.expr);
    let shown = steps
        .chain([d.gradient])
        .chain(d.names.iter().map(|(_, id)| *id));
    for id in shown {
        let prefix = d
            .printer(pool, Style::Plain)
            .print_prefix(id, MAX_SHOWN + 1);
        if prefix.len() > MAX_SHOWN {
            return Some(MAX_SHOWN);
        }
    }
    None
}

/// The rule catalog: `[{"id": "D2", "name": "product rule", "plain": ..., "latex": ...}, ...]`.
#[wasm_bindgen]
pub fn rules() -> String {
    let rules: Vec<Value> = RULES
        .iter()
        .map(|r| json!({ "id": r.id, "name": r.name, "plain": r.plain, "latex": r.latex }))
        .collect();
    Value::Array(rules).to_string()
}

/// The derived gradient against the complex step and central differences at random values
/// (drawn from `seed`, respecting domains, redrawn where the two references disagree), as
/// `matdiff check` does.
///
/// `{"ok": true, "agrees": bool, "max_error_complex_step", "max_error_finite_difference",
/// "finite_difference_vs_complex_step", "tolerance", "fd_tolerance", "sizes": {"X": "3x4"}}`.
#[wasm_bindgen]
pub fn check(expr: &str, wrt: &str, lets: &str, seed: u32) -> String {
    match check_in(expr, wrt, lets, u64::from(seed)) {
        Ok(v) | Err(v) => v.to_string(),
    }
}

fn check_in(expr: &str, wrt: &str, lets: &str, seed: u64) -> Result<Value, Value> {
    let mut pool = ExprPool::new();
    let d = derive_in(&mut pool, expr, wrt, lets)?;
    let fail = |e: &dyn std::fmt::Display| error(e.to_string(), None);
    // A symmetric variable cannot be perturbed one entry at a time: its gradient (G + G')/2 is
    // the plain gradient of f((S + S')/2) in an unconstrained S, at S = X; a diagonal or
    // triangular one's that of f(I .* S), f(tril(S)) or f(triu(S)).
    let free = format!("{wrt}__free");
    let symmetric = if d.symmetric || d.diagonal || d.triangle.is_some() {
        Some(symmetrised(&mut pool, &d, &free).map_err(|e| fail(&e))?)
    } else {
        None
    };
    let options = CheckOptions::default();
    let check_at = |values: &Values<f64>| -> Result<GradientCheck, EvalError> {
        let Some(built) = symmetric else {
            return check_gradient(&pool, d.function, wrt, Some(d.gradient), values, &options);
        };
        let mut at = values.clone();
        if let Some(x) = values.get(wrt) {
            at.insert(free.clone(), x.clone());
        }
        let r = check_gradient(&pool, built, &free, None, &at, &options)?;
        let sizes = Sizes::from_values(&pool, values)?;
        let mut plan = Plan::<f64>::compile(&pool, &[d.gradient], &sizes)?;
        Ok(r.with_symbolic(plan.run(values)?.remove(0)))
    };
    let mut accepted = None;
    let values = random_values_where(&pool, d.function, seed, |v| match check_at(v) {
        Ok(r) if r.max_error_references() <= FD_TOLERANCE => {
            accepted = Some(r);
            true
        }
        _ => false,
    });
    let report = match accepted {
        Some(r) => r,
        None => check_at(&values).map_err(|e| fail(&e))?,
    };
    let finite = report.scale.is_finite()
        && report
            .complex_step
            .col_iter()
            .all(|c| c.iter().all(|v| v.is_finite()));
    if !finite {
        return Err(error(
            "the function or its complex-step gradient is not finite at the random values: a \
             function is evaluated outside its domain, or it overflows"
                .to_string(),
            None,
        ));
    }
    let references = report.max_error_references();
    let references_agree = references <= FD_TOLERANCE;
    let agrees = report.max_error_complex_step <= TOLERANCE
        && (report.max_error_finite_difference <= FD_TOLERANCE || !references_agree);
    let sizes: serde_json::Map<String, Value> = values
        .iter()
        .map(|(name, m)| {
            (
                name.to_string(),
                json!(format!("{}x{}", m.nrows(), m.ncols())),
            )
        })
        .collect();
    Ok(json!({
        "ok": true,
        "agrees": agrees,
        "max_error_complex_step": report.max_error_complex_step,
        "max_error_finite_difference": report.max_error_finite_difference,
        "finite_difference_vs_complex_step": references,
        "references_agree": references_agree,
        "tolerance": TOLERANCE,
        "fd_tolerance": FD_TOLERANCE,
        "sizes": sizes,
    }))
}

/// `f((S + S')/2)` in a fresh unconstrained variable `S` named `free`.
fn symmetrised(
    pool: &mut ExprPool,
    d: &Derivation,
    free: &str,
) -> Result<matdiff_expr::ExprId, matdiff_expr::ExprError> {
    let x = pool.var(&d.wrt)?;
    let shape = pool.shape(x);
    pool.declare_var(free, shape, false)?;
    let s = pool.var(free)?;
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
    let map = HashMap::from([(x, sym)]);
    matdiff_rewrite::substitute(pool, d.function, &map)
}

/// Parses the declarations (`;`-separated) and the expression into `pool`.
fn parse(pool: &mut ExprPool, expr: &str, lets: &str) -> Result<Expr, Value> {
    let texts: Vec<&str> = lets
        .split(';')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect();
    let mut decls = Vec::with_capacity(texts.len());
    for (k, text) in texts.iter().enumerate() {
        let decl = Decl::parse(text).map_err(|e| parse_error(&e, text, Some(k)))?;
        decls.push(decl);
    }
    pool.parse_with(expr, &decls).map_err(|e| match e.decl {
        Some(k) => parse_error(&e, texts[k], Some(k)),
        None => parse_error(&e, expr, None),
    })
}

fn derive_in(pool: &mut ExprPool, expr: &str, wrt: &str, lets: &str) -> Result<Derivation, Value> {
    let e = parse(pool, expr, lets)?;
    if wrt.is_empty() {
        return Err(error("choose a variable".to_string(), None));
    }
    derive(pool, &e, wrt, &DeriveOptions::default()).map_err(|e| error(e.to_string(), None))
}

/// A parse error with its span in UTF-16 code units of `source`; `decl` the declaration's
/// index among the non-empty ones, when the error is in one.
fn parse_error(e: &ParseError, source: &str, decl: Option<usize>) -> Value {
    let mut v = error(e.message.clone(), decl);
    v["error"]["start"] = json!(utf16_offset(source, e.span.start));
    v["error"]["end"] = json!(utf16_offset(source, e.span.end.max(e.span.start)));
    v
}

fn error(message: String, decl: Option<usize>) -> Value {
    json!({ "ok": false, "error": { "message": message, "decl": decl } })
}

/// The UTF-16 offset of a byte offset (clamped to the text, rounded down to a character).
fn utf16_offset(text: &str, byte: usize) -> usize {
    let mut b = byte.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    text[..b].encode_utf16().count()
}

#[cfg(test)]
mod tests;
