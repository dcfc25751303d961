//! Source text to a private syntax tree with spans (recursive descent with a nesting bound).

use std::cell::Cell;
use std::collections::HashSet;
use std::ops::Range;

use bumpalo::Bump;
use smallvec::SmallVec;

use crate::error::ParseError;
use crate::functions::{builtin, is_abstract_function_name, not_yet, unknown_message};
use crate::lexer::{Kind, Span, Tok, Token, NONE};
use crate::node::{Func, Reduce, Triangle};
use crate::pool::Limits;

/// A node of the syntax tree: 48 bytes (a long input has millions), its spans in 8 bytes each.
#[derive(Debug)]
pub(crate) struct Ast<'a> {
    pub(crate) kind: AstKind<'a>,
    span: Span,
    pub(crate) height: u32,
}

impl Ast<'_> {
    /// The node's byte span in the source.
    #[inline]
    pub(crate) fn span(&self) -> Range<usize> {
        self.span.range()
    }

    /// The span of a call's name (at the start of the call), or of the node.
    pub(crate) fn name_span(&self) -> Range<usize> {
        let span = self.span();
        match self.kind {
            AstKind::Call { name_len, .. } => span.start..span.start + name_len as usize,
            _ => span,
        }
    }
}

// A long input's syntax tree is millions of nodes: keep them small.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(std::mem::size_of::<Ast>() == 48);

/// An operand of a sum or product, with the span of the operator before it (empty for the
/// first operand).
#[derive(Debug)]
pub(crate) struct Operand<'a> {
    pub(crate) op: Span,
    pub(crate) ast: &'a mut Ast<'a>,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum NaryOp {
    Add,
    Mul,
    Hadamard,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum BinOp {
    Div,
    HDiv,
    Pow,
    HPow,
    /// `maximum(X, Y)` (`true`) or `minimum(X, Y)`, element-wise; the span is the name's.
    Extreme(bool),
    /// `kron(A, B)`, the Kronecker product; the span is the name's.
    Kron,
    /// `commutation(M, N)` of two sizes; the span is the name's.
    Commutation,
    /// `unvec(g, M)`, `g` as a matrix of `M` rows; the span is the name's.
    Unvec,
}

/// The functions of two arguments, as one binary node.
const TWO_ARGUMENTS: [&str; 5] = ["maximum", "minimum", "kron", "commutation", "unvec"];

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Callee {
    Elementwise(Func),
    Abstract,
    Reduce(Reduce),
    /// `softmax`, lowered as `exp(x - logsumexp(x))` (the reduction is `LogSumExp`).
    Softmax(Reduce),
    /// `vec(X)`: the columns stacked.
    Vec,
    Inv,
    Diag,
    /// `tril` or `triu`.
    Tri(Triangle),
    /// `rows(E)` or `cols(E)` (`cols: true`): a size, as a scalar.
    Size {
        cols: bool,
    },
    /// `ones(N)` or `eye(N)` (`ones: false`) with an explicit size `N`: a whole number, or
    /// `rows(E)` or `cols(E)`.
    Sized {
        ones: bool,
    },
}

#[derive(Debug)]
pub(crate) enum AstKind<'a> {
    Num(f64),
    /// A name; a variable's index among the variables of the expression is filled in by shape
    /// inference, so that lowering finds its symbol without looking the name up again.
    Name(&'a str, Option<u32>),
    /// `I` or `eye`; the inferred dimension is filled in by shape inference.
    Eye(Option<u32>),
    /// `ones`; the inferred dimension is filled in by shape inference.
    Ones(Option<u32>),
    Neg(&'a mut Ast<'a>),
    /// Operands, each with the span of the operator before it.
    Nary(NaryOp, &'a mut [Operand<'a>]),
    /// The operator's span last.
    Bin(BinOp, &'a mut Ast<'a>, &'a mut Ast<'a>, Span),
    Transpose(&'a mut Ast<'a>),
    Call {
        callee: Callee,
        name: &'a str,
        /// The length of the name in the source (`σ` is `sigmoid`), which starts the call.
        name_len: u32,
        order: u8,
        arg: &'a mut Ast<'a>,
    },
}

