//! The code generators' differential fuzzer: each expression the first-order fuzzer draws
//! ([`crate::generate::draw`]) is derived, lowered once ([`Program::new`]) and printed as NumPy, JAX
//! and Rust; the generated code's value and gradient must equal matdiff-faer's plan evaluation
//! of the derived function and gradient (to [`TOLERANCE`] relative, as the catalog check), and
//! that gradient must equal the complex step through the naive evaluator (the fuzzer's
//! reference, [`differential::TOLERANCE`]).
//!
//! Each case is lowered twice: with the sizes the values fix declared ([`Sizing::Sized`], as
//! `matdiff codegen` with `--let 'A: 2x3'`) and, when the text reads at those sizes without
//! them, with symbolic sizes ([`Sizing::Symbolic`], the sizes taken from the arguments at run
//! time). A typed refusal of the generator is counted by its reason ([`Report::refused`]),
//! never passed silently. The Python targets run through a script (many cases in one
//! process) whose results [`Report::add_python`] compares; the Rust target is compiled by
//! `matdiff-codegen-check`'s build script ([`FuzzCase::rust`]).
//!
//! ```
//! use matdiff_testkit::codegen_differential::{lower, Lowered, Sizing};
//! // Seed 3 draws an expression the generators translate, or one they refuse with a reason.
//! match lower(3, Sizing::Sized) {
//!     Lowered::Case(case) => assert!(case.name().starts_with("seed_3_")),
//!     Lowered::Refused(reason) => assert!(!reason.is_empty()),
//!     _ => {}
//! }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

use matdiff_codegen::{ArgumentKind, CodegenError, Lang, Options, Program};
use matdiff_expr::ExprPool;
use matdiff_faer::{Mat, Plan, Sizes, Values};
use matdiff_rewrite::{derive, DeriveOptions};
use serde_json::{json, Value};

use crate::catalog;
use crate::codegen_cases::{entries, inputs_json, rust_function};
use crate::differential::{self, reference, sized, sizes_fit, symbolic_decls, values_for};
use crate::generate::draw;

/// Largest relative error accepted between generated code and matdiff-faer (the catalog's).
pub const TOLERANCE: f64 = crate::codegen_cases::TOLERANCE;

/// How the sizes are given to the generator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Sizing {
    /// Every variable declared with the sizes of its value.
    Sized,
    /// Only scalars and structures declared: the generated code reads sizes off its arguments.
    Symbolic,
}

impl Sizing {
    fn label(self) -> &'static str {
        match self {
            Sizing::Sized => "sized",
            Sizing::Symbolic => "symbolic",
        }
    }
}

/// A drawn expression, derived and lowered, with what its generated code must compute.
pub struct FuzzCase {
    /// The seed that draws it again (of its values, for a reproducer).
    pub seed: u64,
    /// `seed_12`, or the reproducer's name.
    pub label: String,
    /// How the sizes were given.
    pub sizing: Sizing,
    /// The expression and the variable.
    pub text: String,
    pub wrt: String,
    /// The lowered function and gradient.
    pub program: Program,
    /// The abstract functions, sorted (the catalog's stand-ins).
    pub functions: Vec<String>,
    /// The values of the generated function's variables, by name.
    pub values: Values<f64>,
    /// matdiff-faer's value of the function and of the gradient.
    pub value: f64,
    pub gradient: Mat<f64>,
    /// What gradient errors are relative to: the largest entry of the reference gradient, and
    /// at least 1e-4 of `1 + |f|` per unit of the variable (the first-order fuzzer's scale), so
    /// that a gradient all but zero (a saturated `tanh`: entries of 1e-17 against exact zeros)
    /// is compared with rounding at the scale of the function, not with itself.
    pub scale: f64,
}

/// What became of a drawn case.
pub enum Lowered {
    /// Lowered and evaluated: a case to run.
    Case(Box<FuzzCase>),
    /// The generator (or, without sizes, the engine) refuses with a typed error: its reason.
    Refused(String),
    /// Not a case: the reference cannot evaluate at the values, or the text reads at other
    /// sizes without them (the first-order fuzzer counts those).
    NotACase,
    /// matdiff-faer's evaluation of the derivation disagrees with the reference, or fails.
    Failed(String),
}

/// Draws the case `seed`, derives and lowers it with the sizes given as `sizing`, and evaluates
/// the derived function and gradient.
pub fn lower(seed: u64, sizing: Sizing) -> Lowered {
    let drawn = draw(seed);
    lower_text(
        &format!("seed_{seed}"),
        seed,
        &drawn.text,
        &drawn.wrt,
        sizing,
    )
}

