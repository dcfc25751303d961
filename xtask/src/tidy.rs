//! `cargo xtask tidy`: the project's structural rules, checked on the sources.
//!
//! - no file in `crates/*/src` is over 1,000 lines;
//! - every rule id the code names exists in the catalog (`RuleId::X` is checked by the compiler,
//!   ids written as text here), and every row of the catalog is used by the rewriter;
//! - no `#[path]`, `include!`, `include_str!` or `include_bytes!` reaches into another package
//!   (shared test code lives in `matdiff-testkit`).

use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Result};

/// Longest source file, in lines.
const MAX_LINES: usize = 1_000;

/// Runs every check and reports every violation; fails when there is one.
pub(crate) fn run(_args: &[String]) -> Result<()> {
    let root = crate::project_root();
    let mut problems = Vec::new();
    problems.extend(long_files(&root));
    problems.extend(rule_ids(&root));
    problems.extend(includes_across_packages(&root));
    if problems.is_empty() {
        eprintln!("tidy: ok");
        return Ok(());
    }
    for p in &problems {
        eprintln!("tidy: {p}");
    }
    bail!("tidy: {} problem(s)", problems.len())
}

/// Every `.rs` file under `dir`, sorted (`target` directories skipped).
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if path.is_dir() {
                if !matches!(
                    path.file_name().and_then(|n| n.to_str()),
                    Some("target" | "node_modules" | ".git")
                ) {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|x| x == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Files of `crates/*/src` over [`MAX_LINES`].
fn long_files(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files(&root.join("crates")) {
        let name = relative(root, &path);
        if name.split('/').nth(2).is_none_or(|d| d != "src") {
            continue;
        }
        let lines = std::fs::read_to_string(&path).map_or(0, |t| t.lines().count());
        if lines > MAX_LINES {
            problems.push(format!(
                "{name} has {lines} lines, over {MAX_LINES}: split it along its seams"
            ));
        }
    }
    problems
}

/// Rule ids written as text that the catalog lacks, and rows the rewriter never cites.
fn rule_ids(root: &Path) -> Vec<String> {
    use matdiff_rewrite::{rule, RULES};
    let mut problems = Vec::new();
    for b in matdiff_expr::BUILTINS {
        if rule(b.rule).is_none() {
            problems.push(format!(
                "built-in function {} cites rule {}, which the catalog lacks",
                b.name, b.rule
            ));
        }
    }
    let mut sources = String::new();
    for path in rust_files(root) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let name = relative(root, &path);
        for needle in ["rule(\"", "RuleId::parse(\""] {
            for (at, _) in text.match_indices(needle) {
                let id: String = text[at + needle.len()..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect();
                // Doc examples may show an id that is missing on purpose.
                let line_start = text[..at].rfind('\n').map_or(0, |n| n + 1);
                let comment = text[line_start..at].trim_start().starts_with("//");
                if rule(&id).is_none() && !comment {
                    problems.push(format!("{name}: rule id {id:?} is not in the catalog"));
                }
            }
        }
        if name.starts_with("crates/matdiff-rewrite/src/") && !name.ends_with("rules.rs") {
            sources.push_str(&text);
        }
    }
    let builtin_rules: Vec<&str> = matdiff_expr::BUILTINS.iter().map(|b| b.rule).collect();
    for r in RULES {
        let id = r.id.as_str();
        let cited = sources
            .match_indices(&format!("RuleId::{id}"))
            .any(|(at, m)| {
                !sources[at + m.len()..].starts_with(|c: char| c.is_ascii_alphanumeric())
            });
        if !cited && !builtin_rules.contains(&id) {
            problems.push(format!(
                "rule {id} ({}) is in the catalog but no code of the rewriter cites it",
                r.name
            ));
        }
    }
    problems
}

/// `#[path]` and `include*!` of a literal path that leaves the package of the file.
fn includes_across_packages(root: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for path in rust_files(root) {
        let Some(package) = package_root(&path) else {
            continue;
        };
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let dir = path.parent().expect("a file has a directory");
        for needle in [
            "#[path = \"",
            "include!(\"",
            "include_str!(\"",
            "include_bytes!(\"",
        ] {
            for (at, _) in text.match_indices(needle) {
                let target: String = text[at + needle.len()..]
                    .chars()
                    .take_while(|c| *c != '"')
                    .collect();
                let resolved = normalise(&dir.join(&target));
                if !resolved.starts_with(&package) {
                    let line = text[..at].lines().count().max(1);
                    problems.push(format!(
                        "{}:{line}: {needle}{target}\" reaches into another package; put shared \
                         code in matdiff-testkit (or a crate of its own) and depend on it",
                        relative(root, &path),
                    ));
                }
            }
        }
    }
    problems
}

/// The directory of the nearest `Cargo.toml` above `file`.
fn package_root(file: &Path) -> Option<PathBuf> {
    file.ancestors()
        .skip(1)
        .find(|d| d.join("Cargo.toml").is_file())
        .map(Path::to_path_buf)
}

/// `path` with `.` and `..` resolved lexically.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_resolved_against_their_package() {
        assert_eq!(
            normalise(Path::new("/w/crates/a/tests/../../b/src/x.rs")),
            PathBuf::from("/w/crates/b/src/x.rs")
        );
        let root = crate::project_root();
        let file = root.join("crates/matdiff-expr/src/lib.rs");
        assert_eq!(package_root(&file), Some(root.join("crates/matdiff-expr")));
    }
}
