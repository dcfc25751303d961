//! The rule catalog: every identity of the method with its typed id ([`RuleId`]), which every
//! derivation step records. Each group of rows names the code that applies it.

/// One identity of the method, with a stable id.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id recorded in derivations: `D2`, `T4`, `C`, ...
    pub id: RuleId,
    /// A short name.
    pub name: &'static str,
    /// The identity in the plain syntax.
    pub plain: &'static str,
    /// The identity in LaTeX.
    pub latex: &'static str,
}

macro_rules! rules {
    ($($id:ident, $name:literal, $plain:literal, $latex:literal;)*) => {
        /// The id of a rule of the catalog, generated from its row: an id that is not in the
        /// catalog does not compile. Printed as written (`T4`); [`RuleId::parse`] reads it back.
        #[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum RuleId {
            $(#[doc = $name] $id,)*
        }

        impl RuleId {
            /// The id as written in derivations: `"T4"`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(RuleId::$id => stringify!($id),)*
                }
            }
        }

        /// Every rule, in catalog order: differentials (D), trace tricks (T), the core relationship
        /// (C), and the algebra and conventions that tidy results (A, F, S).
        pub const RULES: &[Rule] = &[$(Rule { id: RuleId::$id, name: $name, plain: $plain, latex: $latex }),*];
    };
}

