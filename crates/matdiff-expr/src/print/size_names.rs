//! Sizes as the plain text writes them: `rows(A)`, `cols(A)` after a variable of the user's, a
//! quotient `rows(y)/2` for a factor only a product names, products of those.

use std::collections::HashMap;

use crate::node::{Dim, ExprId, Node};

use super::{Printer, Style};

impl Printer<'_> {
    /// A size as the plain text writes it (see `dim_text`): a number, `rows(A)` or `cols(A)`
    /// of a variable of the user's, a quotient, a product of those; `None` when no variable
    /// of the user's names it (a direction the rewriter made does not).
    ///
    /// ```
    /// use matdiff_expr::{ExprPool, Printer, Style};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("unvec(y, 2)").unwrap();
    /// let (p, shape) = (Printer::new(&pool, Style::Plain), pool.shape(e.root));
    /// assert_eq!(p.size_text(shape.rows).as_deref(), Some("2"));
    /// assert_eq!(p.size_text(shape.cols).as_deref(), Some("rows(y)/2"));
    /// ```
    pub fn size_text(&self, d: Dim) -> Option<String> {
        self.dim_text(d)
    }

    /// `rows(A)` or `cols(A)` after the first variable of the user's (in the order they were
    /// made) of that size, or a number; a factor of a variable's size as a quotient,
    /// `rows(y)/2` (the columns of `unvec(y, 2)`); a product of those. `None` when no variable
    /// of the user's has it (the rewriter's differentials do not count: see
    /// [`ExprPool::mark_internal`](crate::ExprPool::mark_internal)).
    pub(super) fn dim_text(&self, d: Dim) -> Option<String> {
        if let Dim::Known(k) = d {
            return Some(k.to_string());
        }
        if let Some(name) = self.size_names().get(&d) {
            return Some(name.clone());
        }
        match d {
            Dim::Prod(_) => {
                let texts: Option<Vec<String>> = self
                    .pool
                    .dim_factors(d)
                    .into_iter()
                    .map(|f| {
                        let t = self.dim_text(f)?;
                        Some(if t.contains('/') { format!("({t})") } else { t })
                    })
                    .collect();
                texts.map(|t| t.join("*"))
            }
            _ => self.quotient_text(d),
        }
    }

    /// A symbolic dimension that only a product names, as the quotient `rows(y)/2` of the
    /// first such product by its other factors (each a number or a named dimension).
    fn quotient_text(&self, d: Dim) -> Option<String> {
        let names = self.size_names();
        let mut products: Vec<(&Dim, &String)> = names
            .iter()
            .filter(|(p, _)| matches!(p, Dim::Prod(_)))
            .collect();
        products.sort_by(|a, b| a.1.cmp(b.1));
        for (&p, name) in products {
            let mut rest = self.pool.dim_factors(p);
            let Some(i) = rest.iter().position(|&f| f == d) else {
                continue;
            };
            rest.remove(i);
            let texts: Option<Vec<String>> = rest
                .iter()
                .map(|&f| match f {
                    Dim::Known(k) => Some(k.to_string()),
                    _ => names.get(&f).cloned(),
                })
                .collect();
            match texts {
                Some(t) if t.len() == 1 => return Some(format!("{name}/{}", t[0])),
                Some(t) => return Some(format!("{name}/({})", t.join("*"))),
                None => continue,
            }
        }
        None
    }

    /// `rows(A)` or `cols(A)` for each symbolic dimension (or product) of a variable of the
    /// user's, after the first variable (in the order they were made) that has it.
    fn size_names(&self) -> &HashMap<Dim, String> {
        self.dim_names.get_or_init(|| {
            let mut vars = self.pool.vars();
            vars.sort_by_key(|v| v.0);
            let mut names = HashMap::new();
            for (sym, info) in vars {
                let name = self.pool.name(sym);
                let plain = name.chars().next().is_some_and(char::is_alphabetic)
                    && name.chars().all(|c| c.is_alphanumeric() || c == '_');
                if !plain || self.pool.is_internal(sym) {
                    continue;
                }
                for (dim, word) in [(info.shape.rows, "rows"), (info.shape.cols, "cols")] {
                    if !matches!(dim, Dim::Known(_)) {
                        names
                            .entry(dim)
                            .or_insert_with(|| format!("{word}({name})"));
                    }
                }
            }
            names
        })
    }

    /// The size a pair of product factors `ones'*ones` counts, as `rows(A)`, when it has a
    /// name.
    pub(super) fn count_text(&self, a: ExprId, b: ExprId) -> Option<String> {
        let (Node::Transpose(t), Node::Ones(d)) = (self.pool.node(a), self.pool.node(b)) else {
            return None;
        };
        if *t != b || self.is_named(a) || self.is_named(b) || *d == Dim::ONE {
            return None;
        }
        let Dim::Sym(_) = d else { return None };
        let Some(text) = self.dim_text(*d) else {
            // Printed as `ones'*ones`, whose size nothing fixes.
            self.unnamed.set(true);
            return None;
        };
        // A quotient `rows(y)/2` is one operand.
        let text = if text.contains('/') {
            format!("({text})")
        } else {
            text
        };
        Some(match self.style {
            Style::Latex => match text.split_once('(') {
                Some((word, rest)) => format!("\\operatorname{{{word}}}({rest}"),
                None => text,
            },
            _ => text,
        })
    }
}
