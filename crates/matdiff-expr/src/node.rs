//! Node, id and shape types of the expression DAG.

use std::fmt;

use crate::ids::Ids;

/// Index of a node in an [`ExprPool`](crate::ExprPool). Cheap to copy, compare and hash.
///
/// Two ids from the same pool are equal exactly when the expressions are structurally equal.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExprId(pub(crate) u32);

impl ExprId {
    /// The position of the node in its pool; children always have smaller indices than parents.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Debug for ExprId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.0)
    }
}

/// An interned name (variable, abstract function or symbolic dimension), owned by a pool.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Symbol(pub(crate) u32);

/// A symbolic dimension of a pool (`m`, `n`, ...). Never equal to 1.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DimVar(pub(crate) u32);

impl DimVar {
    /// The position of the dimension in its pool.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A product of dimensions interned by a pool (`m*p`, `2*n`): its factors are
/// [`ExprPool::dim_factors`](crate::ExprPool::dim_factors).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct DimProd(pub(crate) u32);

/// One dimension of a shape: a concrete size, a symbolic one, or a product of them.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Dim {
    /// A concrete size.
    Known(u64),
    /// A symbolic size, named by the pool.
    Sym(DimVar),
    /// A product with at least one symbolic factor (`kron(A, B)` has `m*p` rows), made by
    /// [`ExprPool::dim_product`](crate::ExprPool::dim_product): two products are equal exactly
    /// when their factors are, as multisets.
    Prod(DimProd),
}

impl Dim {
    /// The dimension 1.
    pub const ONE: Dim = Dim::Known(1);
}

/// The shape of a node: rows by columns. Scalars are 1 x 1, column vectors n x 1.
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct Shape {
    /// Number of rows.
    pub rows: Dim,
    /// Number of columns.
    pub cols: Dim,
}

impl Shape {
    /// The shape of a scalar, 1 x 1.
    pub const SCALAR: Shape = Shape {
        rows: Dim::ONE,
        cols: Dim::ONE,
    };

    /// A shape from its two dimensions.
    pub fn new(rows: Dim, cols: Dim) -> Shape {
        Shape { rows, cols }
    }

    /// Whether this is 1 x 1.
    #[inline]
    pub fn is_scalar(self) -> bool {
        self == Shape::SCALAR
    }

    /// Whether this is a column vector (n x 1 with n not 1).
    pub fn is_col_vector(self) -> bool {
        self.cols == Dim::ONE && self.rows != Dim::ONE
    }

    /// Whether rows and columns are the same dimension.
    #[inline]
    pub fn is_square(self) -> bool {
        self.rows == self.cols
    }

    /// The shape with rows and columns swapped.
    pub fn transposed(self) -> Shape {
        Shape {
            rows: self.cols,
            cols: self.rows,
        }
    }
}

/// A number of the expression language. Equality and hashing are by bits (`-0` is stored as `0`);
/// NaN cannot be built.
#[derive(Copy, Clone, PartialEq, PartialOrd, Debug)]
pub struct Num(f64);

impl Num {
    /// A number; `None` for NaN or infinities.
    pub fn new(value: f64) -> Option<Num> {
        value
            .is_finite()
            .then_some(Num(if value == 0.0 { 0.0 } else { value }))
    }

    /// The value.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The value as an integer, when it is one (and fits in an `i64`).
    pub fn as_integer(self) -> Option<i64> {
        let v = self.0;
        (v.fract() == 0.0 && v.abs() < 9.0e15).then_some(v as i64)
    }
}

impl Eq for Num {}

impl std::hash::Hash for Num {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.as_integer() {
            Some(i) if i.abs() < 1_000_000_000_000 => write!(f, "{i}"),
            _ => {
                let abs = self.0.abs();
                if (1e-4..1e15).contains(&abs) {
                    write!(f, "{}", self.0)
                } else {
                    write!(f, "{:e}", self.0)
                }
            }
        }
    }
}

