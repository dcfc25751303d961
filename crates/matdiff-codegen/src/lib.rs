//! Source code from derivations: a function and its derived gradients as NumPy, JAX or Rust
//! (faer) code that needs nothing of matdiff at run time.
//!
//! The function and every gradient are lowered once into a [`Program`] (temporaries shared
//! between the value and all gradients, matrix products ordered, solves for inverses in
//! products), which one printer per target turns into text. There is no mathematics here: the
//! gradients are `matdiff-rewrite`'s.
//!
//! ```
//! use matdiff_codegen::{codegen, Lang, Options};
//! let src = codegen("tr(Y'*M*Y) where Y = sigmoid(W*X)", &["X"], &["M: symmetric"],
//!     Lang::NumPy, &Options::default()).unwrap();
//! assert!(src.contains("def f_and_grad(M, W, X):"));
//! assert!(src.contains("return value, grad_X"));
//! ```
#![warn(missing_docs)]

mod lower;
mod python;
mod rust;

use std::collections::HashSet;

use matdiff_expr::{Decl, ExprId, ExprPool, ParseError, Style};
use matdiff_rewrite::{derive, Derivation, DeriveError, DeriveOptions};

pub use lower::Program;

/// An argument of a generated function, in order: the variables (sorted by name), then each
/// abstract element-wise function followed by its derivatives (`g`, `g_prime`, `g_prime2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Argument {
    /// The name in the expression (`g_prime` for the derivative of `g`).
    pub name: String,
    /// What is passed.
    pub kind: ArgumentKind,
}

/// What an argument of a generated function is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ArgumentKind {
    /// A number (`f64`).
    Scalar,
    /// A matrix or column vector (`MatRef<'_, f64>`, a NumPy array).
    Matrix,
    /// An element-wise function of a number (`impl Fn(f64) -> f64`, a Python callable).
    Function,
}

/// A target language.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Lang {
    /// Python with NumPy.
    NumPy,
    /// Python with `jax.numpy`, usable under `jax.jit`.
    Jax,
    /// Rust over faer: `MatRef<'_, f64>` in, the value and `Mat<f64>` gradients out.
    Rust,
}

impl Lang {
    /// The language of a name: `numpy`, `jax` or `rust`.
    pub fn from_name(name: &str) -> Option<Lang> {
        match name {
            "numpy" => Some(Lang::NumPy),
            "jax" => Some(Lang::Jax),
            "rust" => Some(Lang::Rust),
            _ => None,
        }
    }
}

/// How to generate.
#[derive(Clone, Debug)]
pub struct Options {
    /// The name of the generated function (`f_and_grad`).
    pub name: String,
    /// Python targets: also emit `check_gradient(...)`, which compares every gradient with
    /// central differences along a random direction.
    pub check_gradient: bool,
    /// Python targets: emit the module header (the imports and helper functions); without
    /// it the function alone.
    pub module: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            name: "f_and_grad".to_string(),
            check_gradient: false,
            module: true,
        }
    }
}

/// Why no code could be generated.
#[derive(Debug, thiserror::Error)]
pub enum CodegenError {
    /// The expression or a declaration does not parse (render it with [`ParseError::render`]).
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A declaration does not parse (render it with [`ParseError::render`] of `decl`).
    #[error("in declaration '{decl}': {error}")]
    Decl {
        /// The declaration.
        decl: String,
        /// What is wrong, with a span into `decl`.
        error: ParseError,
    },
    /// The gradient cannot be derived.
    #[error(transparent)]
    Derive(#[from] DeriveError),
    /// A construct the generator cannot translate.
    #[error("cannot generate code for {what}")]
    Unsupported {
        /// What.
        what: String,
    },
    /// A size that no argument fixes (`ones` or `I` of a size of their own).
    #[error("cannot generate code: the size '{dim}' is not the size of any argument")]
    UnknownSize {
        /// The symbolic dimension.
        dim: String,
    },
    /// No variable to differentiate with respect to.
    #[error("no variable given to differentiate with respect to (--wrt)")]
    NoVariable,
    /// Not a valid name for the generated function.
    #[error("'{name}' is not a valid function name")]
    BadName {
        /// The name.
        name: String,
    },
}

impl Program {
    /// Lowers the function of `derivations` (all of one expression, in `pool`) and their
    /// gradients, in order; `bindings` are the expression's `where` names.
    pub fn new(
        pool: &ExprPool,
        bindings: &[(String, ExprId)],
        derivations: &[Derivation],
    ) -> Result<Program, CodegenError> {
        let first = derivations.first().ok_or(CodegenError::NoVariable)?;
        let mut names: Vec<(String, ExprId)> = bindings.to_vec();
        let mut taken: HashSet<String> = names.iter().map(|n| n.0.clone()).collect();
        for d in derivations {
            for (name, id) in &d.bindings {
                if !names.iter().any(|n| n.1 == *id) && taken.insert(name.clone()) {
                    names.push((name.clone(), *id));
                }
            }
        }
        let gradients: Vec<(String, ExprId)> = derivations
            .iter()
            .map(|d| (d.wrt.clone(), d.gradient))
            .collect();
        let texts: Vec<String> = derivations
            .iter()
            .map(|d| d.gradient_text(pool, Style::Plain))
            .collect();
        let printer = lower::function_printer(pool, bindings);
        lower::lower(pool, first.function, &gradients, &names, &printer, &texts)
    }

    /// The arguments of the generated function, in order.
    pub fn arguments(&self) -> Vec<Argument> {
        let mut out: Vec<Argument> = self
            .inputs
            .iter()
            .map(|i| Argument {
                name: i.name.clone(),
                kind: match i.kind {
                    lower::Kind::Scalar => ArgumentKind::Scalar,
                    lower::Kind::Matrix(..) => ArgumentKind::Matrix,
                },
            })
            .collect();
        for (f, order) in &self.functions {
            for k in 0..=*order {
                let name = if k == 0 {
                    f.clone()
                } else {
                    python::derivative_name(f, k)
                };
                out.push(Argument {
                    name,
                    kind: ArgumentKind::Function,
                });
            }
        }
        out
    }

    /// The source code in a target language.
    pub fn print(&self, lang: Lang, options: &Options) -> Result<String, CodegenError> {
        let valid = options
            .name
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_')
            && options
                .name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_');
        if !valid {
            return Err(CodegenError::BadName {
                name: options.name.clone(),
            });
        }
        Ok(match lang {
            Lang::NumPy => python::print(self, "np", options),
            Lang::Jax => python::print(self, "jnp", options),
            Lang::Rust => rust::print(self, options),
        })
    }
}

/// Parses `src` with the declarations `decls` (`M: symmetric`), derives the gradient with
/// respect to each of `wrt` and prints the function and its gradients in `lang`.
pub fn codegen(
    src: &str,
    wrt: &[&str],
    decls: &[&str],
    lang: Lang,
    options: &Options,
) -> Result<String, CodegenError> {
    let decls: Vec<Decl> = decls
        .iter()
        .map(|d| {
            Decl::parse(d).map_err(|error| CodegenError::Decl {
                decl: d.to_string(),
                error,
            })
        })
        .collect::<Result<_, _>>()?;
    let mut pool = ExprPool::new();
    let expr = pool.parse_with(src, &decls)?;
    let derivations = wrt
        .iter()
        .map(|x| derive(&mut pool, &expr, x, &DeriveOptions::default()))
        .collect::<Result<Vec<_>, _>>()?;
    Program::new(&pool, &expr.bindings, &derivations)?.print(lang, options)
}
