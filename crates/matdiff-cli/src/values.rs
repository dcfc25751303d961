//! VALUES.json: one object mapping each variable to a number (scalar), a flat array (column
//! vector) or an array of equal-length arrays (matrix, row by row). Values fix the shapes.

use std::path::Path;

use matdiff_expr::{Decl, ExprId, ExprPool};
use matdiff_faer::{Mat, Plan, Sizes, Values};
use serde_json::Value;

use crate::common::Failed;

/// Reads VALUES.json: the declarations of the sizes it fixes, and the values.
pub(crate) fn read_decls(path: &Path, json: bool) -> Result<(Vec<Decl>, Values<f64>), Failed> {
    let fail = |m: String| Failed::new(m, json);
    let text = std::fs::read_to_string(path)
        .map_err(|e| fail(format!("error: cannot read {}: {e}", path.display())))?;
    parse_values(&text).map_err(|m| fail(format!("error: in {}: {m}", path.display())))
}

/// Parses the JSON text of a values file.
pub(crate) fn parse_values(text: &str) -> Result<(Vec<Decl>, Values<f64>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    let Value::Object(map) = v else {
        return Err("expected one JSON object mapping each variable to its value".into());
    };
    let mut decls = Vec::new();
    let mut values = Values::new();
    for (name, value) in map {
        let m = decode(&name, &value)?;
        decls.push(Decl::sized(&name, m.nrows() as u64, m.ncols() as u64));
        values.insert(name, m);
    }
    Ok((decls, values))
}

fn number(name: &str, v: &Value, at: &str) -> Result<f64, String> {
    match v.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        Some(_) => Err(format!("'{name}'{at} is not finite")),
        None => Err(format!("'{name}'{at} is not a number: {v}")),
    }
}

/// A JSON value as a matrix.
fn decode(name: &str, value: &Value) -> Result<Mat<f64>, String> {
    match value {
        Value::Number(_) => {
            let x = number(name, value, "")?;
            Ok(Mat::from_fn(1, 1, |_, _| x))
        }
        Value::Array(items) if items.is_empty() => Err(format!("'{name}' is an empty array")),
        Value::Array(items) if items.iter().all(Value::is_number) => {
            let xs = items
                .iter()
                .enumerate()
                .map(|(i, v)| number(name, v, &format!("[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(Mat::from_fn(xs.len(), 1, |i, _| xs[i]))
        }
        Value::Array(rows) => {
            let mut data: Vec<Vec<f64>> = Vec::with_capacity(rows.len());
            for (i, row) in rows.iter().enumerate() {
                let Value::Array(cells) = row else {
                    return Err(format!("'{name}' mixes numbers and rows: row {i} is {row}"));
                };
                if cells.is_empty() {
                    return Err(format!("'{name}': row {i} is empty"));
                }
                if let Some(first) = data.first() {
                    if first.len() != cells.len() {
                        return Err(format!(
                            "'{name}': row {i} has {} entries, row 0 has {}",
                            cells.len(),
                            first.len()
                        ));
                    }
                }
                data.push(
                    cells
                        .iter()
                        .enumerate()
                        .map(|(j, v)| number(name, v, &format!("[{i}][{j}]")))
                        .collect::<Result<_, _>>()?,
                );
            }
            Ok(Mat::from_fn(data.len(), data[0].len(), |i, j| data[i][j]))
        }
        other => Err(format!(
            "'{name}' must be a number, an array or an array of arrays, got {other}"
        )),
    }
}

/// A matrix as JSON, encoded like the inputs.
pub(crate) fn encode(m: &Mat<f64>) -> Value {
    if m.nrows() == 1 && m.ncols() == 1 {
        return Value::from(m[(0, 0)]);
    }
    if m.ncols() == 1 {
        return Value::from((0..m.nrows()).map(|i| m[(i, 0)]).collect::<Vec<_>>());
    }
    Value::from(
        (0..m.nrows())
            .map(|i| (0..m.ncols()).map(|j| m[(i, j)]).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    )
}

/// Evaluates `f` and `g` (sharing their work) at the values, encoded as JSON.
pub(crate) fn eval_pair(
    pool: &ExprPool,
    f: ExprId,
    g: ExprId,
    values: &Values<f64>,
    json: bool,
) -> Result<(Value, Value), Failed> {
    let fail = |e: matdiff_faer::EvalError| Failed::new(format!("error: {e}"), json);
    let sizes = Sizes::from_values(pool, values).map_err(fail)?;
    let mut plan = Plan::<f64>::compile(pool, &[f, g], &sizes).map_err(fail)?;
    let out = plan.run(values).map_err(fail)?;
    Ok((encode(&out[0]), encode(&out[1])))
}

/// A JSON value on one line.
pub(crate) fn show(v: &Value) -> String {
    v.to_string()
}