/// A `where` binding as written.
#[derive(Debug)]
pub(crate) struct AstBinding<'a> {
    pub(crate) name: String,
    pub(crate) name_span: Range<usize>,
    pub(crate) value: Ast<'a>,
}

/// The words that cannot name a variable.
pub(crate) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "I" | "eye"
            | "ones"
            | "where"
            | "inv"
            | "diag"
            | "tril"
            | "triu"
            | "trace"
            | "inverse"
            | "rows"
            | "cols"
            | "softmax"
            | "maximum"
            | "minimum"
            | "kron"
            | "vec"
            | "unvec"
            | "commutation"
    ) || Func::from_name(name).is_some()
        || Reduce::from_name(name).is_some()
}

/// An error if `src` is longer than the limit allows (never more than 4 GiB - 2 bytes: spans
/// are `u32`s).
pub(crate) fn check_length(src: &str, limits: &Limits) -> Result<(), ParseError> {
    let limit = limits.max_input_bytes.min(u32::MAX as usize - 1);
    if src.len() > limit {
        return Err(ParseError::new(
            format!(
                "the input is {} bytes long; the limit is {limit} bytes",
                src.len(),
            ),
            limit..limit + 1,
        ));
    }
    Ok(())
}

/// The parser of one text. Its syntax tree lives in an arena (`arena`, made by the caller and
/// dropped at once, in a few large blocks): a long input's tree is hundreds of thousands of
/// small nodes, laid out in the order they are made, which is about the order in which shape
/// inference and lowering read them.
pub(crate) struct Parser<'a> {
    src: &'a str,
    /// The tokens; the parentheses' links (`partner`, `slot`) are filled in by `parse_groups`.
    toks: Vec<Token>,
    arena: &'a Bump,
    /// The operands of the sums and products being parsed, each already in the arena (a
    /// stack: each list is moved into the arena when complete), and the spans of their
    /// operators.
    operands: Vec<Operand<'a>>,
    pos: usize,
    limits: Limits,
    /// The parsed contents of each parenthesised group (or call argument), by the number of its
    /// `(` (its `slot`); an error is reported only if the parse reaches the group. A group
    /// nested deeper than the limit has no slot and is not parsed at all.
    groups: Vec<Option<Result<Ast<'a>, ParseError>>>,
    /// Names declared as abstract functions (`--let 'act: function'`, or known to the pool).
    declared: HashSet<String>,
    /// The syntax nodes made, and those of them that are not names or transposes: bounds of
    /// the pool nodes that lowering makes, to size the pool once.
    counts: Cell<(usize, usize)>,
}

