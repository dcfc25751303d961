//! Prints the generated code of an expression: `cargo run -p matdiff-codegen --example show -- LANG EXPR WRT [DECL...]`.
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let lang = matdiff_codegen::Lang::from_name(&args[0]).expect("numpy, jax or rust");
    let wrt: Vec<&str> = args[2].split(',').collect();
    let decls: Vec<&str> = args[3..].iter().map(String::as_str).collect();
    let options = matdiff_codegen::Options {
        check_gradient: true,
        ..Default::default()
    };
    match matdiff_codegen::codegen(&args[1], &wrt, &decls, lang, &options) {
        Ok(s) => print!("{s}"),
        Err(e) => eprintln!("error: {e}"),
    }
}
