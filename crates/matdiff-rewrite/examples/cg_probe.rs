use matdiff_expr::ExprPool;
use matdiff_rewrite::{derive, DeriveOptions};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (src, wrt, n) = (&args[1], &args[2], args[3].parse::<usize>().unwrap());
    let print = args.get(4).is_some();
    let mut acc = 0;
    for _ in 0..n {
        let mut pool = ExprPool::new();
        let e = pool.parse_with(std::hint::black_box(src), &[]).unwrap();
        let options = DeriveOptions {
            gradient_only: true,
            ..DeriveOptions::default()
        };
        let d = derive(&mut pool, &e, wrt, &options).unwrap();
        if print {
            println!(
                "{}",
                matdiff_expr::Printer::new(&pool, matdiff_expr::Style::Plain).print(d.gradient)
            );
        }
        acc += d.steps.len() + d.gradient.index();
    }
    std::hint::black_box(acc);
}
