//! The second-order catalog (`tests/second_order/*.txt`), kept apart from the gradient catalog
//! (whose entries codegen compiles): every Hessian, Hessian-vector product and Jacobian is
//! derived, its step-by-step text snapshot-tested, and checked at three random draws against
//! the complex step of the derived gradient (of F for a Jacobian), as is its literature form;
//! every line of both derivations is checked numerically too.

use std::collections::BTreeSet;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::sync::Mutex;

use matdiff_expr::{Decl, ExprId, ExprPool, Style};
use matdiff_faer::{
    check_steps, complex_step_directional, complex_step_jacobian, dense_linear_map, random_values,
    Complex, Mat, Options, Plan, Sizes, Values,
};
use matdiff_rewrite::{hessian, hvp, jacobian, Derivation, DeriveOptions, SecondOrder};

use matdiff_testkit::second_order_catalog::{parse_entry, Entry};

const TOLERANCE: f64 = 1e-8;
const DRAWS: u64 = 3;

/// Whether an error is small enough (NaN is not).
fn within_tolerance(error: f64) -> bool {
    error <= TOLERANCE
}

/// Largest entry-wise difference relative to the largest entry of the reference.
fn relative_error(a: &Mat<f64>, reference: &Mat<f64>) -> f64 {
    if (a.nrows(), a.ncols()) != (reference.nrows(), reference.ncols()) {
        return f64::INFINITY;
    }
    let mut diff = 0.0f64;
    let mut scale = f64::MIN_POSITIVE;
    for j in 0..a.ncols() {
        for i in 0..a.nrows() {
            let d = (a[(i, j)] - reference[(i, j)]).abs();
            if d.is_nan() {
                return f64::NAN;
            }
            diff = diff.max(d);
            scale = scale.max(reference[(i, j)].abs());
        }
    }
    diff / scale
}

/// Derives the entry; returns the pool, the result and the parsed literature form.
fn derive_entry(e: &Entry) -> Result<(ExprPool, SecondOrder, ExprId), String> {
    let decls: Vec<Decl> = e
        .decls
        .iter()
        .map(|d| Decl::parse(d).map_err(|err| format!("let '{d}': {err}")))
        .collect::<Result<_, _>>()?;
    let mut pool = ExprPool::new();
    let expr = pool
        .parse_with(&e.expr, &decls)
        .map_err(|err| format!("expr: {}", err.render(&e.expr)))?;
    let options = DeriveOptions::default();
    let derived = match e.kind.as_str() {
        "hessian" => hessian(&mut pool, &expr, &e.wrt, &options),
        "jacobian" => jacobian(&mut pool, &expr, &e.wrt, &options),
        "hvp" => {
            let x = pool.find_symbol(&e.wrt).and_then(|s| pool.var_info(s));
            let vector = x.is_some_and(|i| i.shape.cols == matdiff_expr::Dim::ONE);
            hvp(
                &mut pool,
                &expr,
                &e.wrt,
                if vector { "v" } else { "V" },
                &options,
            )
        }
        other => return Err(format!("unknown kind '{other}'")),
    }
    .map_err(|err| format!("derive: {err}"))?;
    let literature = pool
        .parse_with(&e.literature, &decls)
        .map_err(|err| format!("literature: {}", err.render(&e.literature)))?
        .root;
    Ok((pool, derived, literature))
}

fn check_derivation_steps(
    pool: &ExprPool,
    d: &Derivation,
    values: &Values<f64>,
    seed: u64,
) -> Result<f64, String> {
    let lines: Vec<(ExprId, bool)> = d.steps.iter().map(|s| (s.expr, s.continues)).collect();
    let x = pool.find_symbol(&d.wrt).expect("the variable");
    let report = check_steps(
        pool,
        &lines,
        (d.differential, x),
        &d.definitions,
        values,
        &Options::new().threads(1),
        // Not the values' seed: dx drawn equal to x hides a norm's Hessian (H*x = 0).
        seed ^ 0x9e37_79b9_7f4a_7c15,
    )
    .map_err(|e| format!("checking the steps: {e}"))?;
    if let Some(line) = report.worst_line(TOLERANCE) {
        return Err(format!(
            "step {} of the derivation of {} disagrees with the previous one by {:.1e}",
            line + 1,
            d.wrt,
            report.errors[line].unwrap_or(f64::NAN)
        ));
    }
    Ok(report.max_error())
}

