//! The derivation catalog (`tests/derivations/*.txt`): every entry is derived, its step-by-step
//! text snapshot-tested, its gradient and its literature form checked against the complex-step
//! gradient at three random size draws, and every step of it checked numerically.

use std::sync::Mutex;

// Shared with `cargo xtask check-derivations` and the code generators' tests.
use matdiff_testkit::catalog;

#[test]
fn derivations() {
    let failures = Mutex::new(Vec::new());
    insta::glob!("derivations/*.txt", |path| {
        let entry = match catalog::read_entry(path) {
            Ok(entry) => entry,
            Err(e) => {
                failures.lock().unwrap().push(e);
                return;
            }
        };
        let outcome = catalog::check_entry(&entry);
        for failure in &outcome.failures {
            // Printed now too: a snapshot mismatch makes insta panic before the summary below.
            eprintln!("{}: {failure}", entry.name);
            failures
                .lock()
                .unwrap()
                .push(format!("{}: {failure}", entry.name));
        }
        if !outcome.text.is_empty() {
            insta::assert_snapshot!(outcome.text);
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn catalog_is_complete() {
    let files = catalog::catalog_files();
    assert!(files.len() >= 80, "only {} catalog entries", files.len());
}

#[test]
fn a_wrong_literature_form_fails() {
    let mut entry =
        catalog::parse_entry("name: wrong\nsource: test\nexpr: tr(A*X)\nwrt: X\nliterature: A\n")
            .unwrap();
    let outcome = catalog::check_entry(&entry);
    assert!(
        outcome.failures.iter().any(|f| f.contains("literature")),
        "{:?}",
        outcome.failures
    );
    entry.literature = "A'".into();
    assert!(catalog::check_entry(&entry).passed());
}
