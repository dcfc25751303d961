//! `cargo xtask web`: the playground as a static site in `target/web/` (`--serve`: on loopback).
//!
//! The engine (`crates/matdiff-web`) is built for wasm32 and bound with wasm-bindgen-cli pinned
//! to the wasm-bindgen version of Cargo.lock; esbuild (npm, `web/package-lock.json`) bundles
//! `web/src` with KaTeX and its fonts, so the site needs no network once loaded.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::project_root;

const TARGET: &str = "wasm32-unknown-unknown";

/// Builds the site; with `--serve [PORT]` serves it on 127.0.0.1 afterwards.
pub(crate) fn run(args: &[String]) -> Result<()> {
    let site = build()?;
    match args.first().map(String::as_str) {
        None => Ok(()),
        Some("--serve") => {
            let port = args.get(1).map_or("8000", String::as_str);
            eprintln!("serving {} on http://127.0.0.1:{port}/", site.display());
            run_in(
                &project_root(),
                "node",
                &["web/serve.mjs", &site.to_string_lossy(), port],
            )
        }
        Some(other) => bail!("unknown option '{other}' (cargo xtask web [--serve [PORT]])"),
    }
}

/// Installs what the build needs (the wasm32 target, wasm-bindgen-cli at the locked version, the
/// npm packages) and builds `target/web/`; returns its path.
pub(crate) fn build() -> Result<PathBuf> {
    let root = project_root();
    install_tools(&root)?;
    // Smaller and faster code for the page only: the workspace's release profile is unchanged.
    crate::cargo_with_env(
        &[
            "build",
            "-p",
            "matdiff-web",
            "--target",
            TARGET,
            "--release",
        ],
        &[
            ("CARGO_PROFILE_RELEASE_LTO", "true"),
            ("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1"),
            ("CARGO_PROFILE_RELEASE_PANIC", "abort"),
        ],
    )?;
    let target = root.join("target");
    let pkg = target.join("web-pkg");
    let site = target.join("web");
    for dir in [&pkg, &site] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    let wasm = target.join(TARGET).join("release").join("matdiff_web.wasm");
    run_in(
        &root,
        "wasm-bindgen",
        &[
            "--target",
            "web",
            "--no-typescript",
            "--out-dir",
            &pkg.to_string_lossy(),
            &wasm.to_string_lossy(),
        ],
    )?;
    run_in(
        &root,
        "web/node_modules/.bin/esbuild",
        &[
            "web/src/main.js",
            "--bundle",
            "--format=esm",
            "--minify",
            "--alias:matdiff-engine=./target/web-pkg/matdiff_web.js",
            "--loader:.woff2=file",
            "--loader:.woff=file",
            "--loader:.ttf=file",
            "--log-level=warning",
            &format!("--outdir={}", site.display()),
        ],
    )?;
    for (from, to) in [
        (root.join("web/src/index.html"), site.join("index.html")),
        (
            pkg.join("matdiff_web_bg.wasm"),
            site.join("matdiff_web_bg.wasm"),
        ),
    ] {
        std::fs::copy(&from, &to).with_context(|| format!("copying {}", from.display()))?;
    }
    eprintln!("built {}", site.display());
    Ok(site)
}

/// The wasm32 target, wasm-bindgen-cli at the version of the wasm-bindgen crate in Cargo.lock
/// (installed when `wasm-bindgen --version` prints another), and `npm ci` when the npm packages
/// are missing.
fn install_tools(root: &Path) -> Result<()> {
    let installed = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == TARGET) {
        run_in(root, "rustup", &["target", "add", TARGET])?;
    }
    let version = locked_version(root, "wasm-bindgen")?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if have.split_whitespace().nth(1) != Some(version.as_str()) {
        crate::cargo(&[
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={version}"),
        ])?;
    }
    if !root.join("web/node_modules/.bin/esbuild").exists() {
        npm_ci(root)?;
    }
    Ok(())
}

/// `npm ci` in `web/` (the versions of `web/package-lock.json`).
pub(crate) fn npm_ci(root: &Path) -> Result<()> {
    run_in(
        &root.join("web"),
        "npm",
        &["ci", "--no-audit", "--no-fund", "--loglevel=error"],
    )
}

/// The version of a package in Cargo.lock.
fn locked_version(root: &Path, name: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).context("reading Cargo.lock")?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{name}\"") {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = ")) {
                return Ok(v.trim_matches('"').to_string());
            }
        }
    }
    bail!("{name} is not in Cargo.lock")
}

/// The standard output of a command, when it runs and succeeds.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program in `dir` with inherited output; fails when it fails or is missing.
pub(crate) fn run_in(dir: &Path, program: &str, args: &[&str]) -> Result<()> {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .status()
        .with_context(|| format!("running {program} (is it installed?)"))?;
    if !status.success() {
        bail!("{program} {} failed", args.join(" "));
    }
    Ok(())
}
