//! The left-hand side of a derivation line, and how each printer writes it.

use std::fmt;
use std::sync::Arc;

/// The scalar a line is about: the user's `f`, or `h = tr((∂f/∂X)'*V)`, whose gradient is the
/// Hessian-vector product (rule H1).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LhsFunction {
    /// The function `f`.
    F,
    /// The inner product `h` of a second-order derivation.
    H,
}

impl LhsFunction {
    fn letter(self) -> &'static str {
        match self {
            LhsFunction::F => "f",
            LhsFunction::H => "h",
        }
    }
}

/// The left-hand side of a derivation line: text with [`fmt::Display`] (`f`, `df`, `df[Y]`,
/// `∂f/∂X`, `∂²f/∂x∂x'`, `∂F/∂x'`; the same in the plain and Unicode styles, and what JSON
/// output holds), LaTeX with [`StepLhs::latex`].
///
/// ```
/// use matdiff_rewrite::{LhsFunction, StepLhs};
/// let lhs = StepLhs::Gradient(LhsFunction::F, "W1".into());
/// assert_eq!(lhs.to_string(), "∂f/∂W1");
/// assert_eq!(lhs.latex(), "\\frac{\\partial f}{\\partial W_{1}}");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepLhs {
    /// `f`: the function.
    Function(LhsFunction),
    /// `df`: its differential.
    Differential(LhsFunction),
    /// `df[Y]`: the part of the differential that flows through the name `Y`.
    DifferentialThrough(LhsFunction, Arc<str>),
    /// `∂f/∂Y`: the gradient with respect to a variable or a name.
    Gradient(LhsFunction, Arc<str>),
    /// `∂²f/∂x∂x'`: the Hessian with respect to a vector.
    Hessian(Arc<str>),
    /// `∂F/∂x'`: the Jacobian of a vector-valued `F` with respect to a vector.
    Jacobian(Arc<str>),
}

impl StepLhs {
    /// The same line about `h` instead of `f` (the second derivation of a Hessian-vector
    /// product); the Hessian and the Jacobian stay as they are.
    pub fn of_h(self) -> StepLhs {
        use LhsFunction::H;
        match self {
            StepLhs::Function(_) => StepLhs::Function(H),
            StepLhs::Differential(_) => StepLhs::Differential(H),
            StepLhs::DifferentialThrough(_, y) => StepLhs::DifferentialThrough(H, y),
            StepLhs::Gradient(_, y) => StepLhs::Gradient(H, y),
            other => other,
        }
    }

    /// The left-hand side in LaTeX: `f`, `\mathrm{d}f`, `\mathrm{d}f_{[Y]}`,
    /// `\frac{\partial f}{\partial X}`, `\frac{\partial^2 f}{\partial x\,\partial x^T}`,
    /// `\frac{\partial F}{\partial x^T}`.
    pub fn latex(&self) -> String {
        match self {
            StepLhs::Function(f) => f.letter().to_string(),
            StepLhs::Differential(f) => format!("\\mathrm{{d}}{}", f.letter()),
            StepLhs::DifferentialThrough(f, y) => {
                format!("\\mathrm{{d}}{}_{{[{}]}}", f.letter(), latex_ident(y))
            }
            StepLhs::Gradient(f, y) => format!(
                "\\frac{{\\partial {}}}{{\\partial {}}}",
                f.letter(),
                latex_ident(y)
            ),
            StepLhs::Hessian(x) => format!(
                "\\frac{{\\partial^2 f}}{{\\partial {x}\\,\\partial {x}^T}}",
                x = latex_ident(x)
            ),
            StepLhs::Jacobian(x) => {
                format!("\\frac{{\\partial F}}{{\\partial {}^T}}", latex_ident(x))
            }
        }
    }
}

impl fmt::Display for StepLhs {
    fn fmt(&self, out: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepLhs::Function(f) => write!(out, "{}", f.letter()),
            StepLhs::Differential(f) => write!(out, "d{}", f.letter()),
            StepLhs::DifferentialThrough(f, y) => write!(out, "d{}[{y}]", f.letter()),
            StepLhs::Gradient(f, y) => write!(out, "∂{}/∂{y}", f.letter()),
            StepLhs::Hessian(x) => write!(out, "∂²f/∂{x}∂{x}'"),
            StepLhs::Jacobian(x) => write!(out, "∂F/∂{x}'"),
        }
    }
}

