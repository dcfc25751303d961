//! A memo keyed by node: the pool's ids are dense, so a vector indexed by id, no hashing.

use matdiff_expr::ExprId;

/// Values remembered by node id.
#[derive(Clone, Debug)]
pub(crate) struct IdMemo<T: Copy> {
    values: Vec<Option<T>>,
}

impl<T: Copy> IdMemo<T> {
    pub(crate) fn new() -> IdMemo<T> {
        IdMemo { values: Vec::new() }
    }

    pub(crate) fn get(&self, id: ExprId) -> Option<T> {
        self.values.get(id.index()).copied().flatten()
    }

    pub(crate) fn insert(&mut self, id: ExprId, value: T) {
        let i = id.index();
        if i >= self.values.len() {
            // Grown in steps, so that a growing pool does not resize it at every new node.
            self.values
                .resize((i + 1).max(2 * self.values.len()).max(64), None);
        }
        self.values[i] = Some(value);
    }
}