/// Lowers `text` by `wrt` at the values of the seed `seed` (the variables of
/// [`crate::generate::VARIABLES`]), as [`lower`] does a drawn case; `label` names the case.
pub fn lower_text(label: &str, seed: u64, text: &str, wrt: &str, sizing: Sizing) -> Lowered {
    let drawn = crate::generate::Drawn {
        text: text.to_string(),
        wrt: wrt.to_string(),
    };
    let values = values_for(seed);
    let Some((f0, g0)) = reference(&drawn.text, &drawn.wrt, &values) else {
        return Lowered::NotACase;
    };
    let mut pool = ExprPool::new();
    let decls = match sizing {
        Sizing::Sized => sized(&values),
        Sizing::Symbolic => symbolic_decls(&values),
    };
    let Ok(e) = pool.parse_with(&drawn.text, &decls) else {
        return match sizing {
            Sizing::Sized => Lowered::Failed("does not parse".into()),
            Sizing::Symbolic => Lowered::NotACase,
        };
    };
    if !sizes_fit(&pool, &values) {
        return Lowered::NotACase;
    }
    let d = match derive(&mut pool, &e, &drawn.wrt, &DeriveOptions::default()) {
        Ok(d) => d,
        // Without sizes, a text may be a scalar only at some sizes (`1 x s`): refused, as
        // `matdiff grad` refuses it, with an error that asks for the sizes.
        Err(e) if e.to_string().contains("not a scalar") => {
            return Lowered::Refused(format!(
                "derive ({}): not a scalar at every size",
                sizing.label()
            ))
        }
        Err(e) => {
            let reason = reason_of(&e.to_string());
            return Lowered::Refused(format!("derive ({}): {reason}", sizing.label()));
        }
    };
    let program = match Program::new(&pool, &e.bindings, std::slice::from_ref(&d)) {
        Ok(p) => p,
        Err(e) => return Lowered::Refused(format!("{} ({})", codegen_reason(&e), sizing.label())),
    };
    let functions = catalog::abstract_functions(&pool, d.function);
    let options = matdiff_faer::Options::new()
        .threads(1)
        .functions(catalog::make_functions::<f64>(&functions));
    let evaluated = Sizes::from_values(&pool, &values)
        .and_then(|s| Plan::compile_with(&pool, &[d.function, d.gradient], &s, &options))
        .and_then(|mut plan| plan.run(&values));
    let mut out = match evaluated {
        Ok(out) => out,
        Err(e) => return Lowered::Failed(format!("matdiff-faer cannot evaluate: {e}")),
    };
    let gradient = out.pop().expect("the gradient");
    let value = out.pop().expect("the value")[(0, 0)];
    let scale = differential::gradient_scale(f0, &g0, &values, &drawn.wrt);
    let worst = gradient_error(&gradient, &g0) / scale;
    if worst.is_nan() || worst > differential::TOLERANCE {
        return Lowered::Failed(format!(
            "matdiff-faer's gradient differs from the complex step (relative error {worst:.1e})"
        ));
    }
    let mut used = Values::new();
    for a in program.arguments() {
        if a.kind != ArgumentKind::Function {
            let v = values.get(&a.name).expect("a value for every variable");
            used.insert(&a.name, v.clone());
        }
    }
    Lowered::Case(Box::new(FuzzCase {
        seed,
        label: label.to_string(),
        sizing,
        text: drawn.text,
        wrt: drawn.wrt,
        program,
        functions,
        values: used,
        value,
        gradient,
        scale,
    }))
}

/// The largest entry-wise difference (infinite for other shapes, NaN for NaN).
fn gradient_error(g: &Mat<f64>, reference: &Mat<f64>) -> f64 {
    if (g.nrows(), g.ncols()) != (reference.nrows(), reference.ncols()) {
        return f64::INFINITY;
    }
    let (a, b) = (entries(g), entries(reference));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, |m, d| if d.is_nan() { f64::NAN } else { m.max(d) })
}

/// A refusal's reason without the expression it quotes (`... for a matrix power by a
/// non-integer: X^0.5` counts as `... for a matrix power by a non-integer`).
fn reason_of(message: &str) -> String {
    message
        .split(':')
        .next()
        .unwrap_or(message)
        .trim()
        .to_string()
}

fn codegen_reason(e: &CodegenError) -> String {
    match e {
        CodegenError::UnknownSize { .. } => "codegen: a size no argument fixes".to_string(),
        e => format!("codegen: {}", reason_of(&e.to_string())),
    }
}

impl FuzzCase {
    /// The name of its generated function: `seed_12_sized`.
    pub fn name(&self) -> String {
        format!("{}_{}", self.label, self.sizing.label())
    }

    /// The inputs as JSON by name: a scalar as a number, a column as a list, a matrix as a
    /// list of rows.
    pub fn inputs_json(&self) -> Value {
        Value::Object(inputs_json(&self.values))
    }