/// Checks one entry at one draw; returns the largest error.
fn check_draw(
    pool: &ExprPool,
    e: &Entry,
    s: &SecondOrder,
    literature: ExprId,
    draw: u64,
) -> Result<f64, String> {
    let seed = e.name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    }) ^ draw;
    let mut values = random_values(pool, s.function, seed);
    let x = values
        .get(&e.wrt)
        .ok_or("no value of the variable")?
        .clone();
    // The direction (V, v, or u of F's shape for a Jacobian), random.
    let (rows, cols) = if e.kind == "jacobian" {
        let f = matdiff_faer::eval(pool, s.function, &values).map_err(|e| e.to_string())?;
        (f.nrows(), f.ncols())
    } else {
        (x.nrows(), x.ncols())
    };
    let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
    let direction = Mat::from_fn(rows, cols, |_, _| rng.random_range(-1.0..1.0));
    values.insert(s.direction.as_str(), direction);
    let options = Options::new().threads(1);
    let coptions = Options::<Complex<f64>>::new().threads(1);
    let sizes = Sizes::from_values(pool, &values).map_err(|e| e.to_string())?;
    let mut plan = Plan::compile_with(pool, &[s.result, literature], &sizes, &options)
        .map_err(|e| format!("compiling: {e}"))?;
    let out = plan.run(&values).map_err(|e| format!("evaluating: {e}"))?;
    let g = s.first.gradient;
    let cs = |f| complex_step_jacobian(pool, f, &e.wrt, &values, &coptions);
    let (result, lit, reference) = match e.kind.as_str() {
        "hessian" => {
            let h = cs(g).map_err(|e| format!("complex step: {e}"))?;
            let asym = relative_error(&out[0], &out[0].transpose().to_owned());
            if asym > TOLERANCE {
                return Err(format!("the Hessian is not symmetric ({asym:.1e})"));
            }
            (out[0].clone(), out[1].clone(), h)
        }
        "jacobian" => {
            let j = cs(s.function).map_err(|e| format!("complex step: {e}"))?;
            (out[0].clone(), out[1].clone(), j)
        }
        _ => {
            let v = values.get(&s.direction).ok_or("no direction")?;
            let r = complex_step_directional(pool, g, &e.wrt, v, &values, &coptions)
                .map_err(|e| format!("complex step: {e}"))?;
            // The whole map too: the dense Hessian from the HVP against the complex step.
            let dense = dense_linear_map(pool, s.result, &s.direction, &values, &options)
                .map_err(|e| format!("dense: {e}"))?;
            let h = cs(g).map_err(|e| format!("complex step: {e}"))?;
            let err = relative_error(&dense, &h);
            if !within_tolerance(err) {
                return Err(format!(
                    "the dense HVP differs from the complex step by {err:.1e}"
                ));
            }
            (out[0].clone(), out[1].clone(), r)
        }
    };
    let r_err = relative_error(&result, &reference);
    let l_err = relative_error(&lit, &reference);
    if !within_tolerance(r_err) {
        return Err(format!(
            "result differs from the complex step by {r_err:.1e} (draw {draw})"
        ));
    }
    if !within_tolerance(l_err) {
        return Err(format!(
            "literature form differs from the complex step by {l_err:.1e} (draw {draw})"
        ));
    }
    let mut worst = r_err.max(l_err);
    worst = worst.max(check_derivation_steps(pool, &s.first, &values, seed)?);
    if let Some(second) = &s.second {
        worst = worst.max(check_derivation_steps(pool, second, &values, seed)?);
    }
    Ok(worst)
}

fn check_entry(e: &Entry) -> Result<String, String> {
    let (pool, s, literature) = derive_entry(e)?;
    for draw in 0..DRAWS {
        check_draw(&pool, e, &s, literature, draw)?;
    }
    Ok(format!(
        "{} ({}): {}\n\n{}\nresult: {}\n",
        e.name,
        e.source,
        e.expr,
        s.display(&pool, Style::Plain),
        s.result_text(&pool, Style::Plain)
    ))
}

