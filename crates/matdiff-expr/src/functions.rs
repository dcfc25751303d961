//! The names of the language's functions: signatures and meanings for messages and the README,
//! the rule for abstract functions, and suggestions for misspelt names.

/// A built-in function of the language, as the documentation and error messages show it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Builtin {
    /// The name (`exp`, `tr`).
    pub name: &'static str,
    /// The call with its argument (`tr(X)`).
    pub call: &'static str,
    /// What it means, in a few words.
    pub meaning: &'static str,
    /// Its derivative `f'(x)` (element-wise functions) or its differential, in the expression
    /// language (or in words, after `f'(x):`).
    pub derivative: &'static str,
    /// The id of the catalog rule that differentiates it (`matdiff_rewrite::RULES`).
    pub rule: &'static str,
}

/// Every built-in function, in the order of the README table.
///
/// ```
/// let tr = matdiff_expr::builtin("tr").unwrap();
/// assert_eq!(tr.call, "tr(X)");
/// ```
#[rustfmt::skip]
pub const BUILTINS: &[Builtin] = &[
    Builtin { name: "exp", call: "exp(X)", meaning: "exponential, element-wise", derivative: "exp(x)", rule: "D8" },
    Builtin { name: "log", call: "log(X)", meaning: "natural logarithm, element-wise", derivative: "1 ./ x", rule: "D8" },
    Builtin { name: "sin", call: "sin(X)", meaning: "sine, element-wise", derivative: "cos(x)", rule: "D8" },
    Builtin { name: "cos", call: "cos(X)", meaning: "cosine, element-wise", derivative: "-sin(x)", rule: "D8" },
    Builtin { name: "tan", call: "tan(X)", meaning: "tangent, element-wise", derivative: "1 + tan(x).^2", rule: "D8" },
    Builtin { name: "tanh", call: "tanh(X)", meaning: "hyperbolic tangent, element-wise", derivative: "1 - tanh(x).^2", rule: "F4" },
    Builtin { name: "sigmoid", call: "sigmoid(X)", meaning: "logistic function 1 ./ (1 + exp(-x)), element-wise", derivative: "sigmoid(x) .* (1 - sigmoid(x))", rule: "F3" },
    Builtin { name: "relu", call: "relu(X)", meaning: "max(x, 0), element-wise", derivative: "relu'(x): 1 where x > 0, else 0 (0 at x = 0)", rule: "D8" },
    Builtin { name: "softplus", call: "softplus(X)", meaning: "log(1 + exp(x)), element-wise", derivative: "sigmoid(x)", rule: "D8" },
    Builtin { name: "sqrt", call: "sqrt(X)", meaning: "square root, element-wise", derivative: "0.5 ./ sqrt(x)", rule: "D8" },
    Builtin { name: "abs", call: "abs(X)", meaning: "absolute value, element-wise", derivative: "abs'(x): sign(x) (0 at x = 0)", rule: "D8" },
    Builtin { name: "sign", call: "sign(X)", meaning: "-1, 0 or 1 by the sign, element-wise", derivative: "sign'(x): 0 (also at 0, a subgradient, as JAX and PyTorch choose)", rule: "F5" },
    Builtin { name: "arcsin", call: "arcsin(X)", meaning: "inverse sine on [-1, 1], element-wise", derivative: "1 ./ sqrt(1 - x.^2)", rule: "F6" },
    Builtin { name: "arccos", call: "arccos(X)", meaning: "inverse cosine on [-1, 1], element-wise", derivative: "-1 ./ sqrt(1 - x.^2)", rule: "F7" },
    Builtin { name: "arctan", call: "arctan(X)", meaning: "inverse tangent, element-wise", derivative: "1 ./ (1 + x.^2)", rule: "F8" },
    Builtin { name: "sinh", call: "sinh(X)", meaning: "hyperbolic sine, element-wise", derivative: "cosh(x)", rule: "F9" },
    Builtin { name: "cosh", call: "cosh(X)", meaning: "hyperbolic cosine, element-wise", derivative: "sinh(x)", rule: "F10" },
    Builtin { name: "log1p", call: "log1p(X)", meaning: "log(1 + x), accurate for small x, element-wise", derivative: "1 ./ (1 + x)", rule: "F11" },
    Builtin { name: "expm1", call: "expm1(X)", meaning: "exp(x) - 1, accurate for small x, element-wise", derivative: "exp(x)", rule: "F12" },
    Builtin { name: "softmax", call: "softmax(x)", meaning: "exp(x - logsumexp(x)) of a vector (not element-wise: its Jacobian is diag(s) - s*s'); of a matrix, one per column: exp(X - ones*logsumexp(X))", derivative: "d softmax(x) = softmax(x) .* (dx - softmax(x)'*dx)", rule: "D20" },
    Builtin { name: "logsumexp", call: "logsumexp(x)", meaning: "log(sum(exp(x))) of a vector, evaluated with the maximum shifted out; of an m x n matrix, one per column (a 1 x n row)", derivative: "d logsumexp(x) = softmax(x)'*dx; of a matrix, ones'*(softmax(X) .* dX)", rule: "D20" },
    Builtin { name: "maximum", call: "maximum(X, Y)", meaning: "the larger of X and Y, element-wise (a scalar broadcasts); written X .* ((1 + sign(X - Y))/2) + Y .* ((1 - sign(X - Y))/2), exact", derivative: "d maximum(X, Y) = s .* dX + (1 - s) .* dY, s = (1 + sign(X - Y))/2: 1/2 to each at a tie (as JAX)", rule: "F5" },
    Builtin { name: "minimum", call: "minimum(X, Y)", meaning: "the smaller of X and Y, element-wise (a scalar broadcasts), written like maximum", derivative: "d minimum(X, Y) = s .* dX + (1 - s) .* dY, s = (1 + sign(Y - X))/2: 1/2 to each at a tie", rule: "F5" },
    Builtin { name: "kron", call: "kron(A, B)", meaning: "the Kronecker product A ⊗ B: m*p x n*q for A of m x n, B of p x q, block (i, j) is A(i, j)*B", derivative: "d kron(A, B) = kron(dA, B) + kron(A, dB)", rule: "D25" },
    Builtin { name: "vec", call: "vec(X)", meaning: "the columns of X stacked: m*n x 1 for X of m x n", derivative: "d vec(X) = vec(dX)", rule: "D26" },
    Builtin { name: "unvec", call: "unvec(g, M)", meaning: "the column g of M*n entries as the M x n matrix whose vec it is; M a size like rows(X)", derivative: "d unvec(g, M) = unvec(dg, M)", rule: "D26" },
    Builtin { name: "commutation", call: "commutation(M, N)", meaning: "the commutation matrix K (M*N x M*N): K*vec(A) = vec(A') for A of M x N; sizes like rows(X)", derivative: "d commutation(M, N) = 0, a constant", rule: "D9" },
    Builtin { name: "tr", call: "tr(X)", meaning: "trace of a square matrix (also 'trace')", derivative: "d tr(X) = tr(dX)", rule: "D4" },
    Builtin { name: "det", call: "det(X)", meaning: "determinant of a square matrix", derivative: "d det(X) = det(X)*tr(inv(X)*dX)", rule: "D6" },
    Builtin { name: "logdet", call: "logdet(X)", meaning: "log of the determinant (positive) of a square matrix", derivative: "d logdet(X) = tr(inv(X)*dX)", rule: "D10" },
    Builtin { name: "logabsdet", call: "logabsdet(X)", meaning: "log|det X| of a non-singular square matrix (any sign of the determinant)", derivative: "d logabsdet(X) = tr(inv(X)*dX)", rule: "D21" },
    Builtin { name: "max", call: "max(X)", meaning: "the largest entry; at ties the gradient is split evenly among the largest entries (as JAX)", derivative: "d max(X) = sum(W .* dX), W = (1 - sign(max(X) - X)) / sum(1 - sign(max(X) - X))", rule: "D22" },
    Builtin { name: "min", call: "min(X)", meaning: "the smallest entry; at ties the gradient is split evenly among the smallest entries (as JAX)", derivative: "d min(X) = sum(W .* dX), W = (1 - sign(X - min(X))) / sum(1 - sign(X - min(X)))", rule: "D22" },
    Builtin { name: "sum", call: "sum(X)", meaning: "sum of all entries", derivative: "d sum(X) = sum(dX)", rule: "D14" },
    Builtin { name: "norm1", call: "norm1(X)", meaning: "sum of the absolute values of all entries", derivative: "d norm1(X) = sum(abs'(X) .* dX)", rule: "D15" },
    Builtin { name: "norm2", call: "norm2(X)", meaning: "Euclidean norm of a vector, Frobenius norm of a matrix", derivative: "d norm2(X) = tr(X'*dX)/norm2(X)", rule: "D16" },
    Builtin { name: "inv", call: "inv(X)", meaning: "inverse of a square matrix (also 'inverse')", derivative: "d inv(X) = -inv(X)*dX*inv(X)", rule: "D5" },
    Builtin { name: "diag", call: "diag(X)", meaning: "a vector to its diagonal matrix; a square matrix to its diagonal", derivative: "d diag(X) = diag(dX)", rule: "D17" },
    Builtin { name: "tril", call: "tril(X)", meaning: "the lower triangle of a square matrix (on and below the diagonal; zeros above)", derivative: "d tril(X) = tril(dX)", rule: "D24" },
    Builtin { name: "triu", call: "triu(X)", meaning: "the upper triangle of a square matrix (on and above the diagonal; zeros below)", derivative: "d triu(X) = triu(dX)", rule: "D24" },
];

