//! `cargo xtask`: project automation, in Rust (the xtask pattern).
//!
//! Run `cargo xtask` with no argument for the list of tasks.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

mod bench;
mod check_derivations;
mod docs;
mod test;
mod tidy;
mod web;

const TASKS: &[(&str, &str)] = &[
    (
        "test",
        "every test: cargo test (with the derivation catalog), tidy, the docs check (what CI runs)",
    ),
    (
        "check-derivations",
        "derive every catalog entry, compare with its snapshot, check it numerically",
    ),
    (
        "tidy",
        "file lengths, rule ids of the catalog, no include across packages",
    ),
    (
        "docs",
        "regenerate docs/method.md from the rule catalog (--check: fail if out of date)",
    ),
    (
        "fuzz-differential",
        "N random expressions (default 1,000,000) against the complex step, in release mode",
    ),
    (
        "fuzz-second-order",
        "N random cases (default 100,000) of HVPs, Hessians and Jacobians, in release mode",
    ),
    (
        "web",
        "build the browser playground into target/web/ (--serve [PORT]: serve it on loopback)",
    ),
    (
        "bench",
        "run the criterion benches and write target/bench-summary.md",
    ),
];

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(task) = args.first() else {
        println!("cargo xtask TASK\n\ntasks:");
        for (name, what) in TASKS {
            println!("  {name:<18} {what}");
        }
        return Ok(());
    };
    let rest = &args[1..];
    match task.as_str() {
        "test" => test::run(rest),
        "check-derivations" => check_derivations::run(rest),
        "docs" => docs::run(rest),
        "tidy" => tidy::run(rest),
        "bench" => bench::run(rest),
        "web" => web::run(rest),
        "fuzz-differential" => {
            let cases = rest.first().map_or("1000000", String::as_str);
            cargo(&[
                "run",
                "--release",
                "-p",
                "matdiff-testkit",
                "--example",
                "fuzz_differential",
                "--",
                cases,
            ])
        }
        "fuzz-second-order" => {
            let cases = rest.first().map_or("100000", String::as_str);
            cargo(&[
                "run",
                "--release",
                "-p",
                "matdiff-testkit",
                "--example",
                "fuzz_second_order",
                "--",
                cases,
            ])
        }
        other => bail!("unknown task '{other}'; run `cargo xtask` for the list"),
    }
}

/// The workspace root.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask is in the workspace")
        .to_path_buf()
}

/// Runs cargo with inherited output; fails when it fails.
fn cargo(args: &[&str]) -> Result<()> {
    cargo_with_env(args, &[])
}

/// Runs cargo with inherited output and extra environment variables; fails when it fails.
fn cargo_with_env(args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(project_root())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}