    /// What the Python script runs: the name, the inputs, the functions, and the code of each
    /// of `targets` (NumPy with `check_gradient()`).
    pub fn python_json(&self, targets: &[Lang]) -> Value {
        let mut case = json!({
            "name": self.name(),
            "inputs": self.inputs_json(),
            "functions": self.functions,
        });
        for &lang in targets {
            let (key, options) = match lang {
                Lang::NumPy => (
                    "numpy",
                    Options {
                        check_gradient: true,
                        ..Options::default()
                    },
                ),
                Lang::Jax => ("jax", Options::default()),
                Lang::Rust => continue,
            };
            let code = self.program.print(lang, &options).expect("a valid name");
            case[key] = Value::String(code);
        }
        case
    }

    /// What the Rust test checks: the name, inputs, functions, and matdiff-faer's value and
    /// gradient (entries column by column).
    pub fn expected_json(&self) -> Value {
        json!({
            "name": self.name(),
            "text": self.text,
            "wrt": self.wrt,
            "inputs": self.inputs_json(),
            "functions": self.functions,
            "value": self.value,
            "gradient": entries(&self.gradient),
            "scale": self.scale,
        })
    }

    /// The generated Rust function (named [`FuzzCase::name`]) and a wrapper `run_NAME(v, f)` of
    /// one signature for all, as the catalog's build script writes them.
    pub fn rust(&self) -> String {
        rust_function(&self.name(), &self.program)
    }

    /// Compares a generated target's value (relative to `1 + |f|`) and gradient entries
    /// (relative to [`FuzzCase::scale`]) with matdiff-faer's.
    pub fn compare(&self, target: &str, value: f64, gradient: &[f64]) -> Result<(), String> {
        let ev = (value - self.value).abs() / (1.0 + self.value.abs());
        let reference = entries(&self.gradient);
        let eg = if gradient.len() == reference.len() {
            gradient
                .iter()
                .zip(&reference)
                .map(|(x, r)| (x - r).abs() / self.scale)
                .fold(
                    0.0,
                    |m: f64, e| if e.is_nan() { f64::NAN } else { m.max(e) },
                )
        } else {
            f64::INFINITY
        };
        if ev <= TOLERANCE && eg <= TOLERANCE {
            return Ok(());
        }
        Err(format!(
            "{} ({target}): grad {:?} --wrt {}: value error {ev:.1e}, gradient error {eg:.1e}",
            self.name(),
            self.text,
            self.wrt
        ))
    }
}

/// The counts of a run.
#[derive(Debug, Default)]
pub struct Report {
    /// Seeds drawn, and lowerings tried (two per seed, one without the sizes when it reads).
    pub seeds: usize,
    /// Cases run, by target (`numpy`, `jax`, `rust`, `check_gradient`).
    pub ran: BTreeMap<String, usize>,
    /// Typed refusals, by reason.
    pub refused: BTreeMap<String, usize>,
    /// Seeds the reference refuses, or lowerings not drawn (the text reads at other sizes).
    pub not_cases: usize,
    /// Disagreements and errors, at most 30 kept, and how many there were.
    pub failures: Vec<String>,
    pub failed: usize,
}

impl Report {
    /// Draws and lowers the seeds `seeds` both ways, counting refusals and reference
    /// failures; returns the cases to run.
    pub fn draw(&mut self, seeds: std::ops::Range<u64>) -> Vec<FuzzCase> {
        let mut cases = Vec::new();
        for seed in seeds {
            self.seeds += 1;
            for sizing in [Sizing::Sized, Sizing::Symbolic] {
                match lower(seed, sizing) {
                    Lowered::Case(c) => cases.push(*c),
                    Lowered::Refused(reason) => *self.refused.entry(reason).or_default() += 1,
                    Lowered::NotACase => self.not_cases += 1,
                    Lowered::Failed(what) => {
                        let d = draw(seed);
                        self.fail(format!(
                            "seed {seed} ({}): grad {:?} --wrt {}: {what}",
                            sizing.label(),
                            d.text,
                            d.wrt
                        ));
                    }
                }
            }
        }
        cases
    }

    /// Lowers the [`REPRODUCERS`] both ways, as [`Report::draw`].
    pub fn reproducers(&mut self) -> Vec<FuzzCase> {
        let mut cases = Vec::new();
        for (k, &(text, wrt, seed)) in REPRODUCERS.iter().enumerate() {
            for sizing in [Sizing::Sized, Sizing::Symbolic] {
                match lower_text(&format!("reproducer_{k}"), seed, text, wrt, sizing) {
                    Lowered::Case(c) => cases.push(*c),
                    Lowered::Refused(r) => self.fail(format!("{text:?}: refused: {r}")),
                    Lowered::NotACase => self.fail(format!("{text:?}: not a case")),
                    Lowered::Failed(what) => self.fail(format!("{text:?}: {what}")),
                }
            }
        }
        cases
    }

