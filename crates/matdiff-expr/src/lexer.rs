//! Tokens with byte spans.

use std::ops::Range;

use crate::error::ParseError;

/// A token; an identifier borrows its name from the source (no allocation per token).
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

pub(crate) type Token<'a> = (Tok<'a>, Range<usize>);

/// Splits source text into tokens; the last token is always `End`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token<'_>>, ParseError> {
    // Every token takes at least one byte: one allocation, never grown (pages never touched
    // cost nothing).
    let mut out = Vec::with_capacity(src.len() + 1);
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let c = src[i..].chars().next().expect("in bounds");
        let start = i;
        let len = c.len_utf8();
        let single = |t: Tok<'static>| (t, start..start + len);
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
                out.push((Tok::Num(value), i..end));
                i = end;
                continue;
            }
            '.' => {
                let next = bytes.get(i + 1).copied();
                let tok =
                    match next {
                        Some(b'*') => Tok::DotStar,
                        Some(b'/') => Tok::DotSlash,
                        Some(b'^') => Tok::DotCaret,
                        Some(b'0'..=b'9') => {
                            let end = scan_number(bytes, i);
                            let text = &src[i..end];
                            let value: f64 = text.parse().map_err(|_| {
                                ParseError::new(format!("malformed number '{text}'"), i..end)
                            })?;
                            out.push((Tok::Num(value), i..end));
                            i = end;
                            continue;
                        }
                        _ => return Err(ParseError::new(
                            "unknown operator '.': element-wise operators are '.*', './' and '.^'",
                            i..i + 1,
                        )),
                    };
                out.push((tok, i..i + 2));
                i += 2;
                continue;
            }
            '*' if bytes.get(i + 1) == Some(&b'*') => {
                return Err(ParseError::new(
                    "unknown operator '**': write ^ for a power",
                    i..i + 2,
                ));
            }
            '+' => out.push(single(Tok::Plus)),
            '-' | '\u{2212}' => out.push(single(Tok::Minus)),
            '*' | '\u{b7}' | '\u{22c5}' => out.push(single(Tok::Star)),
            '/' => out.push(single(Tok::Slash)),
            '^' => out.push(single(Tok::Caret)),
            '\'' | '\u{1d40}' | '\u{22a4}' => out.push(single(Tok::Quote)),
            '\u{2299}' | '\u{2218}' => out.push(single(Tok::DotStar)),
            '\u{2298}' => out.push(single(Tok::DotSlash)),
            '\u{2297}' => out.push(single(Tok::Kron)),
            '(' => out.push(single(Tok::LParen)),
            ')' => out.push(single(Tok::RParen)),
            ',' | ';' => out.push(single(Tok::Comma)),
            '=' => out.push(single(Tok::Equals)),
            ':' => out.push(single(Tok::Colon)),
            c if c.is_alphabetic() || c == '_' => {
                let mut end = i;
                for (k, ch) in src[i..].char_indices() {
                    if (ch.is_alphanumeric() || ch == '_') && ch != '\u{1d40}' {
                        end = i + k + ch.len_utf8();
                    } else {
                        break;
                    }
                }
                let name = &src[i..end];
                let name = if name == "\u{3c3}" { "sigmoid" } else { name };
                out.push((Tok::Ident(name), i..end));
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
    out.push((Tok::End, src.len()..src.len()));
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
