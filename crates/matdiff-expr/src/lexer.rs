//! Tokens with byte spans.
//!
//! A long input has millions of tokens, so a stored [`Token`] is 24 bytes: its kind (a number
//! with its value), the links of a parenthesis, and its span as two `u32`s (an input is at most
//! 4 GiB). The parser reads it as a [`Tok`], whose identifier borrows its name from the source.

use std::ops::Range;

use crate::error::ParseError;

/// A token as the parser reads it; an identifier borrows its name from the source (no
/// allocation per token).
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Tok<'a> {
    Num(f64),
    Ident(&'a str),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Quote,
    DotStar,
    DotSlash,
    DotCaret,
    /// `⊗`, the Kronecker product written infix.
    Kron,
    LParen,
    RParen,
    Comma,
    Equals,
    Colon,
    End,
}

impl Tok<'_> {
    pub(crate) fn describe(&self) -> String {
        match self {
            Tok::Num(n) => format!("number {n}"),
            Tok::Ident(s) => format!("'{s}'"),
            Tok::Plus => "'+'".into(),
            Tok::Minus => "'-'".into(),
            Tok::Star => "'*'".into(),
            Tok::Slash => "'/'".into(),
            Tok::Caret => "'^'".into(),
            Tok::Quote => "transpose '''".into(),
            Tok::DotStar => "'.*'".into(),
            Tok::DotSlash => "'./'".into(),
            Tok::DotCaret => "'.^'".into(),
            Tok::Kron => "'⊗'".into(),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::Comma => "','".into(),
            Tok::Equals => "'='".into(),
            Tok::Colon => "':'".into(),
            Tok::End => "end of input".into(),
        }
    }
}

/// No token: an unmatched parenthesis has no partner, a group nested too deeply no slot.
pub(crate) const NONE: u32 = u32::MAX;

/// A stored token: [`Tok`] without the identifier's name (its span is the name), and with the
/// parentheses' links, filled in by the parser.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Kind {
    Num(f64),
    Ident,
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    Quote,
    DotStar,
    DotSlash,
    DotCaret,
    Kron,
    /// `(`: the number of its group among the groups parsed (`slot`), and the token index of
    /// its `)`.
    LParen {
        slot: u32,
        partner: u32,
    },
    /// `)`: the token index of its `(`.
    RParen {
        partner: u32,
    },
    Comma,
    Equals,
    Colon,
    End,
}

/// A byte span of the source in 8 bytes (an input is shorter than 4 GiB).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Span {
    start: u32,
    end: u32,
}

impl Span {
    /// The span as a range of byte offsets.
    #[inline]
    pub(crate) fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

impl From<Range<usize>> for Span {
    #[inline]
    fn from(r: Range<usize>) -> Span {
        Span {
            start: r.start as u32,
            end: r.end as u32,
        }
    }
}

// A long input has millions of tokens.
const _: () = assert!(std::mem::size_of::<Token>() == 24);

/// A token with its span.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    span: Span,
}

impl Token {
    fn new(kind: Kind, span: Range<usize>) -> Token {
        Token {
            kind,
            span: span.into(),
        }
    }

    /// Its byte span in the source.
    #[inline]
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.range()
    }

    /// The token as the parser reads it, names from `src`.
    #[inline]
    pub(crate) fn tok<'a>(&self, src: &'a str) -> Tok<'a> {
        match self.kind {
            Kind::Num(v) => Tok::Num(v),
            Kind::Ident => {
                let name = &src[self.span()];
                Tok::Ident(if name == "\u{3c3}" { "sigmoid" } else { name })
            }
            Kind::Plus => Tok::Plus,
            Kind::Minus => Tok::Minus,
            Kind::Star => Tok::Star,
            Kind::Slash => Tok::Slash,
            Kind::Caret => Tok::Caret,
            Kind::Quote => Tok::Quote,
            Kind::DotStar => Tok::DotStar,
            Kind::DotSlash => Tok::DotSlash,
            Kind::DotCaret => Tok::DotCaret,
            Kind::Kron => Tok::Kron,
            Kind::LParen { .. } => Tok::LParen,
            Kind::RParen { .. } => Tok::RParen,
            Kind::Comma => Tok::Comma,
            Kind::Equals => Tok::Equals,
            Kind::Colon => Tok::Colon,
            Kind::End => Tok::End,
        }
    }
}

