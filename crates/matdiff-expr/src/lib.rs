//! The expression core of matdiff: an interned DAG of matrix expressions with shapes, a parser with
//! byte spans and printers (plain, Unicode, LaTeX).
//!
//! It is purely symbolic: no numbers are computed here (`matdiff-faer` evaluates, `matdiff-rewrite`
//! differentiates). Expressions live in an [`ExprPool`]; an [`ExprId`] is a handle, and equal ids
//! are equal expressions.
//!
//! ```
//! use matdiff_expr::{Decl, ExprPool, Printer, Style};
//!
//! let mut pool = ExprPool::new();
//! let e = pool.parse_with("tr(Y'*M*Y) where Y = sigmoid(W*X)", &[Decl::parse("M: symmetric").unwrap()]).unwrap();
//! let printer = Printer::new(&pool, Style::Plain).with_bindings(&e.bindings);
//! assert_eq!(printer.print(e.root), "tr(Y'*M*Y) where Y = sigmoid(W*X)");
//! // W is m x n, X is n x p, M is m x m: dimensions unify through the binding.
//! let w = pool.find_symbol("W").unwrap();
//! assert_eq!(pool.shape_str(pool.var_info(w).unwrap().shape), "m x n");
//! ```
#![warn(missing_docs)]

mod decl;
mod error;
mod functions;
mod fxhash;
mod ids;
mod infer;
mod lexer;
mod names;
mod node;
mod parser;
mod pool;
mod print;
mod sizes;
mod vec_form;

pub use decl::{Decl, DeclDim, DeclShape, DECL_WORDS};
pub use error::{ExprError, ParseError, ParseErrorKind};
pub use functions::{builtin, is_abstract_function_name, Builtin, BUILTINS, NOT_YET};
pub use fxhash::{FxHashMap, FxHashSet, FxHasher};
pub use ids::Ids;
pub use infer::Expr;
pub use node::{
    Dim, DimProd, DimVar, ExprId, Fun, Func, Node, Num, Reduce, Shape, Symbol, Triangle,
};
pub use pool::{mul_shape, ExprPool, Limits, Structure, VarInfo};
pub use print::{extreme_arguments, softmax_argument, Printer, Style};
pub use vec_form::{VecFactor, VecTerm};

impl ExprPool {
    /// Parses an expression of the language into this pool, inferring every shape.
    ///
    /// Variables the pool already knows keep their shapes; new ones get the default shape of their
    /// name (capitalised: matrix, lower case: column vector, Greek: scalar).
    pub fn parse(&mut self, src: &str) -> Result<Expr, ParseError> {
        self.parse_with(src, &[])
    }

    /// Parses with declarations (`--let`). An error in a declaration has `decl` set to its index
    /// and a span into its text.
    pub fn parse_with(&mut self, src: &str, decls: &[Decl]) -> Result<Expr, ParseError> {
        let declared = decls
            .iter()
            .filter(|d| d.function)
            .flat_map(|d| d.names.iter().map(|n| n.0.clone()))
            .chain(self.function_names())
            .collect();
        parser::check_length(src, &self.limits())?;
        let tokens = lexer::lex(src)?;
        // The syntax tree's nodes, freed at once when the parse is done. A token makes at most
        // one node and its place in a list (a pointer, an operator's span): room for that up
        // front, so that the arena does not grow (up to 1 GiB, then it grows).
        let per_token = std::mem::size_of::<parser::Ast>() + 24;
        let arena = bumpalo::Bump::with_capacity((per_token * tokens.len()).min(1 << 30));
        let mut parser = parser::Parser::new(src, tokens, &arena, self.limits(), declared);
        let (mut root, mut bindings) = parser.parse_top()?;
        let (nodes, hashed) = parser.node_counts();
        // The tokens are done with: freed before the pool grows.
        drop(parser);
        self.reserve_nodes(nodes, hashed);
        let mut inference = infer::Inference::new(self);
        for (k, decl) in decls.iter().enumerate() {
            inference
                .apply_decl(decl)
                .map_err(|e| e.in_decl(k).in_inference())?;
        }
        let (order, _) = inference
            .infer_all(&mut root, &mut bindings)
            .map_err(ParseError::in_inference)?;
        inference
            .lower_all(&root, &bindings, &order)
            .map_err(ParseError::in_inference)
    }

    /// A printer of this pool in the given style.
    pub fn printer(&self, style: Style) -> Printer<'_> {
        Printer::new(self, style)
    }

    /// The plain (re-parseable) form of a node.
    pub fn plain(&self, id: ExprId) -> String {
        Printer::new(self, Style::Plain).print(id)
    }

    /// The first `max_len` bytes of the plain form, in time bounded by `max_len`.
    ///
    /// ```
    /// let mut pool = matdiff_expr::ExprPool::new();
    /// let e = pool.parse("exp(A*B) + C").unwrap().root;
    /// assert_eq!(pool.plain_prefix(e, 6), "exp(A*");
    /// ```
    pub fn plain_prefix(&self, id: ExprId, max_len: usize) -> String {
        Printer::new(self, Style::Plain).print_prefix(id, max_len)
    }

    /// The first byte of the plain form when it is known without printing: of a variable, a
    /// function's application, a reduction, a transposed variable, or a product led by one of
    /// them; `None` otherwise. Two forms whose first bytes differ are ordered by them, so that
    /// sorting by [`ExprPool::plain_prefix`] prints only the forms that start alike.
    ///
    /// ```
    /// let mut pool = matdiff_expr::ExprPool::new();
    /// let e = pool.parse("exp(X*b) .* (Y*b) .* (-b)").unwrap().root;
    /// let first: Vec<Option<u8>> =
    ///     pool.node(e).children().iter().map(|&x| pool.plain_first_byte(x)).collect();
    /// assert_eq!(first, [Some(b'e'), Some(b'Y'), None]);
    /// ```
    pub fn plain_first_byte(&self, id: ExprId) -> Option<u8> {
        let leading = match self.node(id) {
            // A product's first factor, when it is written as it is (no parentheses, no count
            // `rows(A)`); what the printer writes first for each kind of node below.
            Node::Mul(xs) | Node::Hadamard(xs) => xs[0],
            _ => id,
        };
        let first = |text: &str| text.as_bytes().first().copied();
        let byte = match self.node(leading) {
            Node::Var(s) => first(self.name(*s)),
            Node::Apply { fun, .. } if softmax_argument(self, leading).is_none() => {
                first(self.fun_name(*fun))
            }
            Node::Reduce(r, _) => first(r.name()),
            Node::Transpose(a) => match self.node(*a) {
                Node::Var(s) => first(self.name(*s)),
                _ => None,
            },
            _ => None,
        };
        debug_assert!(byte.is_none_or(|b| self.plain_prefix(id, 8).as_bytes()[0] == b));
        byte
    }
}
