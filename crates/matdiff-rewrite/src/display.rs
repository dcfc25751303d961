//! Printing a derivation: aligned text with rule ids on the right, Markdown with LaTeX.

use std::collections::HashMap;

use matdiff_expr::{ExprPool, Printer, Style};

use crate::derive::{Derivation, Step, StepKind};
use crate::error::DeriveError;
use crate::kronecker::{KroneckerForm, VecFactor};
use crate::second_order::{SecondKind, SecondOrder, SecondOrderError};

impl Derivation {
    /// A printer for this derivation's expressions: bindings by name, differentials and
    /// gradients of names in the seed's notation.
    pub fn printer<'a>(&self, pool: &'a ExprPool, style: Style) -> Printer<'a> {
        let mut renames = HashMap::new();
        if style == Style::Latex {
            // The differential and the auxiliary variables of the definitions, as named.
            for &(sym, aux) in &self.aux {
                if sym == self.differential || self.definitions.iter().any(|d| d.0 == sym) {
                    renames.insert(sym, aux.latex(pool.name(sym)));
                }
            }
        }
        Printer::new(pool, style)
            .with_bindings(&self.names)
            .with_renames(renames)
    }

    /// The gradient with its `where` bindings; in the plain style re-parseable, and every `ones`
    /// or `I` whose size nothing else fixes is written with it (`ones(rows(A))`), so the text
    /// evaluates on its own.
    pub fn gradient_text(&self, pool: &ExprPool, style: Style) -> String {
        let names: Vec<(String, matdiff_expr::ExprId)> = self.bindings.clone();
        let p = Printer::new(pool, style).with_bindings(&names);
        p.print(self.gradient)
    }

    /// The plain [`Derivation::gradient_text`], or [`DeriveError::UnnamedSize`] when a size it
    /// must write has no name among the expression's variables (then the sizes must be
    /// declared): what a front end prints, so that the text always evaluates on its own.
    pub fn complete_gradient_text(&self, pool: &ExprPool) -> Result<String, DeriveError> {
        Printer::new(pool, Style::Plain)
            .with_bindings(&self.bindings)
            .print_complete(self.gradient)
            .ok_or_else(|| DeriveError::UnnamedSize {
                what: "gradient",
                wrt: self.wrt.clone(),
            })
    }

    /// The derivation as aligned text, one step per line with its rule ids and names on the
    /// right, in the plain or Unicode style.
    pub fn display(&self, pool: &ExprPool, style: Style) -> String {
        let printer = self.printer(pool, style);
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for step in &self.steps {
            let lhs = if step.continues {
                String::new()
            } else {
                step.lhs.to_string()
            };
            let mut body = printer.print_body(step.expr);
            if step.kind == StepKind::Function && !self.names.is_empty() {
                body = printer.print(step.expr);
            }
            let why = step
                .rules
                .iter()
                .map(|id| format!("{id} {}", id.rule().name))
                .collect::<Vec<_>>()
                .join(", ");
            rows.push((lhs, body, why));
        }
        let lw = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
        let bw = rows
            .iter()
            .map(|r| r.1.chars().count())
            .max()
            .unwrap_or(0)
            .min(100);
        let mut out = String::new();
        for (lhs, body, why) in rows {
            let pad_l = lw - lhs.chars().count();
            let line = format!("{}{lhs} = {body}", " ".repeat(pad_l));
            if why.is_empty() {
                out.push_str(line.trim_end());
            } else {
                let pad = (lw + 3 + bw).saturating_sub(line.chars().count()) + 3;
                out.push_str(&format!("{line}{}{why}", " ".repeat(pad)));
            }
            out.push('\n');
        }
        out
    }

    /// The derivation as Markdown: one `aligned` LaTeX block, rule ids as tags.
    pub fn markdown(&self, pool: &ExprPool) -> String {
        let printer = self.printer(pool, Style::Latex);
        let mut out = String::from("$$\n\\begin{aligned}\n");
        for step in &self.steps {
            let lhs = if step.continues {
                String::new()
            } else {
                step.lhs_latex()
            };
            let body = if step.kind == StepKind::Function {
                printer.print(step.expr)
            } else {
                printer.print_body(step.expr)
            };
            let why = step
                .rules
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let tag = if why.is_empty() {
                String::new()
            } else {
                format!(" && \\text{{{why}}}")
            };
            out.push_str(&format!("{lhs} &= {body}{tag} \\\\\n"));
        }
        out.push_str("\\end{aligned}\n$$\n");
        out
    }
}