/// Splits source text into tokens; the last token is always `End`. The text is shorter than
/// 4 GiB (checked by the parser's `check_length`).
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    debug_assert!(src.len() < u32::MAX as usize, "checked by check_length");
    // Every token takes at least one byte: one allocation, never grown (pages never touched
    // cost nothing).
    let mut out = Vec::with_capacity(src.len() + 1);
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let c = src[i..].chars().next().expect("in bounds");
        let start = i;
        let len = c.len_utf8();
        let single = |kind: Kind| Token::new(kind, start..start + len);
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                i += len;
                continue;
            }
            '#' => {
                // A comment runs to the end of the line.
                i = src[i..].find('\n').map_or(src.len(), |k| i + k + 1);
                continue;
            }
            '0'..='9' => {
                let end = scan_number(bytes, i);
                let text = &src[i..end];
                let value: f64 = text
                    .parse()
                    .map_err(|_| ParseError::new(format!("malformed number '{text}'"), i..end))?;
                if !value.is_finite() {
                    return Err(ParseError::new(
                        format!("number '{text}' is too large"),
                        i..end,
                    ));
                }
                out.push(Token::new(Kind::Num(value), i..end));
                i = end;
                continue;
            }
            '.' => {
                let next = bytes.get(i + 1).copied();
                let tok =
                    match next {
                        Some(b'*') => Kind::DotStar,
                        Some(b'/') => Kind::DotSlash,
                        Some(b'^') => Kind::DotCaret,
                        Some(b'0'..=b'9') => {
                            let end = scan_number(bytes, i);
                            let text = &src[i..end];
                            let value: f64 = text.parse().map_err(|_| {
                                ParseError::new(format!("malformed number '{text}'"), i..end)
                            })?;
                            out.push(Token::new(Kind::Num(value), i..end));
                            i = end;
                            continue;
                        }
                        _ => return Err(ParseError::new(
                            "unknown operator '.': element-wise operators are '.*', './' and '.^'",
                            i..i + 1,
                        )),
                    };
                out.push(Token::new(tok, i..i + 2));
                i += 2;
                continue;
            }
            '*' if bytes.get(i + 1) == Some(&b'*') => {
                return Err(ParseError::new(
                    "unknown operator '**': write ^ for a power",
                    i..i + 2,
                ));
            }
            '+' => out.push(single(Kind::Plus)),
            '-' | '\u{2212}' => out.push(single(Kind::Minus)),
            '*' | '\u{b7}' | '\u{22c5}' => out.push(single(Kind::Star)),
            '/' => out.push(single(Kind::Slash)),
            '^' => out.push(single(Kind::Caret)),
            '\'' | '\u{1d40}' | '\u{22a4}' => out.push(single(Kind::Quote)),
            '\u{2299}' | '\u{2218}' => out.push(single(Kind::DotStar)),
            '\u{2298}' => out.push(single(Kind::DotSlash)),
            '\u{2297}' => out.push(single(Kind::Kron)),
            '(' => out.push(single(Kind::LParen {
                slot: NONE,
                partner: NONE,
            })),
            ')' => out.push(single(Kind::RParen { partner: NONE })),
            ',' | ';' => out.push(single(Kind::Comma)),
            '=' => out.push(single(Kind::Equals)),
            ':' => out.push(single(Kind::Colon)),
            c if c.is_alphabetic() || c == '_' => {
                let mut end = i;
                for (k, ch) in src[i..].char_indices() {
                    if (ch.is_alphanumeric() || ch == '_') && ch != '\u{1d40}' {
                        end = i + k + ch.len_utf8();
                    } else {
                        break;
                    }
                }
                out.push(Token::new(Kind::Ident, i..end));
                i = end;
                continue;
            }
            other => {
                let what = if other.is_ascii_graphic() || !other.is_control() {
                    format!("unknown operator '{other}'")
                } else {
                    format!("unexpected character U+{:04X}", other as u32)
                };
                return Err(ParseError::new(what, i..i + len));
            }
        }
        i += len;
    }
    out.push(Token::new(Kind::End, src.len()..src.len()));
    Ok(out)
}

/// End of a number starting at `i`: digits, an optional fraction, an optional exponent.
fn scan_number(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    } else if i < b.len() && b[i] == b'.' && !matches!(b.get(i + 1), Some(b'*' | b'/' | b'^')) {
        // `2.` is the number 2.
        i += 1;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    i
}