/// What an auxiliary variable of the steps stands for; its name is the prefix and then the
/// name it is of (`dY`, `∂f/∂Y`, with a suffix when taken: `dY_1`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Aux {
    /// The differential `dY` of a name or of the variable.
    Differential,
    /// The gradient `∂f/∂Y` of the function with respect to a name.
    Gradient,
}

impl Aux {
    /// The prefix of the variable's name.
    pub(crate) fn prefix(self) -> &'static str {
        match self {
            Aux::Differential => "d",
            Aux::Gradient => "∂f/∂",
        }
    }

    /// The LaTeX of the variable named `name` (made of [`Aux::prefix`] and the name it is of):
    /// `\mathrm{d}Y_{1}`, `\frac{\partial f}{\partial Y}`.
    pub(crate) fn latex(self, name: &str) -> String {
        let of = &name[self.prefix().len()..];
        match self {
            Aux::Differential => format!("\\mathrm{{d}}{}", latex_ident(of)),
            Aux::Gradient => StepLhs::Gradient(LhsFunction::F, of.into()).latex(),
        }
    }
}

/// A variable name in LaTeX: `W1` is `W_{1}`, Greek names get their backslash.
pub(crate) fn latex_ident(name: &str) -> String {
    let base = name.trim_end_matches(|c: char| c.is_ascii_digit());
    let index = &name[base.len()..];
    // `T_1` is `T_{1}` as `T1` is (the plain printer's `split_index` does the same).
    let base = if index.is_empty() {
        base
    } else {
        base.trim_end_matches('_')
    };
    let greek = [
        "alpha", "beta", "gamma", "delta", "epsilon", "eta", "theta", "lambda", "mu", "nu", "rho",
        "sigma", "tau", "phi", "omega",
    ];
    let b = if greek.contains(&base) {
        format!("\\{base}")
    } else {
        base.to_string()
    };
    if index.is_empty() || base.is_empty() {
        b
    } else {
        format!("{b}_{{{index}}}")
    }
}

#[cfg(test)]
mod tests {
    use super::{LhsFunction::F, StepLhs};

    #[test]
    fn every_form_prints_as_text_and_latex() {
        let cases = [
            (StepLhs::Function(F), "f", "f"),
            (StepLhs::Differential(F), "df", "\\mathrm{d}f"),
            (
                StepLhs::DifferentialThrough(F, "T_1".into()),
                "df[T_1]",
                "\\mathrm{d}f_{[T_{1}]}",
            ),
            (
                StepLhs::Gradient(F, "alpha".into()),
                "∂f/∂alpha",
                "\\frac{\\partial f}{\\partial \\alpha}",
            ),
            (
                StepLhs::Hessian("w1".into()),
                "∂²f/∂w1∂w1'",
                "\\frac{\\partial^2 f}{\\partial w_{1}\\,\\partial w_{1}^T}",
            ),
            (
                StepLhs::Jacobian("x".into()),
                "∂F/∂x'",
                "\\frac{\\partial F}{\\partial x^T}",
            ),
        ];
        for (lhs, text, latex) in cases {
            assert_eq!(lhs.to_string(), text);
            assert_eq!(lhs.latex(), latex);
        }
    }

    #[test]
    fn lines_of_h_are_written_in_h() {
        let cases = [
            (StepLhs::Function(F), "h", "h"),
            (StepLhs::Differential(F), "dh", "\\mathrm{d}h"),
            (
                StepLhs::DifferentialThrough(F, "Y".into()),
                "dh[Y]",
                "\\mathrm{d}h_{[Y]}",
            ),
            (
                StepLhs::Gradient(F, "X".into()),
                "∂h/∂X",
                "\\frac{\\partial h}{\\partial X}",
            ),
            (
                StepLhs::Hessian("w".into()),
                "∂²f/∂w∂w'",
                "\\frac{\\partial^2 f}{\\partial w\\,\\partial w^T}",
            ),
        ];
        for (lhs, text, latex) in cases {
            let h = lhs.of_h();
            assert_eq!(h.to_string(), text);
            assert_eq!(h.latex(), latex);
        }
    }
}
