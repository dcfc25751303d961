//! Random expressions of the kinds users type, as text: scalars broadcast inside `sum`, `tr`
//! and `norm2`, repeated product chains with number coefficients, transposed numbers,
//! self-cancelling pieces (`x ./ x`, `log(exp(Z))`, `u - u`), the `f''` notation, bindings
//! used twice, and non-square shapes throughout.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The variables every drawn expression may use, with their shapes (rows, columns): no two
/// dimensions of a non-square matrix are equal.
pub const VARIABLES: &[(&str, usize, usize)] = &[
    ("alpha", 1, 1),
    ("c", 1, 1),
    ("y", 2, 1),
    ("x", 3, 1),
    ("u", 3, 1),
    ("b", 4, 1),
    ("A", 2, 3),
    ("C", 3, 4),
    ("D", 4, 2),
    ("W", 2, 2),
    ("S", 3, 3),
    ("P", 3, 3),
    ("L", 2, 2),
    ("G", 3, 3),
    ("Q", 2, 2),
];

/// The structured variables among [`VARIABLES`], with their structure as declared (`--let
/// 'P: symmetric'`): their values, declarations and gradients keep it.
pub const STRUCTURED: &[(&str, &str)] = &[
    ("P", "symmetric"),
    ("L", "lower"),
    ("G", "diagonal"),
    ("Q", "spd"),
];

const SIZES: [usize; 4] = [1, 2, 3, 4];

/// A drawn expression: its text (a scalar function) and a variable it depends on.
#[derive(Clone, Debug)]
pub struct Drawn {
    /// The expression, with `where` bindings when drawn.
    pub text: String,
    /// The variable to differentiate by (one that occurs in the text).
    pub wrt: String,
}

/// Draws one scalar expression from `seed`.
pub fn draw(seed: u64) -> Drawn {
    let mut g = Generator {
        rng: SmallRng::seed_from_u64(seed),
        bound: None,
    };
    loop {
        let text = g.top();
        let used: Vec<&str> = VARIABLES
            .iter()
            .map(|v| v.0)
            .filter(|name| mentions(&text, name))
            .collect();
        if used.is_empty() {
            continue;
        }
        let wrt = used[g.rng.random_range(0..used.len())].to_string();
        return Drawn { text, wrt };
    }
}

/// Draws one matrix-valued (or vector-valued) expression from `seed`, of a shape other than
/// `1 x 1` (the functions whose Jacobians are checked), with a variable it depends on.
///
/// ```
/// let d = matdiff_testkit::generate::draw_matrix(7);
/// assert!(!d.text.is_empty());
/// ```
pub fn draw_matrix(seed: u64) -> Drawn {
    let mut g = Generator {
        rng: SmallRng::seed_from_u64(seed ^ 0x0a7c_0b1a_4e5d),
        bound: None,
    };
    loop {
        let (r, c) = (g.size(), g.size());
        if (r, c) == (1, 1) {
            continue;
        }
        let text = g.expr(r, c, 3);
        let used: Vec<&str> = VARIABLES
            .iter()
            .map(|v| v.0)
            .filter(|name| mentions(&text, name))
            .collect();
        if used.is_empty() {
            continue;
        }
        let wrt = used[g.rng.random_range(0..used.len())].to_string();
        return Drawn { text, wrt };
    }
}

/// The variables of shape `r x c`, and the transposes of those of shape `c x r`.
fn variables_of_shape(r: usize, c: usize) -> Vec<String> {
    let mut options = Vec::new();
    for &(name, vr, vc) in VARIABLES {
        if (vr, vc) == (r, c) {
            options.push(name.to_string());
        }
        if (vc, vr) == (r, c) && (vr, vc) != (1, 1) {
            options.push(format!("{name}'"));
        }
    }
    options
}

/// The text as one operand: parenthesised unless it is a name or a number, possibly
/// transposed.
fn atom(text: String) -> String {
    if text
        .chars()
        .all(|ch| ch.is_alphanumeric() || ch == '\'' || ch == '.')
    {
        text
    } else {
        format!("({text})")
    }
}

/// Whether `name` occurs in `text` as a whole identifier.
fn mentions(text: &str, name: &str) -> bool {
    let bytes = text.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    text.match_indices(name).any(|(i, _)| {
        let before = i == 0 || !ident(bytes[i - 1]);
        let after = i + name.len() >= bytes.len() || !ident(bytes[i + name.len()]);
        before && after
    })
}