/// A built-in element-wise function.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Func {
    /// `exp`
    Exp,
    /// `log` (natural)
    Log,
    /// `sin`
    Sin,
    /// `cos`
    Cos,
    /// `tan`
    Tan,
    /// `tanh`
    Tanh,
    /// `sigmoid`, the logistic function `1 / (1 + exp(-x))`
    Sigmoid,
    /// `relu`, `max(x, 0)`
    Relu,
    /// `softplus`, `log(1 + exp(x))`
    Softplus,
    /// `sqrt`
    Sqrt,
    /// `abs`
    Abs,
    /// `sign`: -1, 0 or 1 (its derivative is 0, also at 0, as JAX and PyTorch choose)
    Sign,
    /// `arcsin`, on [-1, 1]
    Arcsin,
    /// `arccos`, on [-1, 1]
    Arccos,
    /// `arctan`
    Arctan,
    /// `sinh`
    Sinh,
    /// `cosh`
    Cosh,
    /// `log1p`, `log(1 + x)` accurate for small `x`
    Log1p,
    /// `expm1`, `exp(x) - 1` accurate for small `x`
    Expm1,
}

impl Func {
    /// Every built-in element-wise function.
    pub const ALL: [Func; 19] = [
        Func::Exp,
        Func::Log,
        Func::Sin,
        Func::Cos,
        Func::Tan,
        Func::Tanh,
        Func::Sigmoid,
        Func::Relu,
        Func::Softplus,
        Func::Sqrt,
        Func::Abs,
        Func::Sign,
        Func::Arcsin,
        Func::Arccos,
        Func::Arctan,
        Func::Sinh,
        Func::Cosh,
        Func::Log1p,
        Func::Expm1,
    ];

    /// The name in the expression language.
    pub fn name(self) -> &'static str {
        match self {
            Func::Exp => "exp",
            Func::Log => "log",
            Func::Sin => "sin",
            Func::Cos => "cos",
            Func::Tan => "tan",
            Func::Tanh => "tanh",
            Func::Sigmoid => "sigmoid",
            Func::Relu => "relu",
            Func::Softplus => "softplus",
            Func::Sqrt => "sqrt",
            Func::Abs => "abs",
            Func::Sign => "sign",
            Func::Arcsin => "arcsin",
            Func::Arccos => "arccos",
            Func::Arctan => "arctan",
            Func::Sinh => "sinh",
            Func::Cosh => "cosh",
            Func::Log1p => "log1p",
            Func::Expm1 => "expm1",
        }
    }

    /// The function of a name, if it is built in.
    pub fn from_name(name: &str) -> Option<Func> {
        Func::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// An element-wise function: built in, or abstract (any other name, as the seed's `g`).
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Fun {
    /// A built-in function.
    Builtin(Func),
    /// An abstract function, known only by name; its derivative prints as `g'(Z)`.
    Abstract(Symbol),
}

/// A function from a matrix to a scalar.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Reduce {
    /// `tr`, the trace of a square matrix.
    Trace,
    /// `det`, the determinant of a square matrix.
    Det,
    /// `logdet`, the log of the determinant (which must be positive).
    LogDet,
    /// `sum`, the sum of all entries.
    Sum,
    /// `norm1`, the sum of absolute values of all entries.
    Norm1,
    /// `norm2`, the Euclidean norm of a vector, Frobenius norm of a matrix.
    Norm2,
    /// `logsumexp`, `log(sum(exp(x)))` of a vector, evaluated with the maximum shifted out.
    LogSumExp,
    /// `logabsdet`, `log|det X|` of a non-singular square matrix.
    LogAbsDet,
    /// `max`, the largest entry.
    Max,
    /// `min`, the smallest entry.
    Min,
}

impl Reduce {
    /// Every reduction.
    pub const ALL: [Reduce; 10] = [
        Reduce::Trace,
        Reduce::Det,
        Reduce::LogDet,
        Reduce::Sum,
        Reduce::Norm1,
        Reduce::Norm2,
        Reduce::LogSumExp,
        Reduce::LogAbsDet,
        Reduce::Max,
        Reduce::Min,
    ];

    /// The name in the expression language.
    pub fn name(self) -> &'static str {
        match self {
            Reduce::Trace => "tr",
            Reduce::Det => "det",
            Reduce::LogDet => "logdet",
            Reduce::Sum => "sum",
            Reduce::Norm1 => "norm1",
            Reduce::Norm2 => "norm2",
            Reduce::LogSumExp => "logsumexp",
            Reduce::LogAbsDet => "logabsdet",
            Reduce::Max => "max",
            Reduce::Min => "min",
        }
    }

    /// The reduction of a name.
    pub fn from_name(name: &str) -> Option<Reduce> {
        Reduce::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Whether the argument must be square.
    pub fn needs_square(self) -> bool {
        matches!(
            self,
            Reduce::Trace | Reduce::Det | Reduce::LogDet | Reduce::LogAbsDet
        )
    }
}

