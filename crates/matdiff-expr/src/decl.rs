//! Declarations (`--let`): `X: 3x4`, `X: m x n`, `c: scalar`, `M: symmetric`, `x: n`, `A, B: n x n`.

use std::ops::Range;

use crate::error::ParseError;
use crate::pool::Structure;

/// A declared dimension: a number or a symbolic name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclDim {
    /// A concrete size.
    Known(u64),
    /// A symbolic size, shared by every declaration that names it.
    Named(String),
}

/// A declared shape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DeclShape {
    /// No shape given: the default for the name (an assumption such as `symmetric` alone).
    Default,
    /// A scalar.
    Scalar,
    /// A column vector, of the given size or an inferred one.
    Vector(Option<DeclDim>),
    /// A matrix, of the given sizes or inferred ones.
    Matrix(Option<DeclDim>, Option<DeclDim>),
}

/// One declaration: names, a shape and assumptions. Parse it with [`Decl::parse`].
///
/// ```
/// use matdiff_expr::{Decl, DeclDim, DeclShape};
/// let d = Decl::parse("X: 3x4").unwrap();
/// assert_eq!(d.shape, DeclShape::Matrix(Some(DeclDim::Known(3)), Some(DeclDim::Known(4))));
/// assert!(Decl::parse("M: n x n symmetric").unwrap().symmetric);
/// assert!(Decl::parse("act: function").unwrap().function);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decl {
    /// The declared names with their spans in the declaration text.
    pub names: Vec<(String, Range<usize>)>,
    /// The shape.
    pub shape: DeclShape,
    /// Declared symmetric (implies square).
    pub symmetric: bool,
    /// Declared an abstract element-wise function (`act: function`), not a variable.
    pub function: bool,
    /// A structure (`diagonal`, `spd`), which implies square.
    pub structure: Structure,
}

/// The words a declaration knows after the colon, besides sizes.
pub const DECL_WORDS: &[&str] = &[
    "scalar",
    "vector",
    "matrix",
    "symmetric",
    "diagonal",
    "lower",
    "upper",
    "spd",
    "integer",
    "function",
];

impl Decl {
    /// A declaration of a concrete shape (for sizes that come from values).
    pub fn sized(name: &str, rows: u64, cols: u64) -> Decl {
        Decl {
            names: vec![(name.to_string(), 0..0)],
            shape: DeclShape::Matrix(Some(DeclDim::Known(rows)), Some(DeclDim::Known(cols))),
            symmetric: false,
            function: false,
            structure: Structure::General,
        }
    }