    /// Records a failure.
    pub fn fail(&mut self, what: String) {
        self.failed += 1;
        if self.failures.len() < 30 {
            self.failures.push(what);
        }
    }

    /// Compares the Python script's results (by case name and target: the value and the
    /// gradient's entries, or the error, and NumPy's `check_gradient()`) with the cases.
    pub fn add_python(&mut self, cases: &[FuzzCase], results: &Value) {
        for case in cases {
            let name = case.name();
            let Some(targets) = results[&name].as_object() else {
                self.fail(format!("{name}: no result"));
                continue;
            };
            for (target, r) in targets {
                *self.ran.entry(target.clone()).or_default() += 1;
                if let Some(e) = r.get("error") {
                    self.fail(format!("{name} ({target}): {:?}: {e}", case.text));
                    continue;
                }
                let v = r["value"].as_f64().unwrap_or(f64::NAN);
                let g: Vec<f64> = r["gradient"]
                    .as_array()
                    .map(|a| a.iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect())
                    .unwrap_or_default();
                if let Err(e) = case.compare(target, v, &g) {
                    self.fail(e);
                }
                if let Some(c) = r.get("check") {
                    *self.ran.entry("check_gradient".into()).or_default() += 1;
                    let c = c.as_f64().unwrap_or(f64::NAN);
                    if c.is_nan() || c > CHECK_GRADIENT_TOLERANCE {
                        self.fail(format!(
                            "{name}: {:?}: check_gradient() error {c:.1e}",
                            case.text
                        ));
                    }
                }
            }
        }
    }

    /// One line per count: cases per target, refusals by reason, failures.
    pub fn summary(&self) -> String {
        let mut s = format!("{} seeds; ran", self.seeds);
        for (target, n) in &self.ran {
            let _ = write!(s, " {target} {n},");
        }
        let _ = write!(
            s,
            " {} not cases (reference refuses, other sizes); {} failed",
            self.not_cases, self.failed
        );
        for (reason, n) in &self.refused {
            let _ = write!(s, "\nrefused {n}: {reason}");
        }
        s
    }
}

/// The smallest forms of the failures the fuzzer found, each fixed in `matdiff-codegen`
/// (expression, variable, the seed of the values; the shapes of
/// [`crate::generate::VARIABLES`]):
pub const REPRODUCERS: &[(&str, &str, u64)] = &[
    // `kron` of scalars was `np.kron` of numbers, and `tr` of it `np.trace` of a number.
    ("tanh(tr(kron(alpha, c)) + alpha')", "alpha", 0),
    // `vec`, `unvec`, `det` and `logdet` of a scalar, `kron` by a scalar.
    (
        "vec(c)*unvec(alpha, 1) + det(c*c) + logdet(c*c + 1) + sum(kron(c, A))",
        "c",
        0,
    ),
    // A shared scalar sub-product (`b'*D*y`) became a matrix operand of `@` in a longer chain.
    ("(((b'*D*y) .* (x'*u)) + 1)^2", "u", 0),
    ("(softmax(b .* b)'*b)^2", "b", 0),
    // JAX: XLA contracts `min(X) - X` with `X = b*b'` into a fused multiply-add, so the sign
    // was nonzero at the minimum: `0/0` in the gradient (half the draws).
    ("min(b*b')^2", "b", 1_008_336),
    // `check_gradient()` compared a zero derivative with itself (an error of 1).
    ("tr(((D'*D)^2 + ((Q*L) - (Q*L)))^2)", "L", 0),
];

/// Largest relative error of NumPy's `check_gradient()` (central differences with step 1e-6),
/// as in the catalog's test.
pub const CHECK_GRADIENT_TOLERANCE: f64 = 1e-5;

/// Runs `script` (`run_generated.py`) on `cases` through python3, with the JSON in the file
/// `path`: the results by case name and target.
pub fn run_python(
    cases: &[Value],
    script: &std::path::Path,
    path: &std::path::Path,
) -> Result<Value, String> {
    std::fs::write(path, Value::Array(cases.to_vec()).to_string())
        .map_err(|e| format!("writing {}: {e}", path.display()))?;
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(path)
        .output()
        .map_err(|e| {
            format!("python3 does not run ({e}): install it, with requirements-test.txt")
        })?;
    if !out.status.success() {
        return Err(format!(
            "python3 failed (are numpy and jax installed? pip install -r requirements-test.txt):\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("python3's output: {e}"))
}
