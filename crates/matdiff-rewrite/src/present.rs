//! The literature's order of a sum's terms: `A + A'`, not `A' + A`.

use std::collections::HashMap;

use matdiff_expr::{ExprError, ExprId, ExprPool, Node};

/// `id` with every sum that holds both a term and its transpose reordered so that the term
/// comes first (`A' + A` becomes `A + A'`); the value is unchanged.
///
/// ```
/// use matdiff_expr::ExprPool;
/// use matdiff_rewrite::literature_order;
/// let mut pool = ExprPool::new();
/// let e = pool.parse("(A' + A)*x + B").unwrap();
/// let tidy = literature_order(&mut pool, e.root).unwrap();
/// assert_eq!(pool.plain(tidy), "(A + A')*x + B");
/// ```
pub fn literature_order(pool: &mut ExprPool, id: ExprId) -> Result<ExprId, ExprError> {
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
    if let Node::Add(_) = pool.node(id) {
        new = transposes_last(pool, &new);
    }
    let out = if new == children {
        id
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