/// A triangle of a square matrix: the entries on and below (`tril`) or above (`triu`) the
/// diagonal, the others zero.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Triangle {
    /// `tril`, on and below the diagonal.
    Lower,
    /// `triu`, on and above the diagonal.
    Upper,
}

impl Triangle {
    /// The name in the expression language.
    pub fn name(self) -> &'static str {
        match self {
            Triangle::Lower => "tril",
            Triangle::Upper => "triu",
        }
    }

    /// The other triangle (the triangle of a transpose).
    pub fn flipped(self) -> Triangle {
        match self {
            Triangle::Lower => Triangle::Upper,
            Triangle::Upper => Triangle::Lower,
        }
    }
}

/// One operator with its children. Children are ids of the same pool, always smaller than the
/// node's own id.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Node {
    /// A variable; its shape is declared in the pool.
    Var(Symbol),
    /// A number (a scalar).
    Num(Num),
    /// The identity matrix `I` of the given size.
    Identity(Dim),
    /// The all-ones column vector `ones` of the given size.
    Ones(Dim),
    /// Unary minus.
    Neg(ExprId),
    /// Sum of two or more terms; scalar terms broadcast over matrix ones.
    Add(Ids),
    /// Product of two or more factors, left to right; a scalar factor scales.
    Mul(Ids),
    /// Element-wise (Hadamard) product of two or more factors; scalars broadcast.
    Hadamard(Ids),
    /// Division by a scalar: `[numerator, denominator]`.
    Div([ExprId; 2]),
    /// Element-wise division; scalars broadcast: `[numerator, denominator]`.
    HDiv([ExprId; 2]),
    /// Power: scalar to scalar, or square matrix to an integer: `[base, exponent]`.
    Pow([ExprId; 2]),
    /// Element-wise power by a scalar: `[base, exponent]`.
    HPow([ExprId; 2]),
    /// Transpose.
    Transpose(ExprId),
    /// Element-wise function, or its derivative of the given order (`g'(Z)` is order 1).
    Apply {
        /// The function.
        fun: Fun,
        /// Order of the derivative: 0 for the function itself.
        order: u8,
        /// The argument.
        arg: ExprId,
    },
    /// Matrix to scalar (`tr det logdet sum norm1 norm2`).
    Reduce(Reduce, ExprId),
    /// Inverse of a square matrix.
    Inv(ExprId),
    /// `diag`: a vector to its diagonal matrix, a square matrix to its diagonal.
    Diag(ExprId),
    /// `tril`, `triu`: a triangle of a square matrix.
    Tri(Triangle, ExprId),
    /// `logsumexp` of a matrix: one per column, a row (`m x n` to `1 x n`); of a column vector
    /// it is the reduction `Reduce::LogSumExp`.
    LogSumExpCols(ExprId),
    /// The Kronecker product `kron(A, B)` (`A ⊗ B`): `m*p x n*q` for `A` `m x n`, `B` `p x q`.
    Kron([ExprId; 2]),
    /// `vec(X)`: the columns of `X` stacked, `m*n x 1` (of a column vector, the vector itself).
    Vectorize(ExprId),
    /// The commutation matrix `commutation(m, n)` (`K_{m,n}`, `m*n x m*n`):
    /// `K_{m,n}*vec(A) = vec(A')` for every `m x n` matrix `A`.
    Commutation(Dim, Dim),
    /// `unvec(g, m)`: the `m*n x 1` column `g` as the `m x n` matrix whose `vec` it is.
    Unvec(ExprId, Dim),
}

impl Node {
    /// The children, in order.
    #[inline]
    pub fn children(&self) -> &[ExprId] {
        match self {
            Node::Var(_)
            | Node::Num(_)
            | Node::Identity(_)
            | Node::Ones(_)
            | Node::Commutation(..) => &[],
            Node::Neg(a)
            | Node::Transpose(a)
            | Node::Apply { arg: a, .. }
            | Node::Reduce(_, a)
            | Node::Inv(a)
            | Node::Diag(a)
            | Node::Tri(_, a)
            | Node::LogSumExpCols(a)
            | Node::Vectorize(a)
            | Node::Unvec(a, _) => std::slice::from_ref(a),
            Node::Add(xs) | Node::Mul(xs) | Node::Hadamard(xs) => xs,
            Node::Div(ab) | Node::HDiv(ab) | Node::Pow(ab) | Node::HPow(ab) | Node::Kron(ab) => ab,
        }
    }
}
