//! Variables in bulk. A variable's information is kept in a [`SymbolMap`]: a vector indexed by
//! the symbol. Symbols are numbered densely in the order their names first appear, so a lookup
//! is one indexed read (no hashing), and the variables of a long input are read in about the
//! order they were written, which the cache likes, where a hash table of 300,000 entries misses
//! on nearly every read.

use super::{ExprPool, Structure, VarInfo};
use crate::error::ExprError;
use crate::node::{Shape, Symbol};

impl ExprPool {
    /// Makes room for `n` more names of `bytes` bytes in all, so that interning the variables of
    /// a long input does not rehash the table again and again.
    pub(crate) fn reserve_names(&mut self, n: usize, bytes: usize) {
        self.names.reserve(n, bytes);
    }

    /// Declares (or re-declares with the same shape) a variable. A variable's shape is fixed once
    /// declared; declaring it again with another shape is an error.
    pub fn declare_var(
        &mut self,
        name: &str,
        shape: Shape,
        symmetric: bool,
    ) -> Result<Symbol, ExprError> {
        let s = self.symbol(name);
        self.declare_symbol_var(s, name, shape, symmetric)
    }

    fn declare_symbol_var(
        &mut self,
        s: Symbol,
        name: &str,
        shape: Shape,
        symmetric: bool,
    ) -> Result<Symbol, ExprError> {
        if symmetric && !shape.is_square() {
            return Err(ExprError::NotSquare {
                what: format!("symmetric {name}"),
                shape: self.shape_str(shape),
            });
        }
        if self.functions.contains_key(&s) {
            return Err(ExprError::FunctionAsVariable {
                name: name.to_string(),
            });
        }
        match self.vars.get(&s) {
            Some(info) if info.shape != shape => Err(ExprError::Redeclared {
                name: name.to_string(),
                old: self.shape_str(info.shape),
                new: self.shape_str(shape),
            }),
            Some(_) => {
                self.vars.get_mut(&s).expect("present").symmetric |= symmetric;
                Ok(s)
            }
            None => {
                self.vars.insert(
                    s,
                    VarInfo {
                        shape,
                        symmetric,
                        structure: Structure::General,
                    },
                );
                Ok(s)
            }
        }
    }
}

/// Values by [`Symbol`], with the subset of a `HashMap`'s API that the pool uses.
#[derive(Clone, Debug)]
pub(super) struct SymbolMap<T> {
    slots: Vec<Option<T>>,
}

impl<T> Default for SymbolMap<T> {
    fn default() -> Self {
        SymbolMap { slots: Vec::new() }
    }
}

impl<T> SymbolMap<T> {
    /// Room for `n` symbols.
    pub(super) fn with_capacity(n: usize) -> SymbolMap<T> {
        SymbolMap {
            slots: Vec::with_capacity(n),
        }
    }

    #[inline]
    pub(super) fn get(&self, s: &Symbol) -> Option<&T> {
        self.slots.get(s.0 as usize)?.as_ref()
    }

    #[inline]
    pub(super) fn get_mut(&mut self, s: &Symbol) -> Option<&mut T> {
        self.slots.get_mut(s.0 as usize)?.as_mut()
    }

    #[inline]
    pub(super) fn contains_key(&self, s: &Symbol) -> bool {
        self.get(s).is_some()
    }

    /// Sets the value of `s`, growing the vector to reach it.
    pub(super) fn insert(&mut self, s: Symbol, value: T) {
        let i = s.0 as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        self.slots[i] = Some(value);
    }

    /// The values, in the order of their symbols.
    pub(super) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().flatten()
    }

    /// The symbols with their values, in the order of the symbols.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Symbol, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, v)| Some((Symbol(i as u32), v.as_ref()?)))
    }
}
