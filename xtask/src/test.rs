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
        run: || python(&["-m", "pip", "install", "-q", "-r", "requirements-test.txt"]),
    },
    Step {
        name: "cargo test --workspace",
        run: || crate::cargo(&["test", "--workspace"]),
    },
    Step {
        name: "tidy",
        run: || crate::tidy::run(&[]),
    },
    Step {
        name: "method guide up to date",
        run: || crate::docs::run(&["--check".to_string()]),
    },
    Step {
        name: "python package matdiff (pytest)",
        run: || {
            // Builds the extension (maturin, the `wheel` profile) and installs it, then runs
            // the Python tests: the scikit-learn checks, the Dask cluster, the notebook.
            python(&["-m", "pip", "install", "-q", "./crates/matdiff-py"])?;
            python(&[
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "crates/matdiff-py/tests",
            ])
        },
    },
    Step {
        name: "browser playground",
        run: browser_playground,
    },
];

/// Runs `python3` with inherited output in the workspace root; fails when it fails.
fn python(args: &[&str]) -> Result<()> {
    let status = std::process::Command::new("python3")
        .args(args)
        .current_dir(crate::project_root())
        .status()
        .context("running python3")?;
    if !status.success() {
        anyhow::bail!("python3 {} failed", args.join(" "));
    }
    Ok(())
}

/// The playground's tests in headless Debian chromium (web/test/), on the site `cargo xtask web`
/// builds; installs chromium (apt), the npm packages, the wasm32 target and wasm-bindgen-cli.
fn browser_playground() -> Result<()> {
    let root = crate::project_root();
    if !std::path::Path::new("/usr/bin/chromium").exists() {
        crate::web::run_in(&root, "apt-get", &["update", "-q"])?;
        crate::web::run_in(&root, "apt-get", &["install", "-y", "-q", "chromium"])?;
    }
    crate::web::npm_ci(&root)?;
    crate::web::build()?;
    crate::web::run_in(&root, "node", &["--test", "web/test/playground.test.mjs"])
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
