matdiff_macros::gradient!(fn loss = "tr(X'*M*X)", wrt X, let "M symmetric");

fn main() {}
