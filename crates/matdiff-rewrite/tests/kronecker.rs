//! The Kronecker catalog (`tests/kronecker/*.txt`): Hessians with respect to matrix variables
//! and Jacobians of matrix-valued functions in Kronecker (vec) form. Each form is printed as
//! its literature form (compared as text), assembled densely and checked at three random
//! non-square, non-symmetric draws against the complex step of the derived gradient (of F for a
//! Jacobian) to 1e-8; the literature form is parsed (`⊗` is the language's infix `kron`) and
//! evaluated at the same draws against the same reference; every line of the derivation it is
//! read off is checked numerically too.

use std::collections::BTreeSet;
use std::sync::Mutex;

use matdiff_expr::{Decl, ExprId, ExprPool, Style};
use matdiff_faer::{
    check_steps, commutation, complex_step_jacobian, diag_vec, kron, random_values, Complex, Mat,
    Options, Plan, Sizes, Values,
};
use matdiff_rewrite::{
    hessian_kronecker, jacobian_kronecker, Derivation, DeriveOptions, KroneckerForm, SecondKind,
    VecFactor,
};

use matdiff_testkit::second_order_catalog::{parse_entry, Entry};

const TOLERANCE: f64 = 1e-8;
const DRAWS: u64 = 3;

/// Largest entry-wise difference relative to the largest entry of the reference; infinite for
/// other sizes, NaN for NaN.
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

fn derive_entry(e: &Entry) -> Result<(ExprPool, KroneckerForm), String> {
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
    let form = match e.kind.as_str() {
        "hessian" => hessian_kronecker(&mut pool, &expr, &e.wrt, &options),
        "jacobian" => jacobian_kronecker(&mut pool, &expr, &e.wrt, &options),
        other => return Err(format!("unknown kind '{other}'")),
    }
    .map_err(|err| format!("derive: {err}"))?;
    Ok((pool, form))
}

/// The form as a dense matrix at `values`: every matrix in it evaluated by one plan, the
/// Kronecker products, commutation matrices and `diag(vec(.))` formed.
fn dense(pool: &ExprPool, form: &KroneckerForm, values: &Values<f64>) -> Result<Mat<f64>, String> {
    let mut roots: Vec<ExprId> = Vec::new();
    for t in &form.terms {
        roots.push(t.scale);
        for f in &t.factors {
            match f {
                VecFactor::Kron { left, right } => roots.extend([*left, *right]),
                VecFactor::DiagVec(p) => roots.push(*p),
                VecFactor::Outer { col, row } => roots.extend([*col, *row]),
                VecFactor::Commutation { .. } => {}
            }
        }
    }
    let sizes = Sizes::from_values(pool, values).map_err(|e| e.to_string())?;
    let mut plan = Plan::compile_with(pool, &roots, &sizes, &Options::new().threads(1))
        .map_err(|e| format!("compiling: {e}"))?;
    let out = plan.run(values).map_err(|e| format!("evaluating: {e}"))?;
    let mut next = out.iter();
    let mut total: Option<Mat<f64>> = None;
    for t in &form.terms {
        let scale = next.next().expect("a scale")[(0, 0)];
        let mut product: Option<Mat<f64>> = None;
        for f in &t.factors {
            let m = match f {
                VecFactor::Kron { .. } => {
                    let (l, r) = (next.next().expect("left"), next.next().expect("right"));
                    kron(l.as_ref(), r.as_ref())
                }
                VecFactor::DiagVec(_) => diag_vec(next.next().expect("P").as_ref()),
                VecFactor::Outer { .. } => {
                    let (p, q) = (next.next().expect("col"), next.next().expect("row"));
                    let (pm, qm) = (p.nrows(), q.nrows());
                    Mat::from_fn(pm * p.ncols(), qm * q.ncols(), |i, j| {
                        p[(i % pm, i / pm)] * q[(j % qm, j / qm)]
                    })
                }
                VecFactor::Commutation { rows, cols } => {
                    let m = sizes.dim(pool, *rows).map_err(|e| e.to_string())?;
                    let n = sizes.dim(pool, *cols).map_err(|e| e.to_string())?;
                    commutation(m, n)
                }
            };
            product = Some(match product {
                None => m,
                Some(p) => {
                    if p.ncols() != m.nrows() {
                        return Err(format!(
                            "factors of {} x {} and {} x {} do not multiply",
                            p.nrows(),
                            p.ncols(),
                            m.nrows(),
                            m.ncols()
                        ));
                    }
                    &p * &m
                }
            });
        }
        let product = product.expect("a factor");
        let term = Mat::from_fn(product.nrows(), product.ncols(), |i, j| {
            scale * product[(i, j)]
        });
        total = Some(match total {
            None => term,
            Some(s) if (s.nrows(), s.ncols()) == (term.nrows(), term.ncols()) => s + term,
            Some(_) => return Err("terms of different sizes".to_string()),
        });
    }
    total.ok_or_else(|| "the zero form".to_string())
}