/// Names the language reserves for functions it does not have yet: refused with a clear
/// message rather than read as abstract functions.
pub const NOT_YET: &[(&str, &str)] = &[];

/// The built-in function of a name (`trace` and `inverse` are spellings of `tr` and `inv`).
pub fn builtin(name: &str) -> Option<&'static Builtin> {
    let name = match name {
        "trace" => "tr",
        "inverse" => "inv",
        other => other,
    };
    BUILTINS.iter().find(|b| b.name == name)
}

/// The signature of a function the language reserves but does not have yet.
pub(crate) fn not_yet(name: &str) -> Option<&'static str> {
    NOT_YET.iter().find(|n| n.0 == name).map(|n| n.1)
}

/// Whether a name applied like a function is an abstract element-wise function without being
/// declared: one letter, Latin or Greek (`g`, `σ`, `φ`), possibly with a numeric subscript
/// (`g1`, `g_2`, as the seed numbers the layers of a network).
///
/// ```
/// assert!(matdiff_expr::is_abstract_function_name("g"));
/// assert!(matdiff_expr::is_abstract_function_name("φ"));
/// assert!(matdiff_expr::is_abstract_function_name("g2"));
/// assert!(!matdiff_expr::is_abstract_function_name("softmx"));
/// ```
pub fn is_abstract_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(char::is_alphabetic) && chars.all(|c| c.is_ascii_digit() || c == '_')
}

