matdiff_macros::gradient!(fn loss = "tr(Y'*M*Y where Y = sigmoid(W*X)", wrt X);

fn main() {}