    /// Parses `NAMES: SPEC`. NAMES is one or more names separated by commas; SPEC is a shape
    /// (`scalar`, `vector`, `matrix`, `R x C` with numbers or names, `3x4`, or a single size for a
    /// vector) and/or the assumption `symmetric`.
    pub fn parse(text: &str) -> Result<Decl, ParseError> {
        let Some(colon) = text.find(':') else {
            return Err(ParseError::new(
                "expected 'NAME: SHAPE' (for example 'X: 3x4', 'c: scalar' or 'M: symmetric')",
                text.len()..text.len(),
            ));
        };
        let mut names = Vec::new();
        let mut offset = 0;
        for part in text[..colon].split(',') {
            let trimmed = part.trim();
            let start = offset + part.find(trimmed).unwrap_or(0);
            offset += part.len() + 1;
            if trimmed.is_empty() || !is_name(trimmed) {
                let span = if trimmed.is_empty() {
                    start..start + 1
                } else {
                    start..start + trimmed.len()
                };
                return Err(ParseError::new(
                    format!("expected a name to declare, found '{trimmed}'"),
                    span,
                ));
            }
            names.push((trimmed.to_string(), start..start + trimmed.len()));
        }
        // Words of the spec, with their spans; `3x4` splits into `3`, `x`, `4`.
        let mut words: Vec<(String, Range<usize>)> = Vec::new();
        let spec = &text[colon + 1..];
        let base = colon + 1;
        let mut i = 0;
        let chars: Vec<(usize, char)> = spec.char_indices().collect();
        while i < chars.len() {
            let (at, c) = chars[i];
            if c.is_whitespace() || c == ',' {
                i += 1;
                continue;
            }
            if c == '\u{d7}' || c == '*' {
                words.push(("x".into(), base + at..base + at + c.len_utf8()));
                i += 1;
                continue;
            }
            let mut j = i;
            let digits = c.is_ascii_digit();
            while j < chars.len() {
                let ch = chars[j].1;
                let ok = if digits {
                    ch.is_ascii_digit()
                } else {
                    ch.is_alphanumeric() || ch == '_'
                };
                if !ok {
                    break;
                }
                j += 1;
            }
            if j == i {
                return Err(ParseError::new(
                    format!("unexpected '{c}' in a declaration"),
                    base + at..base + at + c.len_utf8(),
                ));
            }
            let end = chars.get(j).map_or(spec.len(), |&(k, _)| k);
            let word = &spec[at..end];
            // `x4` right after a number is the separator and a size.
            if let Some(rest) = word
                .strip_prefix('x')
                .filter(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_digit()))
            {
                if words
                    .last()
                    .is_some_and(|w| w.0.bytes().all(|b| b.is_ascii_digit()))
                {
                    words.push(("x".into(), base + at..base + at + 1));
                    words.push((rest.to_string(), base + at + 1..base + end));
                    i = j;
                    continue;
                }
            }
            words.push((word.to_string(), base + at..base + end));
            i = j;
        }
        let mut shape = DeclShape::Default;
        let mut symmetric = false;
        let mut function = false;
        let mut structure = Structure::General;
        let mut k = 0;
        let set = |shape: &mut DeclShape, new: DeclShape, span: &Range<usize>| {
            if *shape != DeclShape::Default {
                return Err(ParseError::new(
                    "the declaration gives two shapes",
                    span.clone(),
                ));
            }
            *shape = new;
            Ok(())
        };
        while k < words.len() {
            let (w, span) = &words[k];
            match w.as_str() {
                "scalar" => set(&mut shape, DeclShape::Scalar, span)?,
                "vector" => set(&mut shape, DeclShape::Vector(None), span)?,
                "matrix" => set(&mut shape, DeclShape::Matrix(None, None), span)?,
                "symmetric" | "sym" => symmetric = true,
                "function" => function = true,
                "diagonal" | "diag" => structure = Structure::Diagonal,
                "spd" => {
                    structure = Structure::Spd;
                    symmetric = true;
                }
                "integer" | "int" => structure = Structure::Integer,
                "lower" => structure = Structure::Lower,
                "upper" => structure = Structure::Upper,
                w if !is_dim_word(w) && words.get(k + 1).is_none_or(|n| n.0 != "x") => {
                    let close = DECL_WORDS
                        .iter()
                        .find(|d| crate::functions::distance(&w.to_lowercase(), d) <= 2)
                        .map(|d| format!(" (did you mean {d}?)"))
                        .unwrap_or_default();
                    return Err(ParseError::new(
                        format!(
                            "unknown word '{w}' in a declaration{close}: expected a size (3, n, 3x4, m x n) or one of {}",
                            DECL_WORDS.join(", ")
                        ),
                        span.clone(),
                    ));
                }
                _ => {
                    let rows = dim(w, span)?;
                    if words.get(k + 1).is_some_and(|w| w.0 == "x") {
                        let Some((c, cspan)) = words.get(k + 2) else {
                            return Err(ParseError::new(
                                "expected a size after 'x'",
                                words[k + 1].1.clone(),
                            ));
                        };
                        let cols = dim(c, cspan)?;
                        set(&mut shape, DeclShape::Matrix(Some(rows), Some(cols)), span)?;
                        k += 3;
                        continue;
                    }
                    set(&mut shape, DeclShape::Vector(Some(rows)), span)?;
                }
            }
            k += 1;
        }
        if structure == Structure::Integer {
            if shape == DeclShape::Default {
                shape = DeclShape::Scalar;
            } else if shape != DeclShape::Scalar {
                return Err(ParseError::new(
                    "an integer is a scalar: declare it 'k: integer'",
                    colon + 1..text.len(),
                ));
            }
        }
        if function && (symmetric || structure != Structure::General || shape != DeclShape::Default)
        {
            return Err(ParseError::new(
                "a function has no shape: declare it alone ('act: function')",
                colon + 1..text.len(),
            ));
        }
        if shape == DeclShape::Default && !symmetric && !function && structure == Structure::General
        {
            return Err(ParseError::new(
                "expected a shape or an assumption after ':' (scalar, vector, matrix, 3x4, m x n, symmetric, diagonal, lower, upper, spd, integer, function)",
                text.len()..text.len(),
            ));
        }
        Ok(Decl {
            names,
            shape,
            symmetric,
            function,
            structure,
        })
    }
}

/// Whether a word alone is a size: a number, or a short dimension name (`n`, `n1`, `n_2`).
fn is_dim_word(w: &str) -> bool {
    let mut chars = w.chars();
    let first = chars.next().unwrap_or(' ');
    first.is_ascii_digit() && w.bytes().all(|b| b.is_ascii_digit())
        || first.is_alphabetic() && chars.all(|c| c.is_ascii_digit() || c == '_')
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}

fn dim(word: &str, span: &Range<usize>) -> Result<DeclDim, ParseError> {
    if word.bytes().all(|b| b.is_ascii_digit()) {
        let k: u64 = word
            .parse()
            .map_err(|_| ParseError::new(format!("size '{word}' is too large"), span.clone()))?;
        if k == 0 {
            return Err(ParseError::new("a size must be at least 1", span.clone()));
        }
        Ok(DeclDim::Known(k))
    } else if is_name(word) && word != "x" {
        Ok(DeclDim::Named(word.to_string()))
    } else {
        Err(ParseError::new(
            format!("expected a size (a number or a name), found '{word}'"),
            span.clone(),
        ))
    }
}
