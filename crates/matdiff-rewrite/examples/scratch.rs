use matdiff_expr::*;
use matdiff_rewrite::*;
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps = args.iter().any(|a| a == "-s");
    for spec in args.iter().filter(|a| *a != "-s") {
        // EXPR | wrt | decls;... | upstream
        let parts: Vec<&str> = spec.split('|').collect();
        let mut pool = ExprPool::new();
        let decls: Vec<Decl> = parts
            .get(2)
            .map(|d| {
                d.split(';')
                    .filter(|x| !x.trim().is_empty())
                    .map(|x| Decl::parse(x).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        let e = match pool.parse_with(parts[0], &decls) {
            Ok(e) => e,
            Err(e) => {
                println!("{}", e.render(parts[0]));
                continue;
            }
        };
        let opts = DeriveOptions {
            upstream: parts.get(3).map(|s| s.to_string()),
            ..Default::default()
        };
        match derive(&mut pool, &e, parts[1], &opts) {
            Ok(d) => {
                println!(
                    "{} | {}  =>  {}",
                    parts[0],
                    parts[1],
                    d.gradient_text(&pool, Style::Plain)
                );
                if steps {
                    println!("{}", d.display(&pool, Style::Plain));
                }
            }
            Err(err) => println!("{} | {}  => ERROR {err}", parts[0], parts[1]),
        }
    }
}