#[rustfmt::skip]
rules! {
    // Differentials (seed 2.2): diff.rs, `Engine::d_node` (D18 through `Engine::power`).
    D1, "linearity", "d(X ± Y) = dX ± dY, d(c*X) = c*dX", r"\mathrm{d}(X \pm Y) = \mathrm{d}X \pm \mathrm{d}Y,\ \mathrm{d}(cX) = c\,\mathrm{d}X";
    D2, "product rule", "d(X*Y) = dX*Y + X*dY", r"\mathrm{d}(XY) = (\mathrm{d}X)Y + X\,\mathrm{d}Y";
    D3, "transpose", "d(X') = (dX)'", r"\mathrm{d}(X^T) = (\mathrm{d}X)^T";
    D4, "trace", "d tr(X) = tr(dX)", r"\mathrm{d}\operatorname{tr}(X) = \operatorname{tr}(\mathrm{d}X)";
    D5, "inverse", "d inv(X) = -inv(X)*dX*inv(X)", r"\mathrm{d}X^{-1} = -X^{-1}\,\mathrm{d}X\,X^{-1}";
    D6, "determinant", "d det(X) = det(X)*tr(inv(X)*dX)", r"\mathrm{d}|X| = \operatorname{tr}(X^{*}\mathrm{d}X) = |X|\operatorname{tr}(X^{-1}\mathrm{d}X)";
    D7, "Hadamard product", "d(X .* Y) = dX .* Y + X .* dY", r"\mathrm{d}(X \odot Y) = \mathrm{d}X \odot Y + X \odot \mathrm{d}Y";
    D8, "element-wise function", "d f(X) = f'(X) .* dX", r"\mathrm{d}\sigma(X) = \sigma'(X) \odot \mathrm{d}X";
    // Differentials beyond the seed.
    D9, "constant", "dA = 0 for A constant", r"\mathrm{d}A = 0";
    D10, "log-determinant", "d logdet(X) = tr(inv(X)*dX)", r"\mathrm{d}\log\det X = \operatorname{tr}(X^{-1}\mathrm{d}X)";
    D11, "scalar chain rule", "d phi(s) = phi'(s)*ds", r"\mathrm{d}\varphi(s) = \varphi'(s)\,\mathrm{d}s";
    D12, "element-wise division", "d(X ./ Y) = dX ./ Y - (X .* dY) ./ Y.^2", r"\mathrm{d}(X \oslash Y) = \mathrm{d}X \oslash Y - (X \odot \mathrm{d}Y) \oslash Y^{\circ 2}";
    D13, "element-wise power", "d(X .^ c) = c*X.^(c - 1) .* dX", r"\mathrm{d}X^{\circ c} = c\,X^{\circ (c-1)} \odot \mathrm{d}X";
    D14, "sum", "d sum(X) = sum(dX)", r"\mathrm{d}\operatorname{sum}(X) = \operatorname{sum}(\mathrm{d}X)";
    D15, "1-norm", "d norm1(X) = sum(abs'(X) .* dX)", r"\mathrm{d}\|X\|_1 = \operatorname{sum}(\operatorname{sign}(X) \odot \mathrm{d}X)";
    D16, "2-norm", "d norm2(X) = tr(X'*dX)/norm2(X), d norm2(X)^2 = 2*tr(X'*dX)", r"\mathrm{d}\|X\|_2 = \frac{\operatorname{tr}(X^T\mathrm{d}X)}{\|X\|_2},\ \mathrm{d}\|X\|_2^2 = 2\operatorname{tr}(X^T\mathrm{d}X)";
    D17, "diag", "d diag(X) = diag(dX)", r"\mathrm{d}\operatorname{diag}(X) = \operatorname{diag}(\mathrm{d}X)";
    D18, "matrix power", "d(X^k) = sum of X^i*dX*X^(k-1-i)", r"\mathrm{d}X^k = \textstyle\sum_{i=0}^{k-1} X^i\,\mathrm{d}X\,X^{k-1-i}";
    D20, "log-sum-exp", "d logsumexp(x) = softmax(x)'*dx with softmax(x) = exp(x - logsumexp(x)), so d softmax(x) = softmax(x) .* (dx - softmax(x)'*dx); one per column of a matrix: d logsumexp(X) = ones'*(softmax(X) .* dX)", r"\mathrm{d}\operatorname{lse}(x) = s^T\mathrm{d}x,\ s = \operatorname{softmax}(x) = e^{x - \operatorname{lse}(x)}";
    D21, "log-abs-determinant", "d logabsdet(X) = tr(inv(X)*dX) at any non-singular X", r"\mathrm{d}\log|\det X| = \operatorname{tr}(X^{-1}\mathrm{d}X)";
    D22, "maximum and minimum entry", "d max(X) = sum(W .* dX) with W = (1 - sign(max(X) - X))/sum(1 - sign(max(X) - X)), the indicator of the largest entries shared evenly at ties; min alike", r"\mathrm{d}\max(X) = \operatorname{sum}(W \odot \mathrm{d}X),\ W = \frac{1 - \operatorname{sign}(\max(X) - X)}{\operatorname{sum}(1 - \operatorname{sign}(\max(X) - X))}";
    D23, "trace of a symbolic power", "d tr(X^k) = k*tr(X^(k-1)*dX) for an integer symbol k", r"\mathrm{d}\operatorname{tr}(X^k) = k\operatorname{tr}(X^{k-1}\mathrm{d}X)";
    D24, "triangle", "d tril(X) = tril(dX), d triu(X) = triu(dX)", r"\mathrm{d}\operatorname{tril}(X) = \operatorname{tril}(\mathrm{d}X)";
    D25, "Kronecker product", "d kron(A, B) = kron(dA, B) + kron(A, dB)", r"\mathrm{d}(A \otimes B) = \mathrm{d}A \otimes B + A \otimes \mathrm{d}B";
    D26, "vec and unvec", "d vec(X) = vec(dX), d unvec(g, m) = unvec(dg, m)", r"\mathrm{d}\operatorname{vec}(X) = \operatorname{vec}(\mathrm{d}X)";
    D19, "division by a scalar", "d(X/s) = dX/s - X*ds/s^2", r"\mathrm{d}(X/s) = \mathrm{d}X/s - X\,\mathrm{d}s/s^2";
    // Trace tricks (seed 2.3): derive/peel.rs, `Engine::peel` (T3 also in `Engine::run`).
    T1, "scalar as trace", "a = tr(a) for a scalar a", r"a = \operatorname{tr}(a)";
    T2, "trace of transpose", "tr(A') = tr(A)", r"\operatorname{tr}(A^T) = \operatorname{tr}(A)";
    T3, "trace of a sum", "tr(A ± B) = tr(A) ± tr(B)", r"\operatorname{tr}(A \pm B) = \operatorname{tr}(A) \pm \operatorname{tr}(B)";
    T4, "cyclic property", "tr(A*B) = tr(B*A)", r"\operatorname{tr}(AB) = \operatorname{tr}(BA)";
    T5, "Hadamard swap", "tr(A'*(B .* C)) = tr((A .* B)'*C)", r"\operatorname{tr}(A^T(B \odot C)) = \operatorname{tr}((A \odot B)^T C)";
    // Trace tricks beyond the seed.
    T6, "scalar factor", "tr(c*A) = c*tr(A)", r"\operatorname{tr}(cA) = c\operatorname{tr}(A)";
    T7, "sum as trace", "sum(A) = tr((ones*ones')'*A)", r"\operatorname{sum}(A) = \operatorname{tr}((\mathbf{1}\mathbf{1}^T)^T A)";
    T8, "diag swap", "tr(A'*diag(B)) = tr(diag(A)'*B)", r"\operatorname{tr}(A^T\operatorname{diag}(B)) = \operatorname{tr}(\operatorname{diag}(A)^T B)";
    T10, "triangle swap", "tr(A'*tril(B)) = tr(tril(A)'*B), triu alike", r"\operatorname{tr}(A^T\operatorname{tril}(B)) = \operatorname{tr}(\operatorname{tril}(A)^T B)";
    T9, "broadcast scalar", "tr(A'*(s*ones*ones')) = s*sum(A)", r"\operatorname{tr}(A^T(s\mathbf{1}\mathbf{1}^T)) = s\operatorname{sum}(A)";
    T11, "Kronecker contraction", "tr(G'*kron(dA, B)) = tr(((I ⊗ ones_p')*(G .* (ones*ones' ⊗ B))*(I ⊗ ones_q))'*dA), tr(G'*kron(A, dB)) = tr(((ones' ⊗ I)*(G .* (A ⊗ ones*ones'))*(ones ⊗ I))'*dB) for A of m x n, B of p x q: each block of G contracted with B, or summed with the weights of A", r"\operatorname{tr}(G^T(\mathrm{d}A \otimes B)) = \textstyle\sum_{ij} \mathrm{d}A_{ij}\operatorname{tr}(G_{ij}^T B)";
    T12, "vec swap", "tr(g'*vec(dX)) = tr(unvec(g, m)'*dX) for dX of m x n; tr(G'*unvec(dg, m)) = tr(vec(G)'*dg)", r"\operatorname{tr}(g^T\operatorname{vec}(\mathrm{d}X)) = \operatorname{tr}(\operatorname{unvec}_m(g)^T\mathrm{d}X)";
    // The core relationship (seed 2.1): derive/engine.rs, `Engine::run` and `derive`.
    C, "core relationship", "df = tr(G'*dX) gives df/dX = G", r"\mathrm{d}f = \operatorname{tr}(G^T\mathrm{d}X) \Rightarrow \frac{\partial f}{\partial X} = G";
    // Tidying: simplify/ (A: the canonical form, `Simplifier`; F1-F4: `shorten` and the presentation
    // pass); elementwise.rs (F5-F12: derivatives written out); derive/ (S, S2: the projection of a
    // structured variable's gradient; B: `where` names substituted back).
    A, "algebra", "like terms collected, common factors and transposes moved", r"\text{like terms collected}";
    F1, "softplus", "log(1 + exp(z)) = softplus(z)", r"\log(1 + e^{z}) = \operatorname{softplus}(z)";
    F2, "sigmoid", "exp(z) ./ (1 + exp(z)) = sigmoid(z)", r"\frac{e^{z}}{1 + e^{z}} = \sigma(z)";
    F3, "sigmoid derivative", "sigmoid'(z) = sigmoid(z) .* (1 - sigmoid(z))", r"\sigma'(z) = \sigma(z) \odot (1 - \sigma(z))";
    F4, "tanh derivative", "tanh'(z) = 1 - tanh(z).^2", r"\tanh'(z) = 1 - \tanh^{\circ 2}(z)";
    F5, "sign derivative", "sign'(x) = 0 (also at 0, a subgradient)", r"\operatorname{sign}'(x) = 0";
    F6, "arcsin derivative", "arcsin'(x) = 1 ./ sqrt(1 - x.^2)", r"\arcsin'(x) = 1 \oslash \sqrt{1 - x^{\circ 2}}";
    F7, "arccos derivative", "arccos'(x) = -1 ./ sqrt(1 - x.^2)", r"\arccos'(x) = -1 \oslash \sqrt{1 - x^{\circ 2}}";
    F8, "arctan derivative", "arctan'(x) = 1 ./ (1 + x.^2)", r"\arctan'(x) = 1 \oslash (1 + x^{\circ 2})";
    F9, "sinh derivative", "sinh'(x) = cosh(x), sinh''(x) = sinh(x)", r"\sinh'(x) = \cosh(x)";
    F10, "cosh derivative", "cosh'(x) = sinh(x), cosh''(x) = cosh(x)", r"\cosh'(x) = \sinh(x)";
    F11, "log1p derivative", "log1p'(x) = 1 ./ (1 + x)", r"\operatorname{log1p}'(x) = 1 \oslash (1 + x)";
    F12, "expm1 derivative", "expm1'(x) = expm1''(x) = exp(x)", r"\operatorname{expm1}'(x) = e^{x}";
    S, "symmetric gradient", "X symmetric: df/dX = (G + G')/2", r"X = X^T \Rightarrow \frac{\partial f}{\partial X} = \tfrac{1}{2}(G + G^T)";
    S2, "diagonal gradient", "X diagonal: df/dX = I .* G", r"X = \operatorname{diag}(x) \Rightarrow \frac{\partial f}{\partial X} = I \odot G";
    S3, "triangular gradient", "X lower triangular: df/dX = tril(G); upper: triu(G)", r"X = \operatorname{tril}(X) \Rightarrow \frac{\partial f}{\partial X} = \operatorname{tril}(G)";
    B, "substitution", "names replaced by what they stand for", r"\text{substitution}";
    // Second order (Magnus and Neudecker): second_order.rs, kronecker/ (V5 also simplify/vec_ops.rs:
    // the mixed product of neighbouring factors).
    H1, "second identification", "dh = tr(H[V]'*dX) for h = tr((df/dX)'*V) gives the Hessian-vector product H[V] (the Hessian is symmetric)", r"h = \operatorname{tr}\big(\tfrac{\partial f}{\partial X}^T V\big),\ \mathrm{d}h = \operatorname{tr}(H[V]^T\mathrm{d}X) \Rightarrow \frac{\partial h}{\partial X} = H[V]";
    J1, "Jacobian identification", "d tr(U'*F) = tr((J'*U)'*dx) gives J = dvec(F)/dx', rows the entries of F", r"\mathrm{d}\operatorname{tr}(U^T F) = \operatorname{tr}((J^T U)^T\mathrm{d}x) \Rightarrow J = \frac{\partial \operatorname{vec} F}{\partial x^T}";
    V1, "vec of a product", "vec(A*dX*B) = (B' ⊗ A)*vec(dX); for vectors A*dx*b = b*A*dx and A*(dx'*b) = A*b'*dx", r"\operatorname{vec}(A\,\mathrm{d}X\,B) = (B^T \otimes A)\operatorname{vec}(\mathrm{d}X)";
    V2, "vec of a Hadamard product", "vec(P .* dX) = diag(vec(P))*vec(dX); A*diag(u)*b = A*diag(b)*u", r"\operatorname{vec}(P \odot \mathrm{d}X) = \operatorname{diag}(\operatorname{vec} P)\operatorname{vec}(\mathrm{d}X)";
    V3, "outer product", "a*(b'*dx) = (a*b')*dx, sum(dx) = ones'*dx", r"a\,(b^T\mathrm{d}x) = (a b^T)\,\mathrm{d}x";
    V4, "vec of a transpose", "vec(dX') = commutation(m, n)*vec(dX) for dX of m x n", r"\operatorname{vec}(\mathrm{d}X^T) = K_{mn}\operatorname{vec}(\mathrm{d}X)";
    V5, "Kronecker algebra", "(A ⊗ B)*(C ⊗ D) = A*C ⊗ B*D, commutation(p, q)*(A ⊗ B) = (B ⊗ A)*commutation(m, n) for A of q x n, B of p x m", r"(A \otimes B)(C \otimes D) = AC \otimes BD,\ K_{pq}(A \otimes B) = (B \otimes A)K_{mn}";
    V6, "vec of a scalar linear form", "vec(P*tr(Q'*dX)) = vec(P)*vec(Q)'*vec(dX)", r"\operatorname{vec}\big(P\operatorname{tr}(Q^T\mathrm{d}X)\big) = \operatorname{vec}(P)\operatorname{vec}(Q)^T\operatorname{vec}(\mathrm{d}X)";
}

