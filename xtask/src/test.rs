//! `cargo xtask test`: every test of the project, in the order CI runs them.
//!
//! Each step is one line of [`STEPS`]; a front end with tests outside cargo (Python, the browser)
//! adds its step here, installing what it needs first, so that this one command stays the
//! README's test command and `.ci/run` calls nothing else.

use anyhow::{Context, Result};

/// One step of the test run: its name and what it runs.
struct Step {
    name: &'static str,
    run: fn() -> Result<()>,
}

const STEPS: &[Step] = &[
    Step {
        name: "python packages",
        run: python_packages,
    },
    Step {
        name: "cargo test --workspace",
        run: || crate::cargo(&["test", "--workspace"]),
    },
    Step {
        name: "derivation catalog",
        run: || crate::check_derivations::run(&[]),
    },
    Step {
        name: "method guide up to date",
        run: || crate::docs::run(&["--check".to_string()]),
    },
];

/// `python3 -m pip install -q -r requirements-test.txt`: what the Python tests need.
fn python_packages() -> Result<()> {
    let status = std::process::Command::new("python3")
        .args(["-m", "pip", "install", "-q", "-r", "requirements-test.txt"])
        .current_dir(crate::project_root())
        .status()
        .context("running python3 -m pip (is python3 installed?)")?;
    if !status.success() {
        anyhow::bail!("python3 -m pip install -r requirements-test.txt failed");
    }
    Ok(())
}

/// Runs every step (or those whose name contains one of `args`), stopping at the first failure.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let chosen: Vec<&Step> = STEPS
        .iter()
        .filter(|s| args.is_empty() || args.iter().any(|a| s.name.contains(a.as_str())))
        .collect();
    for step in &chosen {
        eprintln!("==> {}", step.name);
        (step.run)()?;
    }
    eprintln!("==> all {} test steps passed", chosen.len());
    Ok(())
}
