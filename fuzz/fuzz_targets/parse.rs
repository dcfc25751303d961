//! Fuzz target: parse arbitrary UTF-8 (alone, and after `;;` with declarations), print in every
//! style, and check that the plain form parses again to the same node.
#![no_main]

use libfuzzer_sys::fuzz_target;
use matdiff_expr::{Decl, ExprPool, Style};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // `EXPR;;DECL;;DECL...`: the parts after the first `;;` are declarations.
    let mut parts = text.split(";;");
    let src = parts.next().unwrap_or("");
    let mut decls = Vec::new();
    for part in parts {
        match Decl::parse(part) {
            Ok(d) => decls.push(d),
            Err(e) => {
                // Rendering an error never panics, whatever the span.
                let _ = e.render(part);
            }
        }
    }
    let mut pool = ExprPool::new();
    let parsed = pool.parse_with(src, &decls);
    let e = match parsed {
        Ok(e) => e,
        Err(e) => {
            let _ = e.render(src);
            return;
        }
    };
    let plain = pool
        .printer(Style::Plain)
        .with_bindings(&e.bindings)
        .print(e.root);
    let _ = pool
        .printer(Style::Unicode)
        .with_bindings(&e.bindings)
        .print(e.root);
    let _ = pool
        .printer(Style::Latex)
        .with_bindings(&e.bindings)
        .print(e.root);
    let again = match pool.parse(&plain) {
        Ok(again) => again,
        Err(err) => panic!(
            "the plain form does not parse again\n  input: {src:?}\n  plain: {plain:?}\n{}",
            err.render(&plain)
        ),
    };
    assert_eq!(
        again.root, e.root,
        "the plain form parses to another node\n  input: {src:?}\n  plain: {plain:?}"
    );
});