impl SecondOrder {
    /// The plain [`SecondOrder::result_text`], or [`DeriveError::UnnamedSize`] when a size it
    /// must write has no name among the expression's variables: what a front end prints.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::{hessian, DeriveOptions};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("alpha^2*sum(ones)").unwrap();
    /// let h = hessian(&mut pool, &e, "alpha", &DeriveOptions::default()).unwrap();
    /// assert!(h.complete_result_text(&pool).is_err());
    /// ```
    pub fn complete_result_text(&self, pool: &ExprPool) -> Result<String, SecondOrderError> {
        Printer::new(pool, Style::Plain)
            .with_bindings(&self.bindings)
            .print_complete(self.result)
            .ok_or_else(|| unnamed(self.kind, &self.wrt))
    }
}

impl KroneckerForm {
    /// The plain [`KroneckerForm::text`], or [`DeriveError::UnnamedSize`] when a size one of
    /// its matrices must write has no name among the expression's variables.
    ///
    /// ```
    /// use matdiff_expr::ExprPool;
    /// use matdiff_rewrite::{hessian_kronecker, DeriveOptions};
    /// let mut pool = ExprPool::new();
    /// let e = pool.parse("sum(X)").unwrap();
    /// let h = hessian_kronecker(&mut pool, &e, "X", &DeriveOptions::default()).unwrap();
    /// let zero = "0*ones(rows(X)*cols(X))*ones(rows(X)*cols(X))'";
    /// assert_eq!(h.complete_text(&pool).unwrap(), zero);
    /// ```
    pub fn complete_text(&self, pool: &ExprPool) -> Result<String, SecondOrderError> {
        let printer = Printer::new(pool, Style::Plain).with_bindings(&self.derivation.bindings);
        let mut shown = Vec::new();
        if self.terms.is_empty() {
            shown.push(self.zero);
        }
        for term in &self.terms {
            shown.push(term.scale);
            for factor in &term.factors {
                match *factor {
                    VecFactor::Kron { left, right } => shown.extend([left, right]),
                    VecFactor::DiagVec(p) => shown.push(p),
                    VecFactor::Outer { col, row } => shown.extend([col, row]),
                    VecFactor::Commutation { rows, cols } => {
                        // Its sizes are written as sizes of the variables.
                        if [rows, cols].iter().any(|&d| printer.size_text(d).is_none()) {
                            return Err(unnamed(self.kind, &self.derivation.wrt));
                        }
                    }
                }
            }
        }
        // The form prints each matrix on its own, so each must name its sizes on its own, and
        // so must its `where` list, printed after the linear map it is read off.
        shown.push(self.derivation.result);
        if shown.iter().all(|&id| printer.print_complete(id).is_some()) {
            Ok(self.text(pool, Style::Plain))
        } else {
            Err(unnamed(self.kind, &self.derivation.wrt))
        }
    }
}

/// The refusal of a second-order result whose text cannot name a size.
fn unnamed(kind: SecondKind, wrt: &str) -> SecondOrderError {
    SecondOrderError::Derive(DeriveError::UnnamedSize {
        what: match kind {
            SecondKind::Hessian => "Hessian",
            SecondKind::Hvp => "Hessian-vector product",
            SecondKind::Jacobian => "Jacobian",
        },
        wrt: wrt.to_string(),
    })
}

impl Step {
    /// The left-hand side in LaTeX ([`crate::StepLhs::latex`]).
    pub fn lhs_latex(&self) -> String {
        self.lhs.latex()
    }
}