impl<'a> Parser<'a> {
    /// The parser of `src`, lexed into `toks` (checked against the limits beforehand, with
    /// [`check_length`]).
    pub(crate) fn new(
        src: &'a str,
        toks: Vec<Token>,
        arena: &'a Bump,
        limits: Limits,
        declared: HashSet<String>,
    ) -> Parser<'a> {
        let mut parser = Parser {
            src,
            toks,
            arena,
            operands: Vec::new(),
            pos: 0,
            limits,
            groups: Vec::new(),
            declared,
            counts: Cell::new((0, 0)),
        };
        parser.parse_groups();
        parser.pos = 0;
        parser
    }

    /// The syntax nodes made so far, and those of them that are not names or transposes.
    pub(crate) fn node_counts(&self) -> (usize, usize) {
        self.counts.get()
    }

    #[inline]
    fn peek(&self) -> Tok<'a> {
        self.toks[self.pos].tok(self.src)
    }

    fn peek_at(&self, k: usize) -> Tok<'a> {
        self.toks[(self.pos + k).min(self.toks.len() - 1)].tok(self.src)
    }

    fn span(&self) -> Range<usize> {
        self.toks[self.pos].span()
    }

    /// The `(` or `)` at token `i`: the token index of its partner, if it has one.
    fn partner(&self, i: usize) -> Option<usize> {
        match self.toks[i].kind {
            Kind::LParen { partner, .. } | Kind::RParen { partner } if partner != NONE => {
                Some(partner as usize)
            }
            _ => None,
        }
    }

    /// Whether the current token is a `)` without a `(`.
    fn at_unmatched_close(&self) -> bool {
        matches!(self.toks[self.pos].kind, Kind::RParen { partner: NONE })
    }

    /// Moves past the current token and returns its span.
    fn bump(&mut self) -> Range<usize> {
        let span = self.toks[self.pos].span();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        span
    }

    /// Moves past the current token and returns it with its span.
    fn bump_tok(&mut self) -> (Tok<'a>, Range<usize>) {
        let tok = self.peek();
        (tok, self.bump())
    }

    fn err_here(&self, expected: &str) -> ParseError {
        let found = self.peek();
        let hint = match found {
            Tok::Ident(_) | Tok::Num(_) | Tok::LParen if expected.contains("operator") => {
                " (write '*' for a product)"
            }
            _ => "",
        };
        ParseError::new(
            format!("expected {expected}, found {}{hint}", found.describe()),
            self.span(),
        )
    }

    /// A node of the syntax tree; an error when the tree grows higher than the nesting limit.
    fn make(&self, kind: AstKind<'a>, span: Range<usize>) -> Result<Ast<'a>, ParseError> {
        let child_height = match &kind {
            AstKind::Num(_) | AstKind::Name(..) | AstKind::Eye(_) | AstKind::Ones(_) => 0,
            AstKind::Neg(a) | AstKind::Transpose(a) | AstKind::Call { arg: a, .. } => a.height,
            AstKind::Nary(_, xs) => xs.iter().map(|x| x.ast.height).max().unwrap_or(0),
            AstKind::Bin(_, a, b, _) => a.height.max(b.height),
        };
        let height = child_height + 1;
        if height as usize > self.limits.max_nesting {
            return Err(self.too_deep(span));
        }
        let hashed = !matches!(kind, AstKind::Name(..) | AstKind::Transpose(_));
        self.counts.set((
            self.counts.get().0 + 1,
            self.counts.get().1 + usize::from(hashed),
        ));
        Ok(Ast {
            kind,
            span: span.into(),
            height,
        })
    }

    #[cold]
    #[inline(never)]
    fn too_deep(&self, span: Range<usize>) -> ParseError {
        ParseError::new(
            format!(
                "the expression nests deeper than {} levels",
                self.limits.max_nesting
            ),
            span,
        )
    }

    /// `EXPR [where NAME = EXPR, ...]` and the end of input.
    pub(crate) fn parse_top(&mut self) -> Result<(Ast<'a>, Vec<AstBinding<'a>>), ParseError> {
        if self.peek() == Tok::End {
            return Err(ParseError::new(
                "expected an expression, found end of input (the input is empty)",
                self.span(),
            ));
        }
        let root = self.expr()?;
        let mut bindings = Vec::new();
        if matches!(self.peek(), Tok::Ident(w) if w == "where") {
            self.bump();
            loop {
                let (name, name_span) = match self.peek() {
                    Tok::Ident(n) if !is_reserved(n) => (n, self.bump()),
                    Tok::Ident(n) => {
                        return Err(ParseError::new(
                            format!("'{n}' is a reserved word and cannot be bound"),
                            self.span(),
                        ))
                    }
                    _ => return Err(self.err_here("a name to bind after 'where'")),
                };
                if self.peek() != Tok::Equals {
                    return Err(self.err_here(&format!("'=' after '{name}'")));
                }
                self.bump();
                let value = self.expr()?;
                bindings.push(AstBinding {
                    name: name.to_string(),
                    name_span,
                    value,
                });
                if self.peek() == Tok::Comma {
                    self.bump();
                } else {
                    break;
                }
            }
        }
        if self.at_unmatched_close() {
            return Err(ParseError::new(
                "unmatched ')': there is no '(' before it to close",
                self.span(),
            ));
        }
        if self.peek() != Tok::End {
            let expected = if bindings.is_empty() {
                "an operator or end of input"
            } else {
                "',' or end of input"
            };
            return Err(self.err_here(expected));
        }
        Ok((root, bindings))
    }

    // Nothing here recurses: signs, transposes and chains of operators are loops, and the
    // contents of parentheses are parsed beforehand, innermost first (`parse_groups`), so the
    // stack does not grow with the input, however deeply it nests.

    /// Sums: `term (('+' | '-') term)*`.
    fn expr(&mut self) -> Result<Ast<'a>, ParseError> {
        let first = self.term()?;
        if !matches!(self.peek(), Tok::Plus | Tok::Minus) {
            return Ok(first);
        }
        let mark = self.operands.len();
        self.push_operand(Span::default(), first);
        while matches!(self.peek(), Tok::Plus | Tok::Minus) {
            let (op, op_span) = self.bump_tok();
            let t = self.term()?;
            let t = if op == Tok::Minus {
                let span = op_span.start..t.span().end;
                self.make(AstKind::Neg(self.arena.alloc(t)), span)?
            } else {
                t
            };
            self.push_operand(op_span.into(), t);
        }
        self.nary(NaryOp::Add, mark)
    }

    /// Moves `ast` into the arena as the next operand of the list being parsed, after the
    /// operator at `op`.
    fn push_operand(&mut self, op: Span, ast: Ast<'a>) {
        let ast = self.arena.alloc(ast);
        self.operands.push(Operand { op, ast });
    }

    /// The n-ary node of the operands pushed since `mark` (their count then).
    fn nary(&mut self, op: NaryOp, mark: usize) -> Result<Ast<'a>, ParseError> {
        let last = self.operands.last().expect("operands");
        let span = self.operands[mark].ast.span().start..last.ast.span().end;
        let items = self
            .arena
            .alloc_slice_fill_iter(self.operands.drain(mark..));
        self.make(AstKind::Nary(op, items), span)
    }

    /// A term: signs (`-` negates, `+` does nothing) before Kronecker products.
    fn term(&mut self) -> Result<Ast<'a>, ParseError> {
        let minus = self.signs(true);
        let t = self.kron_product()?;
        self.negate(t, minus)
    }

    /// Kronecker products written infix, `product ('⊗' product)*`: looser than `*`, tighter
    /// than `+` (`A*B ⊗ C + D` is `kron(A*B, C) + D`), as the literature writes them.
    fn kron_product(&mut self) -> Result<Ast<'a>, ParseError> {
        let mut lhs = self.product()?;
        while self.peek() == Tok::Kron {
            let op_span = self.bump();
            let rhs = self.product()?;
            let span = lhs.span().start..rhs.span().end;
            lhs = self.make(
                AstKind::Bin(
                    BinOp::Kron,
                    self.arena.alloc(lhs),
                    self.arena.alloc(rhs),
                    op_span.into(),
                ),
                span,
            )?;
        }
        Ok(lhs)
    }

    /// Skips a run of signs and returns the starts of its minus signs (`+` only when `plus`).
    fn signs(&mut self, plus: bool) -> Vec<usize> {
        let mut minus = Vec::new();
        loop {
            match self.peek() {
                Tok::Minus => minus.push(self.bump().start),
                Tok::Plus if plus => {
                    self.bump();
                }
                _ => return minus,
            }
        }
    }

    /// Wraps `t` in one negation per minus sign, innermost last.
    fn negate(&self, mut t: Ast<'a>, minus: Vec<usize>) -> Result<Ast<'a>, ParseError> {
        for start in minus.into_iter().rev() {
            let span = start..t.span().end;
            t = self.make(AstKind::Neg(self.arena.alloc(t)), span)?;
        }
        Ok(t)
    }

    /// Products: `operand (('*' | '/' | '.*' | './') operand)*`, runs of `*` and of `.*` n-ary.
    fn product(&mut self) -> Result<Ast<'a>, ParseError> {
        let mut lhs = self.operand()?;
        loop {
            let op = match self.peek() {
                Tok::Star => NaryOp::Mul,
                Tok::DotStar => NaryOp::Hadamard,
                Tok::Slash | Tok::DotSlash => {
                    let (tok, op_span) = self.bump_tok();
                    let rhs = self.operand()?;
                    let op = if tok == Tok::Slash {
                        BinOp::Div
                    } else {
                        BinOp::HDiv
                    };
                    let span = lhs.span().start..rhs.span().end;
                    lhs = self.make(
                        AstKind::Bin(
                            op,
                            self.arena.alloc(lhs),
                            self.arena.alloc(rhs),
                            op_span.into(),
                        ),
                        span,
                    )?;
                    continue;
                }
                _ => return Ok(lhs),
            };
            let tok = self.peek();
            let mark = self.operands.len();
            self.push_operand(Span::default(), lhs);
            while self.peek() == tok {
                let op_span = self.bump();
                let t = self.operand()?;
                self.push_operand(op_span.into(), t);
            }
            lhs = self.nary(op, mark)?;
        }
    }

    /// An operand of a product or an exponent: minus signs before a power.
    fn operand(&mut self) -> Result<Ast<'a>, ParseError> {
        let minus = self.signs(false);
        let t = self.power()?;
        self.negate(t, minus)
    }

    /// Powers, right-associative: `base (('^' | '.^') '-'* base)*` where each exponent takes
    /// the rest of the chain (`x^2^3` is `x^(2^3)`, `X^-1` is `X^(-1)`).
    fn power(&mut self) -> Result<Ast<'a>, ParseError> {
        let first = self.power_base()?;
        if !matches!(self.peek(), Tok::Caret | Tok::DotCaret) {
            return Ok(first);
        }
        let mut bases = vec![first];
        // Each operator with its span and the minus signs before its exponent.
        let mut ops: Vec<(BinOp, Range<usize>, Vec<usize>)> = Vec::new();
        while matches!(self.peek(), Tok::Caret | Tok::DotCaret) {
            let (tok, op_span) = self.bump_tok();
            let op = if tok == Tok::Caret {
                BinOp::Pow
            } else {
                BinOp::HPow
            };
            ops.push((op, op_span, self.signs(false)));
            bases.push(self.power_base()?);
        }
        let mut acc = bases.pop().expect("an exponent");
        while let Some((op, op_span, minus)) = ops.pop() {
            let exponent = self.negate(acc, minus)?;
            let base = bases.pop().expect("a base per operator");
            let span = base.span().start..exponent.span().end;
            acc = self.make(
                AstKind::Bin(
                    op,
                    self.arena.alloc(base),
                    self.arena.alloc(exponent),
                    op_span.into(),
                ),
                span,
            )?;
        }
        Ok(acc)
    }

    /// A postfix expression followed by any number of `^T` (each possibly followed by quotes).
    fn power_base(&mut self) -> Result<Ast<'a>, ParseError> {
        let mut base = self.postfix()?;
        while self.peek() == Tok::Caret && matches!(self.peek_at(1), Tok::Ident(t) if t == "T") {
            self.bump();
            let t = self.bump();
            let span = base.span().start..t.end;
            base = self.make(AstKind::Transpose(self.arena.alloc(base)), span)?;
            base = self.quotes(base)?;
        }
        Ok(base)
    }

    /// A primary followed by transposes.
    fn postfix(&mut self) -> Result<Ast<'a>, ParseError> {
        let e = self.primary()?;
        self.quotes(e)
    }

    /// `e` transposed once per quote that follows.
    fn quotes(&mut self, mut e: Ast<'a>) -> Result<Ast<'a>, ParseError> {
        while self.peek() == Tok::Quote {
            let q = self.bump();
            let span = e.span().start..q.end;
            e = self.make(AstKind::Transpose(self.arena.alloc(e)), span)?;
        }
        Ok(e)
    }

    fn primary(&mut self) -> Result<Ast<'a>, ParseError> {
        let span = self.span();
        match self.peek() {
            Tok::Num(v) => {
                self.bump();
                self.make(AstKind::Num(v), span)
            }
            Tok::LParen => Ok(self.take_group()?.0),
            Tok::Ident(_) => {
                let Tok::Ident(name) = self.bump_tok().0 else {
                    unreachable!("an identifier")
                };
                self.ident(name, span)
            }
            Tok::RParen if self.at_unmatched_close() => Err(ParseError::new(
                "unmatched ')': there is no '(' before it to close",
                span,
            )),
            _ => Err(self.err_here("an expression")),
        }
    }

    /// Parses every parenthesised group, innermost first, each as an expression whose inner
    /// groups are already parsed. The results wait in `groups` until the parse reaches them.
    fn parse_groups(&mut self) {
        let mut open: SmallVec<[usize; 8]> = SmallVec::new();
        // The groups to parse (those within the nesting limit), inner before outer.
        let mut order: SmallVec<[usize; 8]> = SmallVec::new();
        let mut slots = 0;
        for i in 0..self.toks.len() {
            match self.toks[i].kind {
                Kind::LParen { ref mut slot, .. } => {
                    open.push(i);
                    if open.len() <= self.limits.max_nesting {
                        *slot = slots;
                        slots += 1;
                    }
                }
                Kind::RParen { ref mut partner } => {
                    if let Some(o) = open.pop() {
                        *partner = o as u32;
                        let Kind::LParen { slot, partner } = &mut self.toks[o].kind else {
                            unreachable!("an open parenthesis")
                        };
                        *partner = i as u32;
                        if *slot != NONE {
                            order.push(o);
                        }
                    }
                }
                _ => {}
            }
        }
        // Unclosed groups run to the end of input (and fail there).
        while let Some(o) = open.pop() {
            if self.slot(o) != NONE {
                order.push(o);
            }
        }
        self.groups = (0..slots).map(|_| None).collect();
        for o in order {
            let result = self.group(o);
            // A group that failed may leave operands behind: no list is open between groups.
            self.operands.clear();
            let slot = self.slot(o) as usize;
            self.groups[slot] = Some(result);
        }
    }

    /// The slot of the `(` at token `open` (`NONE` if nested too deeply to be parsed).
    fn slot(&self, open: usize) -> u32 {
        match self.toks[open].kind {
            Kind::LParen { slot, .. } => slot,
            _ => NONE,
        }
    }

    /// The contents of the group opened at token `open`: a parenthesised expression or the
    /// argument of a call.
    fn group(&mut self, open: usize) -> Result<Ast<'a>, ParseError> {
        self.pos = open + 1;
        let open_span = self.toks[open].span();
        let callee = self.callee_before(open);
        if self.peek() == Tok::RParen {
            return Err(match callee {
                Some(name) => ParseError::new(format!("'{name}' needs an argument"), self.span()),
                None => ParseError::new("expected an expression inside '()'", self.span()),
            });
        }
        let mut e = self.expr()?;
        if let Some(two) = callee.filter(|c| TWO_ARGUMENTS.contains(c)) {
            // The two arguments of maximum(X, Y), kron(A, B), ..., as one binary node.
            let message = match builtin(two) {
                Some(b) if !matches!(two, "maximum" | "minimum") => {
                    format!("'{two}' takes two arguments: {}, {}", b.call, b.meaning)
                }
                _ => format!("'{two}' takes two arguments: {two}(X, Y), element-wise"),
            };
            if self.peek() != Tok::Comma {
                return Err(ParseError::new(message, self.span()));
            }
            let comma = self.bump();
            let second = self.expr()?;
            if self.peek() == Tok::Comma {
                return Err(ParseError::new(message, self.span()));
            }
            let close = self.close_paren(&open_span)?;
            let op = match two {
                "kron" => BinOp::Kron,
                "commutation" => BinOp::Commutation,
                "unvec" => BinOp::Unvec,
                max => BinOp::Extreme(max == "maximum"),
            };
            let span = open_span.start..close.end;
            let (e, second) = (self.arena.alloc(e), self.arena.alloc(second));
            return self.make(AstKind::Bin(op, e, second, comma.into()), span);
        }
        if let Some(name) = &callee {
            if self.peek() == Tok::Comma {
                return Err(ParseError::new(self.arity_message(name), self.span()));
            }
        }
        let close = self.close_paren(&open_span)?;
        if callee.is_none() {
            e.span = (open_span.start..close.end).into();
        }
        Ok(e)
    }

    /// Why `name(A, B, ...)` is wrong: the function's real signature.
    fn arity_message(&self, name: &str) -> String {
        if let Some(b) = builtin(name) {
            format!("'{name}' takes one argument: {}, {}", b.call, b.meaning)
        } else if let Some(call) = not_yet(name) {
            not_yet_message(name, call)
        } else if self.is_abstract(name) {
            format!(
                "'{name}' is an abstract element-wise function and takes one argument; \
                 matdiff has no indexing (an entry of X is e_i'*X*e_j)"
            )
        } else {
            unknown_message(name)
        }
    }

    /// Whether a name applied like a function is an abstract function: one letter, or declared.
    fn is_abstract(&self, name: &str) -> bool {
        is_abstract_function_name(name) || self.declared.contains(name)
    }

    /// The name of the function whose argument list opens at token `open`, if it is one (`f(`,
    /// `f'(`).
    fn callee_before(&self, open: usize) -> Option<&'a str> {
        let mut i = open;
        while i > 0 {
            i -= 1;
            match self.toks[i].tok(self.src) {
                Tok::Quote => continue,
                Tok::Ident(name) => return Some(name),
                _ => return None,
            }
        }
        None
    }

    /// The parsed group at the current `(`; moves past its `)` and returns the span of it.
    fn take_group(&mut self) -> Result<(Ast<'a>, Range<usize>), ParseError> {
        let open = self.pos;
        let slot = self.slot(open);
        // Only the groups nested too deeply are not parsed beforehand.
        let Some(result) = self.groups.get_mut(slot as usize).and_then(Option::take) else {
            return Err(self.too_deep(self.span()));
        };
        let ast = result?;
        let close = self.partner(open).expect("a parsed group is closed");
        self.pos = close + 1;
        Ok((ast, self.toks[close].span()))
    }

    /// Consumes the `)` that closes the `(` at `open`.
    fn close_paren(&mut self, open: &Range<usize>) -> Result<Range<usize>, ParseError> {
        if self.peek() == Tok::End {
            return Err(ParseError::new(
                "'(' is never closed: expected ')' before the end of input",
                open.clone(),
            ));
        }
        if self.peek() != Tok::RParen {
            let found = self.peek().describe();
            return Err(ParseError::new(
                format!(
                    "expected ')' to close the '(' at byte {}, found {found}",
                    open.start
                ),
                self.span(),
            ));
        }
        Ok(self.bump())
    }

    /// The identifier `name` at `span`, already consumed: a name, a constant or a call.
    fn ident(&mut self, name: &'a str, span: Range<usize>) -> Result<Ast<'a>, ParseError> {
        let callee = if let Some(f) = Func::from_name(name) {
            Some(Callee::Elementwise(f))
        } else if let Some(r) = Reduce::from_name(name) {
            Some(Callee::Reduce(r))
        } else if name == "trace" {
            // MATLAB's and NumPy's spelling.
            Some(Callee::Reduce(Reduce::Trace))
        } else if name == "softmax" {
            Some(Callee::Softmax(Reduce::LogSumExp))
        } else if name == "vec" {
            Some(Callee::Vec)
        } else if name == "inv" || name == "inverse" {
            Some(Callee::Inv)
        } else if name == "diag" {
            Some(Callee::Diag)
        } else if name == "tril" || name == "triu" {
            Some(Callee::Tri(if name == "tril" {
                Triangle::Lower
            } else {
                Triangle::Upper
            }))
        } else if name == "rows" || name == "cols" {
            Some(Callee::Size {
                cols: name == "cols",
            })
        } else if name == "ones" || name == "eye" || name == "I" {
            Some(Callee::Sized {
                ones: name == "ones",
            })
        } else {
            None
        };
        // Count derivative quotes directly followed by '('.
        let mut quotes = 0;
        while self.peek_at(quotes) == Tok::Quote {
            quotes += 1;
        }
        let is_call = self.peek_at(quotes) == Tok::LParen;
        match (name, callee, is_call) {
            ("where", _, _) => Err(ParseError::new("expected an expression, found 'where'", span)),
            ("norm", None, true) => Err(ParseError::new(
                "'norm' is ambiguous: write norm2 (Euclidean norm of a vector, Frobenius norm of a matrix) or norm1",
                span,
            )),
            ("maximum" | "minimum" | "kron" | "commutation" | "unvec", _, true) => {
                let (mut e, close) = self.take_group()?;
                e.span = (span.start..close.end).into();
                if let AstKind::Bin(_, _, _, op_span) = &mut e.kind {
                    *op_span = span.clone().into();
                }
                Ok(e)
            }
            ("maximum" | "minimum", _, false) => Err(ParseError::new(
                format!("'{name}' is a function and needs arguments: {name}(X, Y)"),
                span,
            )),
            ("kron" | "commutation" | "unvec", _, false) => Err(ParseError::new(
                format!(
                    "'{name}' is a function and needs arguments: {}",
                    builtin(name).map_or(name, |b| b.call)
                ),
                span,
            )),
            ("I" | "eye", _, false) => self.make(AstKind::Eye(None), span),
            ("ones", _, false) => self.make(AstKind::Ones(None), span),
            (_, Some(_), false) if quotes > 0 => Err(ParseError::new(
                format!("cannot transpose the function name '{name}': write {name}(X)' to transpose its value"),
                span.start..self.toks[self.pos + quotes - 1].span().end,
            )),
            (_, Some(_), false) => Err(ParseError::new(
                format!("'{name}' is a function and needs an argument: {name}(...)"),
                span,
            )),
            (_, None, false) => self.make(AstKind::Name(name, None), span),
            (_, None, true) if !self.is_abstract(name) => Err(ParseError::new(
                match not_yet(name) {
                    Some(call) => not_yet_message(name, call),
                    None => unknown_message(name),
                },
                span,
            )),
            (_, callee, true) => {
                let callee = callee.unwrap_or(Callee::Abstract);
                if quotes > 0 && !matches!(callee, Callee::Elementwise(_) | Callee::Abstract) {
                    return Err(ParseError::new(
                        format!("'{name}' is not an element-wise function: the notation f'(Z) is for element-wise functions"),
                        span.start..self.toks[self.pos + quotes - 1].span().end,
                    ));
                }
                if quotes > 2 {
                    return Err(ParseError::new("derivatives of order above 2 are not supported", span));
                }
                for _ in 0..quotes {
                    self.bump();
                }
                self.call(callee, name, span, quotes as u8)
            }
        }
    }

    /// The call `name(...)`; the next token is the `(`.
    fn call(
        &mut self,
        callee: Callee,
        name: &'a str,
        name_span: Range<usize>,
        order: u8,
    ) -> Result<Ast<'a>, ParseError> {
        let (arg, close) = self.take_group()?;
        let span = name_span.start..close.end;
        let kind = AstKind::Call {
            callee,
            name,
            name_len: name_span.len() as u32,
            order,
            arg: self.arena.alloc(arg),
        };
        self.make(kind, span)
    }
}

/// The message for a function the language reserves but does not have yet.
fn not_yet_message(name: &str, call: &str) -> String {
    format!(
        "'{name}' is not built in yet ({call}): matdiff refuses it rather than guess; \
         declare --let '{name}: function' to use an abstract element-wise function of that name"
    )
}
