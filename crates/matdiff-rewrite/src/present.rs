//! The literature's form of a result: `A + A'`, not `A' + A`; `diag(p) - u*p'`, not
//! `(I - u*ones')*diag(p)`.

use std::collections::HashMap;

use matdiff_expr::{ExprError, ExprId, ExprPool, Node};

/// `id` with every sum that holds both a term and its transpose reordered so that the term
/// comes first (`A' + A` becomes `A + A'`), and `(I - u*ones')*diag(p)` in a product written
/// `diag(p) - u*p'`; the value is unchanged.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::literature_form;
/// let mut pool = ExprPool::new();
/// let e = pool.parse("(A' + A)*x + b").unwrap();
/// let tidy = literature_form(&mut pool, e.root).unwrap();
/// assert_eq!(pool.plain(tidy), "(A + A')*x + b");
/// let mut pool = ExprPool::new();
/// let e = pool.parse("W'*(I - p*ones')*diag(p)*W").unwrap();
/// let tidy = literature_form(&mut pool, e.root).unwrap();
/// assert_eq!(pool.plain(tidy), "W'*(diag(p) - p*p')*W");
/// let mut pool = ExprPool::new();
/// let e = pool.parse("(I - 2*u*ones')*diag(p)").unwrap();
/// let tidy = literature_form(&mut pool, e.root).unwrap();
/// assert_eq!(pool.plain(tidy), "diag(p) - 2*u*p'");
/// ```
pub fn literature_form(pool: &mut ExprPool, id: ExprId) -> Result<ExprId, ExprError> {
    let mut memo = HashMap::new();
    reorder(pool, id, &mut memo)
}

fn reorder(
    pool: &mut ExprPool,
    id: ExprId,
    memo: &mut HashMap<ExprId, ExprId>,
) -> Result<ExprId, ExprError> {
    if let Some(&done) = memo.get(&id) {
        return Ok(done);
    }
    let children: Vec<ExprId> = pool.node(id).children().to_vec();
    let mut new = Vec::with_capacity(children.len());
    for c in &children {
        new.push(reorder(pool, *c, memo)?);
    }
    match pool.node(id) {
        Node::Add(_) => new = transposes_last(pool, &new),
        Node::Mul(_) => new = ones_through_diag(pool, &new)?,
        _ => {}
    }
    let out = if new == children {
        id
    } else if new.len() == 1 && matches!(pool.node(id), Node::Mul(_)) {
        // `(I - u*ones')*diag(p)` was the whole product.
        new[0]
    } else {
        pool.with_children(id, &new)?
    };
    memo.insert(id, out);
    Ok(out)
}

/// The terms with each `A` moved just before an `A'` that came before it.
fn transposes_last(pool: &ExprPool, terms: &[ExprId]) -> Vec<ExprId> {
    let mut out: Vec<ExprId> = Vec::with_capacity(terms.len());
    let mut moved = vec![false; terms.len()];
    for (i, &t) in terms.iter().enumerate() {
        if moved[i] {
            continue;
        }
        if let Node::Transpose(a) = pool.node(t) {
            if let Some(j) = (i + 1..terms.len()).find(|&j| !moved[j] && terms[j] == *a) {
                moved[j] = true;
                out.push(*a);
            }
        }
        out.push(t);
    }
    out
}

/// `ones'` (a transposed all-ones vector).
fn is_ones_row(pool: &ExprPool, id: ExprId) -> bool {
    matches!(pool.node(id), Node::Transpose(o) if matches!(pool.node(*o), Node::Ones(_)))
}

/// `term*diag(p)` when it is compact: `I*diag(p)` is `diag(p)`, `c*u*ones'*diag(p)` is
/// `c*u*p'` (and the same under a minus); `None` otherwise.
fn times_diag(pool: &mut ExprPool, term: ExprId, p: ExprId) -> Result<Option<ExprId>, ExprError> {
    match pool.node(term).clone() {
        Node::Identity(_) => Ok(Some(pool.intern(Node::Diag(p))?)),
        Node::Neg(a) => match times_diag(pool, a, p)? {
            Some(x) => Ok(Some(pool.intern(Node::Neg(x))?)),
            None => Ok(None),
        },
        Node::Mul(xs) if xs.len() >= 2 && is_ones_row(pool, xs[xs.len() - 1]) => {
            let mut factors = xs[..xs.len() - 1].to_vec();
            factors.push(pool.intern(Node::Transpose(p))?);
            Ok(Some(pool.intern(Node::Mul(factors.into()))?))
        }
        _ => Ok(None),
    }
}

/// The factors of a product with `(I - u*ones')*diag(p)` written `diag(p) - u*p'` (`ones'*diag(p)`
/// is `p'`).
fn ones_through_diag(pool: &mut ExprPool, factors: &[ExprId]) -> Result<Vec<ExprId>, ExprError> {
    let mut out: Vec<ExprId> = Vec::with_capacity(factors.len());
    for &f in factors {
        if let (Some(&last), Node::Diag(p)) = (out.last(), pool.node(f).clone()) {
            let column = pool.shape(p).cols == matdiff_expr::Dim::ONE;
            if let (true, Node::Add(terms)) = (column, pool.node(last).clone()) {
                let mut rewritten = Vec::with_capacity(terms.len());
                for &t in terms.iter() {
                    match times_diag(pool, t, p)? {
                        Some(x) => rewritten.push(x),
                        None => break,
                    }
                }
                if rewritten.len() == terms.len() {
                    out.pop();
                    out.push(pool.intern(Node::Add(rewritten.into()))?);
                    continue;
                }
            }
        }
        out.push(f);
    }
    Ok(out)
}