/// The known function names closest to `name` (by edit distance), best first, at most three.
pub(crate) fn suggestions(name: &str) -> Vec<&'static str> {
    let known = BUILTINS
        .iter()
        .map(|b| b.name)
        .chain(NOT_YET.iter().map(|n| n.0))
        .chain(["trace", "inverse", "rows", "cols", "ones", "eye"]);
    let lower = name.to_lowercase();
    let mut scored: Vec<(usize, &'static str)> = known
        .filter_map(|k| {
            let d = distance(&lower, k);
            let close = d <= (k.chars().count().max(3) / 3).max(1)
                || (lower.len() >= 3 && (k.starts_with(&lower) || lower.starts_with(k)));
            close.then_some((d, k))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|s| s.1).collect()
}

/// The error message for an unknown name applied like a function.
pub(crate) fn unknown_message(name: &str) -> String {
    let mut msg = format!("unknown function '{name}'");
    let close = suggestions(name);
    if !close.is_empty() {
        msg.push_str(": did you mean ");
        msg.push_str(&close.join(", "));
        msg.push('?');
    }
    msg.push_str(&format!(
        " (an abstract element-wise function is one letter, such as g, g1 or σ, or declared with --let '{name}: function')"
    ));
    msg
}

/// Damerau-Levenshtein distance (optimal string alignment) over characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[n][m]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_find_misspellings() {
        assert_eq!(suggestions("softmx"), ["softmax"]);
        assert_eq!(suggestions("sigmod")[0], "sigmoid");
        assert_eq!(suggestions("tarce")[0], "trace");
        assert!(suggestions("zzzzzzzz").is_empty());
    }

    #[test]
    fn every_builtin_names_a_function_of_the_language() {
        for b in BUILTINS {
            assert!(b.call.starts_with(&format!("{}(", b.name)), "{}", b.name);
            assert!(crate::parser::is_reserved(b.name), "{}", b.name);
        }
    }
}
