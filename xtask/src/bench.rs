//! `cargo xtask bench`: runs the criterion benches of the workspace and writes a Markdown summary
//! (medians, and the ratios each bench group compares) to `target/bench-summary.md`.
//!
//! Ratios: in a group with a reference member (its name contains `hand-written`, `handwritten`,
//! `faer`, `baseline` or `reference`), every other member is divided by the reference with the
//! same parameter (or by the only reference); in a group whose members are numeric parameters
//! (`trace-sum/10`, `/100`, ...), each member is divided by the previous size.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::Value;

use crate::{cargo, project_root};

const REFERENCE_NAMES: &[&str] = &[
    "hand-written",
    "handwritten",
    "faer",
    "baseline",
    "reference",
];

/// Runs the benches (unless `--summary-only`), then writes the summary. Arguments after `--` go
/// to criterion (for example a filter).
pub(crate) fn run(args: &[String]) -> Result<()> {
    let (ours, criterion_args) = match args.iter().position(|a| a == "--") {
        Some(i) => (&args[..i], &args[i + 1..]),
        None => (args, &[][..]),
    };
    if !ours.iter().any(|a| a == "--summary-only") {
        let mut cmd = vec!["bench", "-p", "matdiff-benches"];
        if !criterion_args.is_empty() {
            cmd.push("--");
            cmd.extend(criterion_args.iter().map(String::as_str));
        }
        cargo(&cmd)?;
    }
    let target = target_dir();
    let results = read_results(&target.join("criterion"))?;
    let summary = summarize(&results);
    let path = target.join("bench-summary.md");
    std::fs::write(&path, &summary).with_context(|| format!("writing {}", path.display()))?;
    println!("{summary}");
    println!("wrote {}", path.display());
    Ok(())
}

/// One criterion result.
#[derive(Clone, Debug, PartialEq)]
struct Bench {
    group: String,
    function: String,
    value: String,
    /// The median time of one iteration, in nanoseconds.
    median_ns: f64,
}

impl Bench {
    fn id(&self) -> String {
        [&self.group, &self.function, &self.value]
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Whether this is a reference member: by its function name (`faer hand-written/64`) or by
    /// its parameter (`loss/faer`).
    fn is_reference(&self) -> bool {
        is_reference_name(&self.function) || is_reference_name(&self.value)
    }
}

fn is_reference_name(name: &str) -> bool {
    let name = name.to_lowercase();
    REFERENCE_NAMES.iter().any(|r| name.contains(r))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| {
            if p.is_relative() {
                project_root().join(p)
            } else {
                p
            }
        })
        .unwrap_or_else(|| project_root().join("target"))
}

