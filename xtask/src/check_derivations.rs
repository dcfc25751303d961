//! `cargo xtask check-derivations`: derives every catalog entry, compares its step-by-step text
//! with the committed snapshot, checks it numerically, prints a table and runs the snapshot test.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use crate::{cargo_with_env, project_root};
use matdiff_testkit::catalog::{self, Outcome};

/// Runs the task. `--review` updates the snapshots instead (read the diff before committing);
/// `--no-test` skips the `cargo test` run; `--verbose` prints every derivation and its
/// literature form.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let test = ["test", "-p", "matdiff-rewrite", "--test", "derivations"];
    if args.iter().any(|a| a == "--review") {
        return review(&test);
    }
    let verbose = args.iter().any(|a| a == "--verbose");
    let start = Instant::now();
    let files = catalog::catalog_files();
    let mut outcomes = Vec::new();
    for path in &files {
        let outcome = match catalog::read_entry(path) {
            Ok(entry) => {
                let mut outcome = catalog::check_entry(&entry);
                if !outcome.text.is_empty() {
                    compare_snapshot(&mut outcome);
                }
                outcome
            }
            Err(e) => Outcome {
                name: path.display().to_string(),
                failures: vec![e],
                ..Outcome::default()
            },
        };
        outcomes.push(outcome);
    }
    let elapsed = start.elapsed();
    let test_ok = if args.iter().any(|a| a == "--no-test") {
        true
    } else {
        cargo_with_env(&test, &[("INSTA_UPDATE", "no")]).is_ok()
    };

    let width = outcomes
        .iter()
        .map(|o| o.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "\n{:<width$}  {:>5}  {:<6}  {:>9}  {:>9}  {:>11}",
        "name", "steps", "result", "max error", "time", "ops/lit"
    );
    for o in &outcomes {
        let result = if o.passed() { "ok" } else { "FAILED" };
        let longer = if o.ops.0 > o.ops.1 { " longer" } else { "" };
        println!(
            "{:<width$}  {:>5}  {:<6}  {:>9.1e}  {:>7.2}ms  {:>4}/{:<4}{longer}",
            o.name,
            o.steps,
            result,
            o.max_error(),
            o.time.as_secs_f64() * 1e3,
            o.ops.0,
            o.ops.1,
        );
        for failure in &o.failures {
            println!("    {failure}");
        }
        if verbose {
            println!(
                "{}    result:     {}\n    literature: {}\n",
                o.text, o.gradient, o.literature
            );
        }
    }
    let failed = outcomes.iter().filter(|o| !o.passed()).count();
    let passed = outcomes.len() - failed;
    println!(
        "\nchecked {} entries in {:.1}s (max error: gradient, literature form and steps against the complex step; ops/lit: operators of the result and of the literature form)",
        outcomes.len(),
        elapsed.as_secs_f64()
    );
    if !test_ok {
        println!("cargo {} failed", test.join(" "));
    }
    println!("{passed} passed, {failed} failed");
    if failed > 0 || !test_ok {
        std::process::exit(1);
    }
    Ok(())
}

/// The committed snapshot of an entry.
pub(crate) fn snapshot_path(name: &str) -> PathBuf {
    project_root()
        .join("crates/matdiff-rewrite/tests/snapshots")
        .join(format!("derivations__derivations@{name}.txt.snap"))
}

/// The content of an insta snapshot file (after its header).
pub(crate) fn snapshot_content(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let rest = text.strip_prefix("---\n")?;
    let end = rest.find("\n---\n")?;
    Some(rest[end + 5..].to_string())
}

fn compare_snapshot(outcome: &mut Outcome) {
    let path = snapshot_path(&outcome.name);
    match snapshot_content(&path) {
        None => outcome.failures.push(format!(
            "no snapshot {} (run `cargo xtask check-derivations --review`)",
            path.display()
        )),
        Some(content) if content.trim_end() != outcome.text.trim_end() => {
            outcome.failures.push(format!(
                "the derivation differs from its snapshot {}",
                path.display()
            ))
        }
        Some(_) => {}
    }
}

/// Updates the snapshots: with `cargo insta review` when it is installed, else by writing them
/// all (`INSTA_UPDATE=always`) for review with `git diff`.
fn review(test: &[&str]) -> Result<()> {
    let has_insta = std::process::Command::new("cargo")
        .args(["insta", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if has_insta {
        let _ = cargo_with_env(test, &[("INSTA_UPDATE", "new")]);
        return cargo_with_env(&["insta", "review"], &[]);
    }
    let _ = cargo_with_env(test, &[("INSTA_UPDATE", "always")]);
    println!(
        "snapshots written; review them with `git diff crates/matdiff-rewrite/tests/snapshots` before committing"
    );
    Ok(())
}
