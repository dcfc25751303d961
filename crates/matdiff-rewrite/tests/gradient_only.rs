//! `DeriveOptions::gradient_only` records no steps and gives the same gradient, printed the same
//! in every style with the same bindings, as the derivation with its steps: over the catalog,
//! the acceptance table and drawn expressions (structured variables among them).

use matdiff_expr::{Decl, ExprPool, Style};
use matdiff_rewrite::{derive, DeriveOptions};
use matdiff_testkit::acceptance::CASES;
use matdiff_testkit::catalog::{catalog_files, read_entry};
use matdiff_testkit::generate::{draw, STRUCTURED, VARIABLES};

/// The gradient in every style with its bindings and flags, or the error, and the number of
/// steps.
fn derived(
    src: &str,
    wrt: &str,
    decls: &[Decl],
    upstream: Option<&str>,
    gradient_only: bool,
) -> (Result<String, String>, usize) {
    let mut pool = ExprPool::new();
    let e = match pool.parse_with(src, decls) {
        Ok(e) => e,
        Err(err) => return (Err(format!("parse: {err}")), 0),
    };
    let options = DeriveOptions {
        upstream: upstream.map(str::to_string),
        gradient_only,
        ..DeriveOptions::default()
    };
    match derive(&mut pool, &e, wrt, &options) {
        Err(err) => (Err(err.to_string()), 0),
        Ok(d) => {
            let text = [Style::Plain, Style::Unicode, Style::Latex]
                .map(|style| d.gradient_text(&pool, style))
                .join("\n");
            let names: Vec<&str> = d.bindings.iter().map(|b| b.0.as_str()).collect();
            let flags = (d.symmetric, d.absent, d.diagonal, d.triangle);
            (Ok(format!("{text}\n{names:?} {flags:?}")), d.steps.len())
        }
    }
}

/// Derives both ways and compares; returns whether the derivation succeeded.
fn same_both_ways(src: &str, wrt: &str, decls: &[Decl], upstream: Option<&str>) -> bool {
    let (full, steps) = derived(src, wrt, decls, upstream, false);
    let (only, no_steps) = derived(src, wrt, decls, upstream, true);
    assert_eq!(
        full, only,
        "{src} by {wrt}: gradient_only changes the gradient"
    );
    assert_eq!(no_steps, 0, "{src} by {wrt}: gradient_only recorded steps");
    if full.is_ok() {
        assert!(steps > 0, "{src} by {wrt}: no steps recorded");
    }
    full.is_ok()
}

#[test]
fn catalog_gradients_are_the_same_without_steps() {
    let files = catalog_files();
    assert!(files.len() > 200, "the catalog has {} entries", files.len());
    for path in files {
        let entry = read_entry(&path).unwrap();
        let decls: Vec<Decl> = entry
            .decls
            .iter()
            .map(|d| Decl::parse(d).unwrap())
            .collect();
        let ok = same_both_ways(&entry.expr, &entry.wrt, &decls, entry.upstream.as_deref());
        assert!(ok, "{}: the catalog entry does not derive", entry.name);
    }
}

#[test]
fn acceptance_gradients_are_the_same_without_steps() {
    for &(src, wrt, lets, upstream, _) in CASES {
        let decls: Vec<Decl> = lets.iter().map(|l| Decl::parse(l).unwrap()).collect();
        assert!(same_both_ways(src, wrt, &decls, upstream), "{src}");
    }
}

#[test]
fn drawn_gradients_are_the_same_without_steps() {
    let decls: Vec<Decl> = VARIABLES
        .iter()
        .map(|&(name, rows, cols)| {
            let structure = STRUCTURED.iter().find(|s| s.0 == name).map_or("", |s| s.1);
            Decl::parse(&format!("{name}: {rows}x{cols} {structure}")).unwrap()
        })
        .collect();
    let mut derived = 0;
    for seed in 0..400 {
        let drawn = draw(seed);
        if same_both_ways(&drawn.text, &drawn.wrt, &decls, None) {
            derived += 1;
        }
    }
    // Most drawn expressions derive; the others must fail the same way both ways.
    assert!(
        derived > 300,
        "only {derived} of 400 drawn expressions derive"
    );
}

#[test]
fn an_absent_variable_records_no_steps_either() {
    let decls = [Decl::parse("X: 3x2").unwrap()];
    assert!(same_both_ways("tr(A*B)", "X", &decls, None));
}