/// Every `new/benchmark.json` + `new/estimates.json` pair under the criterion directory.
fn read_results(dir: &Path) -> Result<Vec<Bench>> {
    let mut out = Vec::new();
    if dir.is_dir() {
        walk(dir, &mut out)?;
    }
    out.sort_by_key(Bench::id);
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<Bench>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            if let Some(b) = read_bench(&path)? {
                out.push(b);
            }
        } else if path
            .file_name()
            .is_some_and(|n| n != "report" && n != "base")
        {
            walk(&path, out)?;
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

fn read_bench(new: &Path) -> Result<Option<Bench>> {
    let (meta, estimates) = (new.join("benchmark.json"), new.join("estimates.json"));
    if !meta.is_file() || !estimates.is_file() {
        return Ok(None);
    }
    let meta = read_json(&meta)?;
    let estimates = read_json(&estimates)?;
    let text = |v: &Value, key: &str| v.get(key).and_then(Value::as_str).unwrap_or("").to_string();
    let Some(median) = estimates
        .pointer("/median/point_estimate")
        .and_then(Value::as_f64)
    else {
        return Ok(None);
    };
    Ok(Some(Bench {
        group: text(&meta, "group_id"),
        function: text(&meta, "function_id"),
        value: text(&meta, "value_str"),
        median_ns: median,
    }))
}

/// The Markdown summary: one table per group.
fn summarize(results: &[Bench]) -> String {
    let mut groups: BTreeMap<&str, Vec<&Bench>> = BTreeMap::new();
    for b in results {
        groups.entry(b.group.as_str()).or_default().push(b);
    }
    let mut out = String::from("# Bench summary\n\n");
    if results.is_empty() {
        out.push_str("No criterion results found: run `cargo xtask bench`.\n");
        return out;
    }
    let _ = writeln!(
        out,
        "Medians of criterion's estimates (`target/criterion/**/new/estimates.json`): the latest \
         result of each bench on this machine (a filtered run leaves the others as they were). A \
         ratio divides a median by the one it is compared with, measured in the same run when the \
         whole group ran.\n"
    );
    for (group, benches) in groups {
        let _ = writeln!(out, "## {group}\n");
        let _ = writeln!(out, "| bench | median | ratio | compared with |");
        let _ = writeln!(out, "|---|---:|---:|---|");
        let numeric = benches
            .iter()
            .all(|b| b.function.is_empty() && b.value.parse::<f64>().is_ok())
            || benches
                .iter()
                .all(|b| b.value.is_empty() && b.function.parse::<f64>().is_ok());
        let mut sorted = benches.clone();
        if numeric {
            sorted.sort_by(|a, b| param(a).total_cmp(&param(b)));
        }
        for (i, b) in sorted.iter().enumerate() {
            let base = if numeric {
                i.checked_sub(1).map(|j| sorted[j])
            } else {
                reference_for(b, &benches)
            };
            let name = b.id()[group.len()..].trim_start_matches('/').to_string();
            let (ratio, with) = match base {
                Some(r) => (
                    format!("{:.2}", b.median_ns / r.median_ns),
                    r.id()[group.len()..].trim_start_matches('/').to_string(),
                ),
                None => (String::new(), String::new()),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {ratio} | {with} |",
                escape(&name),
                time(b.median_ns),
                with = escape(&with)
            );
        }
        out.push('\n');
    }
    out
}

/// The numeric parameter of a bench in a size series.
fn param(b: &Bench) -> f64 {
    let s = if b.value.is_empty() {
        &b.function
    } else {
        &b.value
    };
    s.parse().unwrap_or(f64::NAN)
}

/// The reference member a bench is compared with: the reference of the same function (when the
/// parameter names the reference, `loss/faer` for `loss/plan`) or of the same parameter (when the
/// function does), else the only reference of the group.
fn reference_for<'a>(b: &Bench, group: &[&'a Bench]) -> Option<&'a Bench> {
    if b.is_reference() {
        return None;
    }
    let refs: Vec<&Bench> = group.iter().copied().filter(|r| r.is_reference()).collect();
    refs.iter()
        .copied()
        .find(|r| {
            (is_reference_name(&r.value) && r.function == b.function)
                || (is_reference_name(&r.function) && r.value == b.value)
        })
        .or(if refs.len() == 1 { Some(refs[0]) } else { None })
}

fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}

/// A duration in nanoseconds, with a readable unit.
fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.1} ns")
    } else if ns < 1e6 {
        format!("{:.2} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bench(group: &str, function: &str, value: &str, median_ns: f64) -> Bench {
        Bench {
            group: group.into(),
            function: function.into(),
            value: value.into(),
            median_ns,
        }
    }

    #[test]
    fn ratios_against_the_reference_with_the_same_parameter() {
        let results = [
            bench("eval", "faer hand-written", "64", 100.0),
            bench("eval", "plan", "64", 150.0),
            bench("eval", "faer hand-written", "256", 1000.0),
            bench("eval", "plan", "256", 1100.0),
        ];
        let s = summarize(&results);
        assert!(
            s.contains("| plan/64 | 150.0 ns | 1.50 | faer hand-written/64 |"),
            "{s}"
        );
        assert!(
            s.contains("| plan/256 | 1.10 µs | 1.10 | faer hand-written/256 |"),
            "{s}"
        );
        assert!(
            s.contains("| faer hand-written/64 | 100.0 ns |  |  |"),
            "{s}"
        );
    }

    #[test]
    fn ratios_against_the_reference_named_by_the_parameter() {
        let results = [
            bench("eval/layer", "loss", "faer", 200.0),
            bench("eval/layer", "loss", "plan", 300.0),
            bench("eval/layer", "gradient", "faer", 1000.0),
            bench("eval/layer", "gradient", "plan", 1200.0),
        ];
        let s = summarize(&results);
        assert!(
            s.contains("| loss/plan | 300.0 ns | 1.50 | loss/faer |"),
            "{s}"
        );
        assert!(
            s.contains("| gradient/plan | 1.20 µs | 1.20 | gradient/faer |"),
            "{s}"
        );
    }

    #[test]
    fn size_series_compare_with_the_previous_size() {
        let results = [
            bench("trace-sum", "", "1000", 9000.0),
            bench("trace-sum", "", "10", 100.0),
            bench("trace-sum", "", "100", 1000.0),
        ];
        let s = summarize(&results);
        assert!(s.contains("| 100 | 1.00 µs | 10.00 | 10 |"), "{s}");
        assert!(s.contains("| 1000 | 9.00 µs | 9.00 | 100 |"), "{s}");
    }
}
