//! Random well-shaped expressions as source text, from a seed: every operator and function of
//! the language, with shapes that fit (vectors, non-square matrices, scalars, broadcasting).
//! Shared by the parse round-trip property test and the parse bench.

/// A dimension of a generated shape: 1 or one of three symbolic sizes.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum D {
    One,
    M,
    N,
    P,
}

const SIZES: [D; 3] = [D::M, D::N, D::P];

impl D {
    fn suffix(self) -> &'static str {
        match self {
            D::One => "1",
            D::M => "m",
            D::N => "n",
            D::P => "p",
        }
    }
}

/// The shape of a generated expression.
pub type S = (D, D);

/// A generated expression: its source text and the number of nodes of its syntax tree.
pub struct Generated {
    pub text: String,
    #[allow(dead_code)] // used by the bench
    pub nodes: usize,
}

/// SplitMix64: a small, seeded generator, so that a case is reproducible from its seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }
}

/// A generator of expressions of about `budget` nodes.
pub struct Gen {
    rng: Rng,
    nodes: usize,
    /// `where` bindings available to leaves: name and shape.
    bound: Vec<(String, S)>,
}

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen {
            rng: Rng::new(seed),
            nodes: 0,
            bound: Vec::new(),
        }
    }

    /// A random expression of about `budget` nodes, of a random shape, sometimes with `where`
    /// bindings.
    pub fn expression(&mut self, budget: usize) -> Generated {
        self.nodes = 0;
        self.bound.clear();
        let shape = self.shape();
        let mut bindings = Vec::new();
        if budget > 6 && self.rng.below(3) == 0 {
            for k in 0..1 + self.rng.below(2) {
                let s = self.shape();
                let value = self.expr(s, budget / 4);
                let name = format!("T{}", k + 1);
                bindings.push(format!("{name} = {value}"));
                self.bound.push((name, s));
            }
        }
        let mut text = self.expr(shape, budget);
        if !bindings.is_empty() {
            text.push_str(" where ");
            text.push_str(&bindings.join(", "));
        }
        Generated {
            text,
            nodes: self.nodes,
        }
    }

    /// A sum of `terms` random scalar terms, each of about `budget` nodes, without bindings:
    /// a large expression of moderate height.
    #[allow(dead_code)] // used by the bench
    pub fn sum_of_terms(&mut self, terms: usize, budget: usize) -> Generated {
        self.nodes = 0;
        self.bound.clear();
        let mut parts = Vec::with_capacity(terms);
        for _ in 0..terms {
            parts.push(self.expr((D::One, D::One), budget));
        }
        self.nodes += 1;
        Generated {
            text: parts.join(" + "),
            nodes: self.nodes,
        }
    }

    fn shape(&mut self) -> S {
        match self.rng.below(4) {
            0 => (D::One, D::One),
            1 => (self.rng.pick(&SIZES), D::One),
            _ => (self.rng.pick(&SIZES), self.rng.pick(&SIZES)),
        }
    }

    fn dim(&mut self) -> D {
        self.rng.pick(&SIZES)
    }

    /// A leaf of shape `s`: a variable whose name says its shape, a number, `I`, `ones`, a
    /// bound name, or a transposed vector.
    fn leaf(&mut self, s: S) -> String {
        self.nodes += 1;
        let bound: Vec<String> = self
            .bound
            .iter()
            .filter(|b| b.1 == s)
            .map(|b| b.0.clone())
            .collect();
        if !bound.is_empty() && self.rng.below(3) == 0 {
            return self
                .rng
                .pick(&bound.iter().map(String::as_str).collect::<Vec<_>>())
                .to_string();
        }
        match s {
            (D::One, D::One) => match self.rng.below(4) {
                0 => self.rng.pick(&["2", "0.5", "3", "1e-3"]).to_string(),
                _ => self
                    .rng
                    .pick(&["alpha", "beta", "lambda", "mu"])
                    .to_string(),
            },
            (r, D::One) => match self.rng.below(5) {
                0 => "ones".to_string(),
                _ => format!("{}{}", self.rng.pick(&["x", "y", "b"]), r.suffix()),
            },
            (D::One, c) => {
                self.nodes += 1;
                format!("{}{}'", self.rng.pick(&["x", "y"]), c.suffix())
            }
            (r, c) if r == c && self.rng.below(6) == 0 => self.rng.pick(&["I", "eye"]).to_string(),
            (r, c) => format!(
                "{}{}{}",
                self.rng.pick(&["A", "B", "W"]),
                r.suffix(),
                c.suffix()
            ),
        }
    }

    /// `(e)`: every composite operand is parenthesised, so the text means what was generated.
    fn sub(&mut self, s: S, budget: usize) -> String {
        format!("({})", self.expr(s, budget))
    }

    /// An expression of shape `s` and about `budget` nodes.
    fn expr(&mut self, s: S, budget: usize) -> String {
        if budget <= 1 {
            return self.leaf(s);
        }
        self.nodes += 1;
        let b = budget - 1;
        let scalar = s == (D::One, D::One);
        let square = s.0 == s.1 && !scalar;
        let vector = s.1 == D::One && !scalar;
        loop {
            let text = match self.rng.below(22) {
                0 => format!("{} + {}", self.sub(s, b / 2), self.sub(s, b / 2)),
                1 => format!("{} - {}", self.sub(s, b / 2), self.sub(s, b / 2)),
                2 => format!("-{}", self.sub(s, b)),
                3 => {
                    // A matrix product through an inner dimension (1 gives an outer product).
                    let k = if self.rng.below(4) == 0 {
                        D::One
                    } else {
                        self.dim()
                    };
                    format!(
                        "{}*{}",
                        self.sub((s.0, k), b / 2),
                        self.sub((k, s.1), b / 2)
                    )
                }
                4 => format!(
                    "{}*{}",
                    self.sub((D::One, D::One), b / 2),
                    self.sub(s, b / 2)
                ),
                5 => format!(
                    "{}/{}",
                    self.sub(s, b / 2),
                    self.sub((D::One, D::One), b / 2)
                ),
                6 => {
                    let op = self.rng.pick(&[" .* ", " ⊙ "]);
                    format!("{}{op}{}", self.sub(s, b / 2), self.sub(s, b / 2))
                }
                7 => format!("{} ./ {}", self.sub(s, b / 2), self.sub(s, b / 2)),
                8 => format!(
                    "{}.^{}",
                    self.sub(s, b / 2),
                    self.sub((D::One, D::One), b / 2)
                ),
                9 => {
                    // Scalar broadcasting in + - .* ./
                    let op = self.rng.pick(&[" + ", " - ", " .* ", " ./ "]);
                    let (c, m) = (self.sub((D::One, D::One), b / 2), self.sub(s, b / 2));
                    if self.rng.below(2) == 0 {
                        format!("{c}{op}{m}")
                    } else {
                        format!("{m}{op}{c}")
                    }
                }
                10 => {
                    let t = self.rng.pick(&["'", "^T"]);
                    format!("{}{t}", self.sub((s.1, s.0), b))
                }
                11 => {
                    let f = self.rng.pick(&[
                        "exp", "log", "sin", "cos", "tan", "tanh", "sigmoid", "relu", "softplus",
                        "sqrt", "abs", "σ", "g", "h", "sign", "arcsin", "arccos", "arctan", "sinh",
                        "cosh", "log1p", "expm1",
                    ]);
                    format!("{f}({})", self.expr(s, b))
                }
                12 => {
                    let f = self.rng.pick(&[
                        "g'", "h''", "sigmoid'", "tanh'", "relu'", "exp''", "arcsin'", "cosh''",
                    ]);
                    format!("{f}({})", self.expr(s, b))
                }
                13 if square => {
                    let k = self.rng.pick(&["2", "3", "-1", "-2", "(-1)"]);
                    format!("{}^{k}", self.sub(s, b))
                }
                13 if scalar => format!("{}^{}", self.sub(s, b / 2), self.sub(s, b / 2)),
                14 if scalar => {
                    let f = self.rng.pick(&["tr", "det", "logdet", "logabsdet"]);
                    let k = self.dim();
                    format!("{f}({})", self.expr((k, k), b))
                }
                15 if scalar => {
                    let f = self.rng.pick(&["sum", "norm1", "norm2", "max", "min"]);
                    let t = self.shape();
                    format!("{f}({})", self.expr(t, b))
                }
                16 if square => {
                    let f = self.rng.pick(&["inv", "tril", "triu"]);
                    format!("{f}({})", self.expr(s, b))
                }
                17 if square => format!("diag({})", self.expr((s.0, D::One), b)),
                17 if vector => format!("diag({})", self.expr((s.0, s.0), b)),
                18 if scalar => {
                    // A quadratic form.
                    let (r, c) = (self.dim(), self.dim());
                    format!(
                        "{}'*{}*{}",
                        self.sub((r, D::One), b / 3),
                        self.sub((r, c), b / 3),
                        self.sub((c, D::One), b / 3)
                    )
                }
                19 if vector => {
                    let k = self.dim();
                    format!("{}*ones", self.sub((s.0, k), b))
                }
                // One logsumexp per column: a row (a scalar of a column vector).
                20 if s.0 == D::One => {
                    let k = self.dim();
                    format!("logsumexp({})", self.expr((k, s.1), b))
                }
                21 if !scalar => format!("softmax({})", self.expr(s, b)),
                _ => continue,
            };
            return text;
        }
    }
}
