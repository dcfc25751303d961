//! Test-only: the Rust (faer) code that `matdiff-codegen` generates for every entry of the
//! derivation catalog, compiled here (`build.rs` writes it) and run against matdiff-faer by
//! `tests/generated.rs`, and each entry's NumPy and JAX code with matdiff-faer's results
//! ([`cases`]), which the same build script derived: the catalog is derived once for all targets.
#![allow(missing_docs, unreachable_pub)]

/// A generated function behind one signature: the values and the element-wise functions by
/// name in, the value and the gradient out.
pub type Run = for<'a> fn(&Values, &Functions<'a>) -> (f64, faer::Mat<f64>);

/// The element-wise functions (and derivatives, `g_prime`), by name.
pub type Functions<'a> = dyn Fn(&str) -> Box<dyn Fn(f64) -> f64> + 'a;

/// The values of the variables, by name.
pub type Values = std::collections::HashMap<String, faer::Mat<f64>>;

/// A gradient as a matrix (a scalar's as 1 x 1).
pub trait IntoMat {
    fn into_mat(self) -> faer::Mat<f64>;
}

impl IntoMat for f64 {
    fn into_mat(self) -> faer::Mat<f64> {
        faer::Mat::from_fn(1, 1, |_, _| self)
    }
}

impl IntoMat for faer::Mat<f64> {
    fn into_mat(self) -> faer::Mat<f64> {
        self
    }
}

include!(concat!(env!("OUT_DIR"), "/generated.rs"));

/// One catalog entry as the build script derived, lowered and evaluated it: what each generated
/// target must reproduce.
pub struct Case {
    pub name: String,
    /// The generated NumPy module (with `check_gradient()`) and JAX module.
    pub numpy: String,
    pub jax: String,
    /// The inputs by name: a scalar as a number, a column as a list, a matrix as a list of rows.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    /// The abstract functions, sorted by name.
    pub functions: Vec<String>,
    /// matdiff-faer's value of the function, and the gradient's entries column by column.
    pub value: f64,
    pub gradient: Vec<f64>,
}

impl Case {
    /// The inputs as matrices (a scalar 1 x 1, a list a column).
    pub fn values(&self) -> Values {
        values_of(&self.inputs)
    }
}

/// Inputs by name as matrices: a number 1 x 1, a list a column, a list of lists by rows.
pub fn values_of(inputs: &serde_json::Map<String, serde_json::Value>) -> Values {
    let number = |x: &serde_json::Value| x.as_f64().expect("a number");
    let matrix = |v: &serde_json::Value| match v {
        serde_json::Value::Array(rows) if rows.first().is_some_and(|r| r.is_array()) => {
            let rows: Vec<&Vec<serde_json::Value>> =
                rows.iter().map(|r| r.as_array().expect("a row")).collect();
            faer::Mat::from_fn(rows.len(), rows[0].len(), |i, j| number(&rows[i][j]))
        }
        serde_json::Value::Array(column) => {
            faer::Mat::from_fn(column.len(), 1, |i, _| number(&column[i]))
        }
        x => faer::Mat::from_fn(1, 1, |_, _| number(x)),
    };
    inputs
        .iter()
        .map(|(name, v)| (name.clone(), matrix(v)))
        .collect()
}

/// The Rust code of expressions drawn by the differential fuzzer's generator
/// (`matdiff_testkit::codegen_differential`), compiled here by the build script: `FUZZ`, the
/// functions by name, each through its wrapper.
pub mod fuzz {
    include!(concat!(env!("OUT_DIR"), "/fuzz.rs"));

    /// What the build script wrote of the drawn cases: `seeds`, `cases` (name, text, wrt,
    /// inputs, functions, matdiff-faer's `value` and `gradient`, the gradient's error `scale`),
    /// `refused` (counts by reason) and `failures` (of lowering and evaluation).
    pub fn report() -> serde_json::Value {
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/fuzz.json")))
            .expect("the build script's JSON")
    }
}

/// Every catalog entry the generators translate (the others are listed, with the reason, in
/// matdiff-testkit's `codegen_excluded.txt`; the build script checks the list).
pub fn cases() -> Vec<Case> {
    let json: serde_json::Value =
        serde_json::from_str(include_str!(concat!(env!("OUT_DIR"), "/cases.json")))
            .expect("the build script's JSON");
    let text = |c: &serde_json::Value, key: &str| c[key].as_str().expect(key).to_string();
    json.as_array()
        .expect("a list of cases")
        .iter()
        .map(|c| Case {
            name: text(c, "name"),
            numpy: text(c, "numpy"),
            jax: text(c, "jax"),
            inputs: c["inputs"].as_object().expect("inputs").clone(),
            functions: c["functions"]
                .as_array()
                .expect("functions")
                .iter()
                .map(|f| f.as_str().expect("a name").to_string())
                .collect(),
            value: c["value"].as_f64().expect("the value"),
            gradient: c["gradient"]
                .as_array()
                .expect("the gradient")
                .iter()
                .map(|x| x.as_f64().expect("a number"))
                .collect(),
        })
        .collect()
}