impl RuleId {
    /// The id written `id`, if the catalog has it.
    ///
    /// ```
    /// use matdiff_rewrite::RuleId;
    /// assert_eq!(RuleId::parse("T4"), Some(RuleId::T4));
    /// assert_eq!(RuleId::parse("T44"), None);
    /// ```
    pub fn parse(id: &str) -> Option<RuleId> {
        RULES.iter().map(|r| r.id).find(|r| r.as_str() == id)
    }

    /// Its row of the catalog.
    ///
    /// ```
    /// assert_eq!(matdiff_rewrite::RuleId::T4.rule().name, "cyclic property");
    /// ```
    pub fn rule(self) -> &'static Rule {
        RULES
            .iter()
            .find(|r| r.id == self)
            .expect("every id has its row")
    }
}

impl std::fmt::Display for RuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rule with the id written `id` (for ids that arrive as text: the built-in function table,
/// a front end's request).
///
/// ```
/// assert_eq!(matdiff_rewrite::rule("T4").unwrap().name, "cyclic property");
/// ```
pub fn rule(id: &str) -> Option<&'static Rule> {
    RuleId::parse(id).map(RuleId::rule)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_builtin_function_names_a_rule_of_the_catalog() {
        for b in matdiff_expr::BUILTINS {
            assert!(super::rule(b.rule).is_some(), "{}: {}", b.name, b.rule);
        }
    }
}