struct Generator {
    rng: SmallRng,
    /// The name bound by `where` and its shape, while the body is drawn.
    bound: Option<(&'static str, usize, usize)>,
}

impl Generator {
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.rng.random_range(0..xs.len())]
    }

    fn size(&mut self) -> usize {
        self.pick(&SIZES)
    }

    /// A scalar function, sometimes with a binding used twice.
    fn top(&mut self) -> String {
        if self.chance(0.25) {
            let (r, c) = (self.pick(&[2, 3, 4]), self.size());
            let value = self.expr(r, c, 2);
            self.bound = Some(("Y", r, c));
            let body = self.expr(1, 1, 3);
            let twice = self.pick(&["sum(Y .* Y)", "norm2(Y)^2", "sum(Y)*sum(Y)", "tr(Y'*Y)"]);
            self.bound = None;
            return format!("{body} + {twice} where Y = {value}");
        }
        self.expr(1, 1, 4)
    }

    /// A leaf of shape `r x c`: a variable (or the transpose of one), a number, or the bound name.
    fn leaf(&mut self, r: usize, c: usize) -> String {
        if let Some((name, br, bc)) = self.bound {
            if (br, bc) == (r, c) && self.chance(0.5) {
                return name.to_string();
            }
        }
        let mut options = variables_of_shape(r, c);
        if (r, c) == (1, 1) {
            let n = self.pick(&["2", "0.5", "3", "1.5", "2'", "-1"]);
            options.push(n.to_string());
        }
        if options.is_empty() {
            // Only 4 x 4 has no variable: a product of two that do.
            let square = self.pick(&["D*D'", "C'*C", "b*b'"]);
            options.push(square.to_string());
        }
        if self.chance(0.15) && (r, c) != (1, 1) {
            // A product of two leaves (at most four factors).
            let k = self.pick(&[2, 3, 4]);
            let (a, b) = (self.variable(r, k), self.variable(k, c));
            return format!("{a}*{b}");
        }
        let i = self.rng.random_range(0..options.len());
        options.swap_remove(i)
    }

    /// A variable of shape `r x c`, or the transpose of one, or a product of two for 4 x 4.
    fn variable(&mut self, r: usize, c: usize) -> String {
        let mut options = variables_of_shape(r, c);
        if options.is_empty() {
            return self.pick(&["D*D'", "C'*C"]).to_string();
        }
        let i = self.rng.random_range(0..options.len());
        options.swap_remove(i)
    }

    /// An expression of shape `r x c`, at most `depth` operators deep.
    fn expr(&mut self, r: usize, c: usize, depth: u32) -> String {
        if depth == 0 || self.chance(0.2) {
            return self.leaf(r, c);
        }
        let d = depth - 1;
        let scalar = (r, c) == (1, 1);
        let square = r == c;
        loop {
            let choice = self.rng.random_range(0..22);
            let out = match choice {
                0 => format!("({} + {})", self.expr(r, c, d), self.expr(r, c, d)),
                1 => format!("({} - {})", self.expr(r, c, d), self.expr(r, c, d)),
                // A scalar broadcast into a matrix.
                2 if !scalar => {
                    let (s, m) = (self.expr(1, 1, d.min(1)), self.expr(r, c, d));
                    if self.chance(0.5) {
                        format!("({s} + {m})")
                    } else {
                        format!("({m} - {s})")
                    }
                }
                3 => {
                    let k = self.size();
                    format!("{}*{}", self.factor(r, k, d), self.factor(k, c, d))
                }
                4 => {
                    let k = self.pick(&["2", "0.5", "3", "-2", "2'", "alpha"]);
                    format!("{k}*{}", self.factor(r, c, d))
                }
                5 => format!("({} .* {})", self.factor(r, c, d), self.factor(r, c, d)),
                6 => {
                    let den = self.pick(&[0, 1]);
                    let den = match den {
                        0 => format!("({}.^2 + 1)", self.factor(r, c, d)),
                        _ => format!("exp({})", self.expr(r, c, d.min(1))),
                    };
                    format!("({} ./ {den})", self.factor(r, c, d))
                }
                7 => {
                    let f = self.pick(&[
                        "tanh",
                        "sigmoid",
                        "sin",
                        "cos",
                        "softplus",
                        "exp",
                        "tanh'",
                        "sigmoid'",
                        "tanh''",
                        "sigmoid''",
                        "sin''",
                        "cos'",
                        "exp''",
                        "softplus'",
                        "arctan",
                        "arctan''",
                        "sinh",
                        "cosh''",
                        "expm1",
                        "expm1'",
                        "arcsin",
                        "arccos''",
                        "log1p",
                        "log1p''",
                        "sign",
                    ]);
                    let arg = self.expr(r, c, d.min(2));
                    match f.trim_end_matches('\'') {
                        // Arguments kept inside the domain (and exp, sinh, cosh small).
                        "exp" | "sinh" | "cosh" | "expm1" | "arcsin" | "arccos" => {
                            format!("{f}(0.5*tanh({arg}))")
                        }
                        "log1p" => format!("{f}(({arg}).^2)"),
                        // Away from its jump at 0, where a piece that cancels only up to
                        // rounding (`X - log(exp(X))`) would give the reference any sign.
                        "sign" => format!("{f}({arg} - 0.3183)"),
                        _ => format!("{f}({arg})"),
                    }
                }
                8 => format!("({})'", self.expr(c, r, d)),
                // Pieces that cancel.
                9 => {
                    let e = atom(self.expr(r, c, d.min(2)));
                    match self.rng.random_range(0..3) {
                        0 => format!("({e} - {e})"),
                        1 => format!("log(exp({e}))"),
                        _ => {
                            let den = self.expr(r, c, d.min(1));
                            format!("({e} .* (exp({den}) ./ exp({den})))")
                        }
                    }
                }
                // A repeated chain with number coefficients.
                10 if square && !scalar => {
                    let p = self.leaf(r, r);
                    let p = atom(p);
                    let (k1, k2) = (self.pick(&["2", "3", "0.5"]), self.pick(&["2", "-1", "1"]));
                    format!("({k1}*{p}*{p} + {p}*{p}*{p} + {k2}*{p}*{p}*{p})")
                }
                11 if square && !scalar => {
                    let m = atom(self.expr(r, r, d.min(2)));
                    format!("inv({m}*{m}' + I)")
                }
                12 if square && !scalar => format!("diag({})", self.expr(r, 1, d)),
                12 if c == 1 && !scalar => format!("diag({})", self.expr(r, r, d)),
                17 if square && !scalar => {
                    let f = self.pick(&["tril", "triu"]);
                    format!("{f}({})", self.expr(r, r, d))
                }
                13 if square => format!("{}^2", self.factor(r, r, d)),
                13 => format!("{}.^2", self.factor(r, c, d)),
                14 if scalar => self.reduction(d),
                15 if scalar => self.reduction(d),
                16 if scalar => {
                    let k = self.size();
                    format!("{}*{}", self.factor(1, k, d), self.factor(k, 1, d))
                }
                18 if scalar => self.kron_reduction(d),
                // `vec(A)'*vec(X)`: an inner product written through `vec`.
                19 if scalar => {
                    let (m, n) = (self.size(), self.size());
                    format!("vec({})'*vec({})", self.expr(m, n, d), self.expr(m, n, d))
                }
                // `kron(L, R)*vec(X)` (sometimes infix), or `vec` of a matrix, as a column.
                20 if c == 1 && !scalar => {
                    let (m, p) = self.split(r);
                    let (n, q) = (self.pick(&[1, 2, 3]), self.pick(&[1, 2, 3]));
                    let (l, rr) = (self.factor(m, n, d.min(1)), self.factor(p, q, d.min(1)));
                    let v = self.expr(q, n, d);
                    if self.chance(0.5) {
                        format!("kron({l}, {rr})*vec({v})")
                    } else {
                        format!("({l} ⊗ {rr})*vec({v})")
                    }
                }
                20 if c == 1 => {
                    let (m, n) = self.split(r);
                    format!("vec({})", self.expr(m, n, d))
                }
                // `unvec` of a column of `r*c` entries.
                // `unvec` of a column of `r*c` entries; beyond four, `kron(a, b) = vec(b*a')`.
                21 if !scalar && r * c <= 4 => format!("unvec({}, {r})", self.expr(r * c, 1, d)),
                21 if !scalar => {
                    let (a, b) = (self.expr(c, 1, d.min(1)), self.expr(r, 1, d.min(1)));
                    format!("unvec(kron({a}, {b}), {r})")
                }
                _ => continue,
            };
            return out;
        }
    }

    /// A factorisation `r = m*p`, drawn among those of `r`.
    fn split(&mut self, r: usize) -> (usize, usize) {
        let ways: Vec<(usize, usize)> = (1..=r)
            .filter(|&m| r.is_multiple_of(m))
            .map(|m| (m, r / m))
            .collect();
        ways[self.rng.random_range(0..ways.len())]
    }

    /// A scalar of a Kronecker product of two small matrices: `tr`, `sum` or `norm2`, written
    /// `kron(P, Q)` or `P ⊗ Q`.
    fn kron_reduction(&mut self, d: u32) -> String {
        let reduce = self.pick(&["tr", "sum", "norm2"]);
        let ((a, b), (p, q)) = if reduce == "tr" {
            let (a, p) = (self.pick(&[1, 2, 3]), self.pick(&[1, 2]));
            ((a, a), (p, p))
        } else {
            let mut dim = || self.pick(&[1, 2, 3]);
            ((dim(), dim()), (dim(), dim()))
        };
        let (l, r) = (self.expr(a, b, d.min(2)), self.expr(p, q, d.min(2)));
        if self.chance(0.5) {
            format!("{reduce}(kron({l}, {r}))")
        } else {
            format!("{reduce}({} ⊗ {})", atom(l), atom(r))
        }
    }

    /// A factor of a product: parenthesised unless it is a leaf.
    fn factor(&mut self, r: usize, c: usize, depth: u32) -> String {
        atom(self.expr(r, c, depth))
    }

    /// A scalar made by a reduction, often of a scalar broadcast into a matrix.
    fn reduction(&mut self, d: u32) -> String {
        let (r, c) = (self.size(), self.size());
        let k = self.pick(&[2, 3, 4]);
        let inner = if self.chance(0.4) {
            let s = self.expr(1, 1, d.min(1));
            let m = self.expr(r, c, d);
            format!("{s} + {m}")
        } else {
            self.expr(r, c, d)
        };
        match self.rng.random_range(0..10) {
            // Of a matrix: one per column (a row), weighted.
            6 if c > 1 && self.chance(0.5) => {
                let w = atom(self.expr(c, 1, d.min(1)));
                format!("logsumexp({})*{w}", self.expr(k, c, d))
            }
            6 => format!("logsumexp({})", self.expr(k, 1, d)),
            7 if c > 1 && self.chance(0.5) => {
                let w = atom(self.expr(k, c, d.min(1)));
                format!("sum(softmax({}) .* {w})", self.expr(k, c, d))
            }
            7 => {
                let (v, w) = (self.expr(k, 1, d), self.expr(k, 1, d.min(1)));
                format!("softmax({v})'*{}", atom(w))
            }
            8 => format!("{}({inner})", self.pick(&["max", "min"])),
            9 => format!(
                "logabsdet({})",
                atom(self.expr(k.min(3), k.min(3), d.min(2)))
            ),
            0 => format!("sum({inner})"),
            1 => format!("norm2({inner})"),
            2 => {
                let s = self.expr(1, 1, d.min(1));
                format!("tr({s} + {})", self.expr(k, k, d))
            }
            3 => format!("tr({})", self.expr(k, k, d)),
            4 => {
                let m = atom(self.expr(k, k.max(2), d.min(2)));
                format!("logdet({m}*{m}' + I)")
            }
            _ => format!("det({})", self.expr(k.min(3), k.min(3), d.min(2))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_variables_are_drawn_as_the_variable() {
        for &(name, _) in STRUCTURED {
            let n = (0..2000).filter(|&seed| draw(seed).wrt == name).count();
            assert!(n >= 20, "{name} is the variable of {n} of 2000 cases");
        }
    }

    /// Whether `text` parses, with the sizes of [`VARIABLES`], as a scalar (panics if it does
    /// not parse).
    fn parses_as_scalar(text: &str) -> bool {
        let mut pool = matdiff_expr::ExprPool::new();
        let decls: Vec<matdiff_expr::Decl> = VARIABLES
            .iter()
            .map(|&(n, r, c)| matdiff_expr::Decl::sized(n, r as u64, c as u64))
            .collect();
        let e = pool
            .parse_with(text, &decls)
            .unwrap_or_else(|e| panic!("{}", e.render(text)));
        pool.shape(e.root).is_scalar()
    }

    #[test]
    fn drawn_matrix_expressions_parse_as_matrices() {
        for seed in 0..300 {
            let d = draw_matrix(seed);
            assert!(!parses_as_scalar(&d.text), "{}", d.text);
            assert!(mentions(&d.text, &d.wrt));
        }
    }

    #[test]
    fn drawn_expressions_parse_as_scalars() {
        for seed in 0..500 {
            let d = draw(seed);
            assert!(parses_as_scalar(&d.text), "{}", d.text);
            assert!(mentions(&d.text, &d.wrt));
        }
    }
}
