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

use matdiff_expr::{Decl, Expr, ExprPool, ParseError, Style};
use matdiff_faer::{verify_gradient, VerifyOptions};
use matdiff_rewrite::{derive, Derivation, DeriveOptions, StepKind, RULES};
use serde_json::{json, Value};
use wasm_bindgen::prelude::wasm_bindgen;

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
                "rules": s.rules.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
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
        .map(|r| json!({ "id": r.id.as_str(), "name": r.name, "plain": r.plain, "latex": r.latex }))
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
    let options = VerifyOptions {
        seed,
        ..VerifyOptions::default()
    };
    let verdict = verify_gradient(&pool, d.function, wrt, d.gradient, None, &options)
        .map_err(|e| error(e.to_string(), None))?;
    if !verdict.finite() {
        return Err(error(
            "the function or its complex-step gradient is not finite at the random values: a \
             function is evaluated outside its domain, or it overflows"
                .to_string(),
            None,
        ));
    }
    let report = &verdict.check;
    let sizes: serde_json::Map<String, Value> = verdict
        .values
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
        "agrees": verdict.ok,
        "max_error_complex_step": report.max_error_complex_step,
        "max_error_finite_difference": report.max_error_finite_difference,
        "finite_difference_vs_complex_step": report.max_error_references(),
        "references_agree": verdict.references_agree,
        "tolerance": options.tolerances.complex_step,
        "fd_tolerance": options.tolerances.finite_difference,
        "sizes": sizes,
    }))
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
    let d =
        derive(pool, &e, wrt, &DeriveOptions::default()).map_err(|e| error(e.to_string(), None))?;
    // A gradient whose text could not name a size is refused, not shown unevaluable.
    d.complete_gradient_text(pool)
        .map_err(|e| error(e.to_string(), None))?;
    Ok(d)
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
