//! Typed errors: [`ExprError`] from building nodes, [`ParseError`] from source text.

use std::fmt;
use std::ops::Range;

/// Why a node cannot be built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExprError {
    /// Two operands of an element-wise operator have different shapes.
    #[error("shapes {left} and {right} differ in '{op}'")]
    Mismatch {
        /// The operator.
        op: &'static str,
        /// Shape of the left operand.
        left: String,
        /// Shape of the right operand.
        right: String,
    },
    /// The inner dimensions of a matrix product differ.
    #[error(
        "cannot multiply {left} by {right}: inner dimensions {inner_left} and {inner_right} differ"
    )]
    InnerMismatch {
        /// Shape of the left factor.
        left: String,
        /// Shape of the right factor.
        right: String,
        /// Columns of the left factor.
        inner_left: String,
        /// Rows of the right factor.
        inner_right: String,
    },
    /// An operand that must be a scalar is not.
    #[error("{what} of '{op}' must be a scalar, got {shape}")]
    NotScalar {
        /// The operator.
        op: &'static str,
        /// Which operand.
        what: &'static str,
        /// Its shape.
        shape: String,
    },
    /// `unvec(g, m)` of a `g` that is not a column of `m*n` entries.
    #[error("unvec(g, {rows}) needs a column g of {rows}*n entries, got {shape}")]
    Unvec {
        /// The shape of `g`.
        shape: String,
        /// The rows asked for.
        rows: String,
    },
    /// A matrix that must be square is not.
    #[error("{what} must be square, got {shape}")]
    NotSquare {
        /// What must be square.
        what: String,
        /// Its shape.
        shape: String,
    },
    /// A matrix power whose exponent is not an integer number.
    #[error("a matrix power needs an integer exponent (use .^ for an element-wise power)")]
    MatrixPowerExponent,
    /// An n-ary operator with too few operands.
    #[error("'{op}' needs at least two operands, got {got}")]
    Arity {
        /// The operator.
        op: &'static str,
        /// Operands given.
        got: usize,
    },
    /// A variable with no declared shape.
    #[error("unknown variable '{name}'")]
    UnknownVariable {
        /// Its name.
        name: String,
    },
    /// A variable declared twice with different shapes.
    #[error("'{name}' is declared as {old} and as {new}")]
    Redeclared {
        /// Its name.
        name: String,
        /// The first shape.
        old: String,
        /// The second shape.
        new: String,
    },
    /// A name used both as an abstract function and as a variable.
    #[error("'{name}' is used both as a function and as a variable")]
    FunctionAsVariable {
        /// The name.
        name: String,
    },
    /// The expression tree is higher than the limit.
    #[error("the expression nests deeper than {limit} levels")]
    TooDeep {
        /// The limit.
        limit: u32,
    },
    /// The pool would hold more nodes than the limit.
    #[error("the expression has more than {limit} nodes")]
    TooManyNodes {
        /// The limit.
        limit: usize,
    },
}

/// An error in source text: what went wrong and the byte span where.
///
/// [`ParseError::render`] shows the source line with a caret under the position.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {}..{}", span.start, span.end)]
pub struct ParseError {
    /// What went wrong, in lower case without a final period.
    pub message: String,
    /// Byte span in the source.
    pub span: Range<usize>,
    /// The declaration the span points into, when the error is in one (its index).
    pub decl: Option<usize>,
    /// Whether the text is malformed, or well-formed with inconsistent shapes or names.
    pub kind: ParseErrorKind,
}

/// What kind of mistake a [`ParseError`] reports.
///
/// ```
/// use matdiff_expr::{ExprPool, ParseErrorKind};
/// let mut pool = ExprPool::new();
/// assert_eq!(pool.parse("tr(A*X").unwrap_err().kind, ParseErrorKind::Syntax);
/// let mut pool = ExprPool::new();
/// let decls = [matdiff_expr::Decl::parse("A: 2x3").unwrap(), matdiff_expr::Decl::parse("B: 4x5").unwrap()];
/// assert_eq!(pool.parse_with("A*B", &decls).unwrap_err().kind, ParseErrorKind::Shape);
/// ```
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The text (or a declaration) is not well-formed: a bad token, an unclosed parenthesis.
    Syntax,
    /// The text is well-formed, but shape inference found a contradiction: shapes that do not
    /// fit, a name used in two roles, a binding cycle.
    Shape,
}

impl ParseError {
    pub(crate) fn new(message: impl Into<String>, span: Range<usize>) -> ParseError {
        ParseError {
            message: message.into(),
            span,
            decl: None,
            kind: ParseErrorKind::Syntax,
        }
    }

    /// The same error, found by shape inference.
    pub(crate) fn in_inference(mut self) -> ParseError {
        self.kind = ParseErrorKind::Shape;
        self
    }

    /// The same error, pointing into declaration `index`.
    pub(crate) fn in_decl(mut self, index: usize) -> ParseError {
        self.decl = Some(index);
        self
    }

    /// The message, the source (a window of it, for long sources) and a caret line under the span.
    ///
    /// ```
    /// let mut pool = matdiff_expr::ExprPool::new();
    /// let err = pool.parse("tr(A*X*B").unwrap_err();
    /// assert_eq!(
    ///     err.render("tr(A*X*B"),
    ///     "error: '(' is never closed: expected ')' before the end of input\n  tr(A*X*B\n    ^"
    /// );
    /// ```
    pub fn render(&self, source: &str) -> String {
        format!(
            "error: {}\n{}",
            self.message,
            caret(source, self.span.clone())
        )
    }
}

/// Two lines: the source around `span` (at most about 70 characters) and carets under the span.
pub(crate) fn caret(source: &str, span: Range<usize>) -> String {
    let start = floor_char(source, span.start.min(source.len()));
    let end = floor_char(source, span.end.clamp(start, source.len()));
    // The line that holds the start.
    let line_start = source[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = source[start..]
        .find('\n')
        .map_or(source.len(), |i| start + i);
    // A window of at most 60 characters before and 40 after the start.
    let mut from = line_start;
    let before = source[line_start..start].chars().count();
    if before > 60 {
        from = source[line_start..start]
            .char_indices()
            .nth(before - 60)
            .map_or(line_start, |(i, _)| line_start + i);
    }
    let to = source[start..line_end]
        .char_indices()
        .nth(40)
        .map_or(line_end, |(i, _)| start + i);
    let prefix = if from > line_start { "..." } else { "" };
    let suffix = if to < line_end { "..." } else { "" };
    let pad = prefix.chars().count() + source[from..start].chars().count();
    let width = source[start..end.min(to).max(start)].chars().count().max(1);
    format!(
        "  {prefix}{}{suffix}\n  {}{}",
        &source[from..to],
        " ".repeat(pad),
        "^".repeat(width)
    )
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for crate::node::Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Without a pool, symbolic dimensions print by index.
        let d = |d: crate::node::Dim| match d {
            crate::node::Dim::Known(k) => k.to_string(),
            crate::node::Dim::Sym(v) => format!("d{}", v.index()),
            crate::node::Dim::Prod(p) => format!("p{}", p.0),
        };
        write!(f, "{} x {}", d(self.rows), d(self.cols))
    }
}