fn check_derivation_steps(
    pool: &ExprPool,
    d: &Derivation,
    values: &Values<f64>,
    seed: u64,
) -> Result<(), String> {
    let lines: Vec<(ExprId, bool)> = d.steps.iter().map(|s| (s.expr, s.continues)).collect();
    let x = pool.find_symbol(&d.wrt).expect("the variable");
    let report = check_steps(
        pool,
        &lines,
        (d.differential, x),
        &d.definitions,
        values,
        &Options::new().threads(1),
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
    Ok(())
}

fn check_draw(
    pool: &ExprPool,
    e: &Entry,
    form: &KroneckerForm,
    literature: ExprId,
    draw: u64,
) -> Result<(), String> {
    let seed = e.name.bytes().fold(0xcbf29ce484222325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x100000001b3)
    }) ^ draw;
    let s = &form.derivation;
    let mut values = random_values(pool, s.function, seed);
    let x = values
        .get(&e.wrt)
        .ok_or("no value of the variable")?
        .clone();
    if x.nrows() * x.ncols() < 2 {
        return Err(format!("the variable is {} x {}", x.nrows(), x.ncols()));
    }
    let coptions = Options::<Complex<f64>>::new().threads(1);
    let reference = match form.kind {
        SecondKind::Jacobian => complex_step_jacobian(pool, s.function, &e.wrt, &values, &coptions),
        _ => complex_step_jacobian(pool, s.first.gradient, &e.wrt, &values, &coptions),
    }
    .map_err(|e| format!("complex step: {e}"))?;
    let result = dense(pool, form, &values)?;
    let err = relative_error(&result, &reference);
    if err.is_nan() || err > TOLERANCE {
        return Err(format!(
            "the Kronecker form differs from the complex step by {err:.1e} (draw {draw})"
        ));
    }
    let lit = matdiff_faer::eval(pool, literature, &values)
        .map_err(|err| format!("evaluating the literature form: {err}"))?;
    let err = relative_error(&lit, &reference);
    if err.is_nan() || err > TOLERANCE {
        return Err(format!(
            "the literature form differs from the complex step by {err:.1e} (draw {draw})"
        ));
    }
    // The direction (V of X's shape, or U of F's for a Jacobian), for the derivations' lines.
    let (rows, cols) = match form.kind {
        SecondKind::Jacobian => {
            let f = matdiff_faer::eval(pool, s.function, &values).map_err(|e| e.to_string())?;
            (f.nrows(), f.ncols())
        }
        _ => (x.nrows(), x.ncols()),
    };
    let mut state = seed ^ 0x5eed;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
    };
    let direction = Mat::from_fn(rows, cols, |_, _| uniform());
    values.insert(s.direction.as_str(), direction);
    if let Some(second) = &s.second {
        check_derivation_steps(pool, second, &values, seed)?;
    }
    check_derivation_steps(pool, &s.first, &values, seed)
}

fn check_entry(e: &Entry) -> Result<String, String> {
    let (mut pool, form) = derive_entry(e)?;
    let literature = pool
        .parse(&e.literature)
        .map_err(|err| format!("literature: {}", err.render(&e.literature)))?
        .root;
    let text = form.text(&pool, Style::Plain);
    if text != e.literature {
        return Err(format!(
            "printed {text}, the literature form is {}",
            e.literature
        ));
    }
    for draw in 0..DRAWS {
        check_draw(&pool, e, &form, literature, draw)?;
    }
    Ok(format!(
        "{} ({}): {}\n\n{}",
        e.name,
        e.source,
        e.expr,
        form.display(&pool, Style::Plain)
    ))
}

#[test]
fn kronecker_catalog() {
    let failures = Mutex::new(Vec::new());
    let names = Mutex::new(BTreeSet::new());
    insta::glob!("kronecker/*.txt", |path: &std::path::Path| {
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
    assert!(names.len() >= 15, "only {} Kronecker entries", names.len());
    for kind in ["hessian:", "jacobian:"] {
        assert!(
            names.iter().filter(|n| n.starts_with(kind)).count() >= 6,
            "fewer than 6 entries of {kind}"
        );
    }
}

/// The check bites: logdet's Hessian without its commutation matrix, `-(inv(X) ⊗ inv(X)')`,
/// is the right size and wrong.
#[test]
fn a_form_without_its_commutation_matrix_fails_the_check() {
    let e = parse_entry(
        "name: logdet\nsource: test\nkind: hessian\nexpr: logdet(X)\nwrt: X\nliterature: -",
    )
    .unwrap();
    let (mut pool, mut form) = derive_entry(&e).unwrap();
    let right = pool
        .parse("-(inv(X) ⊗ inv(X)')*commutation(rows(X), rows(X))")
        .unwrap()
        .root;
    let wrong = pool.parse("-(inv(X) ⊗ inv(X)')").unwrap().root;
    check_draw(&pool, &e, &form, right, 0).unwrap();
    // The literature form is checked too: without its commutation matrix it fails.
    let err = check_draw(&pool, &e, &form, wrong, 0).unwrap_err();
    assert!(err.contains("the literature form differs"), "{err}");
    let term = &mut form.terms[0];
    assert!(matches!(
        term.factors.pop(),
        Some(VecFactor::Commutation { .. })
    ));
    let err = check_draw(&pool, &e, &form, right, 0).unwrap_err();
    assert!(err.contains("differs from the complex step"), "{err}");
}
