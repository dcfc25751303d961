//! Printing the Kronecker product, `vec`, `unvec` and the commutation matrix: plain
//! `kron(A, B)`, `vec(X)`, `unvec(g, rows(X))`, `commutation(rows(X), cols(X))`; Unicode
//! `A ⊗ B`, `K(m,n)`; LaTeX `A \otimes B`, `\operatorname{vec}`, `K_{m,n}`.

use std::fmt::{self, Write};

use crate::node::{Dim, ExprId, Node};

use super::{Prec, Printer, Style};

impl Printer<'_> {
    /// The binding strength of a node of this module.
    pub(super) fn vec_op_prec(&self, node: &Node) -> Prec {
        match node {
            // Looser than a product, so that `(A ⊗ B)·C` keeps its parentheses.
            Node::Kron(_) if self.style != Style::Plain => Prec::Neg,
            _ => Prec::Atom,
        }
    }

    /// A size as written in a call: `rows(X)` or a number in the plain style (the dimension's
    /// name when no variable has it), the name elsewhere.
    fn size_arg(&self, d: Dim) -> String {
        match self.style {
            Style::Plain => self.dim_text(d).unwrap_or_else(|| {
                self.unnamed.set(true);
                self.pool.dim_str(d)
            }),
            _ => self.pool.dim_str(d),
        }
    }

    /// Writes a node of this module.
    pub(super) fn write_vec_op(&self, out: &mut String, id: ExprId) -> fmt::Result {
        let st = self.style;
        let call = |out: &mut String, name: &str| match st {
            Style::Latex => write!(out, "\\operatorname{{{name}}}\\left("),
            _ => write!(out, "{name}("),
        };
        match *self.pool.node(id) {
            Node::Kron([a, b]) if st == Style::Plain => {
                out.write_str("kron(")?;
                self.write(out, a, Prec::Sum, None)?;
                out.write_str(", ")?;
                self.write(out, b, Prec::Sum, None)?;
                out.write_str(")")
            }
            Node::Kron([a, b]) => {
                self.write(out, a, Prec::Power, None)?;
                out.write_str(if st == Style::Latex {
                    " \\otimes "
                } else {
                    " ⊗ "
                })?;
                self.write(out, b, Prec::Power, None)
            }
            Node::Vectorize(a) => {
                call(out, "vec")?;
                self.write(out, a, Prec::Sum, None)?;
                out.write_str(self.close())
            }
            Node::Unvec(g, m) => {
                match st {
                    Style::Latex => write!(
                        out,
                        "\\operatorname{{unvec}}_{{{}}}\\left(",
                        self.size_arg(m)
                    )?,
                    _ => out.write_str("unvec(")?,
                }
                self.write(out, g, Prec::Sum, None)?;
                if st != Style::Latex {
                    write!(out, ", {}", self.size_arg(m))?;
                }
                out.write_str(self.close())
            }
            Node::Commutation(m, n) => {
                let (m, n) = (self.size_arg(m), self.size_arg(n));
                match st {
                    Style::Plain => write!(out, "commutation({m}, {n})"),
                    Style::Unicode => write!(out, "K({m},{n})"),
                    Style::Latex => write!(out, "K_{{{m},{n}}}"),
                }
            }
            _ => unreachable!("not a node of this module"),
        }
    }
}
