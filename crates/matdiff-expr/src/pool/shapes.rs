//! The shapes of a pool's nodes, each distinct shape stored once and a node's as a 4-byte
//! index: a long input's nodes have a handful of shapes, and a 32-byte shape per node was a
//! third of the pool's memory.

use std::ops::Index;

use crate::fxhash::FxHashMap;
use crate::node::Shape;

/// The shape of each node, by node index.
#[derive(Clone, Debug, Default)]
pub(super) struct NodeShapes {
    /// The index in `distinct` of each node's shape.
    ids: Vec<u32>,
    distinct: Vec<Shape>,
    index: FxHashMap<Shape, u32>,
}

impl NodeShapes {
    /// Room for `n` nodes, and for the few distinct shapes of a short expression (growing the
    /// shape table from empty reallocates it and rehashes its index several times).
    pub(super) fn with_capacity(n: usize) -> NodeShapes {
        const SHAPES: usize = 8;
        NodeShapes {
            ids: Vec::with_capacity(n),
            distinct: Vec::with_capacity(SHAPES),
            index: FxHashMap::with_capacity_and_hasher(SHAPES, Default::default()),
        }
    }

    /// Makes room for `n` more nodes.
    pub(super) fn reserve(&mut self, n: usize) {
        self.ids.reserve(n);
    }

    /// The shape of node `i`, if there is one.
    #[inline]
    pub(super) fn get(&self, i: usize) -> Option<&Shape> {
        self.ids.get(i).map(|&k| &self.distinct[k as usize])
    }

    /// Records the shape of the next node.
    #[inline]
    pub(super) fn push(&mut self, shape: Shape) {
        // A node often has its predecessor's shape: no hashing then.
        let k = match self.ids.last() {
            Some(&k) if self.distinct[k as usize] == shape => k,
            _ => *self.index.entry(shape).or_insert_with(|| {
                self.distinct.push(shape);
                (self.distinct.len() - 1) as u32
            }),
        };
        self.ids.push(k);
    }
}

impl Index<usize> for NodeShapes {
    type Output = Shape;

    #[inline]
    fn index(&self, i: usize) -> &Shape {
        &self.distinct[self.ids[i] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::NodeShapes;
    use crate::node::{Dim, Shape};

    #[test]
    fn each_node_keeps_its_shape_and_each_shape_is_stored_once() {
        let s = |r, c| Shape::new(Dim::Known(r), Dim::Known(c));
        let wanted = [s(2, 3), s(2, 3), s(1, 1), s(2, 3), s(3, 2), s(1, 1)];
        let mut shapes = NodeShapes::with_capacity(2);
        for &shape in &wanted {
            shapes.push(shape);
        }
        for (i, shape) in wanted.iter().enumerate() {
            assert_eq!((&shapes[i], shapes.get(i)), (shape, Some(shape)));
        }
        assert_eq!((shapes.get(6), shapes.distinct.len()), (None, 3));
    }
}
