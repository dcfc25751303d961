//! The seed's example 2.5.4 compiled by `gradient!`: the loss `tr(Y'*M*Y)` of a layer
//! `Y = sigmoid(W*X)` and its gradient with respect to `X`, as a plain faer function.
//!
//! `cargo run -p matdiff-macros --example layer`

use faer::Mat;

matdiff_macros::gradient!(fn loss_grad = "tr(Y'*M*Y) where Y = sigmoid(W*X)", wrt X, let "M: symmetric");

fn main() {
    let w = Mat::from_fn(2, 3, |i, j| [[1.0, -0.5, 0.0], [0.25, 2.0, -1.0]][i][j]);
    let x = Mat::from_fn(3, 2, |i, j| [[0.5, 1.0], [-1.0, 0.0], [2.0, 0.5]][i][j]);
    let m = Mat::from_fn(2, 2, |i, j| [[2.0, 1.0], [1.0, 3.0]][i][j]);
    let (loss, grad_x) = loss_grad(m.as_ref(), w.as_ref(), x.as_ref());
    println!("loss = {loss}");
    println!("dloss/dX =");
    for i in 0..grad_x.nrows() {
        let row: Vec<String> = (0..grad_x.ncols())
            .map(|j| format!("{:>20}", grad_x[(i, j)]))
            .collect();
        println!("{}", row.join(""));
    }
}
