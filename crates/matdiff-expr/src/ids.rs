//! [`Ids`], the children of a sum or a product: up to four held inline, more in one shared
//! allocation, so that making, cloning and dropping a typical node allocates nothing.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

use crate::node::ExprId;

/// How many ids are held without an allocation.
const INLINE: usize = 4;

/// The children of an n-ary node ([`Node::Add`](crate::Node::Add), `Mul`, `Hadamard`): a slice
/// of ids that is cheap to clone. Up to four are held inline, more in one reference-counted
/// allocation shared by the clones. Compared, hashed and printed as the slice.
///
/// ```
/// use matdiff_expr::{ExprPool, Ids, Node};
/// let mut pool = ExprPool::new();
/// let sum = pool.parse("A + B").unwrap().root;
/// let Node::Add(terms) = pool.node(sum).clone() else { unreachable!() };
/// let (a, b) = (terms[0], terms[1]);
/// assert_eq!(pool.intern(Node::Add(Ids::from([a, b]))).unwrap(), sum);
/// assert_eq!(Ids::from(vec![a, b]), terms);
/// ```
#[derive(Clone)]
pub struct Ids(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, ids: [ExprId; INLINE] },
    Shared(Arc<[ExprId]>),
}

impl Ids {
    /// The ids as a slice.
    #[inline]
    pub fn as_slice(&self) -> &[ExprId] {
        match &self.0 {
            Repr::Inline { len, ids } => &ids[..usize::from(*len)],
            Repr::Shared(ids) => ids,
        }
    }
}

impl Deref for Ids {
    type Target = [ExprId];

    #[inline]
    fn deref(&self) -> &[ExprId] {
        self.as_slice()
    }
}

impl From<&[ExprId]> for Ids {
    #[inline]
    fn from(slice: &[ExprId]) -> Ids {
        if slice.len() <= INLINE {
            let mut ids = [ExprId(0); INLINE];
            ids[..slice.len()].copy_from_slice(slice);
            Ids(Repr::Inline {
                len: slice.len() as u8,
                ids,
            })
        } else {
            Ids(Repr::Shared(slice.into()))
        }
    }
}

impl From<&Vec<ExprId>> for Ids {
    #[inline]
    fn from(ids: &Vec<ExprId>) -> Ids {
        Ids::from(ids.as_slice())
    }
}

impl From<Vec<ExprId>> for Ids {
    #[inline]
    fn from(ids: Vec<ExprId>) -> Ids {
        Ids::from(ids.as_slice())
    }
}

impl From<Box<[ExprId]>> for Ids {
    #[inline]
    fn from(ids: Box<[ExprId]>) -> Ids {
        Ids::from(&ids[..])
    }
}

impl<const N: usize> From<[ExprId; N]> for Ids {
    #[inline]
    fn from(ids: [ExprId; N]) -> Ids {
        Ids::from(&ids[..])
    }
}

impl FromIterator<ExprId> for Ids {
    /// Collects without an allocation up to four ids.
    fn from_iter<I: IntoIterator<Item = ExprId>>(iter: I) -> Ids {
        let mut iter = iter.into_iter();
        let mut ids = [ExprId(0); INLINE];
        let mut len = 0;
        while let Some(x) = iter.next() {
            if len == INLINE {
                let mut all = Vec::with_capacity(2 * INLINE);
                all.extend_from_slice(&ids);
                all.push(x);
                all.extend(iter);
                return Ids(Repr::Shared(all.into()));
            }
            ids[len] = x;
            len += 1;
        }
        Ids(Repr::Inline {
            len: len as u8,
            ids,
        })
    }
}

impl<'a> IntoIterator for &'a Ids {
    type Item = &'a ExprId;
    type IntoIter = std::slice::Iter<'a, ExprId>;

    #[inline]
    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq for Ids {
    #[inline]
    fn eq(&self, other: &Ids) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Ids {}

impl Hash for Ids {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state);
    }
}

impl PartialOrd for Ids {
    fn partial_cmp(&self, other: &Ids) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ids {
    fn cmp(&self, other: &Ids) -> std::cmp::Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl fmt::Debug for Ids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_slice().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u32) -> Vec<ExprId> {
        (0..n).map(ExprId).collect()
    }

    #[test]
    fn inline_and_shared_hold_the_same_slice() {
        for n in 0..10 {
            let v = ids(n);
            let a = Ids::from(v.clone());
            assert_eq!(a.as_slice(), &v[..]);
            assert_eq!(a.clone(), a);
            assert_eq!(a.iter().copied().collect::<Ids>(), a);
            assert_eq!(format!("{a:?}"), format!("{v:?}"));
        }
    }

    #[test]
    fn equal_slices_hash_alike() {
        use crate::fxhash::FxHasher;
        let hash = |x: &Ids| {
            let mut h = FxHasher::default();
            x.hash(&mut h);
            h.finish()
        };
        let (short, long) = (Ids::from(ids(3)), Ids::from(ids(7)));
        assert_eq!(hash(&short), hash(&Ids::from(&ids(3)[..])));
        assert_eq!(hash(&long), hash(&long.clone()));
        assert_ne!(short, long);
    }
}
