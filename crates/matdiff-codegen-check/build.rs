//! Generates the Rust functions of catalog entries (all that the Rust target translates) into
//! `OUT_DIR/generated.rs`: one function per entry, named after it, and a table of them.

use std::fmt::Write;

use matdiff_testkit::catalog;

use matdiff_codegen::{ArgumentKind, Lang, Options, Program};

/// An expression whose variables are named like the generated body's own names.
const RESERVED_NAMES: &str = "sum(exp(out) .* s .* t) + tr(A*inv(B)) + sigmoid(a'*b)";

fn main() {
    println!("cargo::rerun-if-changed=../matdiff-rewrite/tests/derivations");
    // The entries the generators refuse, with the reason (shared with the NumPy and JAX test).
    let excluded: Vec<&str> = matdiff_testkit::codegen_cases::excluded()
        .into_iter()
        .map(|x| x.0)
        .collect();
    let mut out = String::new();
    let mut names = Vec::new();
    for path in catalog::catalog_files() {
        let entry = catalog::read_entry(&path).expect("a catalog entry");
        let (pool, d, _) = catalog::derive_entry(&entry).expect("the entry derives");
        let lowered = Program::new(&pool, &d.bindings, std::slice::from_ref(&d));
        let listed = excluded.contains(&entry.name.as_str());
        let program = match (lowered, listed) {
            (Ok(_), true) => panic!("{} is listed as excluded but lowers", entry.name),
            (Err(_), true) => continue,
            (Err(e), false) => panic!("{} does not lower: {e}", entry.name),
            (Ok(p), false) => p,
        };
        let options = Options {
            name: entry.name.clone(),
            ..Options::default()
        };
        let code = program.print(Lang::Rust, &options).expect("rust code");
        out.push_str(&code);
        out.push('\n');
        // A wrapper with one signature for all: values and functions by name.
        let args: Vec<String> = program
            .arguments()
            .iter()
            .map(|a| match a.kind {
                ArgumentKind::Scalar => format!("v[{:?}][(0, 0)]", a.name),
                ArgumentKind::Matrix => format!("v[{:?}].as_ref()", a.name),
                ArgumentKind::Function => format!("f({:?})", a.name),
            })
            .collect();
        let _ = writeln!(
            out,
            "#[allow(unused_variables)]\nfn run_{0}(v: &crate::Values, f: &crate::Functions<'_>) -> (f64, faer::Mat<f64>) {{\n    let (value, gradient) = {0}({1});\n    (value, crate::IntoMat::into_mat(gradient))\n}}\n",
            entry.name,
            args.join(", ")
        );
        names.push(entry.name);
    }
    // Variables named like the locals and helpers of the generated body.
    let options = Options {
        name: "reserved_names".to_string(),
        ..Options::default()
    };
    let code = matdiff_codegen::codegen(RESERVED_NAMES, &["out", "s"], &[], Lang::Rust, &options)
        .expect("rust code");
    out.push_str(&code);
    let _ = writeln!(out, "/// The expression of [`reserved_names`].");
    let _ = writeln!(out, "pub const RESERVED_NAMES: &str = {RESERVED_NAMES:?};");
    let _ = writeln!(
        out,
        "/// The generated functions by name, each through its wrapper."
    );
    let _ = writeln!(
        out,
        "pub const GENERATED: [(&str, crate::Run); {}] = [{}];",
        names.len(),
        names
            .iter()
            .map(|n| format!("({n:?}, run_{n})"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let dir = std::env::var("OUT_DIR").expect("OUT_DIR");
    std::fs::write(std::path::Path::new(&dir).join("generated.rs"), out)
        .expect("OUT_DIR is writable");
}