#[test]
fn second_order_catalog() {
    let failures = Mutex::new(Vec::new());
    let names = Mutex::new(BTreeSet::new());
    insta::glob!("second_order/*.txt", |path: &std::path::Path| {
        let text = std::fs::read_to_string(path).expect("readable");
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        let outcome = parse_entry(&text).and_then(|e| {
            if e.name != stem {
                return Err(format!("name '{}' differs from the file name", e.name));
            }
            names.lock().unwrap().insert(e.kind.clone() + ":" + &e.name);
            check_entry(&e)
        });
        match outcome {
            Ok(snapshot) => insta::assert_snapshot!(snapshot),
            Err(err) => {
                eprintln!("{stem}: {err}");
                failures.lock().unwrap().push(format!("{stem}: {err}"));
            }
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let names = names.into_inner().unwrap();
    assert!(
        names.len() >= 40,
        "only {} second-order entries",
        names.len()
    );
    for kind in ["hessian:", "hvp:", "jacobian:"] {
        assert!(
            names.iter().filter(|n| n.starts_with(kind)).count() >= 8,
            "fewer than 8 entries of {kind}"
        );
    }
}

#[test]
fn a_wrong_literature_form_fails() {
    let mut e = parse_entry(
        "name: wrong\nsource: test\nkind: hessian\nexpr: x'*A*x\nwrt: x\nliterature: 2*A\n",
    )
    .unwrap();
    let err = check_entry(&e).unwrap_err();
    assert!(err.contains("literature"), "{err}");
    e.literature = "A + A'".into();
    assert!(check_entry(&e).is_ok());
}

#[test]
fn refusals_are_typed_and_clear() {
    let options = DeriveOptions::default();
    let cases: [(&str, &str, &str, &str); 6] = [
        ("hessian", "sum(relu(W*x))", "x", "kink"),
        ("hessian", "max(x)", "x", "kink"),
        ("hessian", "tr(X'*A*X)", "X", "Kronecker"),
        ("jacobian", "a'*x", "x", "use grad"),
        ("jacobian", "inv(X)", "X", "Kronecker"),
        ("hessian", "A*x", "x", "not a scalar"),
    ];
    for (kind, expr, wrt, says) in cases {
        let mut pool = ExprPool::new();
        let e = pool.parse(expr).unwrap();
        let err = match kind {
            "hessian" => hessian(&mut pool, &e, wrt, &options),
            _ => jacobian(&mut pool, &e, wrt, &options),
        }
        .unwrap_err();
        assert!(err.to_string().contains(says), "{expr}: {err}");
    }
    let mut pool = ExprPool::new();
    let e = pool.parse("tr(X*V)").unwrap();
    let err = hvp(&mut pool, &e, "X", "V", &options).unwrap_err();
    assert!(err.to_string().contains("already a name"), "{err}");
}

/// Several variables stacked (Newton over w and an intercept): every block of the Hessian and
/// every part of the stacked HVP against the complex step of the derived gradients.
#[test]
fn stacked_blocks_and_products_match_the_complex_step() {
    use matdiff_rewrite::{hessian_blocks, hvp_stacked};
    let sources = [
        "sum(log(1 + exp(-y .* (X*w + beta)))) + 0.5*norm2(w)^2",
        "norm2(tanh(A*w + b) - y)^2 + beta*sum(w)^2",
    ];
    for (k, source) in sources.iter().enumerate() {
        let wrt = ["w", "beta", "b"];
        let mut pool = ExprPool::new();
        let e = pool.parse(source).unwrap();
        let wrt: Vec<&str> = wrt
            .into_iter()
            .filter(|x| pool.find_symbol(x).is_some())
            .collect();
        let options = DeriveOptions::default();
        let blocks = hessian_blocks(&mut pool, &e, &wrt, &options).unwrap();
        let directions: Vec<String> = wrt.iter().map(|x| format!("dir_{x}")).collect();
        let names: Vec<&str> = directions.iter().map(String::as_str).collect();
        let stacked = hvp_stacked(&mut pool, &e, &wrt, &names, &options).unwrap();
        let mut values = random_values(&pool, e.root, 11 + k as u64);
        let mut rng = StdRng::seed_from_u64(5);
        for (x, v) in wrt.iter().zip(&names) {
            let m = values.get(x).unwrap();
            let d = Mat::from_fn(m.nrows(), m.ncols(), |_, _| rng.random_range(-1.0..1.0));
            values.insert(*v, d);
        }
        let coptions = Options::<Complex<f64>>::new().threads(1);
        let parts = stacked.results();
        for (i, gradient) in stacked.gradients.iter().enumerate() {
            let mut expected_part: Option<Mat<f64>> = None;
            for (j, xj) in wrt.iter().enumerate() {
                let block = matdiff_faer::eval(&pool, blocks[i][j], &values).unwrap();
                let reference =
                    complex_step_jacobian(&pool, gradient.gradient, xj, &values, &coptions)
                        .unwrap();
                let err = relative_error(&block, &reference);
                assert!(
                    within_tolerance(err),
                    "{source}: block ({i}, {j}) off by {err:.1e}"
                );
                let v = values.get(names[j]).unwrap();
                let term = &block * v;
                expected_part = Some(match expected_part {
                    None => term,
                    Some(acc) => &acc + &term,
                });
            }
            let part = matdiff_faer::eval(&pool, parts[i], &values).unwrap();
            let err = relative_error(&part, expected_part.as_ref().unwrap());
            assert!(within_tolerance(err), "{source}: part {i} off by {err:.1e}");
        }
    }
}
